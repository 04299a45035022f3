"""GEO commands against Redis 7.0: raw reply bytes, DEBUG DIGEST and the AOF both write.

The same command lists go to a real redis-server and to an in-process rdbkit-server,
both with `appendonly yes`; every reply is compared as the bytes on the wire, then the
digest, then the commands each server appended to its AOF since the last check.
"""

from __future__ import annotations

import math
import random
import socket
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import server.cmd_geo  # noqa: F401  (registers the commands until engine.py imports it)
from aofcheck.resp import Command, iter_events
from server import geohash as gh
from server.app import ServerThread
from tests.support.realredis import RealRedis

from ._resp import encode_command

AOF_OPTS = ["--appendonly", "yes", "--appendfsync", "no", "--aof-use-rdb-preamble", "yes"]
INCR = Path("appendonlydir") / "appendonly.aof.1.incr.aof"


# -- unit checks against Redis's documented examples (no server) ---------------------------

def test_documented_palermo_catania():
    # from the GEOADD / GEOHASH / GEODIST / GEOPOS pages of redis.io
    palermo = gh.score_of(13.361389, 38.115556)
    catania = gh.score_of(15.087269, 37.502669)
    assert palermo == 3479099956230698
    assert catania == 3479447370796909
    assert gh.geohash_string(float(palermo)) == b"sqc8b49rny0"
    assert gh.geohash_string(float(catania)) == b"sqdtr74hyu0"
    p, c = gh.decode_score(float(palermo)), gh.decode_score(float(catania))
    assert (gh.human(p[0]), gh.human(p[1])) == (b"13.36138933897018433", b"38.11555639549629859")
    assert gh.fixed4(gh.distance(*p, *c)) == b"166274.1516"
    assert gh.fixed4(gh.distance(*p, *c) / gh.UNITS[b"km"]) == b"166.2742"
    assert gh.fixed4(gh.distance(*p, *c) / gh.UNITS[b"mi"]) == b"103.3182"


def test_reply_number_formats():
    assert gh.fixed4(0.0) == b"0.0000"
    assert gh.fixed4(-0.0) == b"0.0000"
    assert gh.fixed4(6.0642951598391699e-05) == b"0.0001"   # util.c's own test values
    assert gh.fixed4(0.01) == b"0.0100"
    assert gh.fixed4(12.5) == b"12.5000"
    assert gh.fixed4(math.nan) == b"-922337203685477.5808"  # llrint(NaN) == LLONG_MIN
    assert gh.human(180.0) == b"180"
    assert gh.human(-1e-18) == b"0"
    assert gh.human(0.5) == b"0.5"


def test_interleave_round_trip():
    rnd = random.Random(7)
    for _ in range(500):
        a, b = rnd.getrandbits(32), rnd.getrandbits(32)
        assert gh.deinterleave(gh.interleave(a, b)) == (a, b)
    assert gh.interleave(1, 0) == 1 and gh.interleave(0, 1) == 2


@given(st.lists(st.sampled_from([0.0, 1.0, 2.5, 3.0, 7.0]) | st.floats(0, 10), max_size=120),
       st.integers(1, 130), st.booleans())
@settings(max_examples=150, deadline=None)
def test_sorts_order_as_a_sort_would(dists, n, desc):
    from server.cmd_geo import _cmp, _msort, _pqsort

    hits = [[d, i] for i, d in enumerate(dists)]
    stable = sorted(hits, key=lambda h: h[0], reverse=desc)
    cmp = (lambda a, b: -_cmp(a, b)) if desc else _cmp
    assert _msort(list(hits), cmp) == stable
    part = list(hits)
    _pqsort(part, 0, len(part), cmp, min(n, len(part)) - 1)
    assert sorted(part, key=lambda h: h[1]) == hits           # a permutation
    assert [h[0] for h in part[:n]] == [h[0] for h in stable[:n]]


# -- the two servers --------------------------------------------------------------------------

def _read_raw(f) -> bytes:
    line = f.readline()
    if not line:
        raise ConnectionError("closed")
    parts = [line]
    t = line[:1]
    if t in (b"$", b"="):
        n = int(line[1:-2])
        if n >= 0:
            parts.append(f.read(n + 2))
    elif t in (b"*", b"%", b"~", b">"):
        n = int(line[1:-2])
        for _ in range(max(n, 0) * (2 if t == b"%" else 1)):
            parts.append(_read_raw(f))
    return b"".join(parts)


