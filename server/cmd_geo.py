"""GEO commands: sorted sets whose scores are 52-bit geohashes, as Redis 7.0 (src/geo.c).

GEOADD is ZADD with computed scores, and propagates as that ZADD (lower-case `zadd`,
options kept), as Redis's command-vector swap does. GEORADIUS ... STORE and
GEOSEARCHSTORE propagate verbatim. Searches scan the nine geohash cells Redis scans, in
its order, and order ties the way its sorts do (glibc's merge sort for a full sort,
Redis's pqsort for a COUNT below the number of hits), so replies match byte for byte.
"""

from __future__ import annotations

import bisect

from . import _docs
from . import geohash as gh
from .cmd_zset import get_zset, new_zset, zadd
from .engine import SYNTAX, CommandError, command
from .proto import NULL_ARRAY, Raw, err
from ._util import to_float, to_int

_UNIT_ERR = err("ERR unsupported unit provided. please use M, KM, FT, MI")
_NO_MEMBER = err("ERR could not decode requested zset member")
_SCORE_KEY = (lambda t: t[0])


# -- argument helpers ---------------------------------------------------------------------

def _lonlat(a: bytes, b: bytes) -> tuple[float, float]:
    lon, lat = to_float(a), to_float(b)
    if lon < gh.LON_MIN or lon > gh.LON_MAX or lat < gh.LAT_MIN or lat > gh.LAT_MAX:
        raise CommandError(err("ERR invalid longitude,latitude pair %f,%f" % (lon, lat)))
    return lon, lat


def _unit(b: bytes) -> float:
    f = gh.UNITS.get(b.lower())
    if f is None:
        raise CommandError(_UNIT_ERR)
    return f


def _radius(num: bytes, unit: bytes) -> tuple[float, float]:
    r = to_float(num, err("ERR need numeric radius"))
    if r < 0:
        raise CommandError(err("ERR radius cannot be negative"))
    return r, _unit(unit)


def _box(w: bytes, h: bytes, unit: bytes) -> tuple[float, float, float]:
    width = to_float(w, err("ERR need numeric width"))
    height = to_float(h, err("ERR need numeric height"))
    if height < 0 or width < 0:
        raise CommandError(err("ERR height or width cannot be negative"))
    return width, height, _unit(unit)


def _member_pos(z, member: bytes) -> tuple[float, float]:
    score = z.d.get(member)
    if score is None:
        raise CommandError(_NO_MEMBER)
    return gh.decode_score(score)


def _coord(c, v: float):
    """addReplyHumanLongDouble: a bulk string in RESP2, a double in RESP3."""
    text = gh.human(v)
    return Raw(b",%s\r\n" % text) if c.resp == 3 else text


# -- GEOADD / GEOPOS / GEODIST / GEOHASH ------------------------------------------------------

@command("geoadd", -5, "write denyoom", 1, 1, 1, "geo", since="3.2.0")
def geoadd(e, c, argv):
    nx = xx = False
    i = 2
    while i < len(argv):
        o = argv[i].lower()
        if o == b"nx":
            nx = True
        elif o == b"xx":
            xx = True
        elif o != b"ch":
            break
        i += 1
    if (len(argv) - i) % 3 or (nx and xx):
        return SYNTAX
    zargv = [b"zadd", *argv[1:i]]
    for j in range(i, len(argv), 3):
        lon, lat = _lonlat(argv[j], argv[j + 1])
        zargv.append(b"%d" % gh.score_of(lon, lat))
        zargv.append(argv[j + 2])
    e.rewrite(zargv)  # what Redis's AOF and replicas get; used only if something changed
    return zadd(e, c, zargv)


@command("geopos", -2, "readonly", 1, 1, 1, "geo", since="3.2.0")
def geopos(e, c, argv):
    z = get_zset(c.db, argv[1])
    out = []
    for m in argv[2:]:
        score = None if z is None else z.d.get(m)
        if score is None:
            out.append(NULL_ARRAY)
        else:
            lon, lat = gh.decode_score(score)
            out.append([_coord(c, lon), _coord(c, lat)])
    return out


