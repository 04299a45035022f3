"""Engine keyspace <-> RDB (server/persist/snapshot.py)."""

from __future__ import annotations

import os

import pytest

from rdbtools.digest import LoadRules, digest_file, format_score
from rdbtools.errors import CorruptError, FormatError, TruncatedError, UnsupportedError
from rdbtools.reader import load
from rdbtools.records import KeyRecord
from rdbtools.writer import write_rdb
from rdbtools.constants import RdbType
from server.config import Config
from server.engine import Engine
from server.objects import RHash, RSet, RZset, encoding_of
from server.persist.snapshot import load_rdb, save_rdb, snapshot_bytes
from tests.server.test_persist_support import FUTURE_MS, LIB, build_engine, digest, listdir
from tests.support.realredis import load_rdb_in_redis


def test_snapshot_digest_matches_engine_and_offline_digest():
    e = build_engine()
    data = snapshot_bytes(e)
    assert digest_file(data, keep_expired=True) == digest(e)


def test_round_trip_keeps_dataset_ttls_and_functions():
    e = build_engine()
    e2 = Engine()
    st = load_rdb(e2, snapshot_bytes(e))
    assert digest(e2) == digest(e)
    assert st.keys_loaded == sum(len(db.data) for db in e.dbs)
    assert e2.dbs[0].expires[b"ttl1"] == FUTURE_MS
    assert e2.dbs[2].expires[b"l2"] == e.dbs[2].expires[b"l2"]
    assert e2.functions == {b"mylib": LIB}
    assert st.aux[b"redis-ver"] == b"7.0.15" and st.aux[b"aof-base"] == b"0"


def test_aux_marks_aof_base():
    ds = load(snapshot_bytes(build_engine(streams=False), aof_base=True))
    assert {a.key: a.value for a in ds.aux}[b"aof-base"] == b"1"
    assert ds.version == 10


def test_load_picks_the_encodings_redis_would():
    e = build_engine(streams=False)
    e2 = Engine()
    load_rdb(e2, snapshot_bytes(e))
    enc = {k: encoding_of(v) for k, v in e2.dbs[0].data.items()}
    assert enc[b"h1"] == b"listpack" and enc[b"hbig"] == b"hashtable"
    assert enc[b"hlong"] == b"hashtable"  # a 100-byte value is over hash-max-listpack-value
    assert enc[b"si"] == b"intset" and enc[b"ss"] == b"hashtable"
    assert enc[b"z1"] == b"listpack" and enc[b"zbig"] == b"skiplist"
    assert enc[b"n1"] == b"int" and enc[b"long"] == b"raw"


def test_load_follows_configured_thresholds():
    cfg = Config()
    cfg.set("hash-max-listpack-entries", ["1"], runtime=False)
    cfg._cache_ints()
    e2 = Engine(cfg)
    load_rdb(e2, snapshot_bytes(build_engine(streams=False)))
    assert encoding_of(e2.dbs[0].data[b"h1"]) == b"hashtable"


def _rdb_with(tmp_path, keys, name="x.rdb"):
    path = tmp_path / name
    write_rdb(path, keys)
    return path


def test_expired_keys_dropped_like_a_master_but_kept_in_preambles(tmp_path):
    path = _rdb_with(tmp_path, [
        KeyRecord(0, b"old", RdbType.STRING, b"v", expire_ms=1000),
        KeyRecord(0, b"new", RdbType.STRING, b"v", expire_ms=FUTURE_MS),
        KeyRecord(0, b"plain", RdbType.STRING, b"v"),
    ])
    e = Engine()
    st = load_rdb(e, str(path))
    assert (st.keys_loaded, st.keys_expired) == (2, 1)
    assert set(e.dbs[0].data) == {b"new", b"plain"}
    e2 = Engine()
    st2 = load_rdb(e2, str(path), aof_preamble=True)
    assert (st2.keys_loaded, st2.keys_expired) == (3, 0)
    assert e2.dbs[0].expires[b"old"] == 1000


def test_expired_hash_fields_dropped_on_master_load(tmp_path):
    path = tmp_path / "hfe.rdb"
    write_rdb(path, [KeyRecord(0, b"h", RdbType.HASH, [(b"a", b"1"), (b"b", b"2")],
                               field_expires={b"a": 1000, b"b": FUTURE_MS}),
                     KeyRecord(0, b"gone", RdbType.HASH, [(b"a", b"1")],
                               field_expires={b"a": 1000})], version=12)
    e = Engine()
    st = load_rdb(e, str(path))
    h = e.dbs[0].data[b"h"]
    assert isinstance(h, RHash) and list(h.items()) == [(b"b", b"2")]
    assert h.fexp == {b"b": FUTURE_MS}
    assert b"gone" not in e.dbs[0].data and st.keys_expired == 1


def test_duplicate_key_is_fatal_with_location(tmp_path):
    from rdbtools.writer import RdbWriter

    w = RdbWriter(10)
    rec = KeyRecord(0, b"dup", RdbType.STRING, b"v")
    data = w.header() + w.select_db(0) + w.key(rec) + w.key(rec) + w.end()
    with pytest.raises(CorruptError) as ei:
        load_rdb(Engine(), data, path="dup.rdb")
    assert ei.value.key == b"dup" and ei.value.offset > 9 and "duplicated key" in str(ei.value)
    assert "dup.rdb" in str(ei.value)


