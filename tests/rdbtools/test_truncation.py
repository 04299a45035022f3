"""Cut every fixture at every offset: the parser either finishes (cut after the
footer) or raises TruncatedError whose valid_up_to is the end of the last complete
record, never anything else. Random byte flips raise only FormatError subclasses,
quickly."""

from __future__ import annotations

import random
import signal
import time
from contextlib import contextmanager

import pytest

from rdbtools.errors import FormatError, TruncatedError
from rdbtools.parser import DONE, NEED_DATA, RdbParser
from rdbtools.records import End


def _corpus_small(corpus_dir):
    files = sorted(p for p in corpus_dir.rglob("*.rdb") if p.stat().st_size < 40_000
                   and "corrupt_ziplist" not in p.name)
    return files


def _all_records(data: bytes) -> list:
    p = RdbParser()
    p.feed(data)
    p.feed_eof()
    return list(p)


def _cuts(start: int, end: int, dense_limit: int | None):
    if dense_limit is None or end - start <= dense_limit:
        return range(start, end)
    edge = dense_limit // 2
    return sorted(set(range(start, start + edge)) | set(range(end - edge, end))
                  | set(range(start, end, 61)))


def sweep(data: bytes, dense_limit: int | None = None) -> int:
    """Check every cut (inside records longer than `dense_limit`: both ends densely,
    the middle at a stride); returns how many cuts were checked."""
    recs = _all_records(data)
    assert isinstance(recs[-1], End)
    base = RdbParser()
    fed = 0
    checked = 0
    for rec in recs:
        # bring `base` to the record start: every earlier record comes out complete
        base.feed(data[fed:rec.offset])
        fed = rec.offset
        while True:
            ev = base.next_event()
            if ev is NEED_DATA:
                break
            assert ev is not DONE
        assert base.offset == rec.offset
        for cut in _cuts(rec.offset, rec.end, dense_limit):
            branch = base.fork()
            branch.feed(data[rec.offset:cut])
            branch.feed_eof()
            with pytest.raises(TruncatedError) as ei:
                while branch.next_event() is not DONE:
                    pass
            e = ei.value
            assert e.valid_up_to == rec.offset <= cut, (cut, e)
            assert e.offset is not None and e.phase
            checked += 1
    # any cut after the footer parses completely
    for cut in (recs[-1].end, len(data)):
        assert _all_records(data[:cut]) == recs
    return checked


def test_truncation_every_offset_fixtures(fixtures_dir):
    paths = sorted((fixtures_dir / "rdb").glob("*.rdb"))
    if not paths:
        pytest.skip("fixtures/rdb is empty")
    total = 0
    for path in paths:
        data = path.read_bytes()
        total += sweep(data)
    assert total >= sum(p.stat().st_size for p in paths) - 9 * len(paths)


def test_truncation_every_offset_corpus(corpus_dir):
    for path in _corpus_small(corpus_dir):
        sweep(path.read_bytes(), dense_limit=256)


def test_truncation_plain_prefix_matches_sweep(fixtures_dir):
    """The fork-based sweep agrees with naive fresh parses of a prefix."""
    path = fixtures_dir / "rdb" / "lru.rdb"
    if not path.exists():
        pytest.skip("fixture missing")
    data = path.read_bytes()
    ends = [0] + [r.end for r in _all_records(data)]
    for cut in range(0, len(data), 37):
        p = RdbParser()
        p.feed(data[:cut])
        p.feed_eof()
        if cut >= ends[-1]:
            list(p)
            continue
        with pytest.raises(TruncatedError) as ei:
            list(p)
        assert ei.value.valid_up_to == max(e for e in ends if e <= cut)


@contextmanager
def time_limit(seconds: float):
    def boom(signum, frame):
        raise TimeoutError(f"parse took more than {seconds}s")
    old = signal.signal(signal.SIGALRM, boom)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def parse_mutant(data: bytes, verify: bool) -> None:
    p = RdbParser(verify_checksum=verify)
    p.feed(data)
    p.feed_eof()
    for _ in p:
        pass


def _flip_cases(data: bytes, rng: random.Random, n: int):
    for _ in range(n):
        m = bytearray(data)
        for _ in range(rng.choice([1, 1, 1, 2, 4])):
            i = rng.randrange(len(m))
            m[i] = rng.choice([m[i] ^ (1 << rng.randrange(8)), rng.randrange(256), 0, 0xFF, 0x80, 0xC3])
        yield bytes(m)


def test_random_byte_flips(fixtures_dir, corpus_dir):
    rng = random.Random(20261121)
    paths = sorted((fixtures_dir / "rdb").glob("*.rdb")) + _corpus_small(corpus_dir)[:20]
    started = time.monotonic()
    cases = 0
    for data in [p.read_bytes() for p in paths] + _exotic_files():
        for mutant in _flip_cases(data, rng, 150):
            for verify in (False, True):
                t0 = time.monotonic()
                try:
                    with time_limit(5):
                        parse_mutant(mutant, verify)
                except FormatError:
                    pass
                assert time.monotonic() - t0 < 5
                cases += 1
    assert cases > 0 and time.monotonic() - started < 120


