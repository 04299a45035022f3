"""Sorted-set commands: listpack while small, skiplist beyond (one-way), as Redis 7.0."""

from __future__ import annotations

import bisect
import math
import random

from ._util import range_indices, to_float, to_int
from .blocking import BLOCK, parse_timeout
from .cmd_hash import scan_collection
from .cmd_keys import _cursor, _scan_opts
from .cmd_list import _mpop_args
from .engine import NOT_FLOAT, SYNTAX, WRONGTYPE, CommandError, command
from .objects import RSet, RZset
from ._util import intercard_args, random_count_args
from .proto import NULL_ARRAY, err

_SCORE_KEY = (lambda t: t[0])
_SCORE_START = {bytes([x]) for x in b"0123456789-+."}  # a score, not an option
_MINMAX_FLOAT = err("ERR min or max is not a float")
_MINMAX_LEX = err("ERR min or max not valid string range item")


def get_zset(db, key):
    v = db.get(key)
    if v is not None and type(v) is not RZset:
        raise CommandError(WRONGTYPE)
    return v


def new_zset(e, size_hint, maxlen) -> RZset:
    z = RZset()
    z.lp = size_hint <= e.config.zset_max_entries and maxlen <= e.config.zset_max_value
    return z


def zadd_member(e, z, m, score):
    if z.lp and (len(m) > e.config.zset_max_value or
                 (m not in z.d and len(z.d) + 1 > e.config.zset_max_entries)):
        z.lp = False
    z.add(m, score)


def with_scores(c, pairs):
    """[(member, score)] -> RESP2 flat list / RESP3 list of pairs."""
    if c.resp == 3:
        return [[m, s] for m, s in pairs]
    out = []
    for m, s in pairs:
        out.append(m)
        out.append(s)
    return out


@command("zadd", -4, "write denyoom fast", 1, 1, 1, "sorted-set", since="1.2.0")
def zadd(e, c, argv):
    if len(argv) == 4 and argv[2][:1] in _SCORE_START:
        # the common `ZADD key score member`
        score = to_float(argv[2])
        db = c.db
        z = get_zset(db, argv[1])
        m = argv[3]
        if z is None:
            z = new_zset(e, 1, len(m))
            db.add(argv[1], z)
        elif db.watched:
            db.touch(argv[1])
        old = z.d.get(m)
        if old is None:
            zadd_member(e, z, m, score)
            e.dirty += 1
            return 1
        if old != score:
            zadd_member(e, z, m, score)
            e.dirty += 1
        return 0
    nx = xx = gt = lt = ch = incr = False
    i = 2
    while i < len(argv):
        o = argv[i].lower()
        if o == b"nx":
            nx = True
        elif o == b"xx":
            xx = True
        elif o == b"gt":
            gt = True
        elif o == b"lt":
            lt = True
        elif o == b"ch":
            ch = True
        elif o == b"incr":
            incr = True
        else:
            break
        i += 1
    rest = argv[i:]
    if not rest or len(rest) % 2:
        return SYNTAX
    if nx and xx:
        return err("ERR XX and NX options at the same time are not compatible")
    if (gt and nx) or (lt and nx) or (gt and lt):
        return err("ERR GT, LT, and/or NX options at the same time are not compatible")
    if incr and len(rest) > 2:
        return err("ERR INCR option supports a single increment-element pair")
    pairs = [(to_float(rest[j]), rest[j + 1]) for j in range(0, len(rest), 2)]
    db = c.db
    z = get_zset(db, argv[1])
    if z is None:
        if xx:
            return None if incr else 0
        z = new_zset(e, len(pairs), max(len(m) for _, m in pairs))
        db.add(argv[1], z)
    added = changed = 0
    result = None
    for score, m in pairs:
        cur = z.d.get(m)
        if cur is not None:
            if nx:
                continue
            if incr:
                score = cur + score
                if math.isnan(score):
                    if not z.d:
                        db.delete(argv[1])
                    return err("ERR resulting score is not a number (NaN)")
            if (gt and score <= cur) or (lt and score >= cur):
                continue
            result = score
            if score != cur:
                zadd_member(e, z, m, score)
                changed += 1
        else:
            if xx:
                continue
            zadd_member(e, z, m, score)
            added += 1
            result = score
    if not z.d:
        db.delete(argv[1])
    if added or changed:
        if db.watched:
            db.touch(argv[1])
        e.dirty += added + changed
    if incr:
        if result is None:
            return None
        return float(z.d.get(pairs[0][1], result))
    return added + changed if ch else added


