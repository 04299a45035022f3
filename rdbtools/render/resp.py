"""Records -> RESP2 commands that rebuild the dataset (`redis-cli --pipe` input).

Plain mode rebuilds each key with ordinary write commands, as Redis's own AOF rewrite
does (SET, RPUSH, SADD, ZADD, HSET, XADD + XSETID + XGROUP/XCLAIM), at most
`ITEMS_PER_COMMAND` elements per command so no single command grows without bound, then
PEXPIREAT with the absolute ms expiry. `restore=True` emits one RESTORE ... ABSTTL per
key with a DUMP payload for the chosen RDB version instead. Module values can only travel
as RESTORE payloads, so they always do.
"""

from __future__ import annotations

import math
from typing import BinaryIO

from .. import constants as C
from ..constants import Kind, RdbType
from ..errors import RdbkitError
from ..records import Function, KeyRecord, Record

#: Redis's AOF rewrite uses 64 (AOF_REWRITE_ITEMS_PER_CMD); so do we.
ITEMS_PER_COMMAND = 64


def command(*args: bytes) -> bytes:
    """One RESP2 multi-bulk command."""
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        parts += (b"$%d\r\n" % len(a), a, b"\r\n")
    return b"".join(parts)


def _set_command(key: bytes, value: bytes) -> bytes:
    return b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (
        len(key), key, len(value), value)


class RenderError(RdbkitError):
    """A value the chosen output cannot express (e.g. a NaN score as a ZADD argument)."""


def format_score(x: float) -> bytes:
    """Text Redis parses back to exactly `x` (repr is the shortest round-trip form)."""
    if x != x:
        raise RenderError("a NaN score cannot be sent to Redis (ZADD refuses it)")
    if math.isinf(x):
        return b"inf" if x > 0 else b"-inf"
    if x == 0.0 and math.copysign(1.0, x) < 0:
        return b"-0"
    if x == int(x) and abs(x) < 1e17:
        return b"%d" % int(x)
    return repr(x).encode("ascii")


def _negzero(x: float) -> bool:
    return x == 0.0 and math.copysign(1.0, x) < 0


#: Placeholder member whose length forces 7.0's ZADD to create a skiplist directly.
SKIPLIST_SEED = b"\x00rdbkit:skiplist-seed:" + b"-" * C.ZSET_MAX_LISTPACK_VALUE


def zadd_plan(pairs: list) -> tuple[list[list], bytes | None]:
    """ZADD batches (and a placeholder member to ZREM afterwards, if any).

    Redis 7.0 decides a new zset's encoding from the first member of the first ZADD
    and converts a listpack to a skiplist only when it outgrows the limits; a listpack
    stores -0.0 as integer 0. A zset that a load would hold as a skiplist must
    therefore receive its -0.0 scores only once it is a skiplist: its long member goes
    first, or the -0.0 members go last, or (when neither suffices) a long placeholder
    member creates the skiplist and is removed at the end."""
    n = len(pairs)
    seed = None
    longest = max(range(n), key=lambda i: len(pairs[i][0]), default=0)
    long_member = n and len(pairs[longest][0]) > C.ZSET_MAX_LISTPACK_VALUE
    if (n > C.ZSET_MAX_LISTPACK_ENTRIES or long_member) and any(_negzero(s) for _, s in pairs):
        if long_member:
            pairs = [pairs[longest]] + pairs[:longest] + pairs[longest + 1:]
        else:
            neg = [p for p in pairs if _negzero(p[1])]
            pairs = [p for p in pairs if not _negzero(p[1])] + neg
            if len(neg) > n - C.ZSET_MAX_LISTPACK_ENTRIES:
                seed = SKIPLIST_SEED
                while any(m == seed for m, _ in pairs):
                    seed += b"-"
                pairs = [(seed, 0.0)] + pairs
    chunks = [pairs[i:i + ITEMS_PER_COMMAND] for i in range(0, len(pairs), ITEMS_PER_COMMAND)]
    return chunks, seed


def fmt_id(i: tuple[int, int]) -> bytes:
    return b"%d-%d" % i


