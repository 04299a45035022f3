"""DEBUG DIGEST / DIGEST-VALUE against the Redis 7.0.15 vectors of formats.md §7.5."""

from __future__ import annotations

import ctypes
import ctypes.util
import math

import pytest
from hypothesis import given, settings, strategies as st

from rdbtools.constants import Kind, RdbType
from rdbtools.digest import (
    DatasetDigest, ZERO_DIGEST, digest_records, format_score, loaded_value, value_digest,
)
from rdbtools.records import KeyRecord, Stream, StreamEntry

S, L, SET, Z, H, X = Kind.STRING, Kind.LIST, Kind.SET, Kind.ZSET, Kind.HASH, Kind.STREAM


def stream(*entries) -> Stream:
    ents = tuple(StreamEntry(i, tuple(f)) for i, f in entries)
    return Stream(entries=ents, length=len(ents), last_id=ents[-1].id if ents else (0, 0))


STREAM_H = stream(((1, 1), [(b"f", b"v")]), ((2, 0), [(b"f2", b"v2")]))
STREAM_N = stream(((1, 1), [(b"f", b"v")]), ((3, 0), [(b"a", b"b")]))

# (name, [(db, key, kind, value, has_expire)], expected DEBUG DIGEST)
VECTORS = [
    ("empty", [], ZERO_DIGEST),
    ("A", [(0, b"foo", S, b"bar", False)], "d2ab4820c1be0580ea28efbfe8bfa1dc05bb802a"),
    ("B", [(0, b"n", S, b"12345", False)], "b5c1d2e75e149529637440c6cd7a1e5c770fb1a3"),
    ("C", [(0, b"mylist", L, [b"a", b"b", b"c"], False)],
     "ef8295b9815e43c20010060a539a7988a6894d71"),
    ("D", [(0, b"s", SET, [b"1", b"2", b"3"], False)], "5db52aea846889b51b38382f9a31b671754d2571"),
    ("E", [(0, b"s", SET, [b"c", b"a", b"b"], False)], "962701ae75fa060ef4093971aa5f47591b4473d7"),
    ("F", [(0, b"z", Z, [(b"a", 1.0), (b"b", 2.5)], False)],
     "7c1c3f40dd4ce30e03c0de5b9ce0edbb4111505f"),
    ("G", [(0, b"h", H, [(b"f1", b"v1"), (b"f2", b"v2")], False)],
     "2c3d033be06bb2b1d8c78bae1ceca92ba3e551ae"),
    ("H", [(0, b"st", X, STREAM_H, False)], "fa23d9e259f418cc00c12b47847632f143c6cc1d"),
    ("I", [(0, b"foo", S, b"bar", True)], "8b0c6d22108f15467022bc27c005787072eb4c4b"),
    ("J", [(0, b"foo", S, b"bar", False), (1, b"foo", S, b"bar", False)],
     "7e443c2bc3bfcaf4ef6f488ab938c507dfb85eb8"),
    ("K", [(1, b"foo", S, b"bar", False)], "ca1ca3c163c25b0650d3afe1417fd35e01ab7498"),
    ("L", [(0, b"z", Z, [(b"x", 0.1), (b"y", -math.inf), (b"w", math.inf)], False)],
     "ea0955d34a69e9fdf2835ad4135efb11bbcc1f27"),
    ("N", [(0, b"st", X, STREAM_N, False)], "4ee65caa0edd7b9ad06e4835fc9b048cd34bea18"),
    ("O1", [(0, b"z", Z, [(b"a", 3.0)], False)], "f6a2a283a7c7aa57f6a6f28a4b9ffc7da0e5e8fc"),
    ("O2", [(0, b"z", Z, [(b"a", 1e20)], False)], "1def33fee1b1c496a09ca9b6779eb32d949ed38c"),
    ("O3", [(0, b"z", Z, [(b"a", 0.0)], False)], "0367780cb5fb00d3b92714cf0415f857100b25f2"),
    ("O4", [(0, b"z", Z, [(b"a", 1.5e-7)], False)], "5da8f5fef2d23ed61f3074cf0dcd4c5e5324b03c"),
    ("O5", [(0, b"z", Z, [(b"a", 0.1)], False)], "0c28187f8992cf2cb1e5b823521b468cb3b37674"),
    ("O6", [(0, b"z", Z, [(b"a", 123456789.123)], False)],
     "97e8f6e4ef6fe3c4190663c24c61982d63c97d73"),
    ("O7", [(0, b"z", Z, [(b"a", 1e300)], False)], "5a782136db5173455b85efac229d5f3033f3832a"),
    ("P", [(0, b"l", L, [b"1", b"-2", b"300", b"abc", b""], False)],
     "968d2f45b98653d44b0330c90e1f2a8731728262"),
    ("Q", [(0, b"", S, b"", False)], "fb9ecd0df494522427a790267e98f20cd199499b"),
    ("R", [(3, b"k", S, b"v", True), (3, b"h", H, [(b"a", b"1")], False)],
     "c0f90936fb13824bd1e1af8c3097123bfa9d5161"),
    ("S", [(0, b"big", Z, [(b"m%d" % i, float(i)) for i in range(1, 201)], False)],
     "c330b2e3b4dbbd091ca9829d053dac17c8361a52"),
    ("T", [(0, b"a", S, b"b", False)], "479783d7290f02957dfbe3408a858ba13eea1709"),
]

