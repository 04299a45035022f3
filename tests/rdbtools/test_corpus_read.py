"""Every real RDB in the shared corpus parses, and the versioned dumps match the
truth their writing servers reported key by key (values, types, TTLs)."""

from __future__ import annotations

import json
import math

import pytest

from rdbtools.constants import Kind
from rdbtools.errors import CorruptError
from rdbtools.reader import iter_records, load
from rdbtools.records import End, ModuleValue, Stream

CORPUS_RDBS = [
    "redis-rdb-tools-dumps/" + n for n in (
        "dictionary.rdb", "easily_compressible_string_key.rdb", "empty_database.rdb",
        "hash_as_ziplist.rdb", "integer_keys.rdb", "intset_16.rdb", "intset_32.rdb",
        "intset_64.rdb", "keys_with_expiry.rdb", "linkedlist.rdb", "multiple_databases.rdb",
        "non_ascii_values.rdb", "parser_filters.rdb", "rdb_version_5_with_checksum.rdb",
        "rdb_version_8_with_64b_length_and_scores.rdb", "redis_40_with_module.rdb",
        "redis_50_with_streams.rdb", "redis_60_with_module_aux.rdb", "regular_set.rdb",
        "regular_sorted_set.rdb", "sorted_set_as_ziplist.rdb", "uncompressible_string_keys.rdb",
        "ziplist_that_compresses_easily.rdb", "ziplist_that_doesnt_compress.rdb",
        "ziplist_with_integers.rdb", "zipmap_that_compresses_easily.rdb",
        "zipmap_that_doesnt_compress.rdb", "zipmap_with_big_values.rdb")
] + [
    "redis-tests-assets/" + n for n in (
        "encodings.rdb", "hash-ziplist.rdb", "hash-zipmap.rdb", "list-quicklist.rdb",
        "scriptbackup.rdb", "zset-ziplist.rdb", "corrupt_empty_keys.rdb")
]
VERSIONS = ["redis-2.4.18", "redis-3.2.13", "redis-5.0.14", "redis-7.2.6", "redis-7.4.1",
            "valkey-8.0.1"]


def _b(v) -> bytes:
    if isinstance(v, dict):
        return bytes.fromhex(v["hex"])
    return v.encode("utf-8")


def _id(text: str) -> tuple[int, int]:
    ms, seq = text.split("-")
    return int(ms), int(seq)


