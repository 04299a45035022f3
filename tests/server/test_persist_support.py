"""Shared helpers for the persistence tests (no tests here)."""

from __future__ import annotations

import os
import time

from rdbtools.constants import Kind
from rdbtools.records import Consumer, ConsumerGroup, PendingEntry, Stream, StreamEntry

from server.cmd_server import dataset_digest
from server.config import Config
from server.engine import Engine
from server.objects import from_record

LIB = (b"#!lua name=mylib\n"
       b"redis.register_function('myfunc', function(keys, args) return 1 end)")

FUTURE_MS = 4102444800000  # 2100-01-01


def run(engine: Engine, client, *cmds) -> list:
    out = []
    for cmd in cmds:
        if isinstance(cmd, list):
            argv = [a if isinstance(a, bytes) else a.encode() for a in cmd]
        else:
            argv = cmd.encode().split()
        out.append(engine.execute(client, argv))
    return out


def demo_stream() -> Stream:
    entries = (StreamEntry((1, 1), ((b"f", b"v"),)), StreamEntry((5, 0), ((b"g", b"x"), (b"h", b"y"))))
    grp = ConsumerGroup(b"grp", (1, 1), 1, (PendingEntry((1, 1), 1795236378459, 2),),
                        (Consumer(b"alice", 1795236378459, 1795236378459, ((1, 1),)),
                         Consumer(b"bob", 1795236378000, -1, ())))
    return Stream(entries, 2, (5, 0), (1, 1), (1, 2), 3, (grp,))


def build_engine(config: Config | None = None, *, streams: bool = True) -> Engine:
    """An engine holding every type, small and large encodings, TTLs, 3 databases."""
    e = Engine(config or Config())
    c = e.new_client()
    big = " ".join("m%d" % i for i in range(200))
    run(e, c,
        "SET s1 hello", "SET n1 12345", "SET neg -77", "SET f1 3.25",
        ["SET", "bin", bytes(range(256))], ["SET", "long", b"x" * 5000],
        "SET ttl1 v", ["PEXPIREAT", "ttl1", str(FUTURE_MS)],
        "RPUSH l1 a b c 1 2", "RPUSH lbig " + big,
        "SADD si 1 2 3 -5", "SADD ss a b c", "SADD sbig " + big,
        "ZADD z1 1 a 2.5 b -0 c inf d", "ZADD z2 0.1 x",
        "ZADD zbig " + " ".join("%d.5 z%d" % (i, i) for i in range(200)),
        "HSET h1 f1 v1 f2 v2", "HSET hbig " + " ".join("k%d v%d" % (i, i) for i in range(600)),
        ["HSET", "hlong", "f", b"y" * 100],
        "SELECT 2", "SET other 1", "RPUSH l2 x", "EXPIRE l2 100000",
        "SELECT 15", "SET last db15",
        ["FUNCTION", "LOAD", LIB])
    if streams:
        e.dbs[0].add(b"st", from_record(Kind.STREAM, demo_stream(), None, e.config))
        empty = Stream((), 0, (7, 0), (0, 0), (7, 0), 1, ())
        e.dbs[0].add(b"st_empty", from_record(Kind.STREAM, empty, None, e.config))
    e.free_client(c)
    return e


def missing_commands(engine: Engine, names) -> list[str]:
    return sorted({n.decode().upper() for n in names if n.lower() not in engine.commands})


def aof_command_names(paths) -> set[bytes]:
    """Command names used by the RESP parts of these AOF files (RDB parts skipped)."""
    from aofcheck.resp import Command, iter_events
    from rdbtools.reader import iter_records

    names = set()
    for p in paths:
        with open(p, "rb") as f:
            base = 0
            if f.read(5) == b"REDIS":
                f.seek(0)
                for rec in iter_records(f):
                    base = getattr(rec, "end", base)
            f.seek(base)
            for ev in iter_events(f, base_offset=base, check_crlf=False):
                if isinstance(ev, Command):
                    names.add(ev.args[0].lower())
                    if ev.args[0].lower() in (b"function", b"xgroup", b"config") and len(ev.args) > 1:
                        names.add(ev.args[0].lower())
    return names


def digest(engine: Engine) -> str:
    return dataset_digest(engine)


def wait_for(cond, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return False


def listdir(path) -> list[str]:
    return sorted(os.listdir(path))
