"""The parser's fast paths (short keys, bounds-check-free reads near the buffer end)
must give the same records whatever the chunking, and exactly what was written."""

from __future__ import annotations

import pytest

from rdbtools.constants import RdbType
from rdbtools.errors import TruncatedError
from rdbtools.reader import iter_records
from rdbtools.records import KeyRecord
from rdbtools.writer import write_rdb


def _keys():
    recs = []
    for i in range(1500):
        form = i % 7
        if form == 0:
            v = b"%d" % (i * 7919 - 5000)          # integer encodings
        elif form == 1:
            v = b"z" * (40 + i % 300)              # long, LZF-compressible
        elif form == 2:
            v = bytes(range(i % 256)) * 2          # long, not compressible
        else:
            v = b"v%d" % i                          # short raw
        key = (b"k" * (i % 90)) + b":%d" % i       # some keys past the 63-byte form
        exp = (1 << 44) + i if i % 5 == 0 else None
        recs.append(KeyRecord(i % 3, key, RdbType.STRING, v, expire_ms=exp))
        if i % 11 == 0:
            recs.append(KeyRecord(i % 3, b"h:%d" % i, RdbType.HASH,
                                  [(b"f%d" % j, b"%d" % j) for j in range(i % 9 + 1)]))
            recs.append(KeyRecord(i % 3, b"l:%d" % i, RdbType.LIST_QUICKLIST_2,
                                  [b"x" * (j * 7) for j in range(1, i % 12 + 2)]))
            recs.append(KeyRecord(i % 3, b"s:%d" % i, RdbType.SET, [b"%d" % j for j in range(5)]))
            recs.append(KeyRecord(i % 3, b"z:%d" % i, RdbType.ZSET_2,
                                  [(b"m%d" % j, j / 3) for j in range(4)]))
    return recs


@pytest.fixture(scope="module")
def rdb(tmp_path_factory):
    path = tmp_path_factory.mktemp("fast") / "fast.rdb"
    written = _keys()
    write_rdb(path, written)
    return path, written


def _logical(rec):
    return (rec.db, rec.key, rec.kind, rec.value, rec.expire_ms)


def test_records_are_what_was_written(rdb):
    path, written = rdb
    got = [r for r in iter_records(path) if type(r) is KeyRecord]
    assert sorted(map(_logical, got)) == sorted(map(_logical, written))


@pytest.mark.parametrize("chunk", [1, 7, 64, 139, 1000, 1 << 16])
def test_chunking_does_not_change_records(rdb, chunk):
    path, _ = rdb
    data = path.read_bytes()
    whole = list(iter_records(data))
    with open(path, "rb") as f:
        assert list(iter_records(f, chunk_size=chunk)) == whole
    prev_end = None
    for rec in whole:
        if prev_end is not None:
            assert rec.offset == prev_end
        prev_end = rec.end
    assert prev_end == len(data)


def test_truncated_anywhere_never_yields_a_wrong_record(rdb):
    path, _ = rdb
    data = path.read_bytes()
    whole = list(iter_records(data))
    for cut in range(1, len(data), max(1, len(data) // 300)):
        got = []
        with pytest.raises(TruncatedError) as info:
            for rec in iter_records(data[:cut]):
                got.append(rec)
        assert got == whole[:len(got)]
        assert info.value.valid_up_to == (got[-1].end if got else 0)
