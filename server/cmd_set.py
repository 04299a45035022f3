"""Set commands: intset while every member is an integer and the set is small."""

from __future__ import annotations

import random

from ._util import to_int
from .cmd_hash import scan_collection
from .cmd_keys import _cursor, _scan_opts
from .engine import SYNTAX, WRONGTYPE, CommandError, command
from .objects import RSet, canonical_int
from ._util import check_random_count, intercard_args
from .proto import NULL_ARRAY, RSetReply, err


def get_set(db, key):
    v = db.get(key)
    if v is not None and type(v) is not RSet:
        raise CommandError(WRONGTYPE)
    return v


def members(s: RSet) -> list:
    if s.intset:
        return sorted(s, key=int)
    return list(s)


def set_reply(c, items):
    return RSetReply(items) if c.resp == 3 else list(items)


def make_set(e, items) -> RSet:
    s = RSet(items)
    s.intset = len(s) <= e.config.set_max_intset and all(
        canonical_int(m) is not None for m in s)
    return s


def _add(e, s, new):
    if s.intset:
        lim = e.config.set_max_intset
        for m in new:
            if canonical_int(m) is None:
                s.intset = False
                break
        if s.intset and len(s) + len(new) > lim:
            s.update(new)
            if len(s) > lim:
                s.intset = False
            return
    s.update(new)


@command("sadd", -3, "write denyoom fast", 1, 1, 1, "set")
def sadd(e, c, argv):
    db = c.db
    s = get_set(db, argv[1])
    if s is None:
        s = RSet()
        s.intset = canonical_int(argv[2]) is not None
        db.add(argv[1], s)
    before = len(s)
    _add(e, s, argv[2:])
    n = len(s) - before
    if n:
        if db.watched:
            db.touch(argv[1])
        e.dirty += n
    return n


@command("srem", -3, "write fast", 1, 1, 1, "set")
def srem(e, c, argv):
    db = c.db
    s = get_set(db, argv[1])
    if s is None:
        return 0
    n = 0
    for m in argv[2:]:
        if m in s:
            s.discard(m)
            n += 1
    if n:
        if not s:
            db.delete(argv[1])
        elif db.watched:
            db.touch(argv[1])
        e.dirty += n
    return n


@command("smembers", 2, "readonly", 1, 1, 1, "set")
def smembers(e, c, argv):
    s = get_set(c.db, argv[1])
    return set_reply(c, [] if s is None else members(s))


@command("sismember", 3, "readonly fast", 1, 1, 1, "set")
def sismember(e, c, argv):
    s = get_set(c.db, argv[1])
    return 1 if s is not None and argv[2] in s else 0


@command("smismember", -3, "readonly fast", 1, 1, 1, "set", since="6.2.0")
def smismember(e, c, argv):
    s = get_set(c.db, argv[1]) or ()
    return [1 if m in s else 0 for m in argv[2:]]


@command("scard", 2, "readonly fast", 1, 1, 1, "set")
def scard(e, c, argv):
    s = get_set(c.db, argv[1])
    return 0 if s is None else len(s)


@command("spop", -2, "write fast", 1, 1, 1, "set")
def spop(e, c, argv):
    if len(argv) > 3:
        return SYNTAX
    db = c.db
    count = None
    if len(argv) == 3:
        count = to_int(argv[2], err("ERR value is out of range, must be positive"))
        if count < 0:
            return err("ERR value is out of range, must be positive")
    s = get_set(db, argv[1])
    if s is None:
        return None if count is None else set_reply(c, [])
    if count == 0:
        return set_reply(c, [])
    picked = random.sample(members(s), min(count or 1, len(s)))
    for m in picked:
        s.discard(m)
    if not s:
        db.delete(argv[1])
    elif db.watched:
        db.touch(argv[1])
    e.dirty += len(picked)
    if not s and count is not None:
        e.rewrite([b"DEL", argv[1]])
    else:   # one SREM per member, as Redis 7.0 (the engine wraps several in MULTI/EXEC)
        e.rewrite(*[[b"SREM", argv[1], m] for m in picked])
    return picked[0] if count is None else set_reply(c, picked)