@command("geodist", -4, "readonly", 1, 1, 1, "geo", since="3.2.0")
def geodist(e, c, argv):
    to_m = 1.0
    if len(argv) == 5:
        to_m = _unit(argv[4])
    elif len(argv) > 5:
        return SYNTAX
    z = get_zset(c.db, argv[1])
    if z is None:
        return None
    s1, s2 = z.d.get(argv[2]), z.d.get(argv[3])
    if s1 is None or s2 is None:
        return None
    a, b = gh.decode_score(s1), gh.decode_score(s2)
    return gh.fixed4(gh.distance(a[0], a[1], b[0], b[1]) / to_m)


@command("geohash", -2, "readonly", 1, 1, 1, "geo", since="3.2.0")
def geohash_(e, c, argv):
    z = get_zset(c.db, argv[1])
    out = []
    for m in argv[2:]:
        score = None if z is None else z.d.get(m)
        out.append(None if score is None else gh.geohash_string(score))
    return out


# -- the searches ---------------------------------------------------------------------------

_COORDS, _MEMBER, _NOSTORE, _SEARCH, _SEARCHSTORE = 1, 2, 4, 8, 16


def _collect(z, shape: gh.Shape, limit: int) -> list[list]:
    """Hits as [dist_m, score, member, lon, lat], in the order Redis gathers them."""
    hits: list[list] = []
    sl = z.sl
    last = None
    for idx, cell in enumerate(gh.search_cells(shape)):
        if cell == gh.NONE:
            continue
        if last is not None and cell == last:
            continue             # huge areas: the same cell twice in a row
        if hits and limit and len(hits) >= limit:
            break
        lo, hi = gh.cell_scores(*cell)
        i = bisect.bisect_left(sl, lo, key=_SCORE_KEY)
        n = len(sl)
        while i < n:
            score, m = sl[i]
            if not score < hi:
                break
            lon, lat = gh.decode_score(score)
            d = shape.contains(lon, lat)
            if d is not None:
                hits.append([d, score, m, lon, lat])
            if hits and limit and len(hits) >= limit:
                break
            i += 1
        if idx:                  # Redis compares only with the last cell after the centre
            last = cell
    return hits


def _search(e, c, argv, src: int, flags: int):
    db = c.db
    z = get_zset(db, argv[src])
    shape = gh.Shape()
    store = None
    storedist = False
    if flags & _COORDS:
        base = 6
        shape.lon, shape.lat = _lonlat(argv[2], argv[3])
        shape.radius, shape.to_m = _radius(argv[4], argv[5])
    elif flags & _MEMBER:
        base = 5
        if z is not None:
            shape.lon, shape.lat = _member_pos(z, argv[2])
            shape.radius, shape.to_m = _radius(argv[3], argv[4])
    else:
        base = 2
        if flags & _SEARCHSTORE:
            base = 3
            store = argv[1]
    withdist = withhash = withcoord = False
    frommember = fromloc = byradius = bybox = False
    any_ = False
    sort = 0                     # 1 asc, 2 desc
    count = 0
    search = bool(flags & _SEARCH)
    rest = argv[base:]
    nrest = len(rest)
    i = 0
    while i < nrest:
        o = rest[i].lower()
        if o == b"withdist":
            withdist = True
        elif o == b"withhash":
            withhash = True
        elif o == b"withcoord":
            withcoord = True
        elif o == b"any":
            any_ = True
        elif o == b"asc":
            sort = 1
        elif o == b"desc":
            sort = 2
        elif o == b"count" and i + 1 < nrest:
            count = to_int(rest[i + 1])
            if count <= 0:
                return err("ERR COUNT must be > 0")
            i += 1
        elif (o == b"store" or o == b"storedist") and i + 1 < nrest and \
                not flags & _NOSTORE and not search:
            store = rest[i + 1]
            storedist = o == b"storedist"
            i += 1
        elif o == b"storedist" and search and flags & _SEARCHSTORE:
            storedist = True
        elif o == b"frommember" and i + 1 < nrest and search and not fromloc:
            if z is not None:
                shape.lon, shape.lat = _member_pos(z, rest[i + 1])
            frommember = True
            i += 1
        elif o == b"fromlonlat" and i + 2 < nrest and search and not frommember:
            shape.lon, shape.lat = _lonlat(rest[i + 1], rest[i + 2])
            fromloc = True
            i += 2
        elif o == b"byradius" and i + 2 < nrest and search and not bybox:
            shape.radius, shape.to_m = _radius(rest[i + 1], rest[i + 2])
            shape.box = False
            byradius = True
            i += 2
        elif o == b"bybox" and i + 3 < nrest and search and not byradius:
            shape.width, shape.height, shape.to_m = _box(rest[i + 1], rest[i + 2], rest[i + 3])
            shape.box = True
            bybox = True
            i += 3
        else:
            return SYNTAX
        i += 1
    if store is not None and (withdist or withhash or withcoord):
        return err("ERR %s is not compatible with WITHDIST, WITHHASH and WITHCOORD options" % (
            "GEOSEARCHSTORE" if flags & _SEARCHSTORE else "STORE option in GEORADIUS"))
    name = argv[0].decode("utf-8", "surrogateescape")
    if search and not (frommember or fromloc):
        return err("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for %s" % name)
    if search and not (byradius or bybox):
        return err("ERR exactly one of BYRADIUS and BYBOX can be specified for %s" % name)
    if any_ and not count:
        return err("ERR the ANY argument requires COUNT argument")
    if z is None:
        if store is not None:
            if db.delete(store):
                e.dirty += 1
            return 0
        return []
    if count and not sort and not any_:
        sort = 1
    hits = _collect(z, shape, count if any_ else 0)
    if not hits and store is None:
        return []
    n = len(hits) if not count or len(hits) < count else count
    if sort:
        _order(hits, n, sort == 2)
    to_m = shape.to_m
    if store is None:
        extra = withdist or withhash or withcoord
        out = []
        for d, score, m, lon, lat in hits[:n]:
            if not extra:
                out.append(m)
                continue
            item = [m]
            if withdist:
                item.append(gh.fixed4(d / to_m))
            if withhash:
                item.append(int(score))
            if withcoord:
                item.append([_coord(c, lon), _coord(c, lat)])
            out.append(item)
        return out
    if n:
        pairs = [(m, d / to_m if storedist else score) for d, score, m, _, _ in hits[:n]]
        dst = new_zset(e, n, max(len(m) for m, _ in pairs))
        for m, s in pairs:
            dst.add(m, s)
        db.set(store, dst)
        e.dirty += n
    elif db.delete(store):
        e.dirty += 1
    return n