class Side:
    def __init__(self, name: str, port: int, workdir: Path) -> None:
        self.name = name
        self.port = port
        self.aof = workdir / INCR
        self.aof_pos = 0

    def run(self, commands, resp3: bool = False) -> list[bytes]:
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            f = s.makefile("rb")
            if resp3:
                s.sendall(encode_command(["HELLO", "3"]))
                _read_raw(f)  # server name/version differ: not compared
            out = []
            for i in range(0, len(commands), 200):
                chunk = commands[i:i + 200]
                s.sendall(b"".join(encode_command(c) for c in chunk))
                out.extend(_read_raw(f) for _ in chunk)
            return out

    def aof_commands(self) -> list[list[bytes]]:
        data = self.aof.read_bytes()
        new = data[self.aof_pos:]
        self.aof_pos = len(data)
        return [ev.args for ev in iter_events(new) if isinstance(ev, Command)]


class Pair:
    def __init__(self, real: Side, ours: Side) -> None:
        self.real = real
        self.ours = ours

    def check(self, lines, resp3: bool = False) -> list[bytes]:
        """Run on both; assert identical replies, digest and AOF; return Redis's replies."""
        commands = [ln.split() if isinstance(ln, str) else list(ln) for ln in lines]
        commands = [["FLUSHALL"], *commands, ["DEBUG", "DIGEST"]]
        want = self.real.run(commands, resp3)
        got = self.ours.run(commands, resp3)
        bad = [(" ".join(map(str, c)), w, g) for c, w, g in zip(commands, want, got) if w != g]
        assert not bad, "\n".join(f"{c}\n  redis: {w!r}\n  ours:  {g!r}" for c, w, g in bad[:8])
        self.aof = self.real.aof_commands()
        assert self.aof == self.ours.aof_commands()
        return want


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    rdir = tmp_path_factory.mktemp("geo-redis")
    odir = tmp_path_factory.mktemp("geo-ours")
    real = RealRedis(rdir, extra=AOF_OPTS)
    real.start()
    ours = ServerThread("--enable-debug-command", "yes", "--dir", str(odir), *AOF_OPTS)
    try:
        ours.start()
        yield Pair(Side("redis", real.port, rdir), Side("ours", ours.port, odir))
    finally:
        ours.stop()
        real.stop()


# -- data ----------------------------------------------------------------------------------

EDGE_LONS = [-180, 180, -179.9999999, 179.9999999, 0, -0.0000001]
EDGE_LATS = [-85.05112878, 85.05112878, -85.05112877, 85.0511287, 0, 66.5, -80.5]


def _fmt(x: float) -> str:
    return repr(float(x))


def _points(rnd: random.Random, n: int, prefix: str = "p") -> list[tuple[str, str, str]]:
    pts = []
    for lon in EDGE_LONS:
        for lat in EDGE_LATS:
            pts.append((_fmt(lon), _fmt(lat), f"{prefix}e{len(pts)}"))
    for i in range(n):
        if i % 5 == 0:   # a cluster, with exact duplicates, so ties are frequent
            lon, lat = 12.5 + rnd.choice((0, 0.01, 0.02)), 41.9 + rnd.choice((0, 0.01))
        else:
            lon, lat = rnd.uniform(-180, 180), rnd.uniform(gh.LAT_MIN, gh.LAT_MAX)
        pts.append((_fmt(lon), _fmt(lat), f"{prefix}{i}"))
    return pts


def _geoadd(key: str, pts) -> list[str]:
    out = ["GEOADD", key]
    for p in pts:
        out.extend(p)
    return out


