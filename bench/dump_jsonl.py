"""rdb-dump --format jsonl against redis-rdb-tools' `rdb --command json`, same data.

    python3 -m bench.dump_jsonl [--keys N] [--venv DIR]

The dataset is written by real Redis 7.0 (`bench.common.populated_rdb`); redis-rdb-tools
(0.1.15, the last release) reads RDB up to version 9 only, so it gets the same data
converted to RDB 9 by `rdbkit convert --rdb-version 9`. redis-rdb-tools is installed
into a venv of its own under /tmp, never into the project's environment (its import
package is also called `rdbtools`). Each command runs `--repeat` times (default 1:
redis-rdb-tools takes several seconds); the fastest wall time is reported with that
run's CPU time (user+sys), because the bench machine is shared. Prints times, ratio
and peak RSS. Targets (issue 3): at least 5x faster than redis-rdb-tools, peak RSS
under 100 MB. Our default run uses one process per CPU (`--jobs`, at most 4); the
one-process figure (`--jobs 1`) and the CPU-time ratios are printed too. Opt-in: not
run by the test suite.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from bench.common import (OUT, ROOT, best_of, populated_rdb, ratio_line, rdbkit_script,
                          use_bytecode)

DEFAULT_VENV = Path("/tmp/rdbkit-bench-redis-rdb-tools")


def rdb_tools_script(venv: Path) -> str:
    script = venv / "bin" / "rdb"
    if not script.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
        subprocess.run(pip + ["rdbtools==0.1.15"], check=True)
        # Optional C LZF speedup, as its README recommends; fine if it does not build.
        subprocess.run(pip + ["python-lzf"], check=False)
    return str(script)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)

    # Neither tool may see the other's `rdbtools` package.
    os.environ.pop("PYTHONPATH", None)
    src = populated_rdb(args.keys)
    v9 = OUT / f"{src.stem}-v9.rdb"
    if not v9.exists():
        subprocess.run([rdbkit_script("rdbkit"), "convert", "--rdb-version", "9", "--lossy",
                        "--no-progress", str(src), str(v9)], check=True)
    theirs_bin = rdb_tools_script(args.venv)
    use_bytecode(*(ROOT / pkg for pkg in ("rdbtools", "aofcheck", "server")),
                 *args.venv.glob("lib/python3*/site-packages"))

    with open(os.devnull, "wb") as null:
        ours, ours_cpu = best_of(
            args.repeat, "rdb-dump --format jsonl (RDB 10)",
            [rdbkit_script("rdb-dump"), "--format", "jsonl", "--no-progress", str(src)], null)
        single, single_cpu = best_of(
            args.repeat, "rdb-dump --format jsonl --jobs 1 (RDB 10)",
            [rdbkit_script("rdb-dump"), "--format", "jsonl", "--jobs", "1", "--no-progress",
             str(src)], null)
        theirs, theirs_cpu = best_of(args.repeat, "redis-rdb-tools --command json (RDB 9)",
                                     [theirs_bin, "--command", "json", str(v9)], null)
    if ours.returncode or theirs.returncode:
        print(f"warning: exit codes ours={ours.returncode} theirs={theirs.returncode}")
    size = src.stat().st_size
    print(f"dump jsonl, {args.keys:,} keys, {size / 1e6:.1f} MB (RDB 9 copy "
          f"{v9.stat().st_size / 1e6:.1f} MB)")
    print(ratio_line(ours, theirs, size_bytes=size, n_keys=args.keys)
          + f" | speedup {theirs.seconds / ours.seconds:.2f}x"
          + f" | cpu ours {ours_cpu:.2f}s theirs {theirs_cpu:.2f}s")
    print(f"one process (--jobs 1): {single.seconds:.2f}s wall, {single_cpu:.2f}s cpu, "
          f"peak RSS {single.peak_rss_mb:.0f} MB | speedup {theirs.seconds / single.seconds:.2f}x"
          f" | by CPU time: {theirs_cpu / ours_cpu:.2f}x (default), "
          f"{theirs_cpu / single_cpu:.2f}x (--jobs 1); {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
