"""Helpers for the process-level persistence tests: rdbkit-server as a real subprocess.

No tests here. The server runs as `python3 -m server` in its own session (so a SIGKILL
of the group also takes a BGSAVE/BGREWRITEAOF child down, as a machine crash would),
on a free loopback port, with its files in a temp dir.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.realredis import RealRedis, RedisReplyError, free_port

ROOT = Path(__file__).resolve().parents[2]


class OurServer(RealRedis):
    """`python3 -m server` on 127.0.0.1:<free port> in `workdir`; same API as RealRedis."""

    def __init__(self, workdir: Path, *, extra: list[str] | None = None,
                 prefix: list[str] | None = None) -> None:
        self.binary = sys.executable
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.extra = list(extra or [])
        self.prefix = list(prefix or [])  # e.g. strace ... --
        self.proc: subprocess.Popen | None = None
        self.log = self.dir / "rdbkit.log"

    def args(self) -> list[str]:
        return [
            *self.prefix, self.binary, "-m", "server", "--port", str(self.port),
            "--bind", "127.0.0.1", "--dir", str(self.dir), "--save", "",
            "--appendonly", "no", "--enable-debug-command", "yes",
            "--logfile", str(self.log), *self.extra,
        ]

    def start(self, wait: bool = True) -> "OurServer":
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen(self.args(), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, cwd=self.dir, env=env,
                                     start_new_session=True)
        if wait:
            self.wait_ready(60.0)
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"rdbkit-server exited {self.proc.returncode}: "
                                   f"{self.log_text()}")
            try:
                if self.command("PING", timeout=5) == b"PONG":
                    return
            except (OSError, RedisReplyError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"rdbkit-server did not become ready: {self.log_text()}")

    def crash(self) -> None:
        """SIGKILL the server and any child it forked (its whole session)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)
        self.proc = None

    def exit_code(self, timeout: float = 60.0) -> int:
        """Wait for a server expected to exit by itself (e.g. refusing to load)."""
        assert self.proc is not None
        code = self.proc.wait(timeout)
        self.proc = None
        return code

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        try:  # reap anything it left behind, e.g. a child still writing
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        self.proc = None


def info(srv, section: str = "persistence") -> dict[str, str]:
    text = srv.command("INFO", section).decode()
    out = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def wait_no_child(srv, timeout: float = 60.0) -> dict[str, str]:
    """Wait until no BGSAVE/BGREWRITEAOF runs or is scheduled; returns INFO persistence."""
    deadline = time.monotonic() + timeout
    while True:
        fields = info(srv)
        busy = (fields.get("rdb_bgsave_in_progress") == "1"
                or fields.get("aof_rewrite_in_progress") == "1"
                or fields.get("aof_rewrite_scheduled") == "1")
        if not busy:
            return fields
        if time.monotonic() > deadline:
            raise TimeoutError(f"child still running: {fields}")
        time.sleep(0.02)


def keyspace_state(srv) -> dict[tuple[int, bytes], tuple[bytes, int]]:
    """{(db, key): (type, PEXPIRETIME)} over the databases in use."""
    out = {}
    ks = info(srv, "keyspace")
    for name in ks:
        db = int(name[2:])
        cli = srv.client(db=db)
        try:
            for key in cli.scan_iter(count=1000):
                out[(db, key)] = (cli.type(key), cli.pexpiretime(key))
        finally:
            cli.close()
    return out


def digest(srv) -> bytes:
    return srv.command("DEBUG", "DIGEST")
