"""The writer's fast paths give the bytes of its general ones.

`write_rdb` batches keys and encodes plain strings inline, the blob builders lay out
short strings from tables, and small lists skip the node-splitting simulation; each
is checked here against the general code it stands in for (rdbtools.build, the
public RdbWriter methods, the node-split loop), byte for byte.
"""

from __future__ import annotations

import io
import math
import random

import pytest
from hypothesis import given, settings, strategies as st

from rdbtools import reader, writer as W
from rdbtools._crc import crc64
from rdbtools._lzf import compress as lzf_compress
from rdbtools.build import build_listpack, build_ziplist, canonical_int, listpack_entry
from rdbtools.constants import Kind, RdbType
from rdbtools.digest import digest_records
from rdbtools.records import Function, KeyRecord, ResizeDb, SelectDb

ints_as_text = st.integers(-2**63, 2**63 - 1).map(lambda i: b"%d" % i)
near_int_text = st.sampled_from([
    b"", b"0", b"-0", b"00", b"007", b"+1", b"-", b"1a", b" 1", b"1 ", b"\xd9\xa3",
    b"9223372036854775807", b"9223372036854775808", b"-9223372036854775808",
    b"-9223372036854775809", b"99999999999999999999", b"100000000000000000000",
    b"123456789012345678", b"1234567890123456789", b"-123456789012345678"])
elements = st.one_of(st.binary(max_size=24), ints_as_text, near_int_text,
                     st.binary(min_size=60, max_size=70), st.binary(min_size=120, max_size=300),
                     st.sampled_from([b"x" * 4095, b"x" * 4096, b"y" * 16400]))
#: Integers at every listpack/ziplist encoding boundary, as ints and as text.
edge_ints = [0, 1, 12, 13, 127, 128, 255, 256, 4095, 4096, 32767, 32768, 8388607, 8388608,
             2**31 - 1, 2**31, 2**63 - 1, -1, -128, -129, -4096, -4097, -32768, -32769,
             -8388608, -8388609, -2**31, -2**31 - 1, -2**63]
blob_items = st.one_of(elements, st.integers(-2**63, 2**63 - 1), st.sampled_from(edge_ints),
                       st.sampled_from(edge_ints).map(lambda i: b"%d" % i))


def reference_encode_string(data: bytes, compress: bool = True, version: int = 10) -> bytes:
    """rdbSaveRawString spelled out plainly: int form, LZF, raw."""
    n = len(data)
    if n <= 11:
        v = canonical_int(data)
        if v is not None:
            for lo, hi, prefix, size in ((-2**7, 2**7 - 1, b"\xc0", 1),
                                         (-2**15, 2**15 - 1, b"\xc1", 2),
                                         (-2**31, 2**31 - 1, b"\xc2", 4)):
                if lo <= v <= hi:
                    return prefix + v.to_bytes(size, "little", signed=True)
    if compress and n > 20:
        packed = lzf_compress(data)
        if packed is not None:
            return (b"\xc3" + W.encode_len(len(packed), version) + W.encode_len(n, version)
                    + packed)
    return W.encode_len(n, version) + data


@given(st.one_of(elements, st.binary(min_size=21, max_size=80).map(lambda b: b * 3)),
       st.booleans())
@settings(max_examples=400, deadline=None)
def test_encode_string_matches_reference(data, compress):
    assert W.encode_string(data, compress) == reference_encode_string(data, compress)


@given(st.one_of(elements, st.binary(max_size=22)))
@settings(max_examples=400, deadline=None)
def test_int_value_is_canonical_int(data):
    assert W._int_value(data) == canonical_int(data)


@given(st.lists(blob_items, max_size=40))
@settings(max_examples=300, deadline=None)
def test_listpack_builder_matches_build(items):
    assert W._listpack(items) == build_listpack(items)


@given(st.lists(blob_items, max_size=40))
@settings(max_examples=300, deadline=None)
def test_ziplist_builder_matches_build(items):
    assert W._ziplist(items) == build_ziplist(items)


def test_blob_builders_at_integer_boundaries():
    items = edge_ints + [b"%d" % i for i in edge_ints] + [b"x" * n for n in (0, 1, 63, 64, 65)]
    assert W._listpack(items) == build_listpack(items)
    assert W._ziplist(items) == build_ziplist(items)


def test_blob_builders_saturate_the_count():
    items = [b"a"] * 70000
    assert W._listpack(items) == build_listpack(items)
    assert W._ziplist(items) == build_ziplist(items)


scores = st.one_of(st.floats(), st.integers(-2**63, 2**63).map(float),
                   st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan, 2.0 ** 52,
                                    -2.0 ** 52, 2.0 ** 62, -2.0 ** 62, 2.0 ** 63, 1e300]),
                   st.integers(-2**70, 2**70))


@given(scores, st.integers(6, 12))
@settings(max_examples=400, deadline=None)
def test_score_items_encode_as_their_text(score, version):
    """An int from _score_item is stored exactly as the text _double_text gives."""
    item = W._score_item(score, version)
    text = W._double_text(score, version)
    assert listpack_entry(item) == listpack_entry(text)
    assert build_ziplist([item]) == build_ziplist([text])