def _score_eq(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def _check_stream(got: Stream, want: dict, where: str, v1: bool = False) -> None:
    """`v1`: a server before 7.0 wrote it, so it knew no entries-read (the reader
    estimates it as Redis 7 does on load; test_parser covers the estimate)."""
    assert [(e.id, list(e.fields)) for e in got.entries] == [
        (_id(i), [(_b(f), _b(v)) for f, v in fields]) for i, fields in want["entries"]], where
    assert got.length == want["length"], where
    assert got.last_id == _id(want["last_id"]), where
    if "max_deleted_id" in want:
        assert got.max_deleted_id == _id(want["max_deleted_id"]), where
    if "entries_added" in want:
        assert got.entries_added == want["entries_added"], where
    if want.get("recorded_first_id") and got.entries:
        assert got.first_id == _id(want["recorded_first_id"]), where
    assert len(got.groups) == len(want["groups"]), where
    for g, wg in zip(sorted(got.groups, key=lambda g: g.name),
                     sorted(want["groups"], key=lambda g: _b(g["name"]))):
        assert g.name == _b(wg["name"]), where
        assert g.last_id == _id(wg["last_delivered_id"]), where
        er = wg.get("entries_read")
        if er is not None or not v1:
            assert g.entries_read == (-1 if er is None else er), where
        owners = {}
        for c in g.consumers:
            for pid in c.pending:
                owners[pid] = c.name
        assert [(p.id, owners.get(p.id), p.delivery_time, p.delivery_count) for p in g.pending] == [
            (_id(i), _b(who), t, n) for i, who, t, n in wg["pel"]], where
        assert sorted((c.name, c.pending) for c in g.consumers) == sorted(
            (_b(c["name"]), tuple(_id(i) for i in c["pending"])) for c in wg["consumers"]), where


def _check_key(rec, want: dict, version: int = 10) -> None:
    where = f"{want['db']}:{want['key']}"
    kind = rec.kind
    assert kind.label == want["type"], where
    assert rec.expire_ms == want["expire_ms"], where
    v = want["value"]
    if kind is Kind.STRING:
        assert rec.value == _b(v), where
    elif kind is Kind.LIST:
        assert rec.value == [_b(x) for x in v], where
    elif kind is Kind.SET:
        assert sorted(rec.value) == sorted(_b(x) for x in v), where
    elif kind is Kind.ZSET:
        got = sorted(rec.value)
        exp = sorted((_b(m), float(s)) for m, s in v)
        assert [m for m, _ in got] == [m for m, _ in exp], where
        assert all(_score_eq(a, b) for (_, a), (_, b) in zip(got, exp)), where
    elif kind is Kind.HASH:
        assert sorted(rec.value) == sorted((_b(f), _b(x)) for f, x in v), where
        if "field_expire_ms" in want:
            assert rec.field_expires == {_b(f): t for f, t in want["field_expire_ms"]}, where
        else:
            assert not rec.field_expires, where
    elif kind is Kind.STREAM:
        _check_stream(rec.value, v, where, v1=version < 10)
    else:  # pragma: no cover - the versioned dumps hold no module values
        pytest.fail(f"unexpected kind {kind} for {where}")


@pytest.mark.parametrize("name", VERSIONS)
def test_versioned_dump_matches_truth(corpus_dir, name):
    path = corpus_dir / "versions" / name / "dump.rdb"
    meta = json.loads((path.parent / "dump.rdb.json").read_text())
    ds = load(path)
    assert ds.version == meta["rdb_version"]
    truth = meta["truth"]["keys"]
    got = {(r.db, r.key): r for r in ds.keys}
    assert len(got) == len(ds.keys), "duplicate keys"
    assert sorted(got) == sorted((k["db"], _b(k["key"])) for k in truth)
    for want in truth:
        _check_key(got[(want["db"], _b(want["key"]))], want, ds.version)
    libs = sorted(f["library_code"].encode() for f in meta["truth"].get("functions", []))
    assert sorted(f.code for f in ds.functions) == libs


@pytest.mark.parametrize("name", VERSIONS)
def test_versioned_dump_checksum_is_verified(corpus_dir, name):
    path = corpus_dir / "versions" / name / "dump.rdb"
    end = [r for r in iter_records(path) if isinstance(r, End)]
    assert len(end) == 1
    if end[0].checksum is not None:
        assert end[0].checksum_verified in (True, None)
        assert end[0].end == path.stat().st_size


@pytest.mark.parametrize("name", CORPUS_RDBS)
def test_corpus_file_parses(corpus_dir, name):
    path = corpus_dir / name
    recs = list(iter_records(path))
    assert isinstance(recs[-1], End)
    assert recs[-1].end <= path.stat().st_size


def test_corrupt_empty_keys_loads_nine_empty_keys(corpus_dir):
    ds = load(corpus_dir / "redis-tests-assets" / "corrupt_empty_keys.rdb")
    assert len(ds.keys) == 9
    for rec in ds.keys:
        assert len(rec.value) == 0, rec.key


def test_corrupt_ziplist_fails_like_redis(corpus_dir):
    # redis-check-rdb: "Hash ziplist integrity check failed" reading key:000000000091.
    with pytest.raises(CorruptError) as ei:
        load(corpus_dir / "redis-tests-assets" / "corrupt_ziplist.rdb")
    e = ei.value
    assert e.key == b"key:000000000091"
    assert e.phase == "read-object-value"
    assert e.type == "hash-ziplist"
    assert 400 < e.offset <= 494


def test_module_value_kept_opaque(corpus_dir):
    ds = load(corpus_dir / "redis-rdb-tools-dumps" / "redis_40_with_module.rdb")
    mods = [r for r in ds.keys if isinstance(r.value, ModuleValue)]
    assert mods, "the module key was not returned"
    for r in mods:
        assert r.value.raw.endswith(b"\x00")
        assert len(r.value.name) == 9


def test_module_aux_records(corpus_dir):
    ds = load(corpus_dir / "redis-rdb-tools-dumps" / "redis_60_with_module_aux.rdb")
    assert ds.module_aux
    for m in ds.module_aux:
        assert m.when in (1, 2)
        assert m.raw.endswith(b"\x00")


def test_aof_preambles_parse(corpus_dir):
    for rel in ("redis-tests-assets/rdb-preamble.aof", "versions/redis-5.0.14/aof-preamble/appendonly.aof"):
        recs = list(iter_records(corpus_dir / rel))
        assert isinstance(recs[-1], End)


def test_scriptbackup_has_lua_aux(corpus_dir):
    ds = load(corpus_dir / "redis-tests-assets" / "scriptbackup.rdb")
    assert any(a.key == b"lua" for a in ds.aux)
