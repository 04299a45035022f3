"""`RdbParser.over` + `stop_at`: a span of a file parsed on its own gives exactly the
records the whole-file parse gives for that span."""

from __future__ import annotations

import dataclasses

import pytest

from rdbtools.errors import FormatError
from rdbtools.parser import RdbParser
from rdbtools.reader import iter_records
from rdbtools.records import End, Header, SelectDb


def _records(parser) -> list:
    out = []
    while True:
        recs = parser.next_events()
        if not recs:
            if parser.done or parser.stop_at is None or parser.offset >= parser.stop_at:
                return out
            continue
        out.extend(recs)


def _comparable(rec):
    if isinstance(rec, End):
        return ("end", rec.offset, rec.end, rec.checksum)   # a span does not compute the CRC
    return rec


def _files(fixtures_dir, corpus_dir):
    return sorted(fixtures_dir.glob("rdb/*.rdb")) + sorted(corpus_dir.rglob("*.rdb"))


def test_every_span_of_every_file(fixtures_dir, corpus_dir):
    checked = 0
    for path in _files(fixtures_dir, corpus_dir):
        data = path.read_bytes()
        try:
            whole = list(iter_records(data))
        except FormatError:
            continue
        header = whole[0]
        assert isinstance(header, Header)
        body = whole[1:]
        db = 0
        dbs = []
        for rec in body:
            dbs.append(db)             # the database in force where rec starts
            if isinstance(rec, SelectDb):
                db = rec.db
        step = max(1, len(body) // 12)
        for i in range(0, len(body), step):
            for j in (i + 1, i + 5, len(body)):
                j = min(j, len(body))
                stop = body[j].offset if j < len(body) else len(data) + 1
                parser = RdbParser.over(data, body[i].offset, header=header, db=dbs[i],
                                        verify_checksum=False)
                parser.stop_at = stop
                got = [_comparable(r) for r in _records(parser)]
                want = [_comparable(r) for r in body[i:j]]
                assert got == want, (path, i, j)
                assert parser.offset == (body[j - 1].end if j else body[i].offset)
        checked += 1
    assert checked > 20


def test_a_whole_file_parser_verifies_the_checksum(fixtures_dir):
    data = bytearray((fixtures_dir / "rdb" / "all-types.rdb").read_bytes())
    assert [_comparable(r) for r in _records(RdbParser.over(bytes(data)))] == \
        [_comparable(r) for r in iter_records(bytes(data))]
    data[-1] ^= 1
    with pytest.raises(FormatError):
        _records(RdbParser.over(bytes(data)))


def test_stop_at_a_record_boundary_reads_nothing_past_it(fixtures_dir):
    data = (fixtures_dir / "rdb" / "all-types.rdb").read_bytes()
    whole = list(iter_records(data))
    cut = whole[len(whole) // 2]
    parser = RdbParser.over(data)
    parser.stop_at = cut.offset
    got = _records(parser)
    assert [dataclasses.astuple(r) for r in got] == \
        [dataclasses.astuple(r) for r in whole if r.offset < cut.offset]
    assert parser.offset == cut.offset and not parser.done


def test_a_span_needs_the_header():
    with pytest.raises(ValueError):
        RdbParser.over(b"REDIS0010" + b"\x00" * 20, 9)
