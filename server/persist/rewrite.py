"""The AOF rewrite output when `aof-use-rdb-preamble no`: the dataset as commands
(formats.md §8.3, `rewriteAppendOnlyFileRio()`), plus the RESP encoder for one command."""

from __future__ import annotations

from rdbtools.constants import Kind

from ..objects import to_record

__all__ = ["resp_command", "write_resp_base", "ITEMS_PER_CMD"]

#: AOF_REWRITE_ITEMS_PER_CMD
ITEMS_PER_CMD = 64


def _b(x) -> bytes:
    if isinstance(x, bytes):
        return x
    if isinstance(x, (bytearray, memoryview)):
        return bytes(x)
    return str(x).encode()


def resp_command(argv) -> bytes:
    """One multibulk, integers as decimal text (catAppendOnlyGenericCommand)."""
    parts = [b"*%d\r\n" % len(argv)]
    for a in argv:
        a = _b(a)
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


def _sid(sid) -> bytes:
    return b"%d-%d" % (sid[0], sid[1])


def _score(s: float) -> bytes:
    return (b"%.17g" % s)


def _batched(out, verb: bytes, key: bytes, items: list[bytes], per: int) -> None:
    for i in range(0, len(items), per):
        out(resp_command([verb, key, *items[i:i + per]]))


def _key_commands(out, key: bytes, kind: Kind, value, fexp) -> None:
    if kind is Kind.STRING:
        out(resp_command([b"SET", key, value]))
    elif kind is Kind.LIST:
        _batched(out, b"RPUSH", key, value, ITEMS_PER_CMD)
    elif kind is Kind.SET:
        _batched(out, b"SADD", key, value, ITEMS_PER_CMD)
    elif kind is Kind.ZSET:
        flat = []
        for m, s in value:
            flat += (_score(s), m)
        _batched(out, b"ZADD", key, flat, 2 * ITEMS_PER_CMD)
    elif kind is Kind.HASH:
        flat = [x for pair in value for x in pair]
        _batched(out, b"HMSET", key, flat, 2 * ITEMS_PER_CMD)
        for f, when in (fexp or {}).items():  # 7.4's form for field TTLs
            out(resp_command([b"HPEXPIREAT", key, when, b"FIELDS", 1, f]))
    elif kind is Kind.STREAM:
        _stream_commands(out, key, value)
    else:
        raise TypeError("cannot rewrite kind %r" % kind)


def _stream_commands(out, key: bytes, s) -> None:
    if s.entries:
        for e in s.entries:
            out(resp_command([b"XADD", key, _sid(e.id), *[x for p in e.fields for x in p]]))
    else:
        out(resp_command([b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"]))
    out(resp_command([b"XSETID", key, _sid(s.last_id), b"ENTRIESADDED", s.entries_added,
                      b"MAXDELETEDID", _sid(s.max_deleted_id)]))
    for g in s.groups:
        out(resp_command([b"XGROUP", b"CREATE", key, g.name, _sid(g.last_id),
                          b"ENTRIESREAD", g.entries_read]))
        pel = {p.id: p for p in g.pending}
        for c in sorted(g.consumers, key=lambda c: c.name):
            if not c.pending:
                out(resp_command([b"XGROUP", b"CREATECONSUMER", key, g.name, c.name]))
                continue
            for pid in sorted(c.pending):
                p = pel.get(pid)
                if p is None:
                    continue
                out(resp_command([b"XCLAIM", key, g.name, c.name, b"0", _sid(pid), b"TIME",
                                  p.delivery_time, b"RETRYCOUNT", p.delivery_count,
                                  b"JUSTID", b"FORCE"]))


def write_resp_base(engine, out, *, timestamp: int | None = None) -> int:
    """Write the dataset as commands through `out(bytes)`; returns the key count."""
    if timestamp is not None:
        out(b"#TS:%d\r\n" % timestamp)
    for code in engine.functions.values():
        out(resp_command([b"FUNCTION", b"LOAD", code]))
    n = 0
    for db in engine.dbs:
        if not db.data:
            continue
        out(resp_command([b"SELECT", db.id]))
        expires = db.expires
        for key, v in db.data.items():
            kind, value, fexp = to_record(v)
            if kind in (Kind.LIST, Kind.SET, Kind.ZSET, Kind.HASH) and not value:
                continue
            _key_commands(out, key, kind, value, fexp)
            when = expires.get(key)
            if when is not None:
                out(resp_command([b"PEXPIREAT", key, when]))
            n += 1
    return n
