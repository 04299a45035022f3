"""Hash commands, with Redis 7.0 listpack/hashtable encodings and 7.4 field expiration."""

from __future__ import annotations

import random

from ._util import glob_matcher, to_int
from .cmd_keys import _cursor, _scan_opts
from .cmd_string import float_add
from .engine import WRONGTYPE, CommandError, command
from .objects import RHash, canonical_int
from ._util import random_count_args
from .proto import OK, Map, err
from rdbtools.constants import HFE_EXPIRE_TIME_MAX


def get_hash(e, db, key):
    v = db.get(key)
    if v is None:
        return None
    if type(v) is not RHash:
        raise CommandError(WRONGTYPE)
    if v.fexp and not e.loading:
        _purge(e, db, key, v)
        if not v:
            db.delete(key)
            return None
    return v


def _purge(e, db, key, h):
    """Lazily drop expired fields (Redis 7.4 hash field expiration)."""
    now = e.now_ms
    gone = [f for f, t in h.fexp.items() if t <= now]
    for f in gone:
        del h.fexp[f]
        h.pop(f, None)
        if e.prop_hooks:
            e.propagate(db.id, [b"HDEL", key, f])
    if not h.fexp:
        h.fexp = None


def _convert_check(e, h, args):
    if h.lp:
        lim = e.config.hash_max_value
        for a in args:
            if len(a) > lim:
                h.lp = False
                return


def _after_add(e, h):
    if h.lp and len(h) > e.config.hash_max_entries:
        h.lp = False


def _wr_hash(e, c, key):
    db = c.db
    h = get_hash(e, db, key)
    if h is None:
        h = RHash()
        db.add(key, h)
    elif db.watched:
        db.touch(key)
    return h


@command("hset", -4, "write denyoom fast", 1, 1, 1, "hash", since="2.0.0")
def hset(e, c, argv):
    if len(argv) == 4:
        # the common single-field form, without the general bookkeeping
        db = c.db
        key = argv[1]
        h = db.get(key)
        if type(h) is RHash and not h.fexp:
            f, v = argv[2], argv[3]
            if h.lp:
                cfg = e.config
                if len(f) > cfg.hash_max_value or len(v) > cfg.hash_max_value:
                    h.lp = False
            new = f not in h
            h[f] = v
            if new and h.lp and len(h) > e.config.hash_max_entries:
                h.lp = False
            if db.watched:
                db.touch(key)
            e.dirty += 1
            return 1 if new else 0
    if len(argv) % 2:
        return err("ERR wrong number of arguments for '%s' command"
                   % argv[0].decode("utf-8", "replace").lower())
    h = _wr_hash(e, c, argv[1])
    _convert_check(e, h, argv[2:])
    n = 0
    fexp = h.fexp
    for i in range(2, len(argv), 2):
        f = argv[i]
        if f not in h:
            n += 1
        elif fexp and f in fexp:
            del fexp[f]
        h[f] = argv[i + 1]
    _after_add(e, h)
    e.dirty += (len(argv) - 2) // 2
    return n


@command("hmset", -4, "write denyoom fast", 1, 1, 1, "hash", since="2.0.0")
def hmset(e, c, argv):
    r = hset(e, c, argv)
    return r if type(r) is not int else OK


@command("hsetnx", 4, "write denyoom fast", 1, 1, 1, "hash", since="2.0.0")
def hsetnx(e, c, argv):
    h = get_hash(e, c.db, argv[1])
    if h is not None and argv[2] in h:
        return 0
    h = _wr_hash(e, c, argv[1])
    _convert_check(e, h, argv[2:])
    h[argv[2]] = argv[3]
    _after_add(e, h)
    e.dirty += 1
    return 1


@command("hget", 3, "readonly fast", 1, 1, 1, "hash", since="2.0.0")
def hget(e, c, argv):
    h = get_hash(e, c.db, argv[1])
    return None if h is None else h.get(argv[2])


@command("hmget", -3, "readonly fast", 1, 1, 1, "hash", since="2.0.0")
def hmget(e, c, argv):
    h = get_hash(e, c.db, argv[1])
    if h is None:
        return [None] * (len(argv) - 2)
    return [h.get(f) for f in argv[2:]]


@command("hdel", -3, "write fast", 1, 1, 1, "hash", since="2.0.0")
def hdel(e, c, argv):
    db = c.db
    h = get_hash(e, db, argv[1])
    if h is None:
        return 0
    n = 0
    for f in argv[2:]:
        if h.pop(f, None) is not None:
            n += 1
            if h.fexp:
                h.fexp.pop(f, None)
    if n:
        if not h:
            db.delete(argv[1])
        elif db.watched:
            db.touch(argv[1])
        e.dirty += n
    return n


@command("hlen", 2, "readonly fast", 1, 1, 1, "hash", since="2.0.0")
def hlen(e, c, argv):
    h = get_hash(e, c.db, argv[1])
    return 0 if h is None else len(h)