COMPOSITE_DB0 = [
    (b"str", S, b"hello", False, "36b23a1456b2dce2c3ed252c456761301dba8060"),
    (b"int", S, b"-42", False, "ce70a5674f228eaf3e2c2d01f6152e36f7e792a7"),
    (b"list", L, [b"one", b"2", b"three", b"-4"], False,
     "876b90e66d27e1b6160093d4b4e17bab97927b94"),
    (b"iset", SET, [b"-3", b"5", b"100000"], False, "80e31e1f9dfecfa1b8306fa6a1eb48ce8d81abc3"),
    (b"sset", SET, [b"x", b"y", b"z"], False, "0fd9977d57e46b1b9b87439f5ac5b338416ccc24"),
    (b"zs", Z, [(b"c", -1.0), (b"a", 1.0), (b"b", 2.5)], False,
     "fe0eb749d5c03c2bcdb137b95a66bf2ebeab26eb"),
    (b"hs", H, [(b"name", b"redis"), (b"ver", b"7"), (b"pi", b"3.14")], False,
     "d4a8341f86e05204d87369f528dde2e339064531"),
    (b"strm", X, stream(((1700000000000, 0), [(b"temp", b"20"), (b"hum", b"50")]),
                        ((1700000000001, 0), [(b"temp", b"21"), (b"hum", b"51")])), False,
     "ad737dc7440d55df1ee8a810f6c4c43b98c502f4"),
    (b"withttl", S, b"v", True, "311b17018163335616e089f6b951c82c477335ac"),
]


@pytest.mark.parametrize("name,keys,expected", VECTORS, ids=[v[0] for v in VECTORS])
def test_debug_digest_vectors(name, keys, expected):
    acc = DatasetDigest()
    for db, key, kind, value, has_expire in keys:
        acc.add(db, key, kind, value, has_expire)
    assert acc.hexdigest() == expected


def test_vector_M_groups_do_not_count():
    groups_stream = Stream(entries=STREAM_H.entries, length=2, last_id=(2, 0),
                           groups=("not inspected by the digest",))
    acc = DatasetDigest()
    acc.add(0, b"st", X, groups_stream, False)
    assert acc.hexdigest() == "fa23d9e259f418cc00c12b47847632f143c6cc1d"


def test_key_and_db_order_do_not_matter():
    keys = [(5, b"db5key", S, b"db5val", False), (0, b"a", S, b"b", False),
            (5, b"h2", H, [(b"f", b"123456789012")], False), (0, b"foo", S, b"bar", True)]
    one, two = DatasetDigest(), DatasetDigest()
    for k in keys:
        one.add(*k)
    for k in reversed(keys):
        two.add(*k)
    assert one.hexdigest() == two.hexdigest() != ZERO_DIGEST


def test_composite_dataset_and_values():
    acc = DatasetDigest()
    for key, kind, value, has_expire, expected in COMPOSITE_DB0:
        assert value_digest(kind, value, has_expire).hex() == expected, key
        acc.add(0, key, kind, value, has_expire)
    acc.add(5, b"db5key", S, b"db5val", False)
    acc.add(5, b"h2", H, [(b"f", b"123456789012")], False)
    assert acc.hexdigest() == "9ad5a1e40ca7ea3575a1dd9b18bd6aef321f853d"


def test_other_digest_value_vectors():
    assert value_digest(S, b"bar", False).hex() == "68467c70ae30376e7ce005bcc8827f5ba7fd67dc"
    assert (value_digest(L, [b"1", b"2", b"x"], True).hex()
            == "07522e8151bebda399100a1d532725a663a76681")


def rec(rtype, value, key=b"z", expire_ms=None, db=0, field_expires=None):
    return KeyRecord(db=db, key=key, type=rtype, value=value, expire_ms=expire_ms,
                     field_expires=field_expires)


O3 = "0367780cb5fb00d3b92714cf0415f857100b25f2"


