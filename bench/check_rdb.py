"""check-rdb and the reader against redis-check-rdb on a 1M-key file written by real Redis 7.0.

    python3 -m bench.check_rdb [--keys N] [--plain] [--repeat N]

Prints two lines, each with both times, the ratio, MB/s, keys/s and peak RSS:
`check-rdb` (rdbtools/check.py, a walker of its own) and the reader alone
(`rdbtools.iter_records` over the whole file), each against `redis-check-rdb`.
`--plain` uses a file of plain strings only (DEBUG POPULATE) instead of the mixed one.
Each command runs `--repeat` times; the fastest wall time is reported, with the CPU
time (user+sys) of that run, because the bench machine is shared.
Targets (issue 2): within 4x of the C tool, peak RSS under 100 MB.
"""

from __future__ import annotations

import argparse
import shutil
import sys

from bench.common import best_of, populated_rdb, ratio_line, rdbkit_script

#: The reader alone: every record of the file, nothing done with them.
READER = ("import sys, rdbtools\n"
          "n = 0\n"
          "for _ in rdbtools.iter_records(sys.argv[1]):\n"
          "    n += 1\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--plain", action="store_true", help="plain strings only")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    if args.plain:
        path = populated_rdb(args.keys, name=f"redis7-{args.keys}-strings.rdb", mixed=False)
    else:
        path = populated_rdb(args.keys)
    size = path.stat().st_size
    theirs, theirs_cpu = best_of(args.repeat, "redis-check-rdb",
                                 [shutil.which("redis-check-rdb"), str(path)])
    ours, ours_cpu = best_of(args.repeat, "check-rdb", [rdbkit_script("check-rdb"), str(path)])
    reader, reader_cpu = best_of(args.repeat, "reader (iter_records)",
                                 [sys.executable, "-c", READER, str(path)])
    for run in (ours, theirs, reader):
        if run.returncode:
            print(f"warning: {run.label} exited with {run.returncode}")
    kind = "plain strings" if args.plain else "mixed"
    print(f"check-rdb, {args.keys:,} keys ({kind}), {size / 1e6:.1f} MB, best of {args.repeat}")
    print(ratio_line(ours, theirs, size_bytes=size, n_keys=args.keys)
          + f" | cpu ours {ours_cpu:.2f}s theirs {theirs_cpu:.2f}s")
    print(ratio_line(reader, theirs, size_bytes=size, n_keys=args.keys)
          + f" | cpu ours {reader_cpu:.2f}s theirs {theirs_cpu:.2f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
