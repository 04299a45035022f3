"""check-rdb against redis-check-rdb on a 1M-key file written by real Redis 7.0.

    python3 -m bench.check_rdb [--keys N]

Prints one line with both times, the ratio, MB/s, keys/s and peak RSS of each.
Targets (issue 2): within 4x of the C tool, peak RSS under 100 MB.
"""

from __future__ import annotations

import argparse
import shutil

from bench.common import populated_rdb, ratio_line, rdbkit_script, timed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1_000_000)
    args = ap.parse_args(argv)
    path = populated_rdb(args.keys)
    size = path.stat().st_size
    theirs = timed("redis-check-rdb", [shutil.which("redis-check-rdb"), str(path)])
    ours = timed("check-rdb", [rdbkit_script("check-rdb"), str(path)])
    if ours.returncode or theirs.returncode:
        print(f"warning: exit codes ours={ours.returncode} theirs={theirs.returncode}")
    print(f"check-rdb, {args.keys:,} keys, {size / 1e6:.1f} MB")
    print(ratio_line(ours, theirs, size_bytes=size, n_keys=args.keys))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