@command("hstrlen", 3, "readonly fast", 1, 1, 1, "hash", since="3.2.0")
def hstrlen(e, c, argv):
    h = get_hash(e, c.db, argv[1])
    if h is None:
        return 0
    v = h.get(argv[2])
    return 0 if v is None else len(v)


@command("hexists", 3, "readonly fast", 1, 1, 1, "hash", since="2.0.0")
def hexists(e, c, argv):
    h = get_hash(e, c.db, argv[1])
    return 1 if h is not None and argv[2] in h else 0


@command("hkeys", 2, "readonly", 1, 1, 1, "hash", since="2.0.0")
def hkeys(e, c, argv):
    h = get_hash(e, c.db, argv[1])
    return [] if h is None else list(h)


@command("hvals", 2, "readonly", 1, 1, 1, "hash", since="2.0.0")
def hvals(e, c, argv):
    h = get_hash(e, c.db, argv[1])
    return [] if h is None else list(h.values())


@command("hgetall", 2, "readonly", 1, 1, 1, "hash", since="2.0.0")
def hgetall(e, c, argv):
    h = get_hash(e, c.db, argv[1])
    return Map() if h is None else Map(h.items())


@command("hincrby", 4, "write denyoom fast", 1, 1, 1, "hash", since="2.0.0")
def hincrby(e, c, argv):
    by = to_int(argv[3])
    h = get_hash(e, c.db, argv[1])
    cur = 0
    if h is not None and argv[2] in h:
        cur = canonical_int(h[argv[2]])
        if cur is None:
            return err("ERR hash value is not an integer")
    new = cur + by
    if new < -(1 << 63) or new >= 1 << 63:
        return err("ERR increment or decrement would overflow")
    h = _wr_hash(e, c, argv[1])
    _convert_check(e, h, (argv[2],))
    h[argv[2]] = b"%d" % new
    _after_add(e, h)
    e.dirty += 1
    return new


@command("hincrbyfloat", 4, "write denyoom fast", 1, 1, 1, "hash", since="2.6.0")
def hincrbyfloat(e, c, argv):
    from .cmd_string import parse_long_double

    if parse_long_double(argv[3]) is None:
        return err("ERR value is not a valid float")
    h = get_hash(e, c.db, argv[1])
    cur = None
    if h is not None and argv[2] in h:
        cur = h[argv[2]]
        if parse_long_double(cur) is None:
            return err("ERR hash value is not a float")
    new = float_add(cur, argv[3])
    h = _wr_hash(e, c, argv[1])
    _convert_check(e, h, (argv[2], new))
    h[argv[2]] = new
    _after_add(e, h)
    e.dirty += 1
    e.rewrite([b"HSET", argv[1], argv[2], new])
    return new


@command("hrandfield", -2, "readonly", 1, 1, 1, "hash", since="6.2.0")
def hrandfield(e, c, argv):
    count, withvalues = random_count_args(argv, b"withvalues")
    h = get_hash(e, c.db, argv[1])
    if count is None:
        return None if h is None else random.choice(list(h))
    if h is None or count == 0:
        return []
    items = list(h.items())
    if count > 0:
        picked = random.sample(items, min(count, len(items)))
    else:
        picked = [random.choice(items) for _ in range(-count)]
    if withvalues:
        if c.resp == 3:
            return [[f, v] for f, v in picked]
        return [x for pair in picked for x in pair]
    return [f for f, _ in picked]


def scan_collection(items, argv, i, pairs):
    """HSCAN/SSCAN/ZSCAN: everything in one pass (cursor 0), like Redis for small ones."""
    cursor = _cursor(argv[2])
    pattern, count, _ = _scan_opts(argv, i)
    match = glob_matcher(pattern) if pattern is not None else None
    if cursor != 0 and cursor >= len(items):
        return [b"0", []]
    out = []
    if len(items) <= 1024 or count >= len(items):
        chunk, nxt = items, 0
    else:
        # large ones go in index order; a cursor is the next index
        chunk = items[cursor:cursor + count]
        nxt = cursor + count if cursor + count < len(items) else 0
    for it in chunk:
        k = it[0] if pairs else it
        if match is None or match(k):
            if pairs:
                out.extend(it)
            else:
                out.append(it)
    return [b"%d" % nxt, out]


@command("hscan", -3, "readonly", 1, 1, 1, "hash", since="2.8.0")
def hscan(e, c, argv):
    h = get_hash(e, c.db, argv[1])
    _cursor(argv[2])
    if h is None:
        _scan_opts(argv, 3)
        return [b"0", []]
    return scan_collection(list(h.items()), argv, 3, True)


# -- hash field expiration (Redis 7.4) -------------------------------------------------

def _fields_arg(argv, i):
    if i >= len(argv) or argv[i].lower() != b"fields":
        raise CommandError(err("ERR Mandatory argument FIELDS is missing or not at the right "
                               "position"))
    n = canonical_int(argv[i + 1]) if i + 1 < len(argv) else None
    if n is None or n <= 0:
        raise CommandError(err("ERR Parameter `numFields` should be greater than 0"))
    fields = argv[i + 2:]
    if len(fields) != n:
        raise CommandError(err("ERR The `numfields` parameter must match the number of "
                               "arguments"))
    return fields


