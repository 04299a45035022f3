"""Start and stop real Redis servers for interop tests: free loopback port, temp dir."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need_binary(name: str) -> str:
    """Path of a Redis binary; outside CI a missing one skips, in CI it fails."""
    path = shutil.which(name)
    if path is None:
        if IN_CI:
            pytest.fail(f"{name} is required in CI (apt-get install redis-server redis-tools)")
        pytest.skip(f"{name} not installed")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RealRedis:
    """A redis-server child on 127.0.0.1:<free port> in its own directory."""

    def __init__(self, workdir: Path, *, extra: list[str] | None = None,
                 binary: str = "redis-server") -> None:
        self.binary = need_binary(binary)
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.extra = list(extra or [])
        self.proc: subprocess.Popen | None = None
        self.log = self.dir / "redis.log"

    def args(self) -> list[str]:
        return [
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self.dir), "--save", "", "--appendonly", "no",
            "--enable-debug-command", "yes", "--logfile", str(self.log),
            "--daemonize", "no", *self.extra,
        ]

    def start(self, wait: bool = True) -> "RealRedis":
        self.proc = subprocess.Popen(self.args(), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, cwd=self.dir)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited {self.proc.returncode}: {self.log_text()}")
            try:
                reply = self.command("PING")
                if reply == b"PONG":
                    return
            except (OSError, RedisReplyError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not become ready: {self.log_text()}")

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def command(self, *args, timeout: float = 60.0):
        """Send one command with a plain socket; returns the decoded RESP2 reply."""
        payload = b"*%d\r\n" % len(args)
        for a in args:
            if isinstance(a, str):
                a = a.encode()
            elif isinstance(a, int):
                a = str(a).encode()
            payload += b"$%d\r\n%s\r\n" % (len(a), a)
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(payload)
            f = s.makefile("rb")
            return _read_reply(f)

    def client(self, **kw):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> "RealRedis":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class RedisReplyError(Exception):
    pass


def _read_reply(f):
    line = f.readline()
    if not line:
        raise OSError("connection closed")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest
    if kind == b"-":
        raise RedisReplyError(rest.decode(errors="replace"))
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        if n < 0:
            return None
        return [_read_reply(f) for _ in range(n)]
    raise OSError(f"bad reply line {line!r}")


def load_rdb_in_redis(rdb_path: Path, workdir: Path, extra: list[str] | None = None) -> RealRedis:
    """Copy an RDB into a fresh dir as dump.rdb and boot real Redis from it (caller stops it)."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(rdb_path, workdir / "dump.rdb")
    srv = RealRedis(workdir, extra=extra)
    return srv.start()
