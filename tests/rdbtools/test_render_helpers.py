"""Shared helpers for render/convert interop tests (no tests of its own).

`server_state` captures what the issue promises to carry across a conversion: DEBUG
DIGEST, every key's absolute ms expiry, the function libraries, and stream consumer
groups (names, last ids, entries-read, PEL, consumers).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support.realredis import RealRedis, need_binary


def _pairs(flat):
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}


def server_state(r: RealRedis, *, stream_times: bool = True) -> dict:
    state = {"digest": r.command("DEBUG", "DIGEST"), "ttl": {}, "streams": {}}
    libs = r.command("FUNCTION", "LIST", "WITHCODE")
    state["functions"] = sorted(_pairs(lib)[b"library_code"] for lib in libs)
    keyspace = r.command("INFO", "keyspace").decode()
    dbs = [int(line.split(":")[0][2:]) for line in keyspace.splitlines()
           if line.startswith("db")]
    with r.client() as c:
        for db in dbs:
            c.execute_command("SELECT", db)
            for key in c.scan_iter(count=1000):
                state["ttl"][(db, key)] = c.execute_command("PEXPIRETIME", key)
                if c.type(key) == b"stream":
                    state["streams"][(db, key)] = _stream_groups_db(r, db, key, stream_times)
    return state


def raw_in_db(r: RealRedis, db: int, *args):
    """One command in database `db`, reply decoded by the plain RESP2 reader."""
    import socket

    from tests.support.realredis import _read_reply

    payload = b""
    for cmd in ((b"SELECT", b"%d" % db), args):
        payload += b"*%d\r\n" % len(cmd)
        for a in cmd:
            a = a.encode() if isinstance(a, str) else a
            payload += b"$%d\r\n%s\r\n" % (len(a), a)
    with socket.create_connection(("127.0.0.1", r.port), timeout=60) as s:
        s.sendall(payload)
        f = s.makefile("rb")
        _read_reply(f)
        return _read_reply(f)


def _stream_groups_db(r: RealRedis, db: int, key: bytes, times: bool):
    info = _pairs(raw_in_db(r, db, b"XINFO", b"STREAM", key, b"FULL"))
    groups = []
    for g in info.get(b"groups") or []:
        g = _pairs(g)
        consumers = sorted(
            (_pairs(c)[b"name"], tuple(p[0] for p in _pairs(c)[b"pending"]),
             _pairs(c)[b"seen-time"] if times else None)
            for c in g[b"consumers"])
        pel = [(p[0], p[1], p[2] if times else None, p[3]) for p in g[b"pending"]]
        groups.append((g[b"name"], g[b"last-delivered-id"], g[b"entries-read"], pel,
                       consumers))
    return (sorted(groups), info[b"last-generated-id"], info[b"max-deleted-entry-id"],
            info[b"entries-added"])


def state_of_rdb(path: Path, workdir: Path, **kw) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, workdir / "dump.rdb")
    with RealRedis(workdir) as r:
        return server_state(r, **kw)


def state_after_pipe(resp: bytes, workdir: Path, **kw) -> tuple[dict, str]:
    cli = need_binary("redis-cli")
    with RealRedis(workdir) as r:
        p = subprocess.run([cli, "-p", str(r.port), "--pipe"], input=resp,
                           capture_output=True, timeout=120)
        out = p.stdout.decode(errors="replace")
        assert p.returncode == 0 and "errors: 0" in out, out + p.stderr.decode(errors="replace")
        return server_state(r, **kw), out


def check_rdb_ok(path: Path) -> None:
    tool = need_binary("redis-check-rdb")
    p = subprocess.run([tool, str(path)], capture_output=True, timeout=120)
    assert p.returncode == 0, p.stdout.decode(errors="replace")[-2000:]
