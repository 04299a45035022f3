"""Blob decoders against hand-made bytes (worked from the format notes) and against
the writer's encoders; every header/content disagreement is rejected."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rdbtools.blobs import as_bytes, intset, listpack, ziplist, zipmap
from rdbtools.errors import CorruptError


# ------------------------------------------------------------------ test-local encoders

def lp_backlen(n: int) -> bytes:
    if n < 128:
        return bytes([n])
    out = []
    while True:
        out.append(n & 127)
        n >>= 7
        if not n:
            break
    # file order: most significant group first; every byte but the first has bit 7
    out.reverse()
    return bytes([out[0]] + [b | 0x80 for b in out[1:]])


def lp_entry(x) -> bytes:
    if isinstance(x, int):
        if 0 <= x <= 127:
            body = bytes([x])
        elif -4096 <= x <= 4095:
            v = x & 0x1FFF
            body = bytes([0xC0 | (v >> 8), v & 0xFF])
        elif -32768 <= x <= 32767:
            body = b"\xf1" + struct.pack("<h", x)
        elif -(1 << 23) <= x < (1 << 23):
            body = b"\xf2" + (x & 0xFFFFFF).to_bytes(3, "little")
        elif -(1 << 31) <= x < (1 << 31):
            body = b"\xf3" + struct.pack("<i", x)
        else:
            body = b"\xf4" + struct.pack("<q", x)
    else:
        n = len(x)
        if n < 64:
            body = bytes([0x80 | n]) + x
        elif n < 4096:
            body = bytes([0xE0 | (n >> 8), n & 0xFF]) + x
        else:
            body = b"\xf0" + struct.pack("<I", n) + x
    return body + lp_backlen(len(body))


def lp(items, count=None) -> bytes:
    body = b"".join(lp_entry(x) for x in items)
    n = len(items) if count is None else count
    return struct.pack("<IH", 6 + len(body) + 1, n) + body + b"\xff"


def zl_entry(x, prev: int, big_prevlen=False) -> bytes:
    pre = (b"\xfe" + struct.pack("<I", prev)) if (prev >= 254 or big_prevlen) else bytes([prev])
    if isinstance(x, int):
        if 0 <= x <= 12:
            enc = bytes([0xF1 + x])
        elif -128 <= x <= 127:
            enc = b"\xfe" + struct.pack("<b", x)
        elif -32768 <= x <= 32767:
            enc = b"\xc0" + struct.pack("<h", x)
        elif -(1 << 23) <= x < (1 << 23):
            enc = b"\xf0" + (x & 0xFFFFFF).to_bytes(3, "little")
        elif -(1 << 31) <= x < (1 << 31):
            enc = b"\xd0" + struct.pack("<i", x)
        else:
            enc = b"\xe0" + struct.pack("<q", x)
    else:
        n = len(x)
        if n < 64:
            enc = bytes([n]) + x
        elif n < 16384:
            enc = bytes([0x40 | (n >> 8), n & 0xFF]) + x
        else:
            enc = b"\x80" + struct.pack(">I", n) + x
    return pre + enc


def zl(items, count=None, big_first=False) -> bytes:
    body = b""
    prev = 0
    tail = 10
    for i, x in enumerate(items):
        e = zl_entry(x, prev, big_prevlen=(big_first and i == 1))
        tail = 10 + len(body)
        body += e
        prev = len(e)
    n = len(items) if count is None else count
    return struct.pack("<IIH", 10 + len(body) + 1, tail, n) + body + b"\xff"


ITEMS = [0, 1, 12, 13, 127, 128, -1, -4096, 4095, 4096, -32768, 32767, 32768, -(1 << 23),
         (1 << 23) - 1, 1 << 23, -(1 << 31), (1 << 31) - 1, 1 << 31, -(1 << 63), (1 << 63) - 1,
         b"", b"a", b"x" * 63, b"y" * 64, b"z" * 4095, b"w" * 4096, b"\x00\xff binary"]


# ------------------------------------------------------------------ listpack

def test_listpack_every_encoding():
    assert listpack.entries(lp(ITEMS)) == ITEMS
    assert as_bytes([5, -7, b"x"]) == [b"5", b"-7", b"x"]


def test_listpack_empty_and_unknown_count():
    assert listpack.entries(bytes.fromhex("070000000000ff")) == []
    assert listpack.entries(lp([b"a", 1], count=65535)) == [b"a", 1]


def test_listpack_real_bytes_from_redis():
    # formats.md 2.10: ZADD z 1.5 m 2 k, written by Redis 7.0.15
    blob = bytes.fromhex("14000000040081" "6d02" "83312e3504" "816b02" "0201" "ff")
    assert listpack.entries(blob) == [b"m", b"1.5", b"k", 2]


@pytest.mark.parametrize("mutate,match", [
    (lambda b: b[:-1], "header says"),
    (lambda b: b[:-1] + b"\x00", "end with 0xFF"),
    (lambda b: struct.pack("<I", len(b) + 1) + b[4:], "header says"),
    (lambda b: b[:4] + struct.pack("<H", 3) + b[6:], "elements"),
    (lambda b: b[:6] + b"\xf5" + b[7:], "encoding byte"),
    (lambda b: b"\x05\x00\x00\x00\x00", "shorter"),
])
def test_listpack_rejects(mutate, match):
    with pytest.raises(CorruptError, match=match):
        listpack.entries(mutate(lp([b"ab", 7])))


def test_listpack_bad_backlen_and_overrun():
    good = lp([b"ab"])                     # 82 'a' 'b' 03 ff
    bad = good[:9] + b"\x04" + good[10:]
    with pytest.raises(CorruptError, match="backlen"):
        listpack.entries(bad)
    # a 12-bit string header claiming more bytes than the blob holds
    over = struct.pack("<IH", 10, 1) + b"\xe1\x00\x00" + b"\xff"
    with pytest.raises(CorruptError, match="past the end"):
        listpack.entries(over)
    # multi-byte backlen must be canonical: rewrite a 2-byte backlen's first byte
    big = lp([b"q" * 200])
    i = len(big) - 3
    with pytest.raises(CorruptError, match="backlen"):
        listpack.entries(big[:i] + bytes([big[i] ^ 1]) + big[i + 1:])


# ------------------------------------------------------------------ ziplist

def test_ziplist_every_encoding():
    assert ziplist.entries(zl(ITEMS)) == ITEMS


def test_ziplist_real_bytes_from_redis():
    # formats.md 3.2: tests/assets/zset-ziplist.rdb
    blob = bytes.fromhex("19000000" "16000000" "0400" "0003" "6f6e65" "05f2" "0203" "74776f" "05f3" "ff")
    assert ziplist.entries(blob) == [b"one", 1, b"two", 2]
    assert ziplist.entries(bytes.fromhex("0b0000000a0000000000ff")) == []


def test_ziplist_accepts_large_prevlen_form():
    assert ziplist.entries(zl([b"a", b"b", b"c"], big_first=True)) == [b"a", b"b", b"c"]


@pytest.mark.parametrize("mutate,match", [
    (lambda b: b[:-1], "header says"),
    (lambda b: b[:4] + struct.pack("<I", 10) + b[8:], "tail"),
    (lambda b: b[:8] + struct.pack("<H", 5) + b[10:], "entries"),
    (lambda b: b[:10] + b"\x05" + b[11:], "prevlen"),
    (lambda b: b[:-1] + b"\x00", "end with 0xFF"),
])
def test_ziplist_rejects(mutate, match):
    with pytest.raises(CorruptError, match=match):
        ziplist.entries(mutate(zl([b"ab", 7, b"cd"])))


def test_ziplist_unknown_count_and_bad_encoding():
    assert ziplist.entries(zl([b"a", 2], count=65535)) == [b"a", 2]
    blob = bytearray(zl([b"ab"]))
    blob[11] = 0x90                        # 10xxxxxx other than 0x80
    with pytest.raises(CorruptError, match="encoding"):
        ziplist.entries(bytes(blob))


# ------------------------------------------------------------------ intset / zipmap

def test_intset_widths():
    assert intset.entries(bytes.fromhex("02000000020000000100" "0200")) == [1, 2]
    assert intset.entries(struct.pack("<II2i", 4, 2, -70000, 70000)) == [-70000, 70000]
    assert intset.entries(struct.pack("<II1q", 8, 1, -(1 << 40))) == [-(1 << 40)]


@pytest.mark.parametrize("blob,match", [
    (struct.pack("<II", 3, 1) + b"\x00" * 3, "width"),
    (struct.pack("<II", 2, 3) + b"\x00" * 4, "header says"),
    (struct.pack("<II", 2, 1 << 30) + b"\x00" * 4, "header says"),
    (b"\x02\x00", "shorter"),
])
def test_intset_rejects(blob, match):
    with pytest.raises(CorruptError, match=match):
        intset.entries(blob)


def test_zipmap_real_and_long_lengths():
    # formats.md 3.1: tests/assets/hash-zipmap.rdb
    blob = bytes.fromhex("02" "02" "6631" "02" "00" "7631" "02" "6632" "02" "00" "7632" "ff")
    assert zipmap.pairs(blob) == [(b"f1", b"v1"), (b"f2", b"v2")]
    long = b"v" * 300
    blob = b"\x01" + b"\x01k" + b"\xfe" + struct.pack("<I", 300) + b"\x02" + long + b"ab" + b"\xff"
    assert zipmap.pairs(blob) == [(b"k", long)]
    assert zipmap.pairs(b"\xfe\x01k\x01\x00v\xff") == [(b"k", b"v")]   # 254 = count unknown


@pytest.mark.parametrize("blob,match", [
    (b"\x02\x01k\x01\x00v\xff", "header says"),
    (b"\x01\x01k\x05\x00v\xff", "past the end"),
    (b"\x01\x01k\x01\x00v\x00", "end with 0xFF"),
    (b"\x01\x01k\x01\x00v\xff\xff", "before the end"),
])
def test_zipmap_rejects(blob, match):
    with pytest.raises(CorruptError, match=match):
        zipmap.pairs(blob)


# ------------------------------------------------------------------ property tests

_item = st.one_of(st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1),
                  st.binary(max_size=300))


@settings(max_examples=200, deadline=None)
@given(st.lists(_item, max_size=40))
def test_listpack_roundtrip_property(items):
    assert listpack.entries(lp(items)) == items


@settings(max_examples=200, deadline=None)
@given(st.lists(_item, max_size=40))
def test_ziplist_roundtrip_property(items):
    assert ziplist.entries(zl(items)) == items


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_decoders_raise_only_corrupt_on_garbage(blob):
    for dec in (listpack.entries, ziplist.entries, intset.entries, zipmap.pairs):
        try:
            dec(blob)
        except CorruptError:
            pass


def test_writer_encoders_decode_back():
    """The writer's encoders and these decoders agree (integers come back canonical)."""
    build = pytest.importorskip("rdbtools.build")
    from rdbtools.build.listpack import build_listpack
    from rdbtools.build.ziplist import build_ziplist
    from rdbtools.build.intset import build_intset
    items = [b"a", b"12", b"-5", b"x" * 5000, b"9223372036854775807", b"007"]
    want = [b"a", 12, -5, b"x" * 5000, (1 << 63) - 1, b"007"]
    assert listpack.entries(build_listpack(items)) == want
    assert ziplist.entries(build_ziplist(items)) == want
    assert intset.entries(build_intset([3, 1, -70000])) == [-70000, 1, 3]
    assert build is not None