@command("srandmember", -2, "readonly", 1, 1, 1, "set")
def srandmember(e, c, argv):
    if len(argv) > 3:
        return SYNTAX
    count = None
    if len(argv) == 3:
        count = check_random_count(to_int(argv[2]))
    s = get_set(c.db, argv[1])
    if count is None:
        return None if s is None else random.choice(members(s))
    if s is None or count == 0:
        return []
    ms = members(s)
    if count > 0:
        return random.sample(ms, min(count, len(ms)))
    return [random.choice(ms) for _ in range(-count)]


@command("smove", 4, "write fast", 1, 2, 1, "set")
def smove(e, c, argv):
    db = c.db
    src = get_set(db, argv[1])
    dst = get_set(db, argv[2])
    if src is None or argv[3] not in src:
        return 0
    if src is dst:
        return 1
    src.discard(argv[3])
    if not src:
        db.delete(argv[1])
    elif db.watched:
        db.touch(argv[1])
    if dst is None:
        dst = RSet()
        dst.intset = canonical_int(argv[3]) is not None
        db.add(argv[2], dst)
    elif db.watched:
        db.touch(argv[2])
    _add(e, dst, [argv[3]])
    e.dirty += 1
    return 1


def _sets(c, keys):
    return [get_set(c.db, k) for k in keys]


def _inter(sets):
    if any(s is None for s in sets):
        return []
    sets = sorted(sets, key=len)
    first = sets[0]
    rest = sets[1:]
    return [m for m in members(first) if all(m in s for s in rest)]


def _union(sets):
    out = {}
    for s in sets:
        if s is not None:
            for m in members(s):
                out[m] = None
    return list(out)


def _diff(sets):
    if sets[0] is None:
        return []
    rest = [s for s in sets[1:] if s is not None]
    return [m for m in members(sets[0]) if not any(m in s for s in rest)]


def _store(e, c, dst, items):
    db = c.db
    existed = db.get(dst) is not None
    if existed:
        db.delete(dst)
    if items:
        db.add(dst, make_set(e, items))
    e.dirty += 1
    if not items and not existed:
        e.rewrite([b"DEL", dst])
    return len(items)


@command("sinter", -2, "readonly", 1, -1, 1, "set")
def sinter(e, c, argv):
    return set_reply(c, _inter(_sets(c, argv[1:])))


@command("sunion", -2, "readonly", 1, -1, 1, "set")
def sunion(e, c, argv):
    return set_reply(c, _union(_sets(c, argv[1:])))


@command("sdiff", -2, "readonly", 1, -1, 1, "set")
def sdiff(e, c, argv):
    return set_reply(c, _diff(_sets(c, argv[1:])))


@command("sinterstore", -3, "write denyoom", 1, -1, 1, "set")
def sinterstore(e, c, argv):
    return _store(e, c, argv[1], _inter(_sets(c, argv[2:])))


@command("sunionstore", -3, "write denyoom", 1, -1, 1, "set")
def sunionstore(e, c, argv):
    return _store(e, c, argv[1], _union(_sets(c, argv[2:])))


@command("sdiffstore", -3, "write denyoom", 1, -1, 1, "set")
def sdiffstore(e, c, argv):
    return _store(e, c, argv[1], _diff(_sets(c, argv[2:])))


@command("sintercard", -3, "readonly", 0, 0, 0, "set", since="7.0.0")
def sintercard(e, c, argv):
    keys, limit = intercard_args(argv)
    r = len(_inter(_sets(c, keys)))
    return min(r, limit) if limit else r


@command("sscan", -3, "readonly", 1, 1, 1, "set", since="2.8.0")
def sscan(e, c, argv):
    s = get_set(c.db, argv[1])
    _cursor(argv[2])
    if s is None:
        _scan_opts(argv, 3)
        return [b"0", []]
    return scan_collection(members(s), argv, 3, False)


_ = NULL_ARRAY
