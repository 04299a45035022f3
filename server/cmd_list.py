"""List commands (Redis 7.0 keeps every list as a quicklist)."""

from __future__ import annotations

from itertools import islice

from ._util import range_indices, to_int
from .engine import SYNTAX, WRONGTYPE, CommandError, command
from .objects import RList
from .proto import NULL_ARRAY, OK, err

_POSITIVE = err("ERR value is out of range, must be positive")


def get_list(db, key):
    v = db.get(key)
    if v is not None and type(v) is not RList:
        raise CommandError(WRONGTYPE)
    return v


def _push(e, c, argv, left, create=True):
    db = c.db
    key = argv[1]
    v = get_list(db, key)
    if v is None:
        if not create:
            return 0
        v = RList()
        db.add(key, v)
    elif db.watched:
        db.touch(key)
    if left:
        v.extendleft(argv[2:])
    else:
        v.extend(argv[2:])
    e.dirty += len(argv) - 2
    return len(v)


@command("lpush", -3, "write denyoom fast", 1, 1, 1, "list")
def lpush(e, c, argv):
    return _push(e, c, argv, True)


@command("rpush", -3, "write denyoom fast", 1, 1, 1, "list")
def rpush(e, c, argv):
    return _push(e, c, argv, False)


@command("lpushx", -3, "write denyoom fast", 1, 1, 1, "list", since="2.2.0")
def lpushx(e, c, argv):
    return _push(e, c, argv, True, create=False)


@command("rpushx", -3, "write denyoom fast", 1, 1, 1, "list", since="2.2.0")
def rpushx(e, c, argv):
    return _push(e, c, argv, False, create=False)


def _pop_n(e, db, key, v, left, count):
    n = min(count, len(v))
    pop = v.popleft if left else v.pop
    out = [pop() for _ in range(n)]
    if not v:
        db.delete(key)
    elif db.watched:
        db.touch(key)
    e.dirty += 1
    return out


def _pop(e, c, argv, left):
    if len(argv) > 3:
        return SYNTAX
    count = None
    if len(argv) == 3:
        count = to_int(argv[2], _POSITIVE)
        if count < 0:
            return _POSITIVE
    db = c.db
    v = get_list(db, argv[1])
    if v is None:
        return None if count is None else NULL_ARRAY
    if count is None:
        return _pop_n(e, db, argv[1], v, left, 1)[0]
    if count == 0:
        return []
    return _pop_n(e, db, argv[1], v, left, count)


@command("lpop", -2, "write fast", 1, 1, 1, "list")
def lpop(e, c, argv):
    return _pop(e, c, argv, True)


@command("rpop", -2, "write fast", 1, 1, 1, "list")
def rpop(e, c, argv):
    return _pop(e, c, argv, False)


@command("llen", 2, "readonly fast", 1, 1, 1, "list")
def llen(e, c, argv):
    v = get_list(c.db, argv[1])
    return 0 if v is None else len(v)


@command("lrange", 4, "readonly", 1, 1, 1, "list")
def lrange(e, c, argv):
    start, end = to_int(argv[2]), to_int(argv[3])
    v = get_list(c.db, argv[1])
    if v is None:
        return []
    r = range_indices(start, end, len(v))
    if r is None:
        return []
    n = len(v)
    if r[0] > n // 2:
        # walk from the tail, as quicklist does for the far half
        out = list(islice(reversed(v), n - 1 - r[1], n - r[0]))
        out.reverse()
        return out
    return list(islice(v, r[0], r[1] + 1))


@command("lindex", 3, "readonly", 1, 1, 1, "list")
def lindex(e, c, argv):
    i = to_int(argv[2])
    v = get_list(c.db, argv[1])
    if v is None:
        return None
    if i < 0:
        i += len(v)
    if i < 0 or i >= len(v):
        return None
    return v[i]


@command("lset", 4, "write denyoom", 1, 1, 1, "list")
def lset(e, c, argv):
    i = to_int(argv[2])
    db = c.db
    v = get_list(db, argv[1])
    if v is None:
        return err("ERR no such key")
    if i < 0:
        i += len(v)
    if i < 0 or i >= len(v):
        return err("ERR index out of range")
    v[i] = argv[3]
    if db.watched:
        db.touch(argv[1])
    e.dirty += 1
    return OK