@pytest.mark.interop
def test_many_points_positions_hashes_distances(pair):
    rnd = random.Random(1)
    big = _points(rnd, 300)          # skiplist
    small = _points(rnd, 20, "s")[-40:]  # listpack
    cmds = [_geoadd("big", big), _geoadd("small", small),
            "OBJECT ENCODING big", "OBJECT ENCODING small", "ZRANGE big 0 -1 WITHSCORES"]
    members = [m for _, _, m in big]
    cmds.append(["GEOPOS", "big", *members, "nope"])
    cmds.append(["GEOHASH", "big", *members, "nope"])
    for _ in range(150):
        a, b = rnd.choice(members), rnd.choice(members)
        cmds.append(["GEODIST", "big", a, b, rnd.choice(["m", "KM", "ft", "Mi"])])
    for centre in members[::25]:   # every distance, as a full double
        cmds.append(["GEORADIUSBYMEMBER", "big", centre, "30000", "km", "STOREDIST", "dists"])
        cmds.append("ZRANGE dists 0 -1 WITHSCORES")
    cmds += ["GEODIST big pe0 pe1", "GEODIST big pe0 nope", "GEODIST nokey a b",
             "GEOPOS nokey a b", "GEOHASH nokey a", "GEOPOS big", "GEOHASH big"]
    pair.check(cmds)


def _search_variants(rnd: random.Random):
    withs = [[], ["WITHDIST"], ["WITHHASH"], ["WITHCOORD"], ["WITHDIST", "WITHHASH"],
             ["WITHCOORD", "WITHDIST"], ["WITHHASH", "WITHCOORD"],
             ["WITHCOORD", "WITHDIST", "WITHHASH"]]
    counts = [[], ["COUNT", "3"], ["COUNT", "3", "ANY"], ["COUNT", "1000"], ["COUNT", "1", "ANY"],
              ["COUNT", "12"]]
    sorts = [[], ["ASC"], ["DESC"]]
    for w in withs:
        for cnt in counts:
            for srt in sorts:
                opts = w + cnt + srt
                rnd.shuffle(opts) if not cnt else None
                yield opts


@pytest.mark.interop
def test_every_search_option(pair):
    rnd = random.Random(2)
    pts = _points(rnd, 150)
    cmds = [_geoadd("g", pts)]
    for opts in _search_variants(rnd):
        cmds.append(["GEORADIUS", "g", "12.51", "41.9", "30", "km", *opts])
        cmds.append(["GEORADIUS_RO", "g", "12.51", "41.9", "3000", "mi", *opts])
        cmds.append(["GEORADIUSBYMEMBER", "g", "p0", "2", "km", *opts])
        cmds.append(["GEORADIUSBYMEMBER_RO", "g", "p5", "9000", "km", *opts])
        cmds.append(["GEOSEARCH", "g", "FROMMEMBER", "p10", "BYRADIUS", "20000", "ft", *opts])
        cmds.append(["GEOSEARCH", "g", "FROMLONLAT", "12.5", "41.9", "BYBOX", "50", "40", "km",
                     *opts])
        cmds.append(["GEOSEARCH", "g", *opts, "BYBOX", "4000", "9000", "km", "FROMMEMBER", "pe3"])
        cmds.append(["geosearch", "g", "fromlonlat", "179.9", "-84", "byradius", "900", "KM",
                     *opts])
    # the store forms, each followed by a look at what they wrote
    for cnt in ([], ["COUNT", "2"], ["COUNT", "2", "ANY"]):
        for srt in ([], ["ASC"], ["DESC"]):
            for kind in ("STORE", "STOREDIST"):
                cmds.append(["GEORADIUS", "g", "12.5", "41.9", "50", "km", *cnt, *srt, kind, "d1"])
                cmds.append("ZRANGE d1 0 -1 WITHSCORES")
                cmds.append(["GEORADIUSBYMEMBER", "g", "p0", "100", "km", kind, "d2", *cnt, *srt])
                cmds.append("ZRANGE d2 0 -1 WITHSCORES")
            cmds.append(["GEOSEARCHSTORE", "d3", "g", "FROMLONLAT", "12.5", "41.9", "BYBOX",
                         "100", "100", "km", *cnt, *srt])
            cmds.append("ZRANGE d3 0 -1 WITHSCORES")
            cmds.append(["GEOSEARCHSTORE", "d4", "g", "FROMMEMBER", "p0", "BYRADIUS", "80", "km",
                         *cnt, *srt, "STOREDIST"])
            cmds.append("ZRANGE d4 0 -1 WITHSCORES")
            cmds += ["OBJECT ENCODING d3", "TTL d4"]
    pair.check(cmds)


