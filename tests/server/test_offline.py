"""Offline AOF replay (server/offline.py): fixtures and corpus AOFs to their recorded
state, point-in-time recovery against redis-check-aof, no writes to the input."""

from __future__ import annotations

import json
import shutil
import subprocess

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