# -- ordering exactly as Redis's sorts -----------------------------------------------------------

def _cmp(a: list, b: list) -> int:
    """sort_gp_asc: by distance; NaN compares "less" both ways, as the C does."""
    if a[0] > b[0]:
        return 1
    if a[0] == b[0]:
        return 0
    return -1


def _order(hits: list, n: int, desc: bool) -> None:
    """Sort hits in place: fully (glibc msort) or only the first n (Redis pqsort)."""
    cmp = (lambda a, b: -_cmp(a, b)) if desc else _cmp
    if n == len(hits):
        if any(h[0] != h[0] for h in hits):
            hits[:] = _msort(hits, cmp)
        else:            # a total order: every stable sort agrees with glibc's
            hits.sort(key=_SCORE_KEY, reverse=desc)
    else:
        _pqsort(hits, 0, len(hits), cmp, n - 1)


def _msort(items: list, cmp) -> list:
    """glibc's top-down merge sort (first half n//2), taking the left on ties."""
    if len(items) <= 1:
        return items
    k = len(items) // 2
    left, right = _msort(items[:k], cmp), _msort(items[k:], cmp)
    out = []
    i = j = 0
    while i < len(left) and j < len(right):
        if cmp(left[i], right[j]) <= 0:
            out.append(left[i])
            i += 1
        else:
            out.append(right[j])
            j += 1
    out.extend(left[i:])
    out.extend(right[j:])
    return out


