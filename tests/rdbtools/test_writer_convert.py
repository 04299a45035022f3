"""JSON(L) -> RDB through `convert`: the keys the writer receives are the ones the JSON
says, whichever decoding path builds them, and a key given twice in one database is
refused before anything is written."""

from __future__ import annotations

import json

import pytest

from rdbtools.convert import convert
from rdbtools.digest import digest_file
from rdbtools.errors import FormatError
from rdbtools.jsonfmt import obj_to_key
from rdbtools.reader import iter_records
from rdbtools.records import KeyRecord

HEADER = {"record": "header", "format": "rdbkit-json", "format_version": 1, "magic": "REDIS",
          "rdb_version": 10, "aux": []}
END = {"record": "end"}
FAR = 4_000_000_000_000  # an expiry that stays in the future


def _jsonl(path, objs):
    path.write_text("".join(json.dumps(o) + "\n" for o in [HEADER, *objs, END]))
    return path


def _keys(path):
    return [r for r in iter_records(path) if isinstance(r, KeyRecord)]


# Plain string records in every shape the JSON format allows, and near misses that
# must take the general decoder (extra fields, base64, expiry forms, other types).
RECORDS = [
    {"db": 0, "key": "a", "type": "string", "expire_ms": None, "value": "x"},
    {"db": 0, "key": "b", "type": "string", "value": "12"},
    {"db": 2, "key": "c", "type": "string", "expire_ms": FAR, "value": "-7"},
    {"key": "no-db", "type": "string", "value": "v"},
    {"db": 0, "key": "idle", "type": "string", "expire_ms": None, "value": "v", "idle": 5},
    {"db": 0, "key": "freq", "type": "string", "value": "v", "freq": 3},
    {"db": 0, "key": {"base64": "/wA="}, "type": "string", "value": "v"},
    {"db": 0, "key": "b64value", "type": "string", "value": {"hex": "00ff"}},
    {"db": 0, "key": "unicode-\u00e9\u4e2d", "type": "string", "value": "\u2603" * 30},
    {"db": 0, "key": "long", "type": "string", "expire_ms": FAR, "value": "z" * 500},
    {"db": 0, "key": "extra", "type": "string", "value": "v", "note": "ignored"},
    {"db": 1, "key": "a", "type": "string", "value": "same key, other db"},
    {"db": 0, "key": "l", "type": "list", "value": ["1", "two"]},
    {"db": 0, "key": "h", "type": "hash", "expire_ms": FAR, "value": [["f", "1"]]},
]


def test_records_reach_the_file_as_the_general_decoder_reads_them(tmp_path):
    out = tmp_path / "out.rdb"
    convert(_jsonl(tmp_path / "in.jsonl", RECORDS), out)
    got = {(r.db, r.key): (r.kind, r.value, r.expire_ms, r.idle, r.freq) for r in _keys(out)}
    want = {}
    for obj in RECORDS:
        r = obj_to_key(obj)
        want[(r.db, r.key)] = (r.kind, r.value, r.expire_ms, r.idle, r.freq)
    assert got == want


@pytest.mark.parametrize("key", ["short", "k" * 33, "\u00e9" * 40])
def test_duplicate_key_in_one_database_is_refused(tmp_path, key):
    objs = [{"db": 0, "key": key, "type": "string", "value": "1"},
            {"db": 0, "key": "other", "type": "string", "value": "2"},
            {"db": 0, "key": key, "type": "list", "value": ["3"]}]
    out = tmp_path / "out.rdb"
    with pytest.raises(FormatError, match="duplicate key"):
        convert(_jsonl(tmp_path / "in.jsonl", objs), out)
    assert not out.exists()


def test_same_key_in_other_databases_and_near_keys_are_fine(tmp_path):
    long_key = "p" * 40
    objs = [{"db": db, "key": k, "type": "string", "value": "v"}
            for db in (0, 1, 15) for k in ("k", "k ", "K", long_key, long_key + "q", "")]
    out = tmp_path / "out.rdb"
    convert(_jsonl(tmp_path / "in.jsonl", objs), out)
    assert len(_keys(out)) == len(objs)


@pytest.mark.parametrize("name", ["all-types", "expired", "lru", "lfu", "compressed-nodes"])
def test_rdb_jsonl_rdb_keeps_the_digest(fixtures_dir, tmp_path, name):
    src = fixtures_dir / "rdb" / f"{name}.rdb"
    mid = tmp_path / "mid.jsonl"
    out = tmp_path / "out.rdb"
    convert(src, mid)
    convert(mid, out)
    assert digest_file(out, keep_expired=True) == digest_file(src, keep_expired=True)
    assert len(_keys(out)) == len([r for r in _keys(src)
                                   if r.kind.name not in ("LIST", "SET", "ZSET", "HASH")
                                   or r.value])
