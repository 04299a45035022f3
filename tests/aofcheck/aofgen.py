"""AOFs written by a real Redis 7.0 for the check-aof tests, and the two-tool harness.

`make_corpus(workdir)` runs a real server with `appendonly yes` and timestamps on,
issues a varied workload (binary values, a 70 KB value, MULTI/EXEC blocks, several
DBs, expirations, a stream), rewrites once so there is an RDB base plus an incr file,
and returns a Corpus whose three layouts (plain RESP single file, RDB-preamble single
file, multi-part folder) are all made of the bytes the server wrote.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.realredis import RealRedis, need_binary

SEL = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"
SET = b"*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\nb\r\n"
MULTI = b"*1\r\n$5\r\nMULTI\r\n"
EXEC = b"*1\r\n$4\r\nEXEC\r\n"


@dataclass
class Corpus:
    folder: Path            # multi-part: <folder>/appendonlydir/...
    manifest: Path
    base_rdb: bytes         # the RDB base the rewrite produced
    incr: bytes             # RESP written after the rewrite
    resp_log: bytes         # RESP of the workload before the rewrite (a plain AOF)


def _workload(srv: RealRedis, phase: int) -> None:
    c = srv.command
    for i in range(30):
        c("SET", f"k{phase}:{i}", f"value-{i}" * (i % 5 + 1))
    c("SET", f"bin{phase}", b"\x00\xff\r\n*3\r\n$3\r\nset\r\n\x80")
    c("SET", f"big{phase}", b"x" * 70_000)
    c("RPUSH", f"list{phase}", *[f"e{i}" for i in range(20)])
    c("HSET", f"h{phase}", "f1", "v1", "f2", "v2")
    c("SET", f"ttl{phase}", "v", "EX", "1000")
    c("SELECT", "3")
    with socket_pipeline(srv) as send:
        send(["SELECT", "3"], ["MULTI"], ["INCR", f"ctr{phase}"], ["SADD", f"s{phase}", "a", "b"],
             ["EXEC"])
    c("XADD", f"st{phase}", "*", "f", "v")
    c("ZADD", f"z{phase}", "1.5", "a", "2", "b")
    time.sleep(1.05)  # a new second: the next write gets its own #TS annotation
    c("INCRBYFLOAT", f"fl{phase}", "1.5")
    with socket_pipeline(srv) as send:
        send(["MULTI"], ["SET", f"m{phase}", "1"], ["DEL", f"k{phase}:0"], ["EXEC"])
    c("SET", f"last{phase}", "done")


class socket_pipeline:
    """Several commands on one connection (MULTI state lives in the connection)."""

    def __init__(self, srv: RealRedis) -> None:
        self.srv = srv

    def __enter__(self):
        import socket

        self.sock = socket.create_connection(("127.0.0.1", self.srv.port), timeout=30)
        self.f = self.sock.makefile("rb")

        def send(*cmds):
            from tests.support.realredis import _read_reply

            payload = b""
            for cmd in cmds:
                payload += b"*%d\r\n" % len(cmd)
                for a in cmd:
                    a = a.encode() if isinstance(a, str) else a
                    payload += b"$%d\r\n%s\r\n" % (len(a), a)
            self.sock.sendall(payload)
            for _ in cmds:
                try:
                    _read_reply(self.f)
                except Exception:
                    pass
        return send

    def __exit__(self, *exc):
        self.f.close()
        self.sock.close()


def make_corpus(workdir: Path) -> Corpus:
    run = workdir / "server"
    extra = ["--appendonly", "yes", "--aof-timestamp-enabled", "yes", "--appendfsync", "always"]
    with RealRedis(run, extra=extra) as srv:
        _workload(srv, 1)
        aofdir = run / "appendonlydir"
        incr1 = (aofdir / "appendonly.aof.1.incr.aof").read_bytes()
        srv.command("BGREWRITEAOF")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            info = srv.command("INFO", "persistence").decode()
            if "aof_rewrite_in_progress:0" in info and "aof_rewrite_scheduled:0" in info \
                    and (aofdir / "appendonly.aof.2.base.rdb").exists():
                break
            time.sleep(0.05)
        _workload(srv, 2)
    folder = workdir / "multi"
    shutil.copytree(aofdir, folder / "appendonlydir")
    man = folder / "appendonlydir" / "appendonly.aof.manifest"
    base = (folder / "appendonlydir" / "appendonly.aof.2.base.rdb").read_bytes()
    incr = (folder / "appendonlydir" / "appendonly.aof.2.incr.aof").read_bytes()
    return Corpus(folder, man, base, incr, incr1)


# -- running both tools ---------------------------------------------------------------------

_PID_DATE = re.compile(r"^\d+:C \d\d \w{3} \d{4} \d\d:\d\d:\d\d\.\d{3} ", re.M)
_STALE = re.compile(r"(Expected \\r\\n, got: )00[0-9a-f]+")


def normalize(text: str) -> str:
    """Drop what legitimately differs: log-line pid/date, and stale C stack bytes
    (`Expected \\r\\n, got: 00xx`, where xx is whatever the C buffer held before)."""
    text = _PID_DATE.sub("<log> ", text)
    return _STALE.sub(r"\g<1>00..", text)


def run_redis(args: list[str], stdin: bytes = b"y\n", cwd: str | None = None):
    exe = need_binary("redis-check-aof")
    p = subprocess.run([exe, *args], input=stdin, capture_output=True, cwd=cwd, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "surrogateescape")


def run_ours(args: list[str], stdin: bytes = b"y\n", cwd: str | None = None):
    from click.testing import CliRunner

    from aofcheck.cli import command

    old = os.getcwd()
    if cwd:
        os.chdir(cwd)
    try:
        res = CliRunner().invoke(command, args, input=stdin, prog_name="redis-check-aof",
                                 catch_exceptions=False)
    finally:
        os.chdir(old)
    return res.exit_code, res.stdout_bytes.decode("utf-8", "surrogateescape")


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every regular file's bytes under folder, minus our own `.cut-*` side files."""
    out = {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            if ".cut-" in name:
                continue
            p = Path(root) / name
            out[str(p.relative_to(folder))] = p.read_bytes()
    return out
