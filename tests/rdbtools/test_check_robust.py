"""check_rdb on hostile input: never an exception, never a hang, errors well formed."""

from __future__ import annotations

import random
import struct
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from rdbtools._crc import crc64
from rdbtools.check import check_rdb
from rdbtools.errors import FormatError, TruncatedError
from tests.rdbtools import check_craft as craft

ROOT = Path(__file__).resolve().parents[2]
SEEDS = [p.read_bytes() for p in sorted((ROOT / "fixtures" / "rdb").glob("*.rdb"))]
SEEDS += [d for d in craft.CASES.values()]


def check(data: bytes):
    lines: list[str] = []
    started = time.monotonic()
    result = check_rdb(data, name="fuzz.rdb", out=lines.append)
    assert time.monotonic() - started < 5
    assert lines and lines[0] == "[offset 0] Checking RDB file fuzz.rdb"
    if result.ok:
        assert result.error is None and result.end_offset <= len(data)
    else:
        assert isinstance(result.error, FormatError)
        assert 0 <= result.error.offset <= len(data)
        assert "--- RDB ERROR DETECTED ---" in lines or result.open_failed
    return result


def test_every_prefix_of_a_fixture_is_truncated():
    data = (ROOT / "fixtures" / "rdb" / "lfu.rdb").read_bytes()
    for cut in range(len(data)):
        result = check(data[:cut])
        assert isinstance(result.error, TruncatedError), cut
        assert result.error.offset <= cut


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(len(SEEDS))), st.lists(
    st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), min_size=1, max_size=6),
    st.booleans())
def test_mutations(seed_index, edits, fix_crc):
    data = bytearray(SEEDS[seed_index])
    for pos, value in edits:
        data[9 + pos % max(len(data) - 9, 1)] = value
    if fix_crc and len(data) > 17:
        data[-8:] = struct.pack("<Q", crc64(bytes(data[:-8])))
    check(bytes(data))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_after_a_header(tail):
    check(b"REDIS0010" + tail)
    check(b"REDIS0012" + tail)
    check(b"VALKEY080" + tail)


def test_huge_counts_in_every_collection_type():
    rnd = random.Random(7)
    for rtype in (1, 2, 3, 4, 5, 14, 15, 18, 19, 21, 24):
        for size in (1 << 31, (1 << 63) - 1, rnd.randrange(1 << 40)):
            version = 12 if rtype > 19 else 10
            body = craft.key(rtype, b"k", b"\x81" + struct.pack(">Q", size) + b"\x00" * 20)
            result = check(craft.rdb(body, version=version))
            assert not result.ok


def test_read_errors_are_reported_not_raised():
    import io

    class Failing(io.RawIOBase):
        def __init__(self):
            self.calls = 0

        def readable(self):
            return True

        def read(self, n=-1):
            self.calls += 1
            if self.calls > 1:
                raise OSError(5, "Input/output error")
            return b"REDIS0010\xfa"

    lines: list[str] = []
    result = check_rdb(Failing(), name="io.rdb", out=lines.append)
    assert not result.ok and "Input/output error" in result.detail
    assert "[offset 10] Unexpected EOF reading RDB file" in lines