@command("zincrby", 4, "write denyoom fast", 1, 1, 1, "sorted-set", since="1.2.0")
def zincrby(e, c, argv):
    return zadd(e, c, [b"zadd", argv[1], b"incr", argv[2], argv[3]])


@command("zrem", -3, "write fast", 1, 1, 1, "sorted-set", since="1.2.0")
def zrem(e, c, argv):
    db = c.db
    z = get_zset(db, argv[1])
    if z is None:
        return 0
    n = sum(1 for m in argv[2:] if z.remove(m))
    if n:
        if not z.d:
            db.delete(argv[1])
        elif db.watched:
            db.touch(argv[1])
        e.dirty += n
    return n


@command("zcard", 2, "readonly fast", 1, 1, 1, "sorted-set", since="1.2.0")
def zcard(e, c, argv):
    z = get_zset(c.db, argv[1])
    return 0 if z is None else len(z.d)


@command("zscore", 3, "readonly fast", 1, 1, 1, "sorted-set", since="1.2.0")
def zscore(e, c, argv):
    z = get_zset(c.db, argv[1])
    if z is None:
        return None
    return z.d.get(argv[2])


@command("zmscore", -3, "readonly fast", 1, 1, 1, "sorted-set", since="6.2.0")
def zmscore(e, c, argv):
    z = get_zset(c.db, argv[1])
    d = z.d if z is not None else {}
    return [d.get(m) for m in argv[2:]]


def _rank(e, c, argv, rev):
    if len(argv) > 3:
        return SYNTAX
    z = get_zset(c.db, argv[1])
    if z is None:
        return None
    r = z.rank(argv[2])
    if r is None:
        return None
    return len(z.d) - 1 - r if rev else r


@command("zrank", 3, "readonly fast", 1, 1, 1, "sorted-set", since="2.0.0")
def zrank(e, c, argv):
    return _rank(e, c, argv, False)


@command("zrevrank", 3, "readonly fast", 1, 1, 1, "sorted-set", since="2.0.0")
def zrevrank(e, c, argv):
    return _rank(e, c, argv, True)


# -- ranges ------------------------------------------------------------------------------

def parse_score_bound(b: bytes):
    ex = b[:1] == b"("
    raw = b[1:] if ex else b
    try:
        v = to_float(raw, _MINMAX_FLOAT)
    except CommandError:
        raise CommandError(_MINMAX_FLOAT) from None
    return v, ex


def parse_lex_bound(b: bytes):
    if b == b"+":
        return "max", None
    if b == b"-":
        return "min", None
    if b[:1] == b"(":
        return "ex", b[1:]
    if b[:1] == b"[":
        return "in", b[1:]
    raise CommandError(_MINMAX_LEX)


def score_slice(z, lo, hi):
    """Indices [i, j) of members with lo <= score <= hi (bounds may be exclusive)."""
    (mn, mnex), (mx, mxex) = lo, hi
    sl = z.sl
    i = bisect.bisect_right(sl, mn, key=_SCORE_KEY) if mnex else bisect.bisect_left(
        sl, mn, key=_SCORE_KEY)
    j = bisect.bisect_left(sl, mx, key=_SCORE_KEY) if mxex else bisect.bisect_right(
        sl, mx, key=_SCORE_KEY)
    return i, max(i, j)


def _lex_ok_min(m, bound):
    kind, v = bound
    if kind == "min":
        return True
    if kind == "max":
        return False
    return m > v if kind == "ex" else m >= v


def _lex_ok_max(m, bound):
    kind, v = bound
    if kind == "max":
        return True
    if kind == "min":
        return False
    return m < v if kind == "ex" else m <= v


def lex_slice(z, lo, hi):
    """Lex ranges assume equal scores, as Redis does: scan with the member order."""
    sl = z.sl
    n = len(sl)
    i = 0
    while i < n and not _lex_ok_min(sl[i][1], lo):
        i += 1
    j = i
    while j < n and _lex_ok_max(sl[j][1], hi):
        j += 1
    return i, j


