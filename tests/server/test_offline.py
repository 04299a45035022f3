"""Offline AOF replay (server/offline.py): fixtures and corpus AOFs to their recorded
state, point-in-time recovery against redis-check-aof, no writes to the input."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

from server.engine import Engine
from server.offline import AofLoadError, aof_digest, replay_aof
from server.objects import to_record
from server.persist.aof import AofManager
from tests.server.test_persist_support import aof_command_names, build_engine, digest, run
from tests.support.realredis import RealRedis, need_binary

FIXTURE_AOFS = ["plain.aof", "preamble", "resp-base", "timestamps"]


def _files(path):
    p = path if path.is_file() else path / "appendonlydir"
    return [p] if p.is_file() else sorted(x for x in p.iterdir() if not x.name.endswith(".manifest"))


def _skip_if_engine_lacks(path):
    missing = sorted(n.decode().upper() for n in aof_command_names(_files(path))
                     if n not in Engine().commands)
    if missing:
        pytest.skip("the server engine has no %s yet" % ", ".join(missing))


@pytest.mark.parametrize("name", FIXTURE_AOFS)
def test_fixture_aofs_replay_to_recorded_digest(fixtures_dir, name):
    path = fixtures_dir / "aof" / name
    side = json.loads((fixtures_dir / "aof" / (name.split(".")[0] + ".json")).read_text())
    _skip_if_engine_lacks(path)
    target = path if path.is_file() else path / "appendonlydir"
    assert aof_digest(str(target)) == side["debug_digest"]


def test_replay_accepts_dir_manifest_and_parent_dir(tmp_path):
    m = AofManager(build_engine(streams=False), str(tmp_path), fsync="always")
    m.start()
    run(m.engine, m.engine.new_client(), "SET x 1", "SELECT 1", "SET y 2")
    m.flush_before_replies()
    m.close()
    want = digest(m.engine)
    for p in (tmp_path / "appendonlydir", tmp_path / "appendonlydir" / "appendonly.aof.manifest",
              tmp_path):
        assert aof_digest(str(p)) == want


def test_offline_replay_never_modifies_the_input(tmp_path):
    e = Engine()
    run(e, e.new_client(), "SET a 1", "RPUSH l x y")
    aof = tmp_path / "single.aof"
    data = (b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"
            b"*4\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n$1\r\nx\r\n$1\r\ny\r\n*3\r\n$3\r\nSET\r\n$1\r\nb")
    aof.write_bytes(data)
    assert aof_digest(str(aof)) == digest(e)
    assert aof.read_bytes() == data


def test_offline_damage_raises_located_error(tmp_path):
    aof = tmp_path / "bad.aof"
    aof.write_bytes(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\nnonsense\r\n")
    with pytest.raises(AofLoadError) as ei:
        replay_aof(str(aof))
    assert ei.value.offset == 23 and "bad.aof" in str(ei.value)


def test_empty_and_missing_inputs(tmp_path):
    (tmp_path / "empty.aof").write_bytes(b"")
    assert aof_digest(str(tmp_path / "empty.aof")) == "0" * 40
    with pytest.raises(OSError):
        replay_aof(str(tmp_path / "nope.aof"))


def test_legacy_and_valkey_style_commands(tmp_path):
    """Forms older servers logged (SETEX-less SET + PEXPIREAT, EXPIREAT, HMSET, SELECT of
    several dbs, MULTI/EXEC) replay like the current ones."""
    from server.persist.rewrite import resp_command

    cmds = [[b"SELECT", b"3"], [b"SET", b"k", b"v"], [b"PEXPIREAT", b"k", b"4102444800000"],
            [b"EXPIREAT", b"k2", b"4102444800"], [b"HMSET", b"h", b"a", b"1", b"b", b"2"],
            [b"MULTI"], [b"SADD", b"s", b"1"], [b"ZADD", b"z", b"1.5", b"m"], [b"EXEC"],
            [b"SELECT", b"0"], [b"INCRBYFLOAT", b"f", b"1.5"], [b"SET", b"f", b"3", b"KEEPTTL"]]
    aof = tmp_path / "old.aof"
    aof.write_bytes(b"".join(resp_command(c) for c in cmds))
    e = replay_aof(str(aof))
    assert e.dbs[3].expires[b"k"] == 4102444800000
    assert list(e.dbs[3].data[b"h"].items()) == [(b"a", b"1"), (b"b", b"2")]
    assert e.dbs[0].data[b"f"] == b"3" and set(e.dbs[3].data) == {b"k", b"h", b"s", b"z"}


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _timestamped_dir(tmp_path):
    clock = Clock(1_700_000_000.0)
    m = AofManager(Engine(), str(tmp_path), fsync="always", timestamps=True, clock=clock)
    m.start()
    c = m.engine.new_client()
    for i in range(4):
        run(m.engine, c, "SET k%d %d" % (i, i), "RPUSH l %d" % i)
        m.flush_before_replies()
        clock.t += 10
    m.close()
    return tmp_path / "appendonlydir"


def test_truncate_to_timestamp_stops_at_later_annotation(tmp_path):
    d = _timestamped_dir(tmp_path)
    e = replay_aof(str(d), truncate_to_timestamp=1_700_000_015)
    assert sorted(e.dbs[0].data) == [b"k0", b"k1", b"l"] and list(e.dbs[0].data[b"l"]) == [b"0", b"1"]
    assert digest(replay_aof(str(d), truncate_to_timestamp=10**12)) == digest(replay_aof(str(d)))
    assert digest(replay_aof(str(d), truncate_to_timestamp=0)) == "0" * 40


@pytest.mark.interop
@pytest.mark.parametrize("ts", [1_700_000_005, 1_700_000_020, 1_700_000_031])
def test_truncate_to_timestamp_agrees_with_redis_check_aof(tmp_path, ts):
    d = _timestamped_dir(tmp_path / "ours")
    ours = aof_digest(str(d), truncate_to_timestamp=ts)
    real = tmp_path / "real"
    real.mkdir()
    shutil.copytree(d, real / "appendonlydir")
    tool = need_binary("redis-check-aof")
    r = subprocess.run([tool, "--truncate-to-timestamp", str(ts),
                        str(real / "appendonlydir" / "appendonly.aof.manifest")],
                       capture_output=True, text=True, input="")
    assert r.returncode == 0, r.stdout
    with RealRedis(real, extra=["--appendonly", "yes"]) as srv:
        assert srv.command("DEBUG", "DIGEST").decode() == ours


def _truth_value(v):
    if isinstance(v, dict) and "hex" in v:
        return bytes.fromhex(v["hex"])
    if isinstance(v, str):
        return v.encode()
    return v


@pytest.mark.parametrize("rel", ["versions/redis-5.0.14/aof-preamble/appendonly.aof",
                                 "versions/redis-7.4.1/aof-preamble/appendonlydir"])
def test_corpus_aofs_replay_to_their_truth(corpus_dir, rel):
    """The sidecar digests of these servers use their own digest algorithm, so compare
    key by key with the recorded truth (value digests for every type but zsets, whose
    digest changed in 7.2; members and scores for those)."""
    from rdbtools.digest import value_digest

    path = corpus_dir / rel
    _skip_if_engine_lacks(path if path.is_file() else path.parent)
    side = json.loads((path.parent / (path.name + ".json")).read_text())
    e = replay_aof(str(path))
    truth = side["truth"]["keys"]
    assert {str(db): len(e.dbs[int(db)].data) for db in side["dbsize"]} == side["dbsize"]
    for k in truth:
        key = _truth_value(k["key"])
        db = e.dbs[k["db"]]
        assert key in db.data, key
        assert db.expires.get(key) == k["expire_ms"], key
        kind, value, fexp = to_record(db.data[key])
        if k["type"] == "zset":
            assert sorted((m, s) for m, s in value) == sorted(
                (_truth_value(m), float(s)) for m, s in k["value"]), key
        else:
            got = value_digest(kind, value, key in db.expires, field_expires=fexp).hex()
            assert got == k["digest_value"], key


def test_aof_records_feed_rdbtools_writers(tmp_path, fixtures_dir):
    """`rdbkit convert <AOF> out.rdb|out.json` = these records through rdbtools."""
    import io

    from rdbtools.digest import digest_file
    from rdbtools.jsonfmt import iter_records as iter_json
    from rdbtools.render import dump_records
    from rdbtools.writer import write_rdb
    from server.offline import aof_records

    path = fixtures_dir / "aof" / "preamble"
    _skip_if_engine_lacks(path)
    want = json.loads((fixtures_dir / "aof" / "preamble.json").read_text())["debug_digest"]
    out = tmp_path / "out.rdb"
    write_rdb(out, aof_records(str(path / "appendonlydir")))
    assert digest_file(str(out), keep_expired=True) == want
    buf = io.BytesIO()
    dump_records(aof_records(str(path / "appendonlydir")), buf, "json")
    keys = [r for r in iter_json(io.BytesIO(buf.getvalue())) if hasattr(r, "key") and hasattr(r, "db")]
    assert len(keys) == sum(int(n) for n in
                            json.loads((fixtures_dir / "aof" / "preamble.json").read_text())
                            ["dbsize"].values())


_REAL_WORKLOAD = [
    "SET s1 hello", "SET n 10", "INCR n", "INCRBYFLOAT f 1.25", "INCRBYFLOAT f 0.5",
    "APPEND s1 world", "SETRANGE s1 2 XY", "SET ttl v EX 1000", "SETEX t2 500 v",
    "GETEX s1 PX 900000", "PERSIST s1", "EXPIRE n 800", "MSET a 1 b 2 c 3", "DEL c",
    "RPUSH l a b c d e", "LPUSH l z", "LPOP l", "RPOPLPUSH l l2", "LMOVE l l2 LEFT RIGHT",
    "LSET l 0 q", "LTRIM l 0 10", "LINSERT l BEFORE q p",
    "SADD s 1 2 3 x y", "SREM s 2", "SPOP s", "SMOVE s s2 x", "SINTERSTORE s3 s s",
    "ZADD z 1 a 2 b 3 c 1.5 d", "ZINCRBY z 2.25 a", "ZPOPMIN z", "ZREM z d",
    "ZADD z2 -0 m inf n", "ZUNIONSTORE z3 2 z z2", "ZRANGESTORE z4 z 0 -1",
    "HSET h f1 v1 f2 v2 n 5", "HINCRBY h n 3", "HINCRBYFLOAT h n 0.5", "HDEL h f2",
    "HSETNX h f3 v3",
    "XADD st 1-1 f v", "XADD st 2-1 g w", "XADD st 3-1 h x",
    "XGROUP CREATE st grp 0", "XREADGROUP GROUP grp alice COUNT 2 STREAMS st >",
    "XCLAIM st grp bob 0 1-1", "XACK st grp 2-1", "XDEL st 3-1",
    "XGROUP CREATECONSUMER st grp carol", "XTRIM st MAXLEN 5",
    "XAUTOCLAIM st grp dave 0 0-0",
    "SELECT 3", "SET other x", "RPUSH ol 1 2", "MOVE other 4", "SWAPDB 3 5",
    "SELECT 0", "COPY s1 s1copy", "RENAME a a2", "RENAMENX b b2",
    "MULTI", "SET m1 1", "INCR m1", "EXEC",
    "SET gone 1", "EXPIRE gone -1", "DEL nokey",
]


@pytest.mark.interop
def test_real_redis_70_aof_replays_to_its_digest(tmp_path):
    """A broad command mix through real Redis 7.0 (appendonly yes, timestamps on, one
    rewrite in the middle): its AOF replays offline to the digest it printed."""
    d = tmp_path / "real"
    with RealRedis(d, extra=["--appendonly", "yes", "--aof-timestamp-enabled", "yes",
                             "--appendfsync", "always"]) as srv:
        import redis

        cli = srv.client(single_connection_client=True)  # MULTI ... EXEC on one link
        half = len(_REAL_WORKLOAD) // 2
        for i, line in enumerate(_REAL_WORKLOAD):
            if i == half:
                srv.command("BGREWRITEAOF")
                deadline = time.monotonic() + 20
                while b"aof_rewrite_in_progress:0" not in srv.command("INFO", "persistence") \
                        and time.monotonic() < deadline:
                    time.sleep(0.05)
            try:
                cli.execute_command(*line.split())
            except redis.ResponseError:  # a refused command is logged nowhere
                pass
        want = srv.command("DEBUG", "DIGEST").decode()
    _skip_if_engine_lacks(d)
    assert want != "0" * 40
    assert aof_digest(str(d / "appendonlydir")) == want
