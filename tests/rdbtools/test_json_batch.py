"""The batch path of `dump_records` (parser batches, plain strings as tuples, text built
by C-level maps) must write exactly what the record-by-record path writes."""

from __future__ import annotations

import io
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rdbtools.constants import RdbType
from rdbtools.reader import RecordIterator, iter_records
from rdbtools.records import KeyRecord
from rdbtools.render import dump_records
from rdbtools.writer import write_rdb


def _both(path, fmt, **kw):
    """(batch path output, record-by-record output) for one file."""
    fast, slow = io.BytesIO(), io.BytesIO()
    recs = iter_records(path)
    assert isinstance(recs, RecordIterator)
    dump_records(recs, fast, fmt, **kw)
    # A plain iterator has no `batches`: dump_records falls back to one record at a time.
    dump_records(iter(list(iter_records(path))), slow, fmt, **kw)
    return fast.getvalue(), slow.getvalue()


def _keys(n_strings=3000, expires=True, dbs=(1, 3), binary=True):
    """Every shape the fast forms special-case, among many plain strings."""
    recs = []
    for i in range(n_strings):
        recs.append(KeyRecord(0, b"key:%d" % i, RdbType.STRING, b"value:%d\x00" % i))
        if expires and i % 97 == 0:
            recs.append(KeyRecord(0, b"exp:%d" % i, RdbType.STRING, b"v", expire_ms=1 << 45))
        if binary and i % 101 == 0:
            recs.append(KeyRecord(0, b"bin:\xff%d" % i, RdbType.STRING, b"\xfe\x00\"\\"))
            recs.append(KeyRecord(0, b"binv:%d" % i, RdbType.STRING, b"ok\xc3"))
        if i % 89 == 0:
            recs.append(KeyRecord(0, b"list:%d" % i, RdbType.LIST_QUICKLIST_2,
                                  [b"a", b"\xc3\xa9", b"12", b"x" * 100]))
            recs.append(KeyRecord(0, b"set:%d" % i, RdbType.SET, [b"1", b"2", b"-3"]))
            recs.append(KeyRecord(0, b"hash:%d" % i, RdbType.HASH,
                                  [(b"f", b"v"), (b"\"q\"", b"\n\t")]))
            recs.append(KeyRecord(0, b"zset:%d" % i, RdbType.ZSET_2,
                                  [(b"m", 0.0), (b"n", -1.5e300), (b"o", 1 / 3)]))
            if binary:  # values only the general path writes (in the same batch)
                recs.append(KeyRecord(0, b"zneg:%d" % i, RdbType.ZSET_2, [(b"m", -0.0)]))
                recs.append(KeyRecord(0, b"zinf:%d" % i, RdbType.ZSET_2,
                                      [(b"a", -math.inf), (b"b", math.inf)]))
                recs.append(KeyRecord(0, b"lbin:%d" % i, RdbType.LIST_QUICKLIST_2,
                                      [b"a", b"\xff"]))
            recs.append(KeyRecord(0, b"long:%d" % i, RdbType.STRING, b"y" * 300))
        if i % 500 == 0:
            recs.append(KeyRecord(0, b"hfe:%d" % i, RdbType.HASH,
                                  [(b"f", b"v"), (b"g", b"w")], field_expires={b"g": 1 << 45}))
    for db in dbs:
        for i in range(50):
            recs.append(KeyRecord(db, b"k%d" % i, RdbType.STRING, b"%d" % (i * 1000)))
    return recs


@pytest.fixture(scope="module", params=["mixed", "no-expires", "one-db", "utf8"])
def crafted(tmp_path_factory, request):
    path = tmp_path_factory.mktemp("batch") / "crafted.rdb"
    kw = {"mixed": {}, "no-expires": {"expires": False},
          "one-db": {"expires": False, "dbs": ()},
          "utf8": {"expires": False, "dbs": (), "binary": False}}[request.param]
    write_rdb(path, _keys(**kw), version=12)
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_batch_path_writes_the_same_text(crafted, fmt):
    fast, slow = _both(crafted, fmt)
    assert fast == slow
    assert fast.count(b'"type":"string"') > 3000


def test_batch_path_with_a_filter(crafted):
    from rdbtools.filters import KeyFilter

    kf = KeyFilter.build(key=rb"^(key:1|hash|zset)")
    fast, slow = _both(crafted, "jsonl", key_filter=kf)
    assert fast == slow
    assert b'"key":"key:2' not in fast and b'"key":"key:1' in fast


def test_raw_tuples_carry_what_the_records_carry(crafted):
    records = [r for r in iter_records(crafted) if type(r) is KeyRecord]
    raw = []
    for batch in iter_records(crafted).batches(raw_strings=True):
        for r in batch:
            if type(r) is tuple:
                raw.append(r)
            elif type(r) is KeyRecord:
                raw.append((r.db, r.key, r.value, r.expire_ms) if r.type == RdbType.STRING
                           else r)
    assert any(type(r) is tuple for r in raw)
    want = [(r.db, r.key, r.value, r.expire_ms) if r.type == RdbType.STRING else r
            for r in records]
    assert raw == want


def test_corpus_files_render_the_same(corpus_dir):
    files = sorted((corpus_dir / "versions").glob("*/dump.rdb"))
    if not files:
        pytest.skip("no versioned dumps in the corpus")
    for path in files:
        fast, slow = _both(path, "jsonl")
        assert fast == slow, path


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.binary(min_size=1, max_size=70), st.binary(max_size=70),
                          st.one_of(st.none(), st.integers(0, 1 << 50))),
                min_size=1, max_size=300, unique_by=lambda t: t[0]))
def test_random_strings(tmp_path, items):
    path = tmp_path / "r.rdb"
    write_rdb(path, [KeyRecord(0, k, RdbType.STRING, v, expire_ms=e) for k, v, e in items])
    fast, slow = _both(path, "jsonl")
    assert fast == slow