def test_negative_zero_in_small_zset_digests_as_zero():
    # ZADD z -0.0 a: a 7.0 loader holds the zset as listpack, where -0.0 is integer 0.
    for rtype in (RdbType.ZSET_2, RdbType.ZSET):
        assert digest_records([rec(rtype, [(b"a", -0.0)])]) == O3


def test_negative_zero_survives_in_skiplist_zsets():
    big = [(b"m%d" % i, float(i)) for i in range(200)] + [(b"a", -0.0)]
    value, _ = loaded_value(rec(RdbType.ZSET_2, big), 0)
    assert math.copysign(1.0, dict(value)[b"a"]) == -1.0
    long_member = [(b"x" * 65, -0.0)]
    value, _ = loaded_value(rec(RdbType.ZSET_2, long_member), 0)
    assert math.copysign(1.0, value[0][1]) == -1.0
    # A listpack blob keeps what it stores: a "-0" string stays -0.0.
    value, _ = loaded_value(rec(RdbType.ZSET_LISTPACK, [(b"a", -0.0)]), 0)
    assert math.copysign(1.0, value[0][1]) == -1.0
    assert digest_records([rec(RdbType.ZSET_LISTPACK, [(b"a", -0.0)])]) != O3


def test_expired_and_empty_keys_are_dropped():
    now = 1_000_000
    live = rec(RdbType.STRING, b"bar", key=b"foo", expire_ms=now + 1)
    at_now = rec(RdbType.STRING, b"x", key=b"edge", expire_ms=now)  # not yet expired
    gone = rec(RdbType.STRING, b"x", key=b"gone", expire_ms=now - 1)
    empty = rec(RdbType.LIST_QUICKLIST_2, [], key=b"emptylist")
    with_gone = digest_records([live, at_now, gone, empty], now_ms=now)
    assert with_gone == digest_records([live, at_now], now_ms=now)
    assert with_gone != digest_records([live], now_ms=now)
    assert (digest_records([live, gone], now_ms=now, keep_expired=True)
            != digest_records([live], now_ms=now, keep_expired=True))
    assert digest_records([gone], now_ms=now) == ZERO_DIGEST
    assert digest_records([empty], now_ms=now, keep_expired=True) == ZERO_DIGEST


def test_empty_stream_is_a_key():
    empty = Stream(entries=(), length=0, last_id=(5, 0))
    assert digest_records([rec(RdbType.STREAM_LISTPACKS_2, empty, key=b"st")]) != ZERO_DIGEST


def test_hash_field_expiry_marks_and_drops_fields():
    now = 10_000
    fields = [(b"a", b"1"), (b"b", b"2")]
    plain = value_digest(H, fields, False)
    marked = value_digest(H, fields, False, field_expires={b"a": now + 5})
    assert plain != marked
    r = rec(RdbType.HASH_LISTPACK_EX, fields, key=b"h", field_expires={b"a": now - 5})
    value, fe = loaded_value(r, now)
    assert value == [(b"b", b"2")] and fe == {}
    assert loaded_value(rec(RdbType.HASH_LISTPACK_EX, [(b"a", b"1")], key=b"h",
                            field_expires={b"a": 1}), now) is None


def _c_format():
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return None
    libc = ctypes.CDLL(libc_name)

    def fmt(x: float) -> bytes:
        buf = ctypes.create_string_buffer(64)
        libc.snprintf(buf, 64, b"%.17g", ctypes.c_double(x))
        return buf.value

    return fmt


C_FORMAT = _c_format()


@pytest.mark.skipif(C_FORMAT is None, reason="no libc for snprintf")
@settings(max_examples=400, deadline=None)
@given(st.one_of(st.floats(allow_nan=False), st.integers(-2**63, 2**63).map(float),
                 st.sampled_from([0.0, -0.0, 1e17, 1e16, 123456789012345678.0, 5e-324])))
def test_score_format_matches_c(x):
    assert format_score(x) == C_FORMAT(x)


def test_file_digest_fast_path_equals_the_record_path(fixtures_dir, corpus_dir):
    """digest_file takes plain strings from the parser's raw batches; the digest must
    be the one the general record loop gives, expired keys dropped or kept alike."""
    from rdbtools.digest import digest_file, digest_records
    from rdbtools.reader import iter_records

    files = sorted(fixtures_dir.glob("rdb/*.rdb")) + sorted(corpus_dir.glob("versions/*/dump.rdb"))
    for path in files:
        recs = list(iter_records(path))
        for now, keep in ((None, False), (0, False), (1 << 62, False), (1 << 62, True)):
            now_ms = 1_800_000_000_000 if now is None else now
            assert digest_file(path, now_ms=now_ms, keep_expired=keep) == \
                digest_records(recs, now_ms=now_ms, keep_expired=keep), (path, now, keep)
