"""rdbkit JSON/JSONL: the record <-> JSON codec, streaming reader, and real files."""

from __future__ import annotations

import io
import json
import math
import shutil
import subprocess

import pytest
from hypothesis import given, settings, strategies as st

from rdbtools import jsonfmt
from rdbtools.constants import Kind, RdbType
from rdbtools.errors import FormatError, TruncatedError
from rdbtools.jsonfmt import JsonFormatError
from rdbtools.reader import iter_records as iter_rdb
from rdbtools.records import (
    Aux, Consumer, ConsumerGroup, End, Function, Header, KeyRecord, ModuleAux, ModuleValue,
    PendingEntry, SlotInfo, Stream, StreamEntry, module_id,
)


def to_text(records, jsonl=False) -> bytes:
    out = io.BytesIO()
    w = jsonfmt.JsonWriter(out, jsonl=jsonl)
    for r in records:
        w.write(r)
    w.close()
    return out.getvalue()


def from_text(data: bytes, chunk: int = 1 << 20):
    return list(jsonfmt.iter_records(io.BytesIO(data), chunk=chunk))


def logical(rec):
    """What JSON promises to keep of a record (offsets and on-disk encodings go)."""
    if isinstance(rec, KeyRecord):
        v = rec.value
        if rec.kind == Kind.ZSET:  # compare -0.0 / nan exactly
            v = [(m, repr(s)) for m, s in v]
        return ("key", rec.db, rec.key, rec.kind, v, rec.expire_ms, rec.idle, rec.freq,
                rec.field_expires or None)
    if isinstance(rec, Header):
        return ("header", rec.version, rec.magic)
    if isinstance(rec, Aux):
        return ("aux", rec.key, rec.value)
    if isinstance(rec, Function):
        return ("function", rec.code)
    if isinstance(rec, ModuleAux):
        return ("module_aux", rec.module_id, rec.when, rec.raw)
    if isinstance(rec, SlotInfo):
        return ("slot", rec.slot, rec.slot_size, rec.expires_slot_size)
    return None


def kept(records):
    return [x for x in map(logical, records) if x is not None]


STREAM = Stream(
    entries=(StreamEntry((1, 1), ((b"f", b"v"),)), StreamEntry((5, 0), ((b"g", b"\xff"),))),
    length=2, last_id=(5, 0), first_id=(1, 1), max_deleted_id=(1, 2), entries_added=3,
    groups=(ConsumerGroup(b"grp", (1, 1), -1, (PendingEntry((1, 1), 1700000000000, 2),),
                          (Consumer(b"alice", 10, 11, ((1, 1),)), Consumer(b"bob", 12, 12, ()))),
            ConsumerGroup(b"g2", (5, 0), 2, (), ())),
)

HAND = [
    Header(10),
    Aux(b"redis-ver", b"7.0.15"),
    Aux(b"bin", b"\x00\xff"),
    Function(b"#!lua name=lib\nredis.register_function('f', function() return 1 end)"),
    ModuleAux(module_id("ReJSON-RL", 3), 2, b"\x02\x05\x00"),
    KeyRecord(0, b"plain", RdbType.STRING, b"hello", expire_ms=4102444800000),
    KeyRecord(0, b"\xff\xfekey", RdbType.STRING, b"\x00\x01\r\n\x1b\x7f"),
    KeyRecord(0, b"surrogate", RdbType.STRING, b"\xed\xa0\x80"),  # CESU surrogate: not UTF-8
    KeyRecord(0, b"utf8", RdbType.STRING, "héllo ✓ \u2028".encode()),
    KeyRecord(1, b"list", RdbType.LIST_QUICKLIST_2, [b"a", b"", b"\xc3"]),
    KeyRecord(1, b"set", RdbType.SET_INTSET, [b"1", b"-5"]),
    KeyRecord(1, b"zset", RdbType.ZSET_2, [(b"a", math.inf), (b"b", -math.inf), (b"c", -0.0),
                                           (b"d", 0.1), (b"e", 1e300), (b"f", 5e-324),
                                           (b"g", 2.0)]),
    KeyRecord(2, b"hash", RdbType.HASH_LISTPACK_EX, [(b"f1", b"v1"), (b"f2", b"\xff")],
              field_expires={b"f2": 1900000000000}),
    KeyRecord(2, b"stream", RdbType.STREAM_LISTPACKS_3, STREAM, idle=5),
    KeyRecord(3, b"mod", RdbType.MODULE_2, ModuleValue(module_id("ReJSON-RL", 3), b"\x05\x03abc\x00"),
              freq=7),
    SlotInfo(5, 10, 1),
    End(None, None),
]


@pytest.mark.parametrize("jsonl", [False, True])
@pytest.mark.parametrize("chunk", [1, 7, 1 << 20])
def test_hand_built_records_round_trip(jsonl, chunk):
    text = to_text(HAND, jsonl)
    assert kept(from_text(text, chunk)) == kept(HAND)


