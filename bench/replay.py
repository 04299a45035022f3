"""rdbkit replay against `rdb --command protocol | redis-cli --pipe` (redis-rdb-tools).

    python3 -m bench.replay [--keys N] [--mode auto|restore|commands]

Both load the same 1M-key dataset (saved by real Redis 7.0, converted to RDB 9 because
redis-rdb-tools 0.1.15 reads nothing newer) into a fresh real Redis 7.0, one run each;
each result is checked with DEBUG DIGEST against the file's offline digest. The classic
route is installed into its own venv under /tmp (our import package shares the name
`rdbtools` with it). Prints both times and the ratio. Target (issue 7): >= 5x faster.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import OUT, ROOT, RealRedis, populated_rdb, ratio_line, timed

CLASSIC_VENV = Path(tempfile.gettempdir()) / "rdbkit-bench-rdbtools-0.1.15"


def classic_rdb() -> str:
    """The `rdb` script of redis-rdb-tools 0.1.15, installed on first use."""
    script = CLASSIC_VENV / "bin" / "rdb"
    if not script.exists():
        subprocess.run([sys.executable, "-m", "venv", str(CLASSIC_VENV)], check=True)
        subprocess.run([str(CLASSIC_VENV / "bin" / "pip"), "install", "-q",
                        "rdbtools==0.1.15", "python-lzf"], check=True)
    return str(script)


def rdbkit_argv() -> list[str]:
    found = Path(sys.executable).parent / "rdbkit"
    if found.exists():
        return [str(found)]
    if shutil.which("rdbkit"):
        return [shutil.which("rdbkit")]
    code = "import sys; sys.argv[0] = 'rdbkit'; from rdbtools.cli.main import main; main()"
    return [sys.executable, "-c", code]


def rdb9_copy(src: Path) -> Path:
    from rdbtools.convert import convert

    dst = src.with_name(src.stem + "-v9.rdb")
    if not dst.exists():
        convert(src, dst, to="rdb", rdb_version=9)
    return dst


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--mode", default="auto", choices=["auto", "restore", "commands"])
    ap.add_argument("--pipeline", type=int, default=1000)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from rdbtools.digest import digest_file

    path = rdb9_copy(populated_rdb(args.keys))
    want = digest_file(path)
    rdb = classic_rdb()
    work = Path(tempfile.mkdtemp(prefix="bench-replay-", dir=OUT))
    try:
        with RealRedis(work / "theirs") as srv:
            cli = shutil.which("redis-cli")
            pipeline = (f"{rdb} --command protocol {path} | "
                        f"{cli} -p {srv.port} --pipe > /dev/null")
            theirs = timed("rdb --command protocol | redis-cli --pipe",
                           ["bash", "-o", "pipefail", "-c", pipeline])
            theirs_ok = srv.command("DEBUG", "DIGEST", timeout=600).decode() == want
        with RealRedis(work / "ours") as srv:
            ours = timed(f"rdbkit replay --mode {args.mode}",
                         rdbkit_argv() + ["replay", str(path), "--url",
                                          f"redis://127.0.0.1:{srv.port}", "--no-progress",
                                          "--mode", args.mode, "--pipeline",
                                          str(args.pipeline)])
            ours_ok = srv.command("DEBUG", "DIGEST", timeout=600).decode() == want
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"replay, {args.keys:,} keys, RDB 9, {path.stat().st_size / 1e6:.1f} MB")
    print(ratio_line(ours, theirs, n_keys=args.keys))
    speedup = theirs.seconds / ours.seconds if ours.seconds else float("inf")
    print(f"rdbkit replay is {speedup:.1f}x faster (target >= 5x); digest matches: "
          f"ours {ours_ok}, theirs {theirs_ok}; exit codes ours {ours.returncode}, "
          f"theirs {theirs.returncode}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