@pytest.mark.interop
def test_resp3_replies(pair):
    cmds = ["GEOADD k 13.361389 38.115556 Palermo 15.087269 37.502669 Catania 0 0 origin",
            "GEOPOS k Palermo nope origin", "GEOPOS nokey a", "GEOHASH k Palermo nope",
            "GEODIST k Palermo Catania", "GEODIST k Palermo nope", "GEODIST nokey a b",
            "GEORADIUS k 15 37 200 km WITHDIST WITHCOORD WITHHASH ASC",
            "GEOSEARCH k FROMLONLAT 0 0 BYRADIUS 1 m WITHCOORD",
            "GEOSEARCH k FROMLONLAT 50 50 BYRADIUS 1 m WITHCOORD",
            "GEOSEARCH nokey FROMLONLAT 50 50 BYRADIUS 1 m WITHCOORD"]
    pair.check(cmds, resp3=True)


@pytest.mark.interop
def test_errors(pair):
    cmds = [
        "GEOADD g 13.361389 38.115556 Palermo", "SET s v", "ZADD z 1 a",
        # coordinates and arity
        "GEOADD g 181 0 x", "GEOADD g -180.0000001 0 x", "GEOADD g 0 85.05112879 x",
        "GEOADD g 0 -85.0511288 x", "GEOADD g inf 0 x", "GEOADD g 0 -inf x",
        "GEOADD g abc 0 x", "GEOADD g 0 1e400 x", "GEOADD g 1 2 x 3", "GEOADD g 1 2",
        "GEOADD g CH 1 2", "GEOADD g NX XX 1 2 x", "GEOADD g GT 1 2 x", "GEOADD g CH NX",
        "GEOADD g 1 2 x 200 2 y", "ZCARD g", "GEOADD s 1 2 x", "GEOADD s 200 2 x",
        # units and numbers
        "GEODIST g Palermo Palermo furlong", "GEODIST g a b km extra", "GEODIST s a b",
        "GEODIST nokey a b parsec", "GEOPOS s a", "GEOHASH s a",
        "GEORADIUS g 0 0 -1 km", "GEORADIUS g 0 0 x km", "GEORADIUS g 0 0 1 yd",
        "GEORADIUS g 0 100 1 km", "GEORADIUS s 0 100 1 km", "GEORADIUS nokey 0 100 1 km",
        "GEORADIUS nokey 0 0 1 yd", "GEORADIUS g 0 0 1 km COUNT 0", "GEORADIUS g 0 0 1 km COUNT -3",
        "GEORADIUS g 0 0 1 km COUNT x", "GEORADIUS g 0 0 1 km COUNT", "GEORADIUS g 0 0 1 km ANY",
        "GEORADIUS g 0 0 1 km STORE", "GEORADIUS g 0 0 1 km STOREDIST",
        "GEORADIUS g 0 0 1 km STORE d WITHHASH", "GEORADIUS g 0 0 1 km BOGUS",
        "GEORADIUS_RO g 0 0 1 km STORE d", "GEORADIUS_RO g 0 0 1 km STOREDIST d",
        "GEORADIUSBYMEMBER g nope 1 km", "GEORADIUSBYMEMBER g Palermo -1 km",
        "GEORADIUSBYMEMBER g Palermo 1 yd", "GEORADIUSBYMEMBER nokey nope -1 yd",
        "GEORADIUSBYMEMBER nokey nope -1 yd BOGUS", "GEORADIUSBYMEMBER nokey x 1 km STORE d",
        "GEORADIUSBYMEMBER s nope 1 km", "GEORADIUSBYMEMBER_RO g Palermo 1 km STORE d",
        "GEORADIUSBYMEMBER z a 1 km",
        # GEOSEARCH shapes
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 1 km BYBOX 1 1 km",
        "GEOSEARCH g BYBOX 1 1 km BYRADIUS 1 km FROMMEMBER Palermo",
        "GEOSEARCH g FROMMEMBER Palermo FROMLONLAT 1 1 BYRADIUS 1 km",
        "GEOSEARCH g FROMLONLAT 1 1 FROMMEMBER Palermo BYRADIUS 1 km",
        "GEOSEARCH g FROMMEMBER Palermo FROMMEMBER Palermo BYRADIUS 1 km",
        "GEOSEARCH g FROMMEMBER nope BYRADIUS 1 km", "GEOSEARCH nokey FROMMEMBER nope BYRADIUS 1 km",
        "GEOSEARCH g FROMLONLAT 1 1 WITHDIST ASC", "Geosearch g WITHDIST BYRADIUS 1 km ASC",
        "GEOSEARCH g FROMLONLAT 1 1 BYBOX -1 1 km", "GEOSEARCH g FROMLONLAT 1 1 BYBOX 1 -1 km",
        "GEOSEARCH g FROMLONLAT 1 1 BYBOX w 1 km", "GEOSEARCH g FROMLONLAT 1 1 BYBOX 1 h km",
        "GEOSEARCH g FROMLONLAT 1 1 BYBOX 1 1 yd", "GEOSEARCH g FROMLONLAT 1 1 BYBOX 1 1",
        "GEOSEARCH g FROMLONLAT 1 1 BYRADIUS 1", "GEOSEARCH g FROMLONLAT 1 BYRADIUS 1 km",
        "GEOSEARCH g FROMLONLAT 1 95 BYRADIUS 1 km", "GEOSEARCH g FROMLONLAT 1 1 BYRADIUS 1 km STORE d",
        "GEOSEARCH g FROMLONLAT 1 1 BYRADIUS 1 km STOREDIST", "GEOSEARCH s FROMLONLAT 1 1 BYRADIUS 1 km",
        "GEOSEARCH g FROMLONLAT 1 1 BYRADIUS 1 km ANY", "GEOSEARCH g FROMLONLAT 1 1 BYRADIUS 1 km COUNT 0",
        "GEOSEARCHSTORE d g FROMLONLAT 1 1 BYRADIUS 1 km WITHCOORD",
        "GEOSEARCHSTORE d g FROMLONLAT 1 1 BYRADIUS 1 km STORE x",
        "GEOSEARCHSTORE d s FROMLONLAT 1 1 BYRADIUS 1 km",
        "GEOSEARCHSTORE d g BYRADIUS 1 km STOREDIST", "GEOSEARCHSTORE d g FROMMEMBER x STOREDIST",
        "geosearchstore d nokey FROMMEMBER x BYRADIUS 1 km",
        "GEOSEARCHSTORE s nokey FROMMEMBER x BYRADIUS 1 km", "EXISTS s",
    ]
    pair.check(cmds)