def _limit(items, offset, count):
    if offset < 0:
        return []
    if count < 0:
        return items[offset:]
    return items[offset:offset + count]


def zrange_generic(e, c, key, start_b, stop_b, by, rev, withscores, limit):
    """Shared by ZRANGE and friends; returns a list of (member, score)."""
    if by == "rank":
        start, stop = to_int(start_b), to_int(stop_b)
    elif by == "score":
        lo_b, hi_b = (stop_b, start_b) if rev else (start_b, stop_b)
        lo, hi = parse_score_bound(lo_b), parse_score_bound(hi_b)
    else:
        lo_b, hi_b = (stop_b, start_b) if rev else (start_b, stop_b)
        lo, hi = parse_lex_bound(lo_b), parse_lex_bound(hi_b)
    z = get_zset(c.db, key)
    if z is None:
        return []
    sl = z.sl
    n = len(sl)
    if by == "rank":
        r = range_indices(start, stop, n)
        if r is None:
            return []
        if rev:
            a, b = n - 1 - r[1], n - r[0]
            items = sl[a:b][::-1]
        else:
            items = sl[r[0]:r[1] + 1]
    else:
        i, j = score_slice(z, lo, hi) if by == "score" else lex_slice(z, lo, hi)
        items = sl[i:j]
        if rev:
            items = items[::-1]
        if limit is not None:
            items = _limit(items, *limit)
    return [(m, s) for s, m in items]


def _reply_range(c, pairs, withscores):
    if withscores:
        return with_scores(c, pairs)
    return [m for m, _ in pairs]


def _parse_zrange_opts(argv, i, allow_by=True):
    by, rev, withscores, limit = "rank", False, False, None
    while i < len(argv):
        o = argv[i].lower()
        if o == b"withscores":
            withscores = True
        elif o == b"limit" and i + 2 < len(argv):
            limit = (to_int(argv[i + 1]), to_int(argv[i + 2]))
            i += 2
        elif o == b"byscore" and allow_by:
            by = "score"
        elif o == b"bylex" and allow_by:
            by = "lex"
        elif o == b"rev" and allow_by:
            rev = True
        else:
            raise CommandError(SYNTAX)
        i += 1
    if limit is not None and by == "rank":
        raise CommandError(err("ERR syntax error, LIMIT is only supported in combination "
                               "with either BYSCORE or BYLEX"))
    if withscores and by == "lex":
        raise CommandError(err("ERR syntax error, WITHSCORES not supported in combination "
                               "with BYLEX"))
    return by, rev, withscores, limit


@command("zrange", -4, "readonly", 1, 1, 1, "sorted-set", since="1.2.0")
def zrange(e, c, argv):
    by, rev, ws, limit = _parse_zrange_opts(argv, 4)
    return _reply_range(c, zrange_generic(e, c, argv[1], argv[2], argv[3], by, rev, ws, limit),
                        ws)


@command("zrangestore", -5, "write denyoom", 1, 2, 1, "sorted-set", since="6.2.0")
def zrangestore(e, c, argv):
    by, rev, ws, limit = _parse_zrange_opts(argv, 5)
    if ws:
        return SYNTAX
    pairs = zrange_generic(e, c, argv[2], argv[3], argv[4], by, rev, False, limit)
    return _store_pairs(e, c, argv[1], pairs)


def _legacy_range(by, rev):
    def handler(e, c, argv):
        ws = False
        limit = None
        i = 4
        while i < len(argv):
            o = argv[i].lower()
            if o == b"withscores" and by != "lex":
                ws = True
            elif o == b"limit" and by != "rank" and i + 2 < len(argv):
                limit = (to_int(argv[i + 1]), to_int(argv[i + 2]))
                i += 2
            else:
                return SYNTAX
            i += 1
        pairs = zrange_generic(e, c, argv[1], argv[2], argv[3], by, rev, ws, limit)
        return _reply_range(c, pairs, ws)
    return handler


command("zrevrange", -4, "readonly", 1, 1, 1, "sorted-set", since="1.2.0")(
    _legacy_range("rank", True))