def slow_lists(value, version, cfg):
    """A list encoded with the single-node shortcut turned off."""
    with pytest.MonkeyPatch.context() as m:
        m.setattr(W, "_one_node_fits", lambda value, fill: False)
        return W.encode_value(Kind.LIST, value, version=version, config=cfg)


@given(st.lists(st.one_of(elements, st.sampled_from([b"q" * 2000, b"r" * 7000])), max_size=30),
       st.sampled_from([7, 9, 10, 11]), st.sampled_from([-1, -2, -5, -6, 0, 1, 3, 128]))
@settings(max_examples=300, deadline=None)
def test_single_node_shortcut_matches_split_rule(value, version, fill):
    cfg = W.EncodingConfig(list_max_listpack_size=fill)
    assert W.encode_value(Kind.LIST, value, version=version, config=cfg) == \
        slow_lists(value, version, cfg)


def test_single_node_bound_is_taken_near_the_limit():
    """Lists just under and over one 8 KB node: the shortcut decides, the loop agrees."""
    taken = 0
    for n in range(1, 400, 7):
        value = [b"e%06d" % i for i in range(n)] + [b"t" * 40]
        taken += W._one_node_fits(value, -2)
        for version in (9, 10):
            assert W.encode_value(Kind.LIST, value, version=version) == \
                slow_lists(value, version, W.DEFAULT_CONFIG)
    assert 0 < taken < len(range(1, 400, 7))


# ---------------------------------------------------------------------------------
# Whole files: batching and the inline string path


