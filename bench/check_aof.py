"""check-aof against redis-check-aof on a 1M-command AOF written by real Redis 7.0.

    python3 -m bench.check_aof [--commands N]

The AOF is produced by a real server (`appendonly yes`) fed by redis-benchmark (SET
with random keys, pipelined), and cached in bench/out.  Prints one line with both
times, the ratio, MB/s and peak RSS of each.  Target (issue 4): within 4x of the C
tool, memory bounded (the file is mmapped; the heap holds one record at a time).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import time

from bench.common import OUT, ratio_line, rdbkit_script, timed
from tests.support.realredis import RealRedis


def populated_aof(n: int) -> str:
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / f"redis7-{n}.aof"
    if target.exists():
        return str(target)
    work = OUT / f"aofwork-{os.getpid()}"
    try:
        with RealRedis(work, extra=["--appendonly", "yes", "--appendfsync", "no"]) as srv:
            subprocess.run([shutil.which("redis-benchmark"), "-p", str(srv.port), "-t", "set",
                            "-n", str(n), "-r", "100000", "-P", "64", "-q"],
                           check=True, stdout=subprocess.DEVNULL)
            time.sleep(0.5)
            incr = work / "appendonlydir" / "appendonly.aof.1.incr.aof"
            shutil.copyfile(incr, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return str(target)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--commands", type=int, default=1_000_000)
    args = ap.parse_args(argv)
    path = populated_aof(args.commands)
    size = os.path.getsize(path)
    theirs = timed("redis-check-aof", [shutil.which("redis-check-aof"), path])
    try:
        ours_cmd = [rdbkit_script("check-aof"), path]
    except SystemExit:
        import sys

        ours_cmd = [sys.executable, "-m", "aofcheck.cli", path]
    ours = timed("check-aof", ours_cmd)
    if ours.returncode or theirs.returncode:
        print(f"warning: exit codes ours={ours.returncode} theirs={theirs.returncode}")
    print(f"check-aof, {args.commands:,} commands, {size / 1e6:.1f} MB")
    print(ratio_line(ours, theirs, size_bytes=size))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