def _hexpire(e, c, argv, base, seconds):
    when = to_int(argv[2])
    if when < 0:
        return err("ERR invalid expire time, must be >= 0")
    if seconds:
        if when > HFE_EXPIRE_TIME_MAX // 1000:
            return err("ERR invalid expire time in '%s' command" % argv[0].decode().lower())
        when *= 1000
    when += base
    if when > HFE_EXPIRE_TIME_MAX:
        return err("ERR invalid expire time in '%s' command" % argv[0].decode().lower())
    i = 3
    cond = None
    if i < len(argv) and argv[i].lower() in (b"nx", b"xx", b"gt", b"lt"):
        cond = argv[i].lower()
        i += 1
    fields = _fields_arg(argv, i)
    db = c.db
    h = get_hash(e, db, argv[1])
    if h is None:
        return [-2] * len(fields)
    out = []
    for f in fields:
        if f not in h:
            out.append(-2)
            continue
        cur = h.fexp.get(f) if h.fexp else None
        if (cond == b"nx" and cur is not None) or (cond == b"xx" and cur is None) or \
                (cond == b"gt" and (cur is None or when <= cur)) or \
                (cond == b"lt" and cur is not None and when >= cur):
            out.append(0)
            continue
        if when <= e.now_ms and not e.loading:
            del h[f]
            if h.fexp:
                h.fexp.pop(f, None)
            out.append(2)
        else:
            if h.fexp is None:
                h.fexp = {}
            h.fexp[f] = when
            out.append(1)
        e.dirty += 1
    if h.fexp is not None and not h.fexp:
        h.fexp = None
    if not h:
        db.delete(argv[1])
    elif db.watched:
        db.touch(argv[1])
    # propagate what happened, not what was asked: updated fields get the absolute
    # time, fields that expired at once are deleted
    updated = [f for f, r in zip(fields, out) if r == 1]
    deleted = [f for f, r in zip(fields, out) if r == 2]
    props = []
    if updated:
        props.append([b"HPEXPIREAT", argv[1], b"%d" % when, b"FIELDS", b"%d" % len(updated),
                      *updated])
    if deleted:
        props.append([b"HDEL", argv[1], *deleted])
    if props:
        e.rewrite(*props)
    return out


@command("hexpire", -6, "write denyoom fast", 1, 1, 1, "hash", since="7.4.0")
def hexpire(e, c, argv):
    return _hexpire(e, c, argv, e.now_ms, True)


@command("hpexpire", -6, "write denyoom fast", 1, 1, 1, "hash", since="7.4.0")
def hpexpire(e, c, argv):
    return _hexpire(e, c, argv, e.now_ms, False)


@command("hexpireat", -6, "write denyoom fast", 1, 1, 1, "hash", since="7.4.0")
def hexpireat(e, c, argv):
    return _hexpire(e, c, argv, 0, True)


@command("hpexpireat", -6, "write denyoom fast", 1, 1, 1, "hash", since="7.4.0")
def hpexpireat(e, c, argv):
    return _hexpire(e, c, argv, 0, False)


def _httl(e, c, argv, ms, absolute):
    fields = _fields_arg(argv, 2)
    h = get_hash(e, c.db, argv[1])
    if h is None:
        return [-2] * len(fields)
    out = []
    for f in fields:
        if f not in h:
            out.append(-2)
            continue
        t = h.fexp.get(f) if h.fexp else None
        if t is None:
            out.append(-1)
        elif absolute:
            out.append(t if ms else (t + 500) // 1000)
        else:
            left = max(0, t - e.now_ms)
            out.append(left if ms else (left + 500) // 1000)
    return out


@command("httl", -5, "readonly fast", 1, 1, 1, "hash", since="7.4.0")
def httl(e, c, argv):
    return _httl(e, c, argv, False, False)


@command("hpttl", -5, "readonly fast", 1, 1, 1, "hash", since="7.4.0")
def hpttl(e, c, argv):
    return _httl(e, c, argv, True, False)


@command("hexpiretime", -5, "readonly fast", 1, 1, 1, "hash", since="7.4.0")
def hexpiretime(e, c, argv):
    return _httl(e, c, argv, False, True)


@command("hpexpiretime", -5, "readonly fast", 1, 1, 1, "hash", since="7.4.0")
def hpexpiretime(e, c, argv):
    return _httl(e, c, argv, True, True)


@command("hpersist", -5, "write fast", 1, 1, 1, "hash", since="7.4.0")
def hpersist(e, c, argv):
    fields = _fields_arg(argv, 2)
    db = c.db
    h = get_hash(e, db, argv[1])
    if h is None:
        return [-2] * len(fields)
    out = []
    for f in fields:
        if f not in h:
            out.append(-2)
        elif h.fexp and f in h.fexp:
            del h.fexp[f]
            out.append(1)
            e.dirty += 1
        else:
            out.append(-1)
    if h.fexp is not None and not h.fexp:
        h.fexp = None
    if db.watched and 1 in out:
        db.touch(argv[1])
    return out
