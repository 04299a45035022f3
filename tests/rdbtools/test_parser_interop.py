"""Random datasets built in a real Redis 7.0, read back three ways: through the
server's own replies, from its SAVEd RDB, and from DUMP payloads (decode_value)."""

from __future__ import annotations

import random

import pytest

from rdbtools.constants import Kind, RdbType
from rdbtools.reader import decode_value, load
from rdbtools.records import Stream
from tests.support.realredis import RealRedis


_KINDS = [Kind.STRING, Kind.LIST, Kind.SET, Kind.ZSET, Kind.HASH, Kind.STREAM]


def _rand_bytes(rng: random.Random) -> bytes:
    pick = rng.random()
    if pick < 0.3:
        return str(rng.choice([0, 1, -1, 12, 127, 128, -4096, 65535, 2 ** 31, -2 ** 63,
                               2 ** 63 - 1, rng.randrange(-10 ** 12, 10 ** 12)])).encode()
    if pick < 0.4:
        return rng.choice([b"", b"007", b"-0", b"1e3", b" 1"])
    n = rng.choice([1, 3, 10, 40, 63, 64, 65, 200, 5000])
    if rng.random() < 0.5:
        return bytes(rng.randrange(256) for _ in range(n))
    return (b"ab" * n)[:n]


def _populate(cli, rng: random.Random) -> dict:
    keys = {}
    for i in range(60):
        kind = i % 6
        key = b"k%d:%d" % (kind, i)
        n = rng.choice([1, 2, 5, 100, 130, 600])
        if kind == 0:
            cli.set(key, _rand_bytes(rng))
        elif kind == 1:
            cli.rpush(key, *[_rand_bytes(rng) for _ in range(n)])
        elif kind == 2:
            if rng.random() < 0.5:
                cli.sadd(key, *{str(rng.randrange(-2 ** 40, 2 ** 40)).encode() for _ in range(n)})
            else:
                cli.sadd(key, *{_rand_bytes(rng) + b"%d" % j for j in range(n)})
        elif kind == 3:
            cli.zadd(key, {_rand_bytes(rng) + b"%d" % j: rng.choice(
                [rng.uniform(-1e6, 1e6), float(rng.randrange(-1000, 1000)), float("inf"), -0.0, 1e300])
                for j in range(n)})
        elif kind == 4:
            cli.hset(key, mapping={_rand_bytes(rng) + b"%d" % j: _rand_bytes(rng) for j in range(n)})
        else:
            for j in range(min(n, 150)):
                cli.xadd(key, {b"f%d" % (j % 3): _rand_bytes(rng), b"g": b"%d" % j}, id=f"{j + 1}-{j % 4}")
            if n > 2:
                cli.xdel(key, "2-1")
                cli.xgroup_create(key, "grp", id="0")
                cli.xreadgroup("grp", "alice", {key: ">"}, count=2)
        if rng.random() < 0.2:
            cli.pexpireat(key, 4102444800000 + i)
        keys[key] = kind
    return keys


def _server_view(cli, key: bytes, kind: int):
    if kind == 0:
        return cli.get(key)
    if kind == 1:
        return cli.lrange(key, 0, -1)
    if kind == 2:
        return sorted(cli.smembers(key))
    if kind == 3:
        return sorted((m, float(s)) for m, s in cli.zrange(key, 0, -1, withscores=True))
    if kind == 4:
        return sorted(cli.hgetall(key).items())
    return [((int(i.split(b"-")[0]), int(i.split(b"-")[1])), sorted(f.items()))
            for i, f in cli.xrange(key)]


def _our_view(value, kind: int):
    if kind in (0, 1):
        return value
    if kind in (2, 4):
        return sorted(value)
    if kind == 3:
        return sorted(value)
    assert isinstance(value, Stream)
    return [(e.id, sorted(e.fields)) for e in value.entries]


@pytest.mark.interop
@pytest.mark.parametrize("seed,extra", [
    (1, []),
    (2, ["--list-compress-depth", "1", "--list-max-listpack-size", "5"]),
    (3, ["--hash-max-listpack-entries", "1000", "--zset-max-listpack-entries", "1000",
         "--set-max-intset-entries", "1000", "--hash-max-listpack-value", "10000",
         "--zset-max-listpack-value", "10000", "--rdbcompression", "no"]),
])
def test_random_dataset_three_ways(tmp_path, seed, extra):
    rng = random.Random(seed)
    with RealRedis(tmp_path / "srv", extra=extra) as srv:
        cli = srv.client()
        try:
            keys = _populate(cli, rng)
            views = {k: _server_view(cli, k, kind) for k, kind in keys.items()}
            ttls = {k: cli.pexpiretime(k) for k in keys}
            dumps = {k: cli.dump(k) for k in keys}
            cli.save()
        finally:
            cli.close()
        ds = load(srv.dir / "dump.rdb")
    got = {r.key: r for r in ds.keys}
    assert sorted(got) == sorted(keys)
    for key, kind in keys.items():
        rec = got[key]
        assert rec.kind == _KINDS[kind], key
        assert _our_view(rec.value, kind) == views[key], key
        assert rec.expire_ms == (ttls[key] if ttls[key] > 0 else None), key
        payload = dumps[key]
        value, fexp = decode_value(payload[0], payload[1:-10], key=key)
        assert payload[0] == rec.type and fexp is None
        assert _our_view(value, kind) == views[key], key
        if kind == 5:
            assert value == rec.value


@pytest.mark.interop
def test_stream_groups_match_xinfo(tmp_path):
    with RealRedis(tmp_path / "srv") as srv:
        cli = srv.client()
        try:
            for j in range(1, 8):
                cli.xadd("s", {"n": j}, id=f"{j}-0")
            cli.xgroup_create("s", "g1", id="0")
            cli.xgroup_create("s", "g2", id="3-0")
            cli.xreadgroup("g1", "alice", {"s": ">"}, count=3)
            cli.xreadgroup("g1", "bob", {"s": ">"}, count=1)
            cli.xack("s", "g1", "2-0")
            cli.xdel("s", "5-0")
            info = cli.xinfo_stream("s", full=True)
            cli.save()
        finally:
            cli.close()
        s = load(srv.dir / "dump.rdb").db(0)[b"s"].value
    assert s.length == info["length"] and s.entries_added == info["entries-added"]
    assert "%d-%d" % s.max_deleted_id == info["max-deleted-entry-id"].decode()
    assert "%d-%d" % s.last_id == info["last-generated-id"].decode()
    groups = {g["name"]: g for g in info["groups"]}
    for g in s.groups:
        want = groups[g.name]
        assert "%d-%d" % g.last_id == want["last-delivered-id"].decode()
        assert g.entries_read == (want["entries-read"] if want["entries-read"] is not None else -1)
        assert [("%d-%d" % p.id, p.delivery_count) for p in g.pending] == [
            (p[0].decode(), p[3]) for p in want["pending"]]
        owners = {("%d-%d" % pid): c.name for c in g.consumers for pid in c.pending}
        assert [owners["%d-%d" % p.id] for p in g.pending] == [p[1] for p in want["pending"]]
        assert sorted(c.name for c in g.consumers) == sorted(c[b"name"] for c in want["consumers"])
        for c in g.consumers:
            wc = [x for x in want["consumers"] if x[b"name"] == c.name][0]
            assert c.seen_time == wc[b"seen-time"]
    assert load(srv.dir / "dump.rdb").db(0)[b"s"].type == RdbType.STREAM_LISTPACKS_2
