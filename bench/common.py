"""Shared benchmark plumbing: datasets made by real Redis, timed runs with peak RSS."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))

from tests.support.realredis import RealRedis  # noqa: E402


@dataclass
class Run:
    label: str
    seconds: float
    peak_rss_mb: float
    returncode: int


def timed(label: str, argv: list[str], *, stdout=subprocess.DEVNULL, stdin=None) -> Run:
    """Run argv once; wall time and the child's peak RSS.

    The child is started through GNU time (`-f %M`) when it is installed: a child
    spawned straight from this (large) Python process inherits its peak RSS in wait4's
    accounting, which inflates small C tools' figures."""
    gnu_time = shutil.which("time") if os.path.exists("/usr/bin/time") else None
    report = None
    if gnu_time:
        fd, report = tempfile.mkstemp(prefix="bench-rss-")
        os.close(fd)
        argv = [gnu_time, "-f", "%M", "-o", report, *argv]
    actions = [(os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)]
    for fd, target, flags in ((1, stdout, os.O_WRONLY), (0, stdin, os.O_RDONLY)):
        if target is None:
            continue
        if target == subprocess.DEVNULL:
            actions.append((os.POSIX_SPAWN_OPEN, fd, os.devnull, flags, 0))
        else:
            source = target if isinstance(target, int) else target.fileno()
            actions.append((os.POSIX_SPAWN_DUP2, source, fd))
    start = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    peak_kb = usage.ru_maxrss
    if report:
        try:
            with open(report) as f:
                peak_kb = int(f.read().split()[-1])
        except (OSError, ValueError, IndexError):
            pass
        os.unlink(report)
    return Run(label, elapsed, peak_kb / 1024.0, os.waitstatus_to_exitcode(status))


def best_of(repeat: int, label: str, argv: list[str], stdout=subprocess.DEVNULL
            ) -> tuple[Run, float]:
    """The fastest of `repeat` runs of argv, and the CPU seconds (user+sys) that run used
    (the machine is shared: the best run is the least disturbed one)."""
    import resource

    best = cpu = None
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        run = timed(label, argv, stdout=stdout)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if best is None or run.seconds < best.seconds:
            best, cpu = run, used
    return best, cpu


PYCACHE = Path(tempfile.gettempdir()) / "rdbkit-bench-pycache"


def use_bytecode(*trees: Path) -> None:
    """Run the tools under test with compiled bytecode, as installed tools are.

    Some environments set PYTHONDONTWRITEBYTECODE, so an editable install would compile
    every module from source on each start (tens of ms of CPU per run). The bench then
    caches bytecode under /tmp (PYTHONPYCACHEPREFIX) for every process it starts, and
    compiles `trees` (ours and the peer's packages) there beforehand."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    dirs = [str(t) for t in trees if t.exists()]
    if dirs:
        subprocess.run([sys.executable, "-m", "compileall", "-q", *dirs],
                       check=False, stdout=subprocess.DEVNULL)


def rdbkit_script(name: str) -> str:
    """The console script next to the running interpreter (the project's venv)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"{name} not found: run `make bench` (it installs rdbkit in .venv)")
    return found


def populated_rdb(n_keys: int, *, name: str | None = None, mixed: bool = True) -> Path:
    """An RDB saved by real Redis 7.0 holding n_keys keys (cached in bench/out)."""
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / (name or f"redis7-{n_keys}.rdb")
    if target.exists():
        return target
    work = OUT / f"work-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    try:
        with RealRedis(work) as srv:
            # Strings by DEBUG POPULATE; a share of other types through a pipeline.
            n_other = n_keys // 10 if mixed else 0
            srv.command("DEBUG", "POPULATE", str(n_keys - n_other), "key", "20", timeout=600)
            if n_other:
                _fill_mixed(srv, n_other)
            srv.command("SAVE", timeout=600)
            shutil.copyfile(work / "dump.rdb", target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _fill_mixed(srv: RealRedis, n: int) -> None:
    cli = srv.client()
    pipe = cli.pipeline(transaction=False)
    for i in range(n):
        kind = i % 4
        if kind == 0:
            pipe.rpush(f"list:{i}", *[f"item-{j}" for j in range(8)])
        elif kind == 1:
            pipe.hset(f"hash:{i}", mapping={f"f{j}": f"v{j}" for j in range(6)})
        elif kind == 2:
            pipe.zadd(f"zset:{i}", {f"m{j}": j * 1.5 for j in range(6)})
        else:
            pipe.sadd(f"set:{i}", *range(i, i + 6))
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    cli.close()


def ratio_line(ours: Run, theirs: Run, *, size_bytes: int | None = None,
               n_keys: int | None = None) -> str:
    ratio = ours.seconds / theirs.seconds if theirs.seconds else float("inf")
    parts = [f"{ours.label}: {ours.seconds:.2f}s (peak RSS {ours.peak_rss_mb:.0f} MB)",
             f"{theirs.label}: {theirs.seconds:.2f}s (peak RSS {theirs.peak_rss_mb:.0f} MB)",
             f"ratio {ratio:.2f}x"]
    if size_bytes:
        parts.append(f"ours {size_bytes / ours.seconds / 1e6:.1f} MB/s")
    if n_keys:
        parts.append(f"ours {n_keys / ours.seconds:,.0f} keys/s")
    return " | ".join(parts)