def test_json_is_valid_and_readable():
    text = to_text(HAND)
    doc = json.loads(text)
    assert doc[0]["record"] == "header" and doc[0]["rdb_version"] == 10
    assert doc[0]["aux"] == [["redis-ver", "7.0.15"], ["bin", {"base64": "AP8="}]]
    assert doc[-1] == {"record": "end", "keys": 10}
    keys = {d["key"] if isinstance(d["key"], str) else d["key"]["base64"]: d
            for d in doc if "key" in d and "record" not in d}
    assert keys["plain"]["value"] == "hello" and keys["plain"]["expire_ms"] == 4102444800000
    assert keys["utf8"]["value"] == "héllo ✓ \u2028"
    assert keys["surrogate"]["value"] == {"base64": "7aCA"}
    assert keys["zset"]["value"] == [["a", "inf"], ["b", "-inf"], ["c", "-0"], ["d", 0.1],
                                     ["e", 1e300], ["f", 5e-324], ["g", 2.0]]
    assert keys["hash"]["value"] == [["f1", "v1"], ["f2", {"base64": "/w=="}, 1900000000000]]
    assert keys["stream"]["value"]["groups"][0]["entries_read"] is None
    assert keys["mod"]["value"]["module"] == "ReJSON-RL"


def test_jsonl_lines_have_no_raw_control_characters():
    for line in to_text(HAND, jsonl=True).splitlines():
        assert not any(c < 0x20 for c in line), line
        json.loads(line)


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq not installed")
def test_jq_parses_every_line():
    text = to_text(HAND, jsonl=True)
    out = subprocess.run(["jq", "-c", "select(.type == \"string\") | .key"], input=text,
                         capture_output=True, check=True).stdout
    assert out.count(b"\n") == 4


def test_hex_and_lenient_scores_accepted_on_input():
    doc = [{"db": 0, "key": {"hex": "ff00"}, "type": "zset", "value": [["m", "1.5"], ["n", 3]]}]
    recs = from_text(json.dumps(doc).encode())
    key = [r for r in recs if isinstance(r, KeyRecord)][0]
    assert key.key == b"\xff\x00" and key.value == [(b"m", 1.5), (b"n", 3.0)]
    assert key.expire_ms is None


@pytest.mark.parametrize("doc,match", [
    ('[{"db":0,"key":"k","type":"string","value":{"base64":"@@"}}]', "base64"),
    ('[{"db":0,"key":"k","type":"string","value":"\\ud800"}]', "surrogate"),
    ('[{"db":0,"key":"k","type":"nope","value":"x"}]', "unknown type"),
    ('[{"db":0,"key":"k","type":"zset","value":[["a","x"]]}]', "score"),
    ('[{"db":0,"key":"k","type":"stream","value":{"entries":[["1.1",[]]]}}]', "stream id"),
    ('[{"db":-1,"key":"k","type":"string","value":"x"}]', "db"),
    ('[{"db":0,"key":"k","type":"string","value":"x"},]', "trailing"),
    ('[{"db":0,"key":"k","type":"string","value":"x"}] x', "after"),
    ('{"record":"header","format":"other"}', "not an rdbkit"),
])
def test_bad_documents_raise_located_format_errors(doc, match):
    with pytest.raises(JsonFormatError, match=match) as info:
        from_text(doc.encode())
    assert info.value.offset is not None
    if '"key":"k"' in doc and "after" not in match and "trailing" not in match:
        assert info.value.key == b"k"


def test_cut_documents_are_truncation_errors():
    full = to_text(HAND, jsonl=True)
    lines = full.splitlines(keepends=True)
    # Losing the end record (or cutting inside one) must not pass as a smaller dataset.
    for cut in (len(full) - len(lines[-1]), len(full) - 10, len(lines[0]) + 5):
        with pytest.raises(TruncatedError):
            from_text(full[:cut])
    arr = to_text(HAND)
    for cut in (len(arr) - 3, len(arr) // 2, 1):
        with pytest.raises(FormatError):
            from_text(arr[:cut])


def test_not_utf8_input_is_an_error():
    with pytest.raises(JsonFormatError, match="UTF-8"):
        from_text(b'[{"db":0,"key":"\xff","type":"string","value":"x"}]')


# -------------------------------------------------------------------- property tests

blobs = st.binary(max_size=24) | st.text(max_size=12).map(lambda s: s.encode())
scores = st.floats(allow_nan=True) | st.sampled_from([0.0, -0.0, math.inf, -math.inf])
ids = st.tuples(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))


