"""Encoders against the hand-checked bytes of formats.md and against the blob readers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from rdbtools.blobs import intset as intset_r, listpack as listpack_r, ziplist as ziplist_r
from rdbtools.build import (ListpackBuilder, ZiplistBuilder, build_intset, build_listpack,
                            build_ziplist, canonical_int, listpack_entry)
from rdbtools.build.listpack import _backlen


@pytest.mark.parametrize("text, value", [
    (b"0", 0), (b"1", 1), (b"-1", -1), (b"12345", 12345),
    (b"9223372036854775807", 2**63 - 1), (b"-9223372036854775808", -2**63),
    (b"9223372036854775808", None), (b"-9223372036854775809", None),
    (b"-0", None), (b"0123", None), (b"+5", None), (b"", None), (b"-", None),
    (b" 1", None), (b"1 ", None), (b"1.0", None), (b"\xd9\xa1", None), (b"00", None),
])
def test_canonical_int(text, value):
    assert canonical_int(text) == value


def test_formats_2_10_blobs():
    # §2.10: zset listpack, hash listpack, intset, list listpack node.
    assert build_listpack([b"m", b"1.5", b"k", b"2"]) == bytes.fromhex(
        "14000000" "0400" "816d02" "83312e3504" "816b02" "0201" "ff")
    assert build_listpack([b"f", b"v"]) == bytes.fromhex("0d000000" "0200" "816602" "817602" "ff")
    assert build_intset([1, 2]) == bytes.fromhex("02000000" "02000000" "0100" "0200")
    assert build_listpack([b"a", b"1"]) == bytes.fromhex("0c000000" "0200" "816102" "0101" "ff")


def test_formats_3_2_ziplists():
    assert build_ziplist([b"one", b"1", b"two", b"2"]) == bytes.fromhex(
        "19000000" "16000000" "0400" "00036f6e65" "05f2" "020374776f" "05f3" "ff")
    assert build_ziplist([b"7"]) == bytes.fromhex("0d000000" "0a000000" "0100" "00f8" "ff")
    assert build_ziplist([]) == bytes.fromhex("0b000000" "0a000000" "0000" "ff")


def test_empty_listpack():
    assert build_listpack([]) == bytes.fromhex("07000000" "0000" "ff")


@pytest.mark.parametrize("value, encoded", [
    (0, "00"), (127, "7f"), (128, "c080"), (-1, "dfff"), (-4096, "d000"), (4095, "cfff"),
    (4096, "f10010"), (-32768, "f10080"), (32768, "f2008000"), (-8388608, "f2000080"),
    (8388608, "f300008000"), (2**31 - 1, "f3ffffff7f"), (2**31, "f40000008000000000"),
    (-2**63, "f40000000000000080"),
])
def test_listpack_int_widths(value, encoded):
    body = bytes.fromhex(encoded)
    assert listpack_entry(value) == body + bytes((len(body),))
    assert listpack_entry(str(value).encode()) == body + bytes((len(body),))


@pytest.mark.parametrize("n, encoded", [
    (0, "00"), (127, "7f"), (128, "0180"), (16382, "7ffe"), (16383, "00ffff"),
    (2097150, "7ffffe"), (2097151, "00ffffff"), (268435454, "7ffffffe"),
    (268435455, "00ffffffff"),
])
def test_backlen_thresholds(n, encoded):
    assert _backlen(n) == bytes.fromhex(encoded)


def test_listpack_string_headers():
    assert listpack_entry(b"x" * 63)[:1] == b"\xbf"
    assert listpack_entry(b"x" * 64)[:2] == b"\xe0\x40"
    assert listpack_entry(b"x" * 4095)[:2] == b"\xef\xff"
    big = listpack_entry(b"x" * 4096)
    assert big[:5] == b"\xf0\x00\x10\x00\x00"
    assert big[-2:] == _backlen(5 + 4096)
    # 100-byte string costs 2 + 100 + 1 bytes (formats.md §3.4)
    assert len(listpack_entry(b"y" * 100)) == 103


def test_builder_tracks_size_and_replace():
    lp = ListpackBuilder()
    for i in range(130):
        lp.append(i)
    assert lp.nbytes == len(lp.to_bytes())
    lp.replace(0, 100000)
    assert lp.nbytes == len(lp.to_bytes())
    assert listpack_r.entries(lp.to_bytes())[0] == 100000


def test_listpack_count_saturates():
    blob = build_listpack([b"1"] * 70000)
    assert blob[4:6] == b"\xff\xff"
    zl = ZiplistBuilder()
    for _ in range(70000):
        zl.append(b"a")
    assert zl.to_bytes()[8:10] == b"\xff\xff"


def test_ziplist_big_prevlen():
    blob = build_ziplist([b"a" * 300, b"b"])
    # second entry's prevlen is 0xFE + 4-byte length of the first (3 + 300 + 1)
    first = 1 + 2 + 300
    assert blob[10 + first: 10 + first + 5] == b"\xfe" + first.to_bytes(4, "little")
    assert int.from_bytes(blob[4:8], "little") == 10 + first


@pytest.mark.parametrize("members, width", [
    ([1, 2], 2), ([-32768, 32767], 2), ([32768], 4), ([-2**31], 4), ([2**31], 8), ([-2**63], 8),
])
def test_intset_widths(members, width):
    blob = build_intset(members)
    assert int.from_bytes(blob[:4], "little") == width
    assert intset_r.entries(blob) == sorted(members)


item = st.one_of(st.binary(max_size=80), st.integers(-2**63, 2**63 - 1).map(lambda i: str(i).encode()),
                 st.sampled_from([b"0", b"-0", b"007", b"x" * 5000]))


def _norm(entries):
    return [e if isinstance(e, bytes) else str(e).encode() for e in entries]


@settings(max_examples=60, deadline=None)
@given(st.lists(item, max_size=40))
def test_listpack_round_trip(items):
    assert _norm(listpack_r.entries(build_listpack(items))) == items


@settings(max_examples=60, deadline=None)
@given(st.lists(item, max_size=40))
def test_ziplist_round_trip(items):
    assert _norm(ziplist_r.entries(build_ziplist(items))) == items


@settings(max_examples=60, deadline=None)
@given(st.sets(st.integers(-2**63, 2**63 - 1), min_size=1, max_size=50))
def test_intset_round_trip(values):
    assert intset_r.entries(build_intset(values)) == sorted(values)