command("zrangebyscore", -4, "readonly", 1, 1, 1, "sorted-set", since="1.0.5")(
    _legacy_range("score", False))
command("zrevrangebyscore", -4, "readonly", 1, 1, 1, "sorted-set", since="2.2.0")(
    _legacy_range("score", True))
command("zrangebylex", -4, "readonly", 1, 1, 1, "sorted-set", since="2.8.9")(
    _legacy_range("lex", False))
command("zrevrangebylex", -4, "readonly", 1, 1, 1, "sorted-set", since="2.8.9")(
    _legacy_range("lex", True))


@command("zcount", 4, "readonly fast", 1, 1, 1, "sorted-set", since="2.0.0")
def zcount(e, c, argv):
    lo, hi = parse_score_bound(argv[2]), parse_score_bound(argv[3])
    z = get_zset(c.db, argv[1])
    if z is None:
        return 0
    i, j = score_slice(z, lo, hi)
    return j - i


@command("zlexcount", 4, "readonly fast", 1, 1, 1, "sorted-set", since="2.8.9")
def zlexcount(e, c, argv):
    lo, hi = parse_lex_bound(argv[2]), parse_lex_bound(argv[3])
    z = get_zset(c.db, argv[1])
    if z is None:
        return 0
    i, j = lex_slice(z, lo, hi)
    return j - i


def _remrange(e, c, argv, by):
    if by == "rank":
        start, stop = to_int(argv[2]), to_int(argv[3])
    elif by == "score":
        lo, hi = parse_score_bound(argv[2]), parse_score_bound(argv[3])
    else:
        lo, hi = parse_lex_bound(argv[2]), parse_lex_bound(argv[3])
    db = c.db
    z = get_zset(db, argv[1])
    if z is None:
        return 0
    if by == "rank":
        r = range_indices(start, stop, len(z.sl))
        if r is None:
            return 0
        i, j = r[0], r[1] + 1
    elif by == "score":
        i, j = score_slice(z, lo, hi)
    else:
        i, j = lex_slice(z, lo, hi)
    gone = z.sl[i:j]
    del z.sl[i:j]
    for _, m in gone:
        del z.d[m]
    if gone:
        if not z.d:
            db.delete(argv[1])
        elif db.watched:
            db.touch(argv[1])
        e.dirty += len(gone)
    return len(gone)


@command("zremrangebyrank", 4, "write", 1, 1, 1, "sorted-set", since="2.0.0")
def zremrangebyrank(e, c, argv):
    return _remrange(e, c, argv, "rank")


@command("zremrangebyscore", 4, "write", 1, 1, 1, "sorted-set", since="1.2.0")
def zremrangebyscore(e, c, argv):
    return _remrange(e, c, argv, "score")


@command("zremrangebylex", 4, "write", 1, 1, 1, "sorted-set", since="2.8.9")
def zremrangebylex(e, c, argv):
    return _remrange(e, c, argv, "lex")


# -- pops -------------------------------------------------------------------------------

def _pop_items(e, db, key, z, maxi, count):
    n = min(count, len(z.sl))
    if maxi:
        items = z.sl[len(z.sl) - n:][::-1]
        del z.sl[len(z.sl) - n:]
    else:
        items = z.sl[:n]
        del z.sl[:n]
    for _, m in items:
        del z.d[m]
    if not z.d:
        db.delete(key)
    elif db.watched:
        db.touch(key)
    e.dirty += n
    return [(m, s) for s, m in items]


def _zpop(e, c, argv, maxi):
    if len(argv) > 3:
        return SYNTAX
    count = 1
    if len(argv) == 3:
        count = to_int(argv[2])
        if count < 0:
            return err("ERR value is out of range, must be positive")
    db = c.db
    z = get_zset(db, argv[1])
    if z is None or count == 0:
        return []
    pairs = _pop_items(e, db, argv[1], z, maxi, count)   # propagated as given
    if len(argv) == 3 and c.resp == 3:
        return [[m, s] for m, s in pairs]
    return with_scores(c, pairs) if len(argv) == 3 else [x for m, s in pairs for x in (m, s)]


@command("zpopmin", -2, "write fast", 1, 1, 1, "sorted-set", since="5.0.0")
def zpopmin(e, c, argv):
    return _zpop(e, c, argv, False)