@st.composite
def key_records(draw):
    kind = draw(st.sampled_from(list(jsonfmt.KIND_TYPES)))
    fe = None
    if kind == Kind.STRING:
        value = draw(blobs)
    elif kind in (Kind.LIST, Kind.SET):
        value = draw(st.lists(blobs, max_size=5))
    elif kind == Kind.ZSET:
        value = draw(st.lists(st.tuples(blobs, scores), max_size=5))
    elif kind == Kind.HASH:
        value = draw(st.lists(st.tuples(blobs, blobs), max_size=5, unique_by=lambda p: p[0]))
        if value and draw(st.booleans()):
            fe = {value[0][0]: draw(st.integers(1, 2**48 - 1))}
    elif kind == Kind.STREAM:
        entry_ids = sorted(set(draw(st.lists(ids, max_size=4))))
        entries = tuple(StreamEntry(i, tuple(draw(st.lists(st.tuples(blobs, blobs), min_size=1,
                                                             max_size=3))))
                        for i in entry_ids)
        groups = tuple(
            ConsumerGroup(draw(blobs), draw(ids), draw(st.integers(-1, 2**63)),
                          tuple(PendingEntry(i, draw(st.integers(0, 2**63 - 1)),
                                             draw(st.integers(0, 2**63))) for i in entry_ids[:1]),
                          (Consumer(draw(blobs), 1, 2, tuple(entry_ids[:1])),))
            for _ in range(draw(st.integers(0, 2))))
        value = Stream(entries, len(entries), draw(ids), draw(ids), draw(ids),
                       draw(st.integers(0, 2**64 - 1)), groups)
    else:
        value = ModuleValue(module_id(draw(st.sampled_from(["ReJSON-RL", "MBbloom--"])),
                                      draw(st.integers(0, 1023))), draw(st.binary(max_size=10)))
    return KeyRecord(draw(st.integers(0, 15)), draw(blobs), jsonfmt.KIND_TYPES[kind], value,
                     expire_ms=draw(st.none() | st.integers(0, 2**62)),
                     idle=draw(st.none() | st.integers(0, 2**40)),
                     freq=draw(st.none() | st.integers(0, 255)), field_expires=fe)


@settings(max_examples=150, deadline=None)
@given(st.lists(key_records(), max_size=6), st.booleans(), st.integers(1, 64))
def test_random_records_round_trip(keys, jsonl, chunk):
    records = [Header(10), Aux(b"ctime", b"1")] + keys + [End(None, None)]
    assert kept(from_text(to_text(records, jsonl), chunk)) == kept(records)


# -------------------------------------------------------------------- real files

def rdb_files(fixtures_dir):
    return sorted((fixtures_dir / "rdb").glob("*.rdb"))


def test_every_fixture_round_trips_through_json(fixtures_dir):
    files = rdb_files(fixtures_dir)
    assert files, "fixtures/rdb is empty"
    for path in files:
        original = list(iter_rdb(path))
        for jsonl in (False, True):
            back = from_text(to_text(original, jsonl), chunk=4096)
            assert kept(back) == kept(original), path.name


def test_every_corpus_rdb_round_trips_through_json(corpus_dir):
    seen = 0
    for path in sorted(corpus_dir.rglob("*.rdb")):
        try:
            original = list(iter_rdb(path))
        except FormatError:
            continue  # the deliberately corrupt ones
        back = from_text(to_text(original, jsonl=True))
        assert kept(back) == kept(original), path
        seen += 1
    assert seen > 20


def test_output_matches_the_published_schema(fixtures_dir, corpus_dir):
    jsonschema = pytest.importorskip("jsonschema")
    schema_path = fixtures_dir.parent / "docs" / "rdbkit-json.schema.json"
    schema = json.loads(schema_path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    paths = sorted((fixtures_dir / "rdb").glob("*.rdb"))
    paths += [corpus_dir / "redis-rdb-tools-dumps" / "redis_60_with_module_aux.rdb",
              corpus_dir / "redis-rdb-tools-dumps" / "redis_40_with_module.rdb",
              corpus_dir / "versions" / "redis-7.4.1" / "dump.rdb"]
    docs = [to_text(HAND)] + [to_text(list(iter_rdb(p))) for p in paths]
    for text in docs:
        for obj in json.loads(text):
            errors = list(validator.iter_errors(obj))
            assert not errors, (obj, errors[0].message)
    # ... and it rejects what the reader rejects.
    assert list(validator.iter_errors({"db": 0, "key": "k", "type": "zset", "value": [["a", "x"]]}))
    assert list(validator.iter_errors({"record": "end", "key": "k"}))


@pytest.mark.parametrize("doc", [
    b"[" + b"[" * 100000 + b"]" * 100000 + b"]",
    b'[{"db":' + b"9" * 20000 + b',"key":"k","type":"string","value":"x"}]',
    b'{"db":0,"key":"k","type":"list","value":' + b"[" * 50000 + b"]" * 50000 + b"}",
])
def test_hostile_json_gives_format_errors(doc):
    with pytest.raises(FormatError):
        from_text(doc)


@pytest.mark.parametrize("jsonl", [False, True])
def test_every_cut_is_a_format_error(jsonl):
    full = to_text(HAND, jsonl)
    for cut in range(len(full) - 2):  # the last bytes are only a newline / "]\n"
        with pytest.raises(FormatError):
            from_text(full[:cut], chunk=64)


def test_random_corruption_only_raises_format_errors():
    import random

    rng = random.Random(1234)
    full = to_text(HAND, jsonl=True)
    for _ in range(400):
        data = bytearray(full)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            from_text(bytes(data), chunk=rng.choice([5, 100, 1 << 20]))
        except FormatError:
            pass
