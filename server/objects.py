"""In-memory values and the encodings Redis 7.0 would report for them.

Strings are `bytes` (or `bytearray` once APPEND/SETRANGE made them "raw"), lists a
deque, hashes an insertion-ordered dict (listpack order is insertion order), sets a
set, sorted sets a dict plus a sorted (score, member) list, streams `RStream`.
`to_record()` is the one bridge to rdbtools' record value shapes (digest, DUMP, SAVE).
"""

from __future__ import annotations

import bisect
from collections import deque

from rdbtools.constants import Kind
from rdbtools.records import Consumer, ConsumerGroup, PendingEntry, Stream, StreamEntry

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


def canonical_int(b) -> int | None:
    """The int64 a string holds in Redis's strict sense (string2ll), else None."""
    n = len(b)
    if n == 0 or n > 20:
        return None
    c = b[0]
    if c == 45:
        if n == 1 or b[1] == 48 or not b[1:].isdigit():
            return None
    elif not b.isdigit() or (c == 48 and n > 1):
        return None
    v = int(b)
    if v < INT64_MIN or v > INT64_MAX:
        return None
    return v


class RList(deque):
    __slots__ = ()


class RHash(dict):
    """Insertion-ordered fields; `lp` while Redis would keep a listpack."""

    __slots__ = ("lp", "fexp")

    def __init__(self, *a):
        super().__init__(*a)
        self.lp = True
        self.fexp = None  # field -> absolute ms (hash field expiration)


class RSet(set):
    __slots__ = ("intset",)

    def __init__(self, *a):
        super().__init__(*a)
        self.intset = False


class RZset:
    """Members with scores, kept sorted by (score, member) as a skiplist would be."""

    __slots__ = ("d", "sl", "lp")

    def __init__(self) -> None:
        self.d: dict[bytes, float] = {}
        self.sl: list[tuple[float, bytes]] = []
        self.lp = True

    def __len__(self) -> int:
        return len(self.d)

    def add(self, member: bytes, score: float) -> None:
        if self.lp and score == 0.0:
            score = 0.0  # a listpack stores -0.0 as the integer 0
        old = self.d.get(member)
        if old is not None:
            if old == score:
                return
            i = bisect.bisect_left(self.sl, (old, member))
            del self.sl[i]
        self.d[member] = score
        bisect.insort(self.sl, (score, member))

    def remove(self, member: bytes) -> bool:
        old = self.d.pop(member, None)
        if old is None:
            return False
        i = bisect.bisect_left(self.sl, (old, member))
        del self.sl[i]
        return True

    def rank(self, member: bytes) -> int | None:
        s = self.d.get(member)
        if s is None:
            return None
        return bisect.bisect_left(self.sl, (s, member))


class StreamGroup:
    __slots__ = ("last_id", "entries_read", "pel", "consumers")

    def __init__(self, last_id, entries_read) -> None:
        self.last_id = last_id
        self.entries_read = entries_read
        self.pel: dict[tuple[int, int], list] = {}  # id -> [consumer name, time, count]
        self.consumers: dict[bytes, StreamConsumer] = {}


class StreamConsumer:
    __slots__ = ("seen_time", "active_time", "pel")

    def __init__(self, now: int) -> None:
        self.seen_time = now
        self.active_time = -1
        self.pel: dict[tuple[int, int], None] = {}


class RStream:
    __slots__ = ("ids", "entries", "last_id", "first_id", "max_deleted", "added", "groups")

    def __init__(self) -> None:
        self.ids: list[tuple[int, int]] = []
        self.entries: dict[tuple[int, int], list[bytes]] = {}
        self.last_id = (0, 0)
        self.max_deleted = (0, 0)
        self.added = 0
        self.groups: dict[bytes, StreamGroup] = {}

    def __len__(self) -> int:
        return len(self.ids)


TYPE_NAMES = {bytes: b"string", bytearray: b"string", RList: b"list", RHash: b"hash",
              RSet: b"set", RZset: b"zset", RStream: b"stream"}
KINDS = {bytes: Kind.STRING, bytearray: Kind.STRING, RList: Kind.LIST, RHash: Kind.HASH,
         RSet: Kind.SET, RZset: Kind.ZSET, RStream: Kind.STREAM}