@command("zpopmax", -2, "write fast", 1, 1, 1, "sorted-set", since="5.0.0")
def zpopmax(e, c, argv):
    return _zpop(e, c, argv, True)


def _bzpop(e, c, argv, maxi):
    timeout = parse_timeout(argv[-1])
    db = c.db
    for k in argv[1:-1]:
        z = get_zset(db, k)
        if z:
            (m, s), = _pop_items(e, db, k, z, maxi, 1)
            e.rewrite([b"ZPOPMAX" if maxi else b"ZPOPMIN", k])
            return [k, m, s]
    if c.multi is not None or e.in_exec:
        return NULL_ARRAY
    return BLOCK(argv[1:-1], timeout, NULL_ARRAY)


@command("bzpopmin", -3, "write noscript blocking fast", 1, -2, 1, "sorted-set", since="5.0.0")
def bzpopmin(e, c, argv):
    return _bzpop(e, c, argv, False)


@command("bzpopmax", -3, "write noscript blocking fast", 1, -2, 1, "sorted-set", since="5.0.0")
def bzpopmax(e, c, argv):
    return _bzpop(e, c, argv, True)


def _zmpop(e, c, keys, w, count):
    db = c.db
    for k in keys:
        z = get_zset(db, k)
        if z:
            pairs = _pop_items(e, db, k, z, w == b"max", count)
            e.rewrite([b"ZPOPMAX" if w == b"max" else b"ZPOPMIN", k, b"%d" % len(pairs)])
            return [k, [[m, s] for m, s in pairs]]
    return None


@command("zmpop", -4, "write", 0, 0, 0, "sorted-set", since="7.0.0")
def zmpop(e, c, argv):
    keys, w, count = _mpop_args(argv, 1, (b"min", b"max"))
    r = _zmpop(e, c, keys, w, count)
    return NULL_ARRAY if r is None else r


@command("bzmpop", -5, "write blocking", 0, 0, 0, "sorted-set", since="7.0.0")
def bzmpop(e, c, argv):
    timeout = parse_timeout(argv[1])
    keys, w, count = _mpop_args(argv, 2, (b"min", b"max"))
    r = _zmpop(e, c, keys, w, count)
    if r is not None:
        return r
    if c.multi is not None or e.in_exec:
        return NULL_ARRAY
    return BLOCK(keys, timeout, NULL_ARRAY)


# -- set algebra ---------------------------------------------------------------------------

def _inputs(e, c, argv, i, name):
    n = to_int(argv[i])
    if n < 1:
        raise CommandError(err("ERR at least 1 input key is needed for '%s' command" % name))
    if i + 1 + n > len(argv):
        raise CommandError(SYNTAX)
    keys = argv[i + 1:i + 1 + n]
    weights = [1.0] * n
    agg = b"sum"
    withscores = False
    j = i + 1 + n
    while j < len(argv):
        o = argv[j].lower()
        if o == b"weights" and j + n < len(argv) and name not in ("zdiff", "zdiffstore"):
            weights = [to_float(w, err("ERR weight value is not a float"))
                       for w in argv[j + 1:j + 1 + n]]
            j += n
        elif o == b"aggregate" and j + 1 < len(argv) and name not in ("zdiff", "zdiffstore"):
            agg = argv[j + 1].lower()
            if agg not in (b"sum", b"min", b"max"):
                raise CommandError(SYNTAX)
            j += 1
        elif o == b"withscores" and not name.endswith("store"):
            withscores = True
        else:
            raise CommandError(SYNTAX)
        j += 1
    sets = []
    for k in keys:
        v = c.db.get(k)
        if v is None:
            sets.append(None)
        elif type(v) is RZset:
            sets.append([(m, s) for s, m in v.sl])
        elif type(v) is RSet:
            sets.append([(m, 1.0) for m in v])
        else:
            raise CommandError(WRONGTYPE)
    return sets, weights, agg, withscores


def _agg(agg, a, b):
    if agg == b"sum":
        r = a + b
        return 0.0 if r != r else r
    return min(a, b) if agg == b"min" else max(a, b)


def _wmul(s, w):
    r = s * w
    return 0.0 if r != r else r


