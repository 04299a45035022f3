"""`listpack.strings` (the one-pass decoder the reader uses) against `entries`."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rdbtools.blobs import as_bytes, listpack
from rdbtools.build.listpack import build_listpack
from rdbtools.errors import CorruptError

ITEMS = st.lists(st.one_of(st.binary(max_size=70), st.integers(-(1 << 63), (1 << 63) - 1),
                           st.integers(0, 127)), max_size=30)


def _general(blob):
    try:
        return as_bytes(listpack.entries(blob))
    except CorruptError as e:
        return ("error", e.reason, e.offset)


def _fast(blob):
    try:
        return listpack.strings(blob)
    except CorruptError as e:
        return ("error", e.reason, e.offset)


@settings(max_examples=300, deadline=None)
@given(ITEMS)
def test_strings_matches_entries(items):
    blob = build_listpack(items)
    got = listpack.strings(blob)
    assert got == as_bytes(items)
    assert all(type(x) is bytes for x in got)


@settings(max_examples=400, deadline=None)
@given(ITEMS, st.data())
def test_corrupted_blobs_fail_or_decode_the_same(items, data):
    blob = bytearray(build_listpack(items))
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(blob) - 1))
        blob[i] = data.draw(st.integers(0, 255))
    assert _fast(bytes(blob)) == _general(bytes(blob))


@pytest.mark.parametrize("blob", [
    b"", b"\x07\x00\x00\x00\x00\x00",  # shorter than the header
    build_listpack([b"abc"])[:-1] + b"\x00",  # no terminator
    build_listpack([b"abc", 5])[:6] + b"\x83abc\x05\x05\x01\xff",  # bad backlen
])
def test_hostile_blobs_raise_like_entries(blob):
    with pytest.raises(CorruptError):
        listpack.strings(blob)
    assert _fast(blob) == _general(blob)
