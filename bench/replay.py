"""rdbkit replay against `rdb --command protocol | redis-cli --pipe` (redis-rdb-tools).

    python3 -m bench.replay [--keys N] [--mode auto|restore|commands] [--rounds N]

Both load the same 1M-key dataset (saved by real Redis 7.0, converted to RDB 9 because
redis-rdb-tools 0.1.15 reads nothing newer) into a fresh real Redis 7.0, one run each;
each result is checked with DEBUG DIGEST against the file's offline digest. The classic
route is installed into its own venv under /tmp (our import package shares the name
`rdbtools` with it). Prints both times and the ratio, and each side's client and
redis-server CPU. Target (issue 7): >= 5x faster.

Both sides run with cached bytecode, as installed tools do (pip compiles the classic
route's modules; ours are compiled into a cache under /tmp first, even where
PYTHONDONTWRITEBYTECODE is set, which would otherwise make every run compile rdbkit).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import OUT, ROOT, RealRedis, populated_rdb, ratio_line

CLASSIC_VENV = Path(tempfile.gettempdir()) / "rdbkit-bench-rdbtools-0.1.15"
PYCACHE = Path(tempfile.gettempdir()) / "rdbkit-bench-pycache"


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


def child_env() -> dict:
    """The environment both routes run in: bytecode cached (ours compiled beforehand)."""
    import os

    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    subprocess.run([sys.executable, "-m", "compileall", "-q", "rdbtools", "aofcheck", "server"],
                   cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return env


def run_cpu(label: str, argv: list[str], env: dict | None = None) -> tuple:
    """(common.Run, CPU seconds of the child and everything it waited for)."""
    import os
    import time

    from bench.common import Run

    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    run = Run(label, elapsed, usage.ru_maxrss / 1024.0, os.waitstatus_to_exitcode(status))
    return run, usage.ru_utime + usage.ru_stime


def server_cpu(srv) -> float:
    """CPU seconds the redis-server child has used so far."""
    import os

    fields = Path(f"/proc/{srv.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rdb9_copy(src: Path) -> Path:
    from rdbtools.convert import convert

    dst = src.with_name(src.stem + "-v9.rdb")
    if not dst.exists():
        convert(src, dst, to="rdb", rdb_version=9)
    return dst


def one_round(path: Path, rdb: str, env: dict, args, want: str) -> dict:
    """Each route once into its own fresh Redis: {side: (Run, client CPU, server CPU, ok)}."""
    out = {}
    work = Path(tempfile.mkdtemp(prefix="bench-replay-", dir=OUT))
    try:
        with RealRedis(work / "theirs") as srv:
            cli = shutil.which("redis-cli")
            pipeline = (f"{rdb} --command protocol {path} | "
                        f"{cli} -p {srv.port} --pipe > /dev/null")
            before = server_cpu(srv)
            run, cpu = run_cpu("rdb --command protocol | redis-cli --pipe",
                               ["bash", "-o", "pipefail", "-c", pipeline], env)
            out["theirs"] = (run, cpu, server_cpu(srv) - before,
                             srv.command("DEBUG", "DIGEST", timeout=600).decode() == want)
        with RealRedis(work / "ours") as srv:
            before = server_cpu(srv)
            run, cpu = run_cpu(f"rdbkit replay --mode {args.mode}",
                               rdbkit_argv() + ["replay", str(path), "--url",
                                                f"redis://127.0.0.1:{srv.port}",
                                                "--no-progress", "--mode", args.mode,
                                                "--pipeline", str(args.pipeline)],
                               env)
            out["ours"] = (run, cpu, server_cpu(srv) - before,
                           srv.command("DEBUG", "DIGEST", timeout=600).decode() == want)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def main(argv=None) -> int:
    import os

    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--mode", default="auto", choices=["auto", "restore", "commands"])
    ap.add_argument("--pipeline", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=1,
                    help="alternate the routes this many times; report each one's best "
                         "wall time (on a shared machine, the least disturbed run)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from rdbtools.digest import digest_file

    path = rdb9_copy(populated_rdb(args.keys))
    want = digest_file(path)
    rdb = classic_rdb()
    env = child_env()
    best: dict = {}
    all_ok = {"ours": True, "theirs": True}
    for i in range(max(args.rounds, 1)):
        got = one_round(path, rdb, env, args, want)
        for side, result in got.items():
            all_ok[side] = all_ok[side] and result[3] and result[0].returncode == 0
            if side not in best or result[0].seconds < best[side][0].seconds:
                best[side] = result
        if args.rounds > 1:
            print(f"round {i + 1}: ours {got['ours'][0].seconds:.2f}s, theirs "
                  f"{got['theirs'][0].seconds:.2f}s; load average {os.getloadavg()[0]:.1f}",
                  flush=True)
    ours, ours_cpu, ours_srv, _ = best["ours"]
    theirs, theirs_cpu, theirs_srv, _ = best["theirs"]
    print(f"replay, {args.keys:,} keys, RDB 9, {path.stat().st_size / 1e6:.1f} MB; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
          + (f"; best of {args.rounds} rounds" if args.rounds > 1 else ""))
    print(ratio_line(ours, theirs, n_keys=args.keys))
    speedup = theirs.seconds / ours.seconds if ours.seconds else float("inf")
    cpu_speedup = theirs_cpu / ours_cpu if ours_cpu else float("inf")
    print(f"client CPU: ours {ours_cpu:.2f}s, theirs {theirs_cpu:.2f}s ({cpu_speedup:.1f}x); "
          f"redis-server CPU: ours {ours_srv:.2f}s, theirs {theirs_srv:.2f}s")
    print(f"rdbkit replay is {speedup:.1f}x faster by wall clock (target >= 5x); digest "
          f"matches and exit 0 in every round: ours {all_ok['ours']}, theirs "
          f"{all_ok['theirs']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