def _records():
    """Enough keys to cross several flushes, every key shape the fast path skips too."""
    recs = []
    for i in range(6000):
        db = 0 if i < 4000 else 3
        k = i % 10
        # Some keys long and repetitive enough for LZF (over 20 bytes).
        key = b"k:%d" % i if i % 4 else b"%d:" % i + b"y" * (i % 24)
        if k < 5:
            value = [b"v%d" % i, b"%d" % i, b"-%d" % i, b"x" * (i // 10 % 70), b"0%d" % i,
                     b"-2000000%03d" % (i % 1000), b"%d" % (i * 7919)][(i // 10 + k) % 7]
            if i % 500 == 1:
                value = random.Random(i).randbytes(5000)  # big, incompressible: inline path
            recs.append(KeyRecord(db, key, RdbType.STRING, value,
                                  expire_ms=1_900_000_000_000 + i if i % 3 == 0 else None))
        elif k == 5:
            # Every 200th one bigger than a batch: written on its own, between batches.
            value = random.Random(i).randbytes(6000 if i % 200 == 5 else 300)
            recs.append(KeyRecord(db, b"%d" % i, RdbType.STRING, value, idle=i,
                                  freq=i % 300 if i % 2 else None))
        elif k == 6:
            recs.append(KeyRecord(db, key, RdbType.LIST_QUICKLIST_2,
                                  [b"item-%d" % j for j in range(i % 40)]))
        elif k == 7:
            recs.append(KeyRecord(db, key, RdbType.HASH_LISTPACK,
                                  [(b"f%d" % j, b"%d" % (j * i)) for j in range(i % 9)],
                                  expire_ms=1_900_000_000_000))
        elif k == 8:
            recs.append(KeyRecord(db, key, RdbType.ZSET_2,
                                  [(b"m%d" % j, j * 0.5 - 3) for j in range(i % 7 + 1)]))
        else:
            recs.append(KeyRecord(db, key, RdbType.SET_INTSET,
                                  [b"%d" % (j * 7) for j in range(i % 5 + 1)]))
    return recs


def _assembled(recs, version, functions=()):
    """The same file put together from RdbWriter's public, per-call methods."""
    w = W.RdbWriter(version)
    out = [w.header(), w.default_aux(ctime=1)]
    out += [w.function(code) for code in functions]
    by_db: dict[int, list] = {}
    for r in recs:
        by_db.setdefault(r.db, []).append(r)
    for db, keys in sorted(by_db.items()):
        kept = [r for r in keys if r.kind not in W._COLLECTIONS or r.value]
        out.append(w.select_db(db))
        out.append(w.resize_db(len(kept), sum(r.expire_ms is not None for r in kept)))
        out += [w.key(r) for r in kept]
    out.append(w.end())
    return b"".join(out)


@pytest.mark.parametrize("version", [7, 9, 10, 12])
@pytest.mark.parametrize("as_iterator", [False, True])
def test_batched_file_equals_per_call_assembly(tmp_path, monkeypatch, version, as_iterator):
    monkeypatch.setattr(W, "_FLUSH_BYTES", 4096)  # many flushes, some mid-database
    recs = _records()
    src = recs
    if as_iterator:
        # A stream carries its own SELECTDB/RESIZEDB hints (here: the true counts).
        src = []
        for db, part in ((0, recs[:4000]), (3, recs[4000:])):
            kept = [r for r in part if r.kind not in W._COLLECTIONS or r.value]
            src += [SelectDb(db), ResizeDb(len(kept), sum(r.expire_ms is not None for r in kept))]
            src += part
        src = iter(src)
    path = tmp_path / "out.rdb"
    report = W.write_rdb(path, src, version=version, ctime=1)
    data = path.read_bytes()
    assert len(data) > 20 * W._FLUSH_BYTES
    assert data == _assembled(recs, version)
    assert report.bytes == len(data)
    assert report.keys == sum(1 for r in recs if r.kind not in W._COLLECTIONS or r.value)
    assert int.from_bytes(data[-8:], "little") == crc64(data[:-8])
    got = [r for r in reader.iter_records(io.BytesIO(data)) if isinstance(r, KeyRecord)]
    assert digest_records(got) == digest_records(
        [r for r in recs if r.kind not in W._COLLECTIONS or r.value])


def test_functions_between_keys_keep_file_order(tmp_path, monkeypatch):
    """A record written straight away (FUNCTION2) lands after the keys batched before it."""
    monkeypatch.setattr(W, "_FLUSH_BYTES", 4096)
    recs = _records()[:3000]
    code = b"#!lua name=lib\nredis.register_function('f', function() return 1 end)"
    path = tmp_path / "f.rdb"
    W.write_rdb(path, iter(recs[:1500] + [Function(code)] + recs[1500:]), ctime=1)
    data = path.read_bytes()
    assert int.from_bytes(data[-8:], "little") == crc64(data[:-8])
    seen = [type(r).__name__ for r in reader.iter_records(io.BytesIO(data))
            if isinstance(r, (KeyRecord, Function))]
    assert seen.index("Function") == sum(1 for r in recs[:1500]
                                         if r.kind not in W._COLLECTIONS or r.value)


# ---------------------------------------------------------------------------------
# Parser batches with raw string tuples (`batched=True`)


def _compare_batched(paths, tmp_path, version) -> int:
    compared = 0
    for src in paths:
        try:
            # iter() of a RecordIterator is a plain chain of records: the record path.
            want_report = W.write_rdb(tmp_path / "a.rdb", iter(reader.iter_records(src)),
                                      version=version, lossy=True, ctime=1)
        except Exception:
            continue  # corrupt on purpose: not a writer question
        want = (tmp_path / "a.rdb").read_bytes()
        got_report = W.write_rdb(tmp_path / "b.rdb",
                                 reader.iter_records(src).batches(raw_strings=True),
                                 version=version, lossy=True, ctime=1, batched=True)
        assert (tmp_path / "b.rdb").read_bytes() == want, src
        assert got_report == want_report
        # The iterator itself is read through its batches.
        got_report = W.write_rdb(tmp_path / "c.rdb", reader.iter_records(src),
                                 version=version, lossy=True, ctime=1)
        assert (tmp_path / "c.rdb").read_bytes() == want, src
        assert got_report == want_report
        compared += 1
    return compared


@pytest.mark.parametrize("version", [7, 9, 10, 12])
def test_parser_batches_give_the_bytes_of_records(fixtures_dir, tmp_path, version):
    """Raw-string parser batches and records of every fixture: the same file."""
    assert _compare_batched(sorted((fixtures_dir / "rdb").glob("*.rdb")), tmp_path, version) >= 8


@pytest.mark.parametrize("version", [9, 10])
def test_parser_batches_of_the_corpus(corpus_dir, tmp_path, version):
    assert _compare_batched(sorted(corpus_dir.rglob("*.rdb")), tmp_path, version) > 20


def test_batched_tuples_switch_databases_and_mix_with_records(tmp_path, monkeypatch):
    monkeypatch.setattr(W, "_FLUSH_BYTES", 4096)
    recs = _records()
    as_tuples = [(r.db, r.key, r.value, r.expire_ms)
                 if r.type == RdbType.STRING and r.idle is None and r.freq is None else r
                 for r in recs]
    assert sum(type(x) is tuple for x in as_tuples) > 2000
    batches = [[SelectDb(0), ResizeDb(7, 1)]]
    batches += [as_tuples[i:i + 97] for i in range(0, len(as_tuples), 97)]
    W.write_rdb(tmp_path / "a.rdb", iter([SelectDb(0), ResizeDb(7, 1), *recs]), ctime=1)
    report = W.write_rdb(tmp_path / "b.rdb", iter(batches), ctime=1, batched=True)
    data = (tmp_path / "b.rdb").read_bytes()
    assert data == (tmp_path / "a.rdb").read_bytes()
    assert report.keys == sum(1 for r in recs if r.kind not in W._COLLECTIONS or r.value)
    got = [r for r in reader.iter_records(io.BytesIO(data)) if isinstance(r, KeyRecord)]
    assert {r.db for r in got} == {0, 3}


def test_record_iterator_is_read_through_raw_batches(fixtures_dir, tmp_path, monkeypatch):
    seen = []
    original = reader.RecordIterator.batches

    def spy(self, *, raw_strings=False):
        seen.append(raw_strings)
        return original(self, raw_strings=raw_strings)

    monkeypatch.setattr(reader.RecordIterator, "batches", spy)
    W.write_rdb(tmp_path / "a.rdb", reader.iter_records(fixtures_dir / "rdb" / "all-types.rdb"))
    assert seen == [True]
