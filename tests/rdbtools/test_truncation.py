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
        sweep(path.read_bytes(), dense_limit=2048)


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
    for path in paths:
        data = path.read_bytes()
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