@pytest.mark.interop
def test_writes_stores_and_aof(pair):
    cmds = [
        "GEOADD k 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
        "GEOADD k NX 13.361389 38.115556 Palermo 2 2 New",
        "GEOADD k XX 1 1 Palermo 3 3 Ghost", "GEOADD k CH XX 1 1 Palermo 3 3 Ghost",
        "GEOADD k ch 1.5 1.5 Palermo 1.5 1.5 Other", "GEOADD k xx ch nx 1 1 a",
        "GEOADD k 1.5 1.5 Palermo", "GEOADD fresh XX 1 1 a", "EXISTS fresh",
        "GEOADD k CH 0 0 Palermo", "GEOADD k 0 0 Palermo",
        "GEOADD k CH 1 1 dup 2 2 dup", "GEOADD k 1 1 dup2 2 2 dup2 1 1 dup2",
        "MULTI", "GEOSEARCHSTORE tx k FROMMEMBER dup BYRADIUS 500 km", "GEOADD k 3 3 dup3",
        "GEORADIUS k 3 3 10 km STOREDIST tx2", "EXEC",
        "MULTI", "GEOADD k 5 5 m5", "GEOADD k2 6 6 m6", "GEOPOS k m5", "EXEC",
        # STORE over other types and TTLs, then over nothing
        "SET dst v PXAT 4102444800000", "GEORADIUS k 0 0 500 km STORE dst", "TYPE dst", "TTL dst",
        "ZRANGE dst 0 -1 WITHSCORES",
        "LPUSH dst2 x", "GEORADIUSBYMEMBER k m5 900 km STOREDIST dst2 COUNT 2 DESC",
        "ZRANGE dst2 0 -1 WITHSCORES",
        "GEORADIUS k 100 50 1 km STORE dst", "EXISTS dst",
        "GEORADIUS k 100 50 1 km STORE dst", "GEORADIUS nokey 100 50 1 km STORE dst2",
        "EXISTS dst2", "GEORADIUS nokey 100 50 1 km STORE dst2",
        "GEOSEARCHSTORE k3 k FROMMEMBER Catania BYBOX 2000 2000 km", "ZRANGE k3 0 -1 WITHSCORES",
        "GEOSEARCHSTORE k3 k FROMMEMBER Catania BYBOX 2000 2000 km STOREDIST ASC COUNT 2",
        "ZRANGE k3 0 -1 WITHSCORES", "GEOSEARCHSTORE k k FROMMEMBER Catania BYRADIUS 1 m",
        "ZRANGE k 0 -1 WITHSCORES",
        "GEOSEARCHSTORE k3 k FROMLONLAT 100 50 BYRADIUS 1 m", "EXISTS k3",
        "GEOSEARCHSTORE k3 nokey FROMLONLAT 100 50 BYRADIUS 1 m",
        "SELECT 3", "GEOADD other 1 2 x", "GEORADIUS other 1 2 1 km STORE y", "SELECT 0",
        "GEORADIUS k2 6 6 1 km", "GEORADIUS_RO k2 6 6 1 km",
    ]
    pair.check(cmds)
    names = [a[0] for a in pair.aof]
    # GEOADD became ZADD; the stores went out as they came; reads and no-ops not at all
    assert names.count(b"zadd") == 11 and b"GEOADD" not in names
    assert names.count(b"GEORADIUS") == 5 and names.count(b"GEOSEARCHSTORE") == 5
    assert names.count(b"GEORADIUSBYMEMBER") == 1 and b"GEORADIUS_RO" not in names