def _compute(op, sets, weights, agg):
    if op == "union":
        acc = {}
        for s, w in zip(sets, weights):
            for m, sc in s or ():
                v = _wmul(sc, w)
                acc[m] = _agg(agg, acc[m], v) if m in acc else v
        return acc
    if op == "inter":
        if any(s is None for s in sets):
            return {}
        order = sorted(range(len(sets)), key=lambda i: len(sets[i]))
        dicts = [dict(s) for s in sets]
        first = order[0]
        acc = {}
        for m, sc in sets[first]:
            v = _wmul(sc, weights[first])
            ok = True
            for i in order[1:]:
                if m not in dicts[i]:
                    ok = False
                    break
                v = _agg(agg, v, _wmul(dicts[i][m], weights[i]))
            if ok:
                acc[m] = v
        return acc
    # diff
    if sets[0] is None:
        return {}
    rest = [dict(s) for s in sets[1:] if s is not None]
    return {m: sc for m, sc in sets[0] if not any(m in d for d in rest)}


def _sorted_pairs(acc):
    return [(m, s) for s, m in sorted((s, m) for m, s in acc.items())]


def _store_pairs(e, c, dst, pairs):
    db = c.db
    existed = db.get(dst) is not None
    if existed:
        db.delete(dst)
    if pairs:
        z = new_zset(e, len(pairs), max(len(m) for m, _ in pairs))
        for m, s in pairs:
            z.add(m, s)
        db.add(dst, z)
    e.dirty += 1
    if not pairs and not existed:
        e.rewrite([b"DEL", dst])
    return len(pairs)


def _algebra(op, store):
    name = "z" + op + ("store" if store else "")

    def handler(e, c, argv):
        sets, weights, agg, ws = _inputs(e, c, argv, 2 if store else 1, name)
        pairs = _sorted_pairs(_compute(op, sets, weights, agg))
        if store:
            return _store_pairs(e, c, argv[1], pairs)
        return _reply_range(c, pairs, ws)
    return handler


command("zunionstore", -4, "write denyoom", 1, 1, 1, "sorted-set", since="2.0.0")(
    _algebra("union", True))
command("zinterstore", -4, "write denyoom", 1, 1, 1, "sorted-set", since="2.0.0")(
    _algebra("inter", True))
command("zdiffstore", -4, "write denyoom", 1, 1, 1, "sorted-set", since="6.2.0")(
    _algebra("diff", True))
command("zunion", -3, "readonly", 0, 0, 0, "sorted-set", since="6.2.0")(_algebra("union", False))
command("zinter", -3, "readonly", 0, 0, 0, "sorted-set", since="6.2.0")(_algebra("inter", False))
command("zdiff", -3, "readonly", 0, 0, 0, "sorted-set", since="6.2.0")(_algebra("diff", False))


@command("zintercard", -3, "readonly", 0, 0, 0, "sorted-set", since="7.0.0")
def zintercard(e, c, argv):
    keys, limit = intercard_args(argv)
    sets, weights, agg, _ = _inputs(e, c, [b"zinter", b"%d" % len(keys), *keys], 1, "zinter")
    r = len(_compute("inter", sets, weights, agg))
    return min(r, limit) if limit else r


@command("zrandmember", -2, "readonly", 1, 1, 1, "sorted-set", since="6.2.0")
def zrandmember(e, c, argv):
    count, ws = random_count_args(argv, b"withscores")
    z = get_zset(c.db, argv[1])
    if count is None:
        return None if z is None else random.choice(z.sl)[1]
    if z is None or count == 0:
        return []
    items = [(m, s) for s, m in z.sl]
    picked = random.sample(items, min(count, len(items))) if count > 0 else \
        [random.choice(items) for _ in range(-count)]
    return _reply_range(c, picked, ws)


@command("zscan", -3, "readonly", 1, 1, 1, "sorted-set", since="2.8.0")
def zscan(e, c, argv):
    z = get_zset(c.db, argv[1])
    _cursor(argv[2])
    if z is None:
        _scan_opts(argv, 3)
        return [b"0", []]
    from .proto import format_double

    return scan_collection([(m, format_double(s)) for s, m in z.sl], argv, 3, True)


_ = NOT_FLOAT