def _pqsort(a: list, lo: int, n: int, cmp, last: int) -> None:
    """Redis's partial quicksort (Bentley-McIlroy), which only recurses into parts that
    overlap positions 0..last; the same swaps, so equal distances end up where Redis
    puts them."""

    def swap(i, j):
        a[i], a[j] = a[j], a[i]

    def med3(x, y, z):
        if cmp(a[x], a[y]) < 0:
            return y if cmp(a[y], a[z]) < 0 else (z if cmp(a[x], a[z]) < 0 else x)
        return y if cmp(a[y], a[z]) > 0 else (x if cmp(a[x], a[z]) < 0 else z)

    def vecswap(i, j, k):
        for t in range(k):
            swap(i + t, j + t)

    while True:
        if n < 7:
            for pm in range(lo + 1, lo + n):
                pl = pm
                while pl > lo and cmp(a[pl - 1], a[pl]) > 0:
                    swap(pl, pl - 1)
                    pl -= 1
            return
        pm = lo + n // 2
        if n > 7:
            pl = lo
            pn = lo + n - 1
            if n > 40:
                d = n // 8
                pl = med3(pl, pl + d, pl + 2 * d)
                pm = med3(pm - d, pm, pm + d)
                pn = med3(pn - 2 * d, pn - d, pn)
            pm = med3(pl, pm, pn)
        swap(lo, pm)
        pa = pb = lo + 1
        pc = pd = lo + n - 1
        while True:
            while pb <= pc:
                r = cmp(a[pb], a[lo])
                if r > 0:
                    break
                if r == 0:
                    swap(pa, pb)
                    pa += 1
                pb += 1
            while pb <= pc:
                r = cmp(a[pc], a[lo])
                if r < 0:
                    break
                if r == 0:
                    swap(pc, pd)
                    pd -= 1
                pc -= 1
            if pb > pc:
                break
            swap(pb, pc)
            pb += 1
            pc -= 1
        pn = lo + n
        r = min(pa - lo, pb - pa)
        vecswap(lo, pb - r, r)
        r = min(pd - pc, pn - pd - 1)
        vecswap(pb, pn - r, r)
        r = pb - pa
        if r > 1 and not (last < lo or 0 >= lo + r):
            _pqsort(a, lo, r, cmp, last)
        r = pd - pc
        if r <= 1:
            return
        lo, n = pn - r, r
        if last < lo:
            return


# -- registration -----------------------------------------------------------------------------

@command("georadius", -6, "write denyoom movablekeys", 1, 1, 1, "geo", since="3.2.0")
def georadius(e, c, argv):
    return _search(e, c, argv, 1, _COORDS)


@command("georadiusbymember", -5, "write denyoom movablekeys", 1, 1, 1, "geo", since="3.2.0")
def georadiusbymember(e, c, argv):
    return _search(e, c, argv, 1, _MEMBER)


@command("georadius_ro", -6, "readonly", 1, 1, 1, "geo", since="3.2.10")
def georadius_ro(e, c, argv):
    return _search(e, c, argv, 1, _COORDS | _NOSTORE)


@command("georadiusbymember_ro", -5, "readonly", 1, 1, 1, "geo", since="3.2.10")
def georadiusbymember_ro(e, c, argv):
    return _search(e, c, argv, 1, _MEMBER | _NOSTORE)


@command("geosearch", -7, "readonly", 1, 1, 1, "geo", since="6.2.0")
def geosearch(e, c, argv):
    return _search(e, c, argv, 1, _SEARCH)


@command("geosearchstore", -8, "write denyoom", 1, 2, 1, "geo", since="6.2.0")
def geosearchstore(e, c, argv):
    return _search(e, c, argv, 2, _SEARCH | _SEARCHSTORE)


_UNITS = "(M | KM | FT | MI)"
_RADIUS_OPTS = ("[WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count:integer [ANY]] [ASC | DESC]")
_FROM_BY = ("(FROMMEMBER member | FROMLONLAT longitude:double latitude:double) "
            "(BYRADIUS radius:double %s | BYBOX width:double height:double %s) "
            "[ASC | DESC] [COUNT count:integer [ANY]]" % (_UNITS, _UNITS))
_docs.SYNTAX.update({
    "geoadd": "key:key [NX | XX] [CH] (longitude:double latitude:double member) ...",
    "geopos": "key:key member ...",
    "geodist": "key:key member1 member2 [M | KM | FT | MI]",
    "geohash": "key:key member ...",
    "georadius": "key:key longitude:double latitude:double radius:double %s %s "
                 "[STORE key:key] [STOREDIST key:key]" % (_UNITS, _RADIUS_OPTS),
    "georadius_ro": "key:key longitude:double latitude:double radius:double %s %s"
                    % (_UNITS, _RADIUS_OPTS),
    "georadiusbymember": "key:key member radius:double %s %s [STORE key:key] "
                         "[STOREDIST key:key]" % (_UNITS, _RADIUS_OPTS),
    "georadiusbymember_ro": "key:key member radius:double %s %s" % (_UNITS, _RADIUS_OPTS),
    "geosearch": "key:key %s [WITHCOORD] [WITHDIST] [WITHHASH]" % _FROM_BY,
    "geosearchstore": "destination:key source:key %s [STOREDIST]" % _FROM_BY,
})
_docs.arguments.cache_clear()
