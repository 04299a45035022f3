"""DUMP/RESTORE payloads: formats.md §6.1 vectors, checks, and real Redis 7.0 both ways."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from rdbtools import reader
from rdbtools._crc import crc64
from rdbtools.constants import Kind, RdbType
from rdbtools.errors import ChecksumError, CorruptError, FormatError, UnsupportedError
from rdbtools.payload import create_payload, parse_payload
from rdbtools.records import Stream, StreamEntry
from rdbtools.writer import EncodingConfig
from tests.support.realredis import RealRedis, load_rdb_in_redis


@pytest.mark.parametrize("value, hexdump", [
    (b"bar", "00 03 62 61 72 0a 00 e6 be 49 60 ee 66 fd 17"),
    (b"12345", "00 c1 39 30 0a 00 9d 94 ea 27 93 fc 08 b9"),
    (b"a" * 21, "00 c3 06 15 01 61 61 e0 0a 00 0a 00 fd 0c b3 68 07 41 3f 68"),
])
def test_formats_6_1_vectors(value, hexdump):
    payload = bytes.fromhex(hexdump)
    assert create_payload(Kind.STRING, value) == payload
    assert parse_payload(payload) == (RdbType.STRING, value, None)


def test_payload_version_and_crc_footer():
    p = create_payload(Kind.LIST, [b"a", b"b"], version=9)
    assert p[0] == RdbType.LIST_QUICKLIST
    assert p[-10:-8] == b"\x09\x00"
    assert int.from_bytes(p[-8:], "little") == crc64(p[:-8])


def test_parse_rejects_short_payload():
    with pytest.raises(CorruptError, match="too short"):
        parse_payload(b"\x00\x00\x0a\x00" + bytes(6))


def test_parse_rejects_bad_crc():
    p = bytearray(create_payload(Kind.STRING, b"bar"))
    p[-1] ^= 1
    with pytest.raises(ChecksumError):
        parse_payload(bytes(p))
    zero = bytes(p[:-8]) + bytes(8)  # unlike RDB files, a zero CRC is not "unchecked"
    with pytest.raises(ChecksumError):
        parse_payload(zero)


def test_parse_rejects_newer_version():
    p = create_payload(Kind.SET, [b"a", b"b"], version=11)
    assert parse_payload(p)[0] is RdbType.SET_LISTPACK
    with pytest.raises(UnsupportedError, match="newer"):
        parse_payload(p, max_version=10)


def test_parse_rejects_unknown_type_and_bad_body():
    body = b"\x08\x00"
    data = body + b"\x0a\x00"
    with pytest.raises(FormatError):
        parse_payload(data + crc64(data).to_bytes(8, "little"))
    data = b"\x00\x05ba" + b"\x0a\x00"
    with pytest.raises(FormatError):
        parse_payload(data + crc64(data).to_bytes(8, "little"))


def test_field_expires_round_trip_v12():
    fx = {b"a": 4102444800000}
    p = create_payload(Kind.HASH, [(b"a", b"1"), (b"b", b"2")], version=12, field_expires=fx)
    rtype, value, got = parse_payload(p)
    assert rtype is RdbType.HASH_LISTPACK_EX
    assert sorted(value) == [(b"a", b"1"), (b"b", b"2")]
    assert {f: t for f, t in (got or {}).items() if t} == fx


# ---------------------------------------------------------------------------------
# Real Redis 7.0


def _value_of(kind, value):
    if kind in (Kind.SET, Kind.HASH):
        return sorted(value)
    if kind is Kind.ZSET:
        return sorted(value)
    return value


def _digest_value(srv, key) -> bytes:
    return srv.command("DEBUG", "DIGEST-VALUE", key)[0]


def _deterministic(rec) -> bool:
    s = rec.value
    if rec.type in (RdbType.SET, RdbType.HASH):
        return False
    return rec.kind is not Kind.STREAM or (s.entries_added == len(s.entries)
                                           and s.max_deleted_id == (0, 0))


@pytest.mark.interop
@pytest.mark.parametrize("name", ["all-types", "compressed-nodes", "expired", "lru", "lfu",
                                  "uncompressed", "no-checksum"])
def test_every_fixture_key_dump_parses_and_our_payload_restores(fixtures_dir, tmp_path, name):
    src = fixtures_dir / "rdb" / f"{name}.rdb"
    ds = reader.load(src)
    srv = load_rdb_in_redis(src, tmp_path / "srv")
    try:
        r = srv.client()
        exact = 0
        for rec in ds.keys:
            r.execute_command("SELECT", rec.db)
            dump = r.execute_command("DUMP", rec.key)
            if dump is None:
                continue  # expired since the fixture was made
            rtype, value, _ = parse_payload(dump, max_version=10)
            assert rtype is rec.type, rec.key
            assert _value_of(rec.kind, value) == _value_of(rec.kind, rec.value), rec.key
            # nodes load as saved (16-entry fill); this server keeps them uncompressed
            ours = create_payload(rec.kind, value, config=EncodingConfig(
                list_max_listpack_size=16 if name == "compressed-nodes" else -2))
            if _deterministic(rec):
                assert ours == dump, rec.key
                exact += 1
            for version, prefix in ((10, b"copy10:"), (9, b"copy9:")):
                if rec.kind is Kind.STREAM and version == 9:
                    continue  # v1 streams cannot carry the v2 bookkeeping the digest ignores
                payload = create_payload(rec.kind, value, version=version)
                ttl = max(r.execute_command("PEXPIRETIME", rec.key), 0)  # digest flags expiry
                assert r.execute_command("RESTORE", prefix + rec.key, ttl, payload, "ABSTTL")
                assert r.execute_command("DEBUG", "DIGEST-VALUE", prefix + rec.key) == \
                    r.execute_command("DEBUG", "DIGEST-VALUE", rec.key), (version, rec.key)
        if name == "all-types":
            assert exact >= 60
    finally:
        srv.stop()


def _stream(n, fields_for):
    entries = tuple(StreamEntry((1000 + i // 3, i % 3), fields_for(i)) for i in range(n))
    return Stream(entries=entries, length=n, last_id=entries[-1].id, first_id=entries[0].id,
                  entries_added=n)


#: (commands, kind, value): values built by plain appends, whose DUMP is deterministic.
CASES = {
    "str-int8": ([("SET", "k", "-7")], Kind.STRING, b"-7"),
    "str-int32": ([("SET", "k", "-2147483648")], Kind.STRING, b"-2147483648"),
    "str-int64": ([("SET", "k", "9223372036854775807")], Kind.STRING, b"9223372036854775807"),
    "str-lzf": ([("SET", "k", "abc" * 40)], Kind.STRING, b"abc" * 40),
    "str-raw": ([("SET", "k", "0123")], Kind.STRING, b"0123"),
    "list-multinode": ([("RPUSH", "k", *[b"%04d" % i + b"x" * 96 for i in range(250)])],
                       Kind.LIST, [b"%04d" % i + b"x" * 96 for i in range(250)]),
    "list-ints": ([("RPUSH", "k", *[str(v) for v in (0, 127, 128, -4096, 4096, 2**23, -2**31, 2**40, -2**63)])],
                  Kind.LIST, [str(v).encode() for v in (0, 127, 128, -4096, 4096, 2**23, -2**31, 2**40, -2**63)]),
    "list-big-elements": ([("RPUSH", "k", "a" * 5000, "b" * 9000, "c")], Kind.LIST,
                          [b"a" * 5000, b"b" * 9000, b"c"]),
    "set-intset64": ([("SADD", "k", "5", "-3", str(2**40))], Kind.SET, [b"5", b"-3", b"%d" % 2**40]),
    "zset-listpack": ([("ZADD", "k", "1.5", "a", "-2", "b", "0.1", "c", "inf", "d", "1e20", "e")],
                      Kind.ZSET, [(b"a", 1.5), (b"b", -2.0), (b"c", 0.1), (b"d", float("inf")),
                                  (b"e", 1e20)]),
    "zset-skiplist": ([("ZADD", "k", *[x for i in range(200) for x in (str(i % 17 / 4), "m%03d" % i)])],
                      Kind.ZSET, [(b"m%03d" % i, i % 17 / 4) for i in range(200)]),
    "hash-listpack": ([("HSET", "k", "f1", "v1", "n", "42", "neg", "-5")], Kind.HASH,
                      [(b"f1", b"v1"), (b"n", b"42"), (b"neg", b"-5")]),
    "stream-samefields": ([("XADD", "k", "%d-%d" % (1000 + i // 3, i % 3), "f", str(i), "g", "x")
                           for i in range(130)], Kind.STREAM,
                          _stream(130, lambda i: ((b"f", b"%d" % i), (b"g", b"x")))),
    "stream-mixed-fields": ([("XADD", "k", "%d-%d" % (1000 + i // 3, i % 3),
                              *(("f", "v" * (i % 50)) if i % 4 else ("other", "y", "z", "1")))
                             for i in range(120)], Kind.STREAM,
                            _stream(120, lambda i: ((b"f", b"v" * (i % 50)),) if i % 4
                                    else ((b"other", b"y"), (b"z", b"1")))),
    "stream-wrapping-deltas": ([("XADD", "k", "%d-%d" % i, "f", "v")
                                for i in ((0, 1), (0, 2**63 + 1), (2**64 - 1, 2**64 - 2))],
                               Kind.STREAM, Stream(
                                   entries=tuple(StreamEntry(i, ((b"f", b"v"),)) for i in
                                                 ((0, 1), (0, 2**63 + 1), (2**64 - 1, 2**64 - 2))),
                                   length=3, last_id=(2**64 - 1, 2**64 - 2), first_id=(0, 1),
                                   entries_added=3)),
}


@pytest.mark.interop
def test_commands_built_values_dump_byte_exact(tmp_path):
    with RealRedis(tmp_path / "srv") as srv:
        r = srv.client()
        for name, (cmds, kind, value) in CASES.items():
            r.delete("k")
            for cmd in cmds:
                r.execute_command(*cmd)
            dump = r.execute_command("DUMP", "k")
            assert create_payload(kind, value) == dump, name
            r.delete("k")
            r.execute_command("RESTORE", "k", 0, create_payload(kind, value, compress=False))
            assert r.execute_command("DUMP", "k") == dump, name


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 21), st.binary(max_size=64))
def test_hostile_payloads_raise_only_format_errors(rtype, body):
    """Any body behind a valid footer: a value or a FormatError, never anything else."""
    data = bytes((rtype,)) + body + b"\x0a\x00"
    try:
        parse_payload(data + crc64(data).to_bytes(8, "little"))
    except FormatError:
        pass


def test_huge_declared_length_is_refused_without_allocating():
    data = b"\x00\x81" + (1 << 62).to_bytes(8, "big") + b"x" + b"\x0a\x00"
    with pytest.raises(FormatError):
        parse_payload(data + crc64(data).to_bytes(8, "little"))