def test_database_out_of_range_is_fatal(tmp_path):
    cfg = Config()
    cfg.set("databases", ["2"], runtime=False)
    path = _rdb_with(tmp_path, [KeyRecord(5, b"k", RdbType.STRING, b"v")])
    with pytest.raises(CorruptError, match="DB 5"):
        load_rdb(Engine(cfg), str(path))


def test_truncated_and_corrupt_files_raise_reader_errors(tmp_path):
    data = snapshot_bytes(build_engine(streams=False))
    for cut in (5, 20, len(data) // 2, len(data) - 3):
        with pytest.raises(TruncatedError):
            load_rdb(Engine(), data[:cut])
    bad = bytearray(data)
    bad[len(bad) // 2] ^= 0xFF
    with pytest.raises(FormatError):
        load_rdb(Engine(), bytes(bad))


def test_empty_collections_are_not_written():
    e = Engine()
    e.dbs[0].add(b"empty", RSet())
    e.dbs[0].add(b"z", RZset())
    e.dbs[0].add(b"k", b"v")
    ds = load(snapshot_bytes(e))
    assert [r.key for r in ds.keys] == [b"k"]


def test_save_rdb_is_atomic_and_leaves_no_temp(tmp_path):
    e = build_engine()
    path = tmp_path / "dump.rdb"
    path.write_bytes(b"old content")
    st = save_rdb(e, str(path))
    assert listdir(tmp_path) == ["dump.rdb"]
    assert st.keys == sum(len(db.data) for db in e.dbs) and st.bytes == path.stat().st_size
    assert digest_file(str(path), keep_expired=True) == digest(e)


def test_save_rdb_failure_keeps_the_old_file(tmp_path):
    e = build_engine(streams=False)
    path = tmp_path / "dump.rdb"
    path.write_bytes(b"old content")
    with pytest.raises(OSError):
        save_rdb(e, str(path), tmp=str(tmp_path / "missing-dir" / "temp.rdb"))
    assert path.read_bytes() == b"old content"


def test_uncompressed_and_checksumless_snapshots_load():
    e = build_engine(streams=False)
    for kw in ({"compress": False}, {"checksum": False}):
        e2 = Engine()
        load_rdb(e2, snapshot_bytes(e, **kw))
        assert digest(e2) == digest(e)


def _corpus_rdbs(corpus_dir):
    return (sorted(corpus_dir.glob("versions/*/dump.rdb"))
            + sorted(corpus_dir.glob("redis-rdb-tools-dumps/*.rdb"))
            + sorted(corpus_dir.glob("redis-tests-assets/*.rdb")))


#: our server prints scores as 7.0 does, whatever version wrote the file
_AS_70 = LoadRules(score_format=format_score)


def test_corpus_files_load_to_the_offline_digest(corpus_dir):
    """Sidecar digests of 7.2+ print scores differently, so the oracle is rdbtools'
    digest of the file with 7.0's score text (itself checked against real 7.0)."""
    checked = 0
    for rdb in _corpus_rdbs(corpus_dir):
        try:
            want = digest_file(str(rdb), keep_expired=True, rules=_AS_70)
        except FormatError:
            with pytest.raises(FormatError):
                load_rdb(Engine(), str(rdb))
            continue
        e = Engine()
        try:
            load_rdb(e, str(rdb), aof_preamble=True)  # keep keys whose TTL passed since
        except UnsupportedError as exc:
            assert "module" in str(exc)
            continue
        assert digest(e) == want, rdb
        checked += 1
    assert checked >= 30


def test_ziplist_negative_zero_score_survives_load(corpus_dir):
    e = Engine()
    load_rdb(e, str(corpus_dir / "versions/redis-5.0.14/dump.rdb"), aof_preamble=True)
    z = e.dbs[0].data[b"zset:special"]
    assert str(z.d[b"negzero"]) == "-0.0"


@pytest.mark.interop
def test_real_redis_loads_our_snapshot_with_the_same_digest(tmp_path):
    e = build_engine()
    path = tmp_path / "ours.rdb"
    save_rdb(e, str(path))
    srv = load_rdb_in_redis(path, tmp_path / "real")
    try:
        assert srv.command("DEBUG", "DIGEST").decode() == digest(e)
        assert srv.command("FUNCTION", "LIST")[0][1] == b"mylib"
        assert srv.command("OBJECT", "ENCODING", "hbig") == b"hashtable"
    finally:
        srv.stop()


@pytest.mark.interop
def test_we_load_what_real_redis_saves(tmp_path):
    from tests.support.realredis import RealRedis

    with RealRedis(tmp_path / "real") as srv:
        cli = srv.client()
        cli.set("a", "1")
        cli.rpush("l", *range(300))
        cli.hset("h", mapping={"f%d" % i: i for i in range(10)})
        cli.zadd("z", {"m": 1.5, "n": -0.0})
        cli.sadd("s", 1, 2, 3)
        cli.set("t", "x", px=10_000_000)
        cli.xadd("st", {"f": "v"}, id="1-1")
        cli.xgroup_create("st", "g", id="0")
        cli.xreadgroup("g", "alice", {"st": ">"})
        want = srv.command("DEBUG", "DIGEST").decode()
        srv.command("SAVE")
        path = srv.dir / "dump.rdb"
        e = Engine()
        load_rdb(e, str(path))
        assert digest(e) == want
        assert os.path.getsize(path) > 0