def encoding_of(v) -> bytes:
    t = type(v)
    if t is bytes:
        if canonical_int(v) is not None:
            return b"int"
        return b"embstr" if len(v) <= 44 else b"raw"
    if t is bytearray:
        return b"raw"
    if t is RList:
        return b"quicklist"
    if t is RHash:
        return b"listpack" if v.lp else b"hashtable"
    if t is RSet:
        return b"intset" if v.intset else b"hashtable"
    if t is RZset:
        return b"listpack" if v.lp else b"skiplist"
    if t is RStream:
        return b"stream"
    raise TypeError(t)


def to_record(v):
    """server value -> (Kind, value in rdbtools record shape, field_expires or None)."""
    t = type(v)
    if t is bytes:
        return Kind.STRING, v, None
    if t is bytearray:
        return Kind.STRING, bytes(v), None
    if t is RList:
        return Kind.LIST, list(v), None
    if t is RHash:
        return Kind.HASH, list(v.items()), (dict(v.fexp) if v.fexp else None)
    if t is RSet:
        if v.intset:
            return Kind.SET, sorted(v, key=int), None
        return Kind.SET, list(v), None
    if t is RZset:
        return Kind.ZSET, [(m, s) for s, m in v.sl], None
    if t is RStream:
        return Kind.STREAM, stream_record(v), None
    raise TypeError(t)


def stream_record(s: RStream) -> Stream:
    groups = []
    for name, g in s.groups.items():
        pending = tuple(PendingEntry(i, p[1], p[2]) for i, p in sorted(g.pel.items()))
        consumers = tuple(
            Consumer(cn, c.seen_time, c.active_time, tuple(sorted(c.pel)))
            for cn, c in g.consumers.items())
        groups.append(ConsumerGroup(name, g.last_id, g.entries_read, pending, consumers))
    entries = tuple(StreamEntry(i, tuple(zip(s.entries[i][::2], s.entries[i][1::2])))
                    for i in s.ids)
    return Stream(entries=entries, length=len(s.ids), last_id=s.last_id,
                  first_id=s.ids[0] if s.ids else (0, 0), max_deleted_id=s.max_deleted,
                  entries_added=s.added, groups=tuple(groups))


def from_record(kind: Kind, value, field_expires, cfg, rtype=None):
    """rdbtools record value -> server value with the encoding Redis would pick on load.

    `rtype` is the on-disk type when known: a ziplist/listpack zset keeps a stored -0
    score as -0.0 (Redis's loader copies the blob; only later inserts turn it into 0).
    """
    if kind == Kind.STRING:
        return bytes(value)
    if kind == Kind.LIST:
        return RList(value)
    if kind == Kind.HASH:
        h = RHash(value)
        h.lp = (len(h) <= cfg.hash_max_entries and all(
            len(f) <= cfg.hash_max_value and len(x) <= cfg.hash_max_value for f, x in value))
        if field_expires:
            h.fexp = dict(field_expires)
        return h
    if kind == Kind.SET:
        s = RSet(value)
        s.intset = len(s) <= cfg.set_max_intset and all(canonical_int(m) is not None for m in s)
        return s
    if kind == Kind.ZSET:
        z = RZset()
        z.lp = len(value) <= cfg.zset_max_entries and all(
            len(m) <= cfg.zset_max_value for m, _ in value)
        keep_neg_zero = z.lp and rtype is not None and int(rtype) in (12, 17)
        for m, sc in value:
            if keep_neg_zero and sc == 0.0:
                z.lp = False  # RZset.add would store -0.0 as 0 in listpack mode
                z.add(m, sc)
                z.lp = True
            else:
                z.add(m, sc)
        return z
    if kind == Kind.STREAM:
        s = RStream()
        for e in value.entries:
            s.ids.append(tuple(e.id))
            s.entries[tuple(e.id)] = [x for pair in e.fields for x in pair]
        s.last_id = tuple(value.last_id)
        s.max_deleted = tuple(value.max_deleted_id)
        s.added = value.entries_added or len(value.entries)
        for g in value.groups:
            sg = StreamGroup(tuple(g.last_id), g.entries_read)
            owner = {}
            for c in g.consumers:
                sc = StreamConsumer(c.seen_time)
                sc.active_time = c.active_time
                for pid in c.pending:
                    sc.pel[tuple(pid)] = None
                    owner[tuple(pid)] = c.name
                sg.consumers[c.name] = sc
            for p in g.pending:
                sg.pel[tuple(p.id)] = [owner.get(tuple(p.id), b""), p.delivery_time,
                                       p.delivery_count]
            s.groups[g.name] = sg
        return s
    raise ValueError(f"unsupported kind {kind}")