@command("linsert", 5, "write denyoom", 1, 1, 1, "list", since="2.2.0")
def linsert(e, c, argv):
    where = argv[2].lower()
    if where not in (b"before", b"after"):
        return SYNTAX
    db = c.db
    v = get_list(db, argv[1])
    if v is None:
        return 0
    try:
        i = v.index(argv[3])
    except ValueError:
        return -1
    v.insert(i if where == b"before" else i + 1, argv[4])
    if db.watched:
        db.touch(argv[1])
    e.dirty += 1
    return len(v)


@command("lrem", 4, "write", 1, 1, 1, "list")
def lrem(e, c, argv):
    count = to_int(argv[2])
    db = c.db
    v = get_list(db, argv[1])
    if v is None:
        return 0
    target = argv[3]
    items = list(v)
    removed = 0
    if count >= 0:
        keep = []
        for x in items:
            if x == target and (count == 0 or removed < count):
                removed += 1
            else:
                keep.append(x)
    else:
        keep = []
        for x in reversed(items):
            if x == target and removed < -count:
                removed += 1
            else:
                keep.append(x)
        keep.reverse()
    if removed:
        v.clear()
        v.extend(keep)
        if not v:
            db.delete(argv[1])
        elif db.watched:
            db.touch(argv[1])
        e.dirty += removed
    return removed


@command("ltrim", 4, "write", 1, 1, 1, "list")
def ltrim(e, c, argv):
    start, end = to_int(argv[2]), to_int(argv[3])
    db = c.db
    v = get_list(db, argv[1])
    if v is None:
        return OK
    n = len(v)
    r = range_indices(start, end, n)
    if r is None:
        db.delete(argv[1])
    else:
        for _ in range(r[0]):
            v.popleft()
        for _ in range(n - 1 - r[1]):
            v.pop()
        if db.watched:
            db.touch(argv[1])
    e.dirty += 1
    return OK


@command("lpos", -3, "readonly", 1, 1, 1, "list", since="6.0.6")
def lpos(e, c, argv):
    rank, count, maxlen = 1, None, 0
    i = 3
    while i < len(argv):
        o = argv[i].lower()
        if i + 1 >= len(argv):
            return SYNTAX
        if o == b"rank":
            rank = to_int(argv[i + 1])
            if rank == 0:
                return err("ERR RANK can't be zero: use 1 to start from the first match, "
                           "2 from the second ... or use negative to start from the end of "
                           "the list")
            if rank == -(1 << 63):
                return err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
        elif o == b"count":
            count = to_int(argv[i + 1])
            if count < 0:
                return err("ERR COUNT can't be negative")
        elif o == b"maxlen":
            maxlen = to_int(argv[i + 1])
            if maxlen < 0:
                return err("ERR MAXLEN can't be negative")
        else:
            return SYNTAX
        i += 2
    v = get_list(c.db, argv[1])
    if v is None:
        return None if count is None else []
    n = len(v)
    it = enumerate(v) if rank > 0 else ((n - 1 - j, x) for j, x in enumerate(reversed(v)))
    skip = abs(rank) - 1
    out = []
    scanned = 0
    for idx, x in it:
        if maxlen and scanned >= maxlen:
            break
        scanned += 1
        if x == argv[2]:
            if skip:
                skip -= 1
                continue
            out.append(idx)
            if count is None or (count and len(out) >= count):
                break
    if count is None:
        return out[0] if out else None
    return out


def _move(e, c, src, dst, wherefrom_left, whereto_left):
    db = c.db
    v = get_list(db, src)
    if v is None:
        return None
    get_list(db, dst)  # type check before anything moves
    x = v.popleft() if wherefrom_left else v.pop()
    if not v:
        db.delete(src)
    elif db.watched:
        db.touch(src)
    d = db.data.get(dst)
    if d is None:
        d = RList()
        db.add(dst, d)
    elif db.watched:
        db.touch(dst)
    if whereto_left:
        d.appendleft(x)
    else:
        d.append(x)
    e.dirty += 1
    return x


def _where(b):
    w = b.lower()
    if w == b"left":
        return True
    if w == b"right":
        return False
    raise CommandError(SYNTAX)


@command("rpoplpush", 3, "write denyoom", 1, 2, 1, "list", since="1.2.0")
def rpoplpush(e, c, argv):
    return _move(e, c, argv[1], argv[2], False, True)