@pytest.mark.interop
def test_plain_sorted_set_scores(pair):
    """Any zset is a geo set to Redis: fractional, negative, huge and infinite scores
    decode through C's double -> uint64 conversion."""
    scores = ["-1", "1.5", "1e300", "inf", "-inf", "9223372036854775808",
              "18446744073709551616", "-9223372036854775808", "-9223372036854777856",
              "4503599627370495.5", "4503599627370496", "9007199254740993", "3479099956230698.25",
              "3479099956230697.75", "0", "-0"]
    cmds = [["ZADD", "z", *[x for i, s in enumerate(scores) for x in (s, f"s{i}")]],
            ["ZADD", "z", "3479099956230698", ""],
            ["GEOADD", "z", "13.361389", "38.115556", "\x00bin\r\nary"]]
    names = [f"s{i}" for i in range(len(scores))] + ["", "\x00bin\r\nary"]
    cmds += [["GEOPOS", "z", *names], ["GEOHASH", "z", *names]]
    cmds += [["GEODIST", "z", a, b] for a in names[:6] for b in names[-4:]]
    cmds += ["GEORADIUSBYMEMBER z s1 100 km WITHHASH WITHCOORD WITHDIST",
             ["GEOSEARCH", "z", "FROMMEMBER", "", "BYBOX", "1", "1", "km", "WITHHASH", "ASC"],
             "GEOSEARCH z FROMLONLAT -180 -85.05112878 BYRADIUS 10 km WITHHASH WITHCOORD",
             "GEOSEARCH z FROMLONLAT 180 85.05112878 BYRADIUS 10 km WITHHASH WITHCOORD",
             "GEORADIUS z 13.361389 38.115556 0 m WITHHASH",
             "GEOSEARCH z FROMMEMBER s9 BYBOX 0 0 m WITHHASH",
             "GEOSEARCHSTORE out z FROMLONLAT 13.361389 38.115556 BYRADIUS 1 m STOREDIST",
             "ZRANGE out 0 -1 WITHSCORES"]
    pair.check(cmds)
    pair.check(cmds, resp3=True)