def _exotic_files() -> list[bytes]:
    """Hand-made files with what the real fixtures lack: module values and aux,
    functions of both kinds, hash field TTL types, v1 streams with groups, zipmaps,
    quicklist v1, key metadata, slot info, Valkey's slot import and hash-2."""
    import struct

    from rdbtools.records import module_id
    from tests.rdbtools.test_blobs import lp, zl
    from tests.rdbtools.test_parser import _len, _s, _stream_node, rdb

    mid = module_id("ReJSON-RL", 3)
    mod = b"\x02\x2a\x05" + _s(b"str") + b"\x03" + struct.pack("<f", 1.5) + b"\x04" + struct.pack("<d", 2.5) + b"\x00"
    node = _stream_node(1000, [(1000, 0, [(b"f", b"v")]), (1001, 0, [(b"f", b"w")]),
                               (1005, 0, [(b"g", b"x")])], deleted={1})
    pel = struct.pack(">QQ", 1000, 0)
    stream_v1 = (b"\x0f" + _s(b"s1") + _len(1) + _s(struct.pack(">QQ", 1000, 0)) + _s(node)
                 + _len(2) + _len(1005) + _len(0)
                 + _len(1) + _s(b"grp") + _len(1000) + _len(0) + _len(1) + pel + struct.pack("<q", 7)
                 + _len(1) + _len(1) + _s(b"alice") + struct.pack("<q", 8) + _len(1) + pel)
    redis = (b"\xfa" + _s(b"redis-ver") + _s(b"7.4.1")
             + b"\xf7" + _len(mid) + b"\x02\x01" + mod
             + b"\xf5" + _s(b"#!lua name=a\nreturn 1")
             + b"\xf6" + _s(b"b") + _s(b"LUA") + b"\x01" + _s(b"d") + _s(b"return 2")
             + b"\xfe\x02\xfb\x05\x01\xf4\x07\x03\x01"
             + b"\xfd" + struct.pack("<i", 1700000000) + b"\x07" + _s(b"m") + _len(mid) + mod
             + b"\xf8\x40\x80" + b"\x09" + _s(b"zm") + _s(b"\x01\x01k\x01\x00v\xff")
             + b"\xf9\x03" + b"\x0e" + _s(b"q1") + _len(2) + _s(zl([b"a", 5])) + _s(zl([b"b" * 70]))
             + b"\x18" + _s(b"h24") + struct.pack("<q", 1000) + _len(2)
             + _len(6) + _s(b"a") + _s(b"1") + _len(0) + _s(b"b") + _s(b"2")
             + b"\x19" + _s(b"h25") + struct.pack("<q", 5) + _s(lp([b"a", b"1", 5, b"b", 2, 0]))
             + b"\x16" + _s(b"h22") + _len(1) + _len(99) + _s(b"c") + _s(b"3")
             + b"\xf3" + _len(1) + b"\x01\x02\x03\x04" + b"\x02\x05\x00" + b"\x00" + _s(b"km") + _s(b"v")
             + stream_v1
             + b"\x03" + _s(b"z3") + _len(2) + _s(b"a") + b"\x031.5" + _s(b"b") + b"\xfe"
             + b"\x0b" + _s(b"is") + _s(struct.pack("<II2q", 8, 2, -(1 << 40), 1 << 40)))
    valkey = (b"\xfa" + _s(b"valkey-ver") + _s(b"9.0.0")
              + b"\xf3" + _s(b"j" * 40) + _len(1) + _len(0) + _len(100)
              + b"\x16" + _s(b"h") + _len(2) + _s(b"a") + _s(b"1") + struct.pack("<q", 77)
              + _s(b"b") + _s(b"2") + struct.pack("<q", -1))
    return [rdb(redis, 12), rdb(redis, 13), rdb(valkey, magic=b"VALKEY080"),
            rdb(b"\x00" + _s(b"k") + _s(b"v") + b"\x02" + _s(b"s") + _len(2) + _s(b"a") + _s(b"b"), 4)]


def test_truncation_every_offset_exotic():
    for data in _exotic_files():
        recs = _all_records(data)
        assert sum(1 for r in recs if r.__class__.__name__ == "KeyRecord") >= 1
        sweep(data)


@pytest.mark.slow
def test_random_byte_flips_long(fixtures_dir, corpus_dir):
    """The flip test at scale: every fixture, corpus file and hand-made file, many
    more mutants (opt in with -m slow)."""
    rng = random.Random(7)
    datas = ([p.read_bytes() for p in sorted((fixtures_dir / "rdb").glob("*.rdb"))]
             + [p.read_bytes() for p in _corpus_small(corpus_dir)] + _exotic_files())
    for data in datas:
        for mutant in _flip_cases(data, rng, 2000):
            with time_limit(5):
                try:
                    parse_mutant(mutant, False)
                except FormatError:
                    pass


@pytest.mark.slow
def test_truncation_every_offset_corpus_dense(corpus_dir):
    for path in _corpus_small(corpus_dir):
        sweep(path.read_bytes())