@command("lmove", 5, "write denyoom", 1, 2, 1, "list", since="6.2.0")
def lmove(e, c, argv):
    return _move(e, c, argv[1], argv[2], _where(argv[3]), _where(argv[4]))


def _mpop_args(argv, i, what=(b"left", b"right")):
    n = to_int(argv[i], err("ERR numkeys should be greater than 0"))
    if n <= 0:
        raise CommandError(err("ERR numkeys should be greater than 0"))
    if i + 1 + n >= len(argv) + (0 if True else 1):
        raise CommandError(SYNTAX)
    keys = argv[i + 1:i + 1 + n]
    j = i + 1 + n
    if j >= len(argv):
        raise CommandError(SYNTAX)
    w = argv[j].lower()
    if w not in what:
        raise CommandError(SYNTAX)
    j += 1
    count = 1
    seen = False
    while j < len(argv):
        if argv[j].lower() == b"count" and j + 1 < len(argv) and not seen:
            count = to_int(argv[j + 1], err("ERR count should be greater than 0"))
            if count <= 0:
                raise CommandError(err("ERR count should be greater than 0"))
            seen = True
            j += 2
        else:
            raise CommandError(SYNTAX)
    return keys, w, count


@command("lmpop", -4, "write", 0, 0, 0, "list", since="7.0.0")
def lmpop(e, c, argv):
    keys, w, count = _mpop_args(argv, 1)
    db = c.db
    for k in keys:
        v = get_list(db, k)
        if v:
            out = _pop_n(e, db, k, v, w == b"left", count)
            e.rewrite([b"LPOP" if w == b"left" else b"RPOP", k, b"%d" % len(out)])
            return [k, out]
    return NULL_ARRAY


# Blocking variants: served at once when data is there; otherwise the network layer
# parks the client (see `server.blocking`).
from .blocking import BLOCK, parse_timeout  # noqa: E402


def _bpop(e, c, argv, left):
    timeout = parse_timeout(argv[-1])
    db = c.db
    for k in argv[1:-1]:
        v = get_list(db, k)
        if v:
            x = _pop_n(e, db, k, v, left, 1)[0]
            e.rewrite([b"LPOP" if left else b"RPOP", k])
            return [k, x]
    if c.multi is not None or e.in_exec:
        return NULL_ARRAY
    return BLOCK(argv[1:-1], timeout, NULL_ARRAY)


@command("blpop", -3, "write noscript blocking", 1, -2, 1, "list")
def blpop(e, c, argv):
    return _bpop(e, c, argv, True)


@command("brpop", -3, "write noscript blocking", 1, -2, 1, "list")
def brpop(e, c, argv):
    return _bpop(e, c, argv, False)


def _bmove(e, c, src, dst, fl, tl, timeout_raw, served_as):
    timeout = parse_timeout(timeout_raw)
    v = get_list(c.db, src)
    if v:
        x = _move(e, c, src, dst, fl, tl)
        e.rewrite(served_as)   # what Redis propagates: the non-blocking twin
        return x
    if c.multi is not None or e.in_exec:
        return None
    return BLOCK([src], timeout, None)


@command("brpoplpush", 4, "write denyoom noscript blocking", 1, 2, 1, "list", since="2.2.0")
def brpoplpush(e, c, argv):
    return _bmove(e, c, argv[1], argv[2], False, True, argv[3],
                  [b"RPOPLPUSH", argv[1], argv[2]])


@command("blmove", 6, "write denyoom noscript blocking", 1, 2, 1, "list", since="6.2.0")
def blmove(e, c, argv):
    return _bmove(e, c, argv[1], argv[2], _where(argv[3]), _where(argv[4]), argv[5],
                  [b"LMOVE", *argv[1:5]])


@command("blmpop", -5, "write blocking", 0, 0, 0, "list", since="7.0.0")
def blmpop(e, c, argv):
    timeout = parse_timeout(argv[1])
    keys, w, count = _mpop_args(argv, 2)
    db = c.db
    for k in keys:
        v = get_list(db, k)
        if v:
            out = _pop_n(e, db, k, v, w == b"left", count)
            e.rewrite([b"LPOP" if w == b"left" else b"RPOP", k, b"%d" % len(out)])
            return [k, out]
    if c.multi is not None or e.in_exec:
        return NULL_ARRAY
    return BLOCK(keys, timeout, NULL_ARRAY)