class RespRenderer:
    """Streams records to `out` as RESP2 commands."""

    def __init__(self, out: BinaryIO, *, restore: bool = False, rdb_version: int = 10,
                 replace: bool = False) -> None:
        self.out = out
        self.restore = restore
        self.rdb_version = rdb_version
        self.replace = replace
        self.db: int | None = None
        self.keys = 0
        self._buf: list[bytes] = []
        self._size = 0

    #: Commands are gathered and written in batches of about this many bytes.
    BATCH_BYTES = 1 << 16

    def _out(self, data: bytes) -> None:
        self._buf.append(data)
        self._size += len(data)
        if self._size >= self.BATCH_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._buf:
            self.out.write(b"".join(self._buf))
            self._buf = []
            self._size = 0

    def write(self, rec: Record) -> None:
        if type(rec) is KeyRecord:
            self.keys += 1
            if rec.db != self.db:
                self._out(command(b"SELECT", b"%d" % rec.db))
                self.db = rec.db
            if self.restore or rec.kind == Kind.MODULE:
                self._out(self.restore_command(rec))
            elif rec.type == RdbType.STRING and not self.replace:
                data = _set_command(rec.key, rec.value)
                if rec.expire_ms is not None:
                    data += command(b"PEXPIREAT", rec.key, b"%d" % rec.expire_ms)
                self._out(data)
            else:
                self._out(b"".join(self.key_commands(rec)))
        elif isinstance(rec, Function):
            self._out(command(b"FUNCTION", b"LOAD", b"REPLACE", rec.code))

    def close(self) -> None:
        self._flush()

    def restore_command(self, rec: KeyRecord) -> bytes:
        from ..payload import create_payload

        payload = create_payload(rec.kind, rec.value, version=self.rdb_version,
                                 field_expires=rec.field_expires)
        args = [b"RESTORE", rec.key]
        expire = rec.expire_ms
        late_expire = expire is not None and expire <= 0  # ABSTTL 0 would mean "no TTL"
        args.append(b"0" if expire is None or late_expire else b"%d" % expire)
        args.append(payload)
        if self.replace:
            args.append(b"REPLACE")
        args.append(b"ABSTTL")
        if rec.idle is not None:
            args += [b"IDLETIME", b"%d" % rec.idle]
        elif rec.freq is not None:
            args += [b"FREQ", b"%d" % rec.freq]
        out = command(*args)
        if late_expire:
            out += command(b"PEXPIREAT", rec.key, b"%d" % expire)
        return out

    def key_commands(self, rec: KeyRecord) -> list[bytes]:
        key, kind, v = rec.key, rec.kind, rec.value
        out: list[bytes] = []
        if self.replace:
            out.append(command(b"DEL", key))
        if kind == Kind.STRING:
            out.append(command(b"SET", key, v))
        elif kind in (Kind.LIST, Kind.SET):
            name = b"RPUSH" if kind == Kind.LIST else b"SADD"
            for i in range(0, len(v), ITEMS_PER_COMMAND):
                out.append(command(name, key, *v[i:i + ITEMS_PER_COMMAND]))
        elif kind == Kind.ZSET:
            chunks, seed = zadd_plan(v)
            try:
                for chunk in chunks:
                    args = [b"ZADD", key]
                    for m, s in chunk:
                        args.append(format_score(s))
                        args.append(m)
                    out.append(command(*args))
            except RenderError as e:
                raise RenderError(f"{e}: key {key!r} in db {rec.db}") from e
            if seed is not None:
                out.append(command(b"ZREM", key, seed))
        elif kind == Kind.HASH:
            for i in range(0, len(v), ITEMS_PER_COMMAND):
                args = [b"HSET", key]
                for f, val in v[i:i + ITEMS_PER_COMMAND]:
                    args.append(f)
                    args.append(val)
                out.append(command(*args))
            if rec.field_expires:
                # Redis >= 7.4 only: 7.0 has no per-field expiry.
                for f, ms in rec.field_expires.items():
                    out.append(command(b"HPEXPIREAT", key, b"%d" % ms, b"FIELDS", b"1", f))
        elif kind == Kind.STREAM:
            out.extend(stream_commands(key, v))
        else:
            raise RenderError(f"cannot render {kind.label} values as commands")
        if rec.expire_ms is not None:
            out.append(command(b"PEXPIREAT", key, b"%d" % rec.expire_ms))
        return out


#: Field/value of the placeholder entries that carry pending entries of deleted messages.
PLACEHOLDER_FIELD = (b"rdbkit-placeholder", b"")


def stream_commands(key: bytes, s) -> list[bytes]:
    """XADD each live entry, then groups, consumers and PEL, then XSETID the metadata.

    XCLAIM ... FORCE only creates a pending entry for a message that exists, and a PEL
    may name messages deleted since they were delivered: those get a placeholder entry
    that is XDELeted once claimed. Consumers' seen/active times become the load time
    (no command sets them); everything else comes back as it was."""
    live = {e.id for e in s.entries}
    ghosts = sorted({p.id for g in s.groups for p in g.pending if p.id not in live
                     and p.id != (0, 0)})
    adds = [(e.id, e.fields) for e in s.entries]
    if ghosts:
        adds = sorted(adds + [(i, (PLACEHOLDER_FIELD,)) for i in ghosts])
    out = []
    for i, fields in adds:
        args = [b"XADD", key, fmt_id(i)]
        for f, val in fields:
            args.append(f)
            args.append(val)
        out.append(command(*args))
    if not adds:
        out.append(command(b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"))
    for g in s.groups:
        args = [b"XGROUP", b"CREATE", key, g.name, fmt_id(g.last_id)]
        if g.entries_read >= 0:
            args += [b"ENTRIESREAD", b"%d" % g.entries_read]
        out.append(command(*args))
        nacks = {p.id: p for p in g.pending}
        for c in g.consumers:
            if not c.pending:
                out.append(command(b"XGROUP", b"CREATECONSUMER", key, g.name, c.name))
                continue
            for pid in c.pending:
                p = nacks.get(pid)
                dtime = p.delivery_time if p else 0
                dcount = p.delivery_count if p else 1
                out.append(command(b"XCLAIM", key, g.name, c.name, b"0", fmt_id(pid),
                                   b"TIME", b"%d" % dtime, b"RETRYCOUNT", b"%d" % dcount,
                                   b"JUSTID", b"FORCE"))
    if ghosts:
        out.append(command(b"XDEL", key, *map(fmt_id, ghosts)))
    out.append(command(b"XSETID", key, fmt_id(s.last_id), b"ENTRIESADDED",
                       b"%d" % s.entries_added, b"MAXDELETEDID", fmt_id(s.max_deleted_id)))
    return out