@pytest.mark.interop
def test_huge_areas_and_poles(pair):
    rnd = random.Random(3)
    pts = _points(rnd, 400)
    cmds = [_geoadd("w", pts)]
    centres = [(0, 0), (180, 0), (-180, 0), (179.99, 85.05112878), (-179.99, -85.05112878),
               (0, 85.05112878), (12.5, 41.9), (-120, 70), (60, -81)]
    for lon, lat in centres:
        for r in ("0", "1", "500", "5000", "9000", "20000", "40000"):
            cmds.append(["GEOSEARCH", "w", "FROMLONLAT", _fmt(lon), _fmt(lat), "BYRADIUS", r,
                         "km", "WITHDIST"])
            cmds.append(["GEOSEARCH", "w", "FROMLONLAT", _fmt(lon), _fmt(lat), "BYBOX", r,
                         str(int(r) // 2 + 1), "km", "COUNT", "7"])
            cmds.append(["GEOSEARCH", "w", "FROMLONLAT", _fmt(lon), _fmt(lat), "BYRADIUS", r,
                         "km", "COUNT", "5", "ANY", "DESC"])
    pair.check(cmds)


@pytest.mark.interop
def test_unsorted_order_follows_the_cells(pair):
    """Without ASC/DESC, hits come cell by cell in Redis's order: dense grids around a
    centre put hits in several of the nine cells."""
    cmds = []
    centres = [(12.5, 41.9), (179.95, -10.0), (-179.95, 60.0), (0.3, 84.9), (-60.0, -84.9),
               (100.0, 70.0)]
    for ci, (lon, lat) in enumerate(centres):
        key = f"grid{ci}"
        pts = []
        for i in range(-8, 9):
            for j in range(-8, 9):
                plon = lon + i * 0.05 / math.cos(math.radians(lat))
                plon = plon - 360 if plon > 180 else plon + 360 if plon < -180 else plon
                plat = min(gh.LAT_MAX, max(gh.LAT_MIN, lat + j * 0.02))
                pts.append((_fmt(plon), _fmt(plat), f"g{i}_{j}"))
        cmds.append(_geoadd(key, pts))
        for r in ("3", "8", "15", "25", "40"):
            cmds.append(["GEOSEARCH", key, "FROMLONLAT", _fmt(lon), _fmt(lat), "BYRADIUS", r, "km"])
            cmds.append(["GEOSEARCH", key, "FROMLONLAT", _fmt(lon + 0.07), _fmt(lat - 0.03),
                         "BYBOX", r, str(float(r) * 1.5), "km"])
            cmds.append(["GEORADIUSBYMEMBER", key, "g3_-2", r, "km", "COUNT", "9", "ANY"])
    replies = pair.check(cmds)
    assert sum(r.count(b"\r\n$") for r in replies) > 2000  # the searches do find things


# -- random result sets ------------------------------------------------------------------------

_lon = st.floats(-180, 180, allow_nan=False) | st.sampled_from([-180.0, 180.0, 0.0])
_lat = st.floats(gh.LAT_MIN, gh.LAT_MAX, allow_nan=False) | st.sampled_from(
    [gh.LAT_MIN, gh.LAT_MAX, 0.0])


def _decoded(p) -> tuple[float, float]:
    return gh.decode_score(float(gh.score_of(float(p[0]), float(p[1]))))


@st.composite
def _scenario(draw):
    centre = (draw(_lon), draw(_lat))
    spread = draw(st.sampled_from([0.001, 0.1, 2.0, 30.0, 400.0]))
    n = draw(st.integers(1, 160))
    seed = draw(st.integers(0, 2**32 - 1))
    rnd = random.Random(seed)
    pts = []
    for i in range(n):
        if rnd.random() < 0.7:
            lon = min(180.0, max(-180.0, centre[0] + rnd.uniform(-spread, spread)))
            lat = min(gh.LAT_MAX, max(gh.LAT_MIN, centre[1] + rnd.uniform(-spread, spread)))
        else:
            lon, lat = rnd.uniform(-180, 180), rnd.uniform(gh.LAT_MIN, gh.LAT_MAX)
        if rnd.random() < 0.1 and pts:
            lon, lat = float(pts[-1][0]), float(pts[-1][1])
        pts.append((_fmt(lon), _fmt(lat), f"m{i}"))
    queries = []
    for _ in range(draw(st.integers(1, 10))):
        unit = draw(st.sampled_from(["m", "km", "ft", "mi"]))
        # mostly about the size of the cluster, so its edge cuts through the points
        size = draw(st.sampled_from([spread * 111e3] * 4 + [0.0, 10.0, 1e7, 3e7]))
        size *= draw(st.floats(0.05, 2.0))
        size /= gh.UNITS[unit.encode()]
        frm = (["FROMMEMBER", f"m{draw(st.integers(0, n - 1))}"] if draw(st.booleans())
               else ["FROMLONLAT", _fmt(centre[0]), _fmt(centre[1])])
        box = draw(st.booleans())
        if draw(st.integers(0, 3)) == 0:
            # an edge through one point exactly (give or take one ulp): the distance
            # formula must agree with Redis's to the last bit
            if frm[0] == "FROMMEMBER":
                clon, clat = _decoded(pts[int(frm[1][1:])])
            else:
                clon, clat = centre
            plon, plat = _decoded(pts[draw(st.integers(0, n - 1))])
            nudge = draw(st.sampled_from([-math.inf, 0, math.inf]))
            unit = "m"
            if box:
                h = 2 * gh.lat_distance(plat, clat)
                w = 2 * gh.distance(plon, plat, clon, plat)
                size = math.nextafter(w, nudge) if draw(st.booleans()) else w
                by = ["BYBOX", _fmt(size), _fmt(math.nextafter(h, nudge)), unit]
            else:
                by = ["BYRADIUS", _fmt(math.nextafter(gh.distance(clon, clat, plon, plat),
                                                      nudge)), unit]
        elif box:
            by = ["BYBOX", _fmt(size), _fmt(size * draw(st.floats(0.05, 4.0))), unit]
        else:
            by = ["BYRADIUS", _fmt(size), unit]
        extra = draw(st.sampled_from([[], ["ASC"], ["DESC"], ["COUNT", "3"],
                                      ["COUNT", "2", "ANY"], ["COUNT", "4", "DESC"],
                                      ["COUNT", "3", "ANY", "ASC"], ["DESC", "COUNT", "2", "ANY"]]))
        queries.append(["GEOSEARCH", "h", *frm, *by, *extra, "WITHDIST", "WITHHASH"])
        # the stored distances are the full doubles: bit-exact haversine
        queries.append(["GEOSEARCHSTORE", "d", "h", *frm, *by, *extra, "STOREDIST"])
        queries.append(["ZRANGE", "d", "0", "-1", "WITHSCORES"])
    return pts, queries


@pytest.mark.interop
@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(_scenario())
def test_random_searches_match_redis(pair, case):
    pts, queries = case
    pair.check([_geoadd("h", pts), *queries])


_TOKENS = ["WITHDIST", "withhash", "WithCoord", "ANY", "asc", "DESC", "COUNT", "3", "0", "-1",
           "x", "STORE", "STOREDIST", "FROMMEMBER", "a", "nope", "FROMLONLAT", "12.5", "41.9",
           "200", "inf", "BYRADIUS", "BYBOX", "100", "km", "M", "yd", "dst", "1e3"]
_FORMS = [["GEORADIUS", "{k}", "12.5", "41.9", "100", "km"], ["GEORADIUS_RO", "{k}", "12", "42", "1", "mi"],
          ["GEORADIUSBYMEMBER", "{k}", "a", "100", "km"], ["GEORADIUSBYMEMBER_RO", "{k}", "b", "9", "KM"],
          ["GEOSEARCH", "{k}"], ["GEOSEARCHSTORE", "dst", "{k}"]]


@pytest.mark.interop
@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_FORMS), st.sampled_from(["g", "nokey", "s"]),
                          st.lists(st.sampled_from(_TOKENS), max_size=10)), min_size=1, max_size=12))
def test_option_soup_matches_redis(pair, commands):
    """Options in any order and number, good and bad: the same reply or the same error."""
    cmds = ["GEOADD g 12.5 41.9 a 12.6 41.95 b 13 42 c", "SET s v", "SET dst old"]
    for form, key, tokens in commands:
        cmds.append([t.format(k=key) for t in form] + tokens)
    cmds.append("TYPE dst")
    pair.check(cmds)


@pytest.mark.slow
@pytest.mark.interop
@settings(max_examples=1500, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(_scenario())
def test_random_searches_match_redis_long(pair, case):
    pts, queries = case
    pair.check([_geoadd("h", pts), *queries])
