"""The streaming parser: fixtures match their truth; whole, random-chunk and
byte-by-byte feeding agree; trailing bytes are ignored; errors are located."""

from __future__ import annotations

import io
import json
import random
import struct

import pytest

from rdbtools._crc import crc64
from rdbtools.constants import RdbType
from rdbtools.errors import ChecksumError, CorruptError, TruncatedError, UnsupportedError
from rdbtools.parser import DONE, NEED_DATA, RdbParser
from rdbtools.reader import decode_value, iter_records, load
from rdbtools.records import Aux, End, Function, Header, KeyRecord, ModuleValue, ResizeDb, SelectDb

from tests.rdbtools.test_corpus_read import _b, _check_key


def fixture_rdbs(fixtures_dir):
    paths = sorted((fixtures_dir / "rdb").glob("*.rdb"))
    if not paths:
        pytest.skip("fixtures/rdb is empty")
    return paths


def parse_chunks(data: bytes, sizes) -> list:
    """Feed `data` in pieces of the given sizes (cycled), collecting every record."""
    p = RdbParser()
    out = []
    pos = 0
    sizes = iter(sizes)
    while True:
        ev = p.next_event()
        if ev is DONE:
            return out
        if ev is NEED_DATA:
            if pos >= len(data):
                p.feed_eof()
                continue
            n = next(sizes)
            p.feed(data[pos:pos + n])
            pos += n
            continue
        out.append(ev)


# ----------------------------------------------------------------------------- fixtures

def test_fixtures_match_truth(fixtures_dir):
    for path in fixture_rdbs(fixtures_dir):
        meta = json.loads(path.with_suffix(".json").read_text())
        ds = load(path)
        assert ds.version == meta["rdb_version"], path.name
        got = {(r.db, r.key): r for r in ds.keys}
        truth = meta["truth"]["keys"]
        assert sorted(got) == sorted((k["db"], _b(k["key"])) for k in truth), path.name
        for want in truth:
            _check_key(got[(want["db"], _b(want["key"]))], want)
        libs = sorted(f["library_code"].encode() for f in meta["truth"].get("functions", []))
        assert sorted(f.code for f in ds.functions) == libs, path.name


def test_fixture_opcodes(fixtures_dir):
    d = fixtures_dir / "rdb"
    if not (d / "lru.rdb").exists():
        pytest.skip("fixtures missing")
    lru = load(d / "lru.rdb").keys
    lfu = load(d / "lfu.rdb").keys
    assert lru and all(r.idle is not None and r.freq is None for r in lru)
    assert lfu and all(r.freq is not None and r.idle is None for r in lfu)
    end = [r for r in iter_records(d / "no-checksum.rdb") if isinstance(r, End)][0]
    assert end.checksum == 0 and end.checksum_verified is None and end.computed != 0
    recs = list(iter_records(d / "empty.rdb"))
    assert isinstance(recs[0], Header) and isinstance(recs[-1], End)
    assert not [r for r in recs if isinstance(r, KeyRecord)]


def test_feeding_patterns_agree(fixtures_dir):
    rng = random.Random(1234)
    for path in fixture_rdbs(fixtures_dir):
        data = path.read_bytes()
        whole = parse_chunks(data, [len(data)])
        assert isinstance(whole[-1], End) and whole[-1].end == len(data), path.name
        for _ in range(3):
            sizes = [rng.choice([1, 2, 3, 7, 64, 500, 4096]) for _ in range(len(data))]
            assert parse_chunks(data, sizes) == whole, path.name
        if len(data) <= 40_000:
            assert parse_chunks(data, [1] * len(data)) == whole, path.name


def test_iter_records_sources_agree(fixtures_dir, tmp_path):
    path = fixture_rdbs(fixtures_dir)[0]
    data = path.read_bytes()
    ref = list(iter_records(data))
    assert list(iter_records(path)) == ref
    assert list(iter_records(str(path), chunk_size=17)) == ref
    assert list(iter_records(io.BytesIO(data), chunk_size=5)) == ref
    import lz4.frame
    lz = tmp_path / "x.rdb.lz4"
    lz.write_bytes(lz4.frame.compress(data))
    assert list(iter_records(lz)) == ref  # offsets are those of the decompressed stream


def test_trailing_bytes_ignored(fixtures_dir):
    for path in fixture_rdbs(fixtures_dir):
        data = path.read_bytes()
        ref = parse_chunks(data, [len(data)])
        assert parse_chunks(data + b"\x00garbage\xff" * 3, [len(data) + 30]) == ref
        assert parse_chunks(data + b"junk", [1] * (len(data) + 4))[-1] == ref[-1]


def test_checksum_mismatch_detected(fixtures_dir):
    path = fixtures_dir / "rdb" / "all-types.rdb"
    if not path.exists():
        pytest.skip("fixture missing")
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    with pytest.raises(ChecksumError) as ei:
        list(iter_records(bytes(data)))
    assert ei.value.phase == "check-sum" and ei.value.offset == len(data)
    assert ei.value.key is None and ei.value.type is None
    recs = list(iter_records(bytes(data), verify_checksum=False))
    assert recs[-1].checksum != recs[-1].computed


# ----------------------------------------------------------------------------- hand-made files

def _len(n: int) -> bytes:
    if n < 64:
        return bytes([n])
    if n < 16384:
        return bytes([0x40 | (n >> 8), n & 0xFF])
    if n < 1 << 32:
        return b"\x80" + struct.pack(">I", n)
    return b"\x81" + struct.pack(">Q", n)


def _s(b: bytes) -> bytes:
    return _len(len(b)) + b


def rdb(body: bytes, version: int = 10, *, magic: bytes | None = None, crc: bool = True) -> bytes:
    head = magic if magic is not None else b"REDIS%04d" % version
    out = head + body + b"\xff"
    if version >= 5 or magic is not None:
        out += struct.pack("<Q", crc64(out) if crc else 0)
    return out


def keys_of(data: bytes, **kw) -> list[KeyRecord]:
    return [r for r in iter_records(data, **kw) if isinstance(r, KeyRecord)]


def test_strings_every_encoding():
    body = (b"\x00" + _s(b"i8") + b"\xc0\xfe"
            + b"\x00" + _s(b"i16") + b"\xc1" + struct.pack("<h", -12345)
            + b"\x00" + _s(b"i32") + b"\xc2" + struct.pack("<i", -2147483648)
            + b"\x00" + _s(b"lzf") + b"\xc3" + _len(6) + _len(21) + bytes.fromhex("016161e00a00")
            + b"\x00" + _s(b"big") + _s(b"x" * 70000)
            + b"\x00" + _s(b"k64") + b"\x81" + struct.pack(">Q", 3) + b"abc")
    got = {r.key: r.value for r in keys_of(rdb(body))}
    assert got == {b"i8": b"-2", b"i16": b"-12345", b"i32": b"-2147483648", b"lzf": b"a" * 21,
                   b"big": b"x" * 70000, b"k64": b"abc"}


def test_expiry_opcodes_and_db():
    body = (b"\xfe\x03\xfb\x02\x01"
            + b"\xfd" + struct.pack("<i", 1700000000) + b"\x00" + _s(b"s") + _s(b"v")
            + b"\xfc" + struct.pack("<q", 4102444800123) + b"\xf8" + _len(77) + b"\x00" + _s(b"m") + _s(b"v")
            + b"\xf9\x05\x00" + _s(b"f") + _s(b"v"))
    recs = list(iter_records(rdb(body)))
    assert isinstance(recs[1], SelectDb) and recs[1].db == 3
    assert isinstance(recs[2], ResizeDb) and (recs[2].db_size, recs[2].expires_size) == (2, 1)
    k = [r for r in recs if isinstance(r, KeyRecord)]
    assert [(r.db, r.key, r.expire_ms, r.idle, r.freq) for r in k] == [
        (3, b"s", 1700000000000, None, None), (3, b"m", 4102444800123, 77, None),
        (3, b"f", None, None, 5)]
    assert k[0].offset == recs[2].end and k[0].end == k[1].offset


def test_zset_string_doubles_and_binary():
    body = (b"\x03" + _s(b"z") + _len(4) + _s(b"a") + b"\x03" + b"1.5" + _s(b"b") + b"\xfe"
            + _s(b"c") + b"\xff" + _s(b"d") + b"\x04-0.0"
            + b"\x05" + _s(b"z2") + _len(1) + _s(b"m") + struct.pack("<d", 2.25))
    got = {r.key: r.value for r in keys_of(rdb(body))}
    assert got[b"z"] == [(b"a", 1.5), (b"b", float("inf")), (b"c", float("-inf")), (b"d", -0.0)]
    assert got[b"z2"] == [(b"m", 2.25)]


def test_old_versions_without_checksum():
    body = b"\x00" + _s(b"k") + _s(b"v")
    recs = list(iter_records(rdb(body, version=4)))
    assert recs[-1].checksum is None and recs[-1].end == len(rdb(body, version=4))
    assert keys_of(rdb(body, version=1))[0].value == b"v"


def test_functions_both_opcodes():
    body = (b"\xf5" + _s(b"#!lua name=lib1\nreturn 1")
            + b"\xf6" + _s(b"lib2") + _s(b"LUA") + b"\x01" + _s(b"desc") + _s(b"return 2")
            + b"\xf6" + _s(b"lib3") + _s(b"LUA") + b"\x00" + _s(b"return 3"))
    fs = [r for r in iter_records(rdb(body)) if isinstance(r, Function)]
    assert [f.code for f in fs] == [b"#!lua name=lib1\nreturn 1", b"#!LUA name=lib2\nreturn 2",
                                   b"#!LUA name=lib3\nreturn 3"]
    assert [f.library_name for f in fs] == [b"lib1", b"lib2", b"lib3"]


def test_module_values():
    from rdbtools.records import module_id
    mid = module_id("ReJSON-RL", 3)
    body7 = b"\x02\x2a" + b"\x05" + _s(b"str") + b"\x03" + struct.pack("<f", 1.5) + b"\x04" + struct.pack("<d", 2.5) + b"\x01\x07\x00"
    rec = keys_of(rdb(b"\x07" + _s(b"j") + _len(mid) + body7))[0]
    assert rec.value == ModuleValue(mid, body7) and rec.value.name == "ReJSON-RL"
    with pytest.raises(UnsupportedError, match="ReJSON-RL"):
        keys_of(rdb(b"\x06" + _s(b"j") + _len(mid) + b"\x01\x02"))
    aux = rdb(b"\xf7" + _len(mid) + b"\x02\x02" + body7)
    m = [r for r in iter_records(aux) if r.__class__.__name__ == "ModuleAux"][0]
    assert (m.module_id, m.when, m.raw) == (mid, 2, body7)


def test_hash_field_ttl_types():
    # type 24: minExpire base, relative ttl (+1), 0 = no ttl
    body = (b"\x18" + _s(b"h24") + struct.pack("<q", 1000) + _len(2)
            + _len(6) + _s(b"a") + _s(b"1") + _len(0) + _s(b"b") + _s(b"2")
            + b"\x16" + _s(b"h22") + _len(1) + _len(5000) + _s(b"c") + _s(b"3"))
    got = {r.key: (r.value, r.field_expires) for r in keys_of(rdb(body, 12))}
    assert got[b"h24"] == ([(b"a", b"1"), (b"b", b"2")], {b"a": 1005})
    assert got[b"h22"] == ([(b"c", b"3")], {b"c": 5000})
    # Valkey 9 type 22: field, value, 8-byte expiry (-1 none)
    vbody = (b"\x16" + _s(b"h") + _len(2) + _s(b"a") + _s(b"1") + struct.pack("<q", 77)
             + _s(b"b") + _s(b"2") + struct.pack("<q", -1))
    rec = keys_of(rdb(vbody, magic=b"VALKEY080"))[0]
    assert rec.value == [(b"a", b"1"), (b"b", b"2")] and rec.field_expires == {b"a": 77}


def test_valkey_and_slot_info():
    recs = list(iter_records(rdb(b"\xf4\x05\x02\x01" + b"\x00" + _s(b"k") + _s(b"v"), 12)))
    si = recs[1]
    assert (si.slot, si.slot_size, si.expires_slot_size) == (5, 2, 1)
    recs = list(iter_records(rdb(b"\xfa" + _s(b"valkey-ver") + _s(b"9.0.0"), magic=b"VALKEY080")))
    assert recs[0].magic == b"VALKEY" and recs[0].version == 80
    assert recs[1] == Aux(b"valkey-ver", b"9.0.0", 9, recs[1].end)


@pytest.mark.parametrize("head,cls,reason", [
    (b"RUBBISH00", CorruptError, "Wrong signature"),
    (b"REDIS0014", UnsupportedError, "Can't handle RDB format version 14"),
    (b"REDIS0000", CorruptError, "version"),
    (b"REDISabcd", CorruptError, "version"),
    (b"VALKEY079", CorruptError, "version"),
    (b"VALKEY082", UnsupportedError, "version"),
])
def test_bad_headers(head, cls, reason):
    with pytest.raises(cls, match=reason) as ei:
        list(iter_records(head + b"\xff" + b"\x00" * 8))
    assert ei.value.phase == "start"


def test_unknown_type_and_opcode_named():
    with pytest.raises(CorruptError, match="Unknown RDB encoding type 8") as ei:
        list(iter_records(rdb(b"\x08" + _s(b"k") + _s(b"v"))))
    assert ei.value.phase == "read-type" and ei.value.offset == 9
    with pytest.raises(CorruptError, match="240"):
        list(iter_records(rdb(b"\xf0")))


def test_error_carries_key_type_and_offset():
    body = b"\x00" + _s(b"ok") + _s(b"v") + b"\x10" + _s(b"hh") + _s(b"\x07\x00\x00\x00\x01\x00\xff")
    data = rdb(body)
    with pytest.raises(CorruptError) as ei:
        list(iter_records(data))
    e = ei.value
    assert e.key == b"hh" and e.type == "hash-listpack" and e.phase == "read-object-value"
    assert e.offset == 9 + 6 + 4 and "listpack" in e.reason
    # records before the error are still delivered
    p = RdbParser()
    p.feed(data)
    p.feed_eof()
    assert isinstance(p.next_event(), Header)
    assert p.next_event().key == b"ok"
    with pytest.raises(CorruptError):
        p.next_event()


def test_huge_declared_lengths_do_not_allocate():
    for body in (b"\x00" + _s(b"k") + b"\x81" + struct.pack(">Q", 1 << 62),
                 b"\x01" + _s(b"k") + b"\x81" + struct.pack(">Q", 1 << 62),
                 b"\x00" + _s(b"k") + b"\xc3" + _len(3) + b"\x80\xff\xff\xff\xff" + b"abc"):
        with pytest.raises(CorruptError):
            list(iter_records(rdb(body)))
    # within the caps but past the end of the input: truncation, found at once
    with pytest.raises(TruncatedError) as ei:
        list(iter_records(rdb(b"\x00" + _s(b"k") + b"\x80\xff\x00\x00\x00")))
    assert ei.value.valid_up_to == 9


def test_decode_value_dump_body():
    value, fexp = decode_value(RdbType.LIST, _len(2) + _s(b"a") + _s(b"b"), key=b"k")
    assert (value, fexp) == ([b"a", b"b"], None)
    with pytest.raises(CorruptError) as ei:
        decode_value(RdbType.LIST, _len(3) + _s(b"a"), offset_base=100, key=b"k")
    assert ei.value.key == b"k" and ei.value.offset >= 100
    with pytest.raises(CorruptError, match="type 99"):
        decode_value(99, b"")


def test_load_dataset():
    body = (b"\xfa" + _s(b"redis-ver") + _s(b"7.0.15") + b"\xf5" + _s(b"#!lua name=x\n")
            + b"\xfe\x01" + b"\x00" + _s(b"k") + _s(b"v"))
    ds = load(rdb(body))
    assert ds.version == 10 and ds.aux[0].value == b"7.0.15" and len(ds.functions) == 1
    assert ds.db(1)[b"k"].value == b"v" and ds.checksum == crc64(rdb(body)[:-8])


def test_v1_group_entries_read_estimate():
    """Redis 7 estimates a v1 group's entries-read on load; cases worked by hand from
    `streamEstimateDistanceFromFirstEverEntry`'s rules."""
    from rdbtools._values import _estimate_entries_read as est
    # stream of 5 live entries 1-0..5-0, nothing deleted: added = length = 5
    args = dict(length=5, last_id=(5, 0), first_id=(1, 0), max_deleted=(0, 0), added=5)
    assert est((5, 0), **args) == 5          # at the last id: everything read
    assert est((0, 0), **args) == 0          # before the first entry
    assert est((1, 0), **args) == 1          # exactly the first entry
    assert est((3, 0), **args) == -1         # in the middle: unknown
    assert est((9, 0), **args) == -1         # past the end
    assert est((0, 0), length=0, last_id=(0, 0), first_id=(0, 0), max_deleted=(0, 0), added=0) == 0
    assert est((2, 0), length=0, last_id=(5, 0), first_id=(0, 0), max_deleted=(0, 0), added=5) == 5


# ----------------------------------------------------------------------------- more encodings

from tests.rdbtools.test_blobs import lp, zl  # noqa: E402


def test_hash_listpack_ex_type25_and_pre_ga_23():
    blob = lp([b"a", b"1", 4102444800000, b"b", 2, 0])
    body = (b"\x19" + _s(b"h25") + struct.pack("<q", 4102444800000) + _s(blob)
            + b"\x17" + _s(b"h23") + _s(blob))
    got = {r.key: (r.value, r.field_expires) for r in keys_of(rdb(body, 12))}
    want = ([(b"a", b"1"), (b"b", b"2")], {b"a": 4102444800000})
    assert got == {b"h25": want, b"h23": want}
    with pytest.raises(CorruptError, match="expire time"):
        keys_of(rdb(b"\x19" + _s(b"h") + struct.pack("<q", 0) + _s(lp([b"a", b"1", 1 << 50])), 12))


def test_lists_every_encoding():
    node1 = zl([b"a", 7])
    node2 = lp([b"b", -3])
    body = (b"\x0a" + _s(b"zl") + _s(node1)
            + b"\x0e" + _s(b"ql1") + _len(2) + _s(node1) + _s(zl([b"c"]))
            + b"\x01" + _s(b"linked") + _len(2) + _s(b"x") + b"\xc0\x05")
    got = {r.key: r.value for r in keys_of(rdb(body))}
    assert got[b"zl"] == [b"a", b"7"]
    assert got[b"ql1"] == [b"a", b"7", b"c"]
    assert got[b"linked"] == [b"x", b"5"]
    # a PACKED node whose (LZF-compressed) string holds 21 x 'a', not a listpack
    bad = (b"\x12" + _s(b"ql2") + _len(1) + _len(2)
           + b"\xc3" + _len(6) + _len(21) + bytes.fromhex("016161e00a00"))
    with pytest.raises(CorruptError, match="listpack"):
        keys_of(rdb(bad))
    # an LZF-compressed listpack node decodes
    packed = lp([b"q" * 30])
    from rdbtools._lzf import compress
    c = compress(packed)
    assert c is not None
    lzfnode = b"\x12" + _s(b"c") + _len(1) + _len(2) + b"\xc3" + _len(len(c)) + _len(len(packed)) + c
    assert keys_of(rdb(lzfnode))[0].value == [b"q" * 30]
    ok = rdb(b"\x12" + _s(b"ql2") + _len(2) + _len(2) + _s(node2) + _len(1) + _s(b"plain elem"))
    assert keys_of(ok)[0].value == [b"b", b"-3", b"plain elem"]
    with pytest.raises(CorruptError, match="container 3"):
        keys_of(rdb(b"\x12" + _s(b"q") + _len(1) + _len(3) + _s(node2)))


def test_sets_and_zsets_compact():
    intset_blob = struct.pack("<II3h", 2, 3, -5, 1, 300)
    body = (b"\x0b" + _s(b"is") + _s(intset_blob)
            + b"\x14" + _s(b"sl") + _s(lp([b"m", 12]))
            + b"\x0c" + _s(b"zz") + _s(zl([b"one", 1, b"half", b"0.5"]))
            + b"\x11" + _s(b"zl") + _s(lp([b"a", b"-inf", b"b", 3])))
    got = {r.key: r.value for r in keys_of(rdb(body, 11))}
    assert got == {b"is": [b"-5", b"1", b"300"], b"sl": [b"m", b"12"],
                   b"zz": [(b"one", 1.0), (b"half", 0.5)], b"zl": [(b"a", float("-inf")), (b"b", 3.0)]}
    with pytest.raises(CorruptError, match="odd"):
        keys_of(rdb(b"\x11" + _s(b"z") + _s(lp([b"a"]))))


def _stream_node(master_ms, entries, deleted=()):
    """A v1 node listpack holding `entries` [(ms, seq, [(f, v)...])]; master fields from
    the first entry; entries in `deleted` carry the deleted flag."""
    fields = [f for f, _ in entries[0][2]]
    items = [len(entries) - len(deleted), len(deleted), len(fields), *fields, 0]
    for i, (ms, seq, fv) in enumerate(entries):
        flag = 1 if i in deleted else 0
        if [f for f, _ in fv] == fields:
            items += [flag | 2, ms - master_ms, seq, *[v for _, v in fv], len(fv) + 3]
        else:
            items += [flag, ms - master_ms, seq, len(fv)]
            for f, v in fv:
                items += [f, v]
            items.append(2 * len(fv) + 4)
    return lp(items)


def test_stream_v1_and_v3_hand_made():
    node = _stream_node(1000, [(1000, 0, [(b"f", b"v")]), (1001, 0, [(b"f", b"w")]),
                               (1005, 0, [(b"g", b"x"), (b"h", b"y")])], deleted={1})
    key16 = struct.pack(">QQ", 1000, 0)
    pel_id = struct.pack(">QQ", 1000, 0)
    groups_v1 = (_len(1) + _s(b"grp") + _len(1000) + _len(0)
                 + _len(1) + pel_id + struct.pack("<q", 77) + _len(2)
                 + _len(1) + _s(b"alice") + struct.pack("<q", 88) + _len(1) + pel_id)
    v1 = b"\x0f" + _s(b"s1") + _len(1) + _s(key16) + _s(node) + _len(2) + _len(1005) + _len(0) + groups_v1
    rec = keys_of(rdb(v1, 9))[0]
    s = rec.value
    assert [(e.id, e.fields) for e in s.entries] == [
        ((1000, 0), ((b"f", b"v"),)), ((1005, 0), ((b"g", b"x"), (b"h", b"y")))]
    assert (s.length, s.last_id, s.first_id, s.max_deleted_id, s.entries_added) == (
        2, (1005, 0), (1000, 0), (0, 0), 2)
    g = s.groups[0]
    assert (g.name, g.last_id, g.entries_read) == (b"grp", (1000, 0), 1)
    assert g.pending[0].id == (1000, 0) and g.pending[0].delivery_time == 77
    assert g.pending[0].delivery_count == 2
    c = g.consumers[0]
    assert (c.name, c.seen_time, c.active_time, c.pending) == (b"alice", 88, 88, ((1000, 0),))
    # v3: first id, max deleted, entries added, entries-read unknown, active time
    groups_v3 = (_len(1) + _s(b"grp") + _len(1000) + _len(0) + b"\x81" + b"\xff" * 8
                 + _len(0) + _len(1) + _s(b"bob") + struct.pack("<qq", 5, 6) + _len(0))
    v3 = (b"\x15" + _s(b"s3") + _len(1) + _s(key16) + _s(node) + _len(2) + _len(1005) + _len(0)
          + _len(1000) + _len(0) + _len(1001) + _len(0) + _len(3) + groups_v3)
    s = keys_of(rdb(v3, 11))[0].value
    assert (s.first_id, s.max_deleted_id, s.entries_added) == ((1000, 0), (1001, 0), 3)
    g = s.groups[0]
    assert g.entries_read == -1 and g.consumers[0].active_time == 6
    # a node key that is not 16 bytes
    with pytest.raises(CorruptError, match="16"):
        keys_of(rdb(b"\x15" + _s(b"s") + _len(1) + _s(b"short") + _s(node) + b"\x00" * 12, 11))


def test_stream_type26_unsupported():
    with pytest.raises(UnsupportedError, match="26"):
        keys_of(rdb(b"\x1a" + _s(b"s") + _len(0), 13))


def test_key_meta_skipped_and_valkey_slot_import():
    meta = b"\xf3" + _len(1) + b"\x01\x02\x03\x04" + b"\x02\x05" + b"\x00"
    rec = keys_of(rdb(b"\xfc" + struct.pack("<q", 5) + meta + b"\x00" + _s(b"k") + _s(b"v"), 13))[0]
    assert (rec.key, rec.value, rec.expire_ms) == (b"k", b"v", 5)
    assert rec.offset == 9
    imp = b"\xf3" + _s(b"j" * 40) + _len(2) + _len(0) + _len(100) + _len(200) + _len(300)
    recs = list(iter_records(rdb(imp + b"\x00" + _s(b"k") + _s(b"v"), magic=b"VALKEY080")))
    assert [type(r).__name__ for r in recs] == ["Header", "KeyRecord", "End"]


def test_hostile_counts_fail_fast():
    import time
    t0 = time.monotonic()
    for body in (b"\x01" + _s(b"k") + b"\x81" + struct.pack(">Q", 1 << 39),
                 b"\x0f" + _s(b"k") + _len(0) + _len(0) + _len(0) + _len(0) + b"\x81" + struct.pack(">Q", 1 << 39),
                 b"\x07" + _s(b"k") + _len(1) + b"\x02\x01" * 3):
        with pytest.raises((TruncatedError, CorruptError)):
            keys_of(rdb(body))
    assert time.monotonic() - t0 < 2


def test_slow_feeding_of_a_big_collection_is_not_quadratic():
    """One byte at a time into a 20000-element list: each retry waits for the bytes the
    remaining elements need at least, so this is ~log(n) re-parses, not n."""
    import time
    items = b"".join(_s(b"abc") for _ in range(20000))
    data = rdb(b"\x01" + _s(b"k") + _len(20000) + items
               + b"\x04" + _s(b"h") + _len(5000) + (_s(b"a") + _s(b"bcd")) * 5000)
    t0 = time.monotonic()
    recs = parse_chunks(data, [1] * len(data))
    assert [len(r.value) for r in recs if isinstance(r, KeyRecord)] == [20000, 5000]
    assert time.monotonic() - t0 < 10


def test_stream_node_deltas_wrap_modulo_2_64():
    """Entry ids are master + delta in uint64 arithmetic (deltas are stored as int64)."""
    items = [2, 0, 1, b"f", 0,
             2, 0, 0, b"v", 4,                    # the master entry itself: 0-1
             2, 0, -(1 << 63), b"w", 4]           # 0-(1 + 2**63) stored as delta -2**63
    node = lp(items)
    body = (b"\x13" + _s(b"s") + _len(1) + _s(struct.pack(">QQ", 0, 1)) + _s(node)
            + _len(2) + _len(0) + b"\x81" + struct.pack(">Q", (1 << 63) + 1)
            + _len(0) + _len(1) + _len(0) + _len(0) + _len(2) + _len(0))
    s = keys_of(rdb(body))[0].value
    assert [e.id for e in s.entries] == [(0, 1), (0, (1 << 63) + 1)]


def test_iter_records_from_stdin(fixtures_dir):
    import subprocess
    import sys
    path = fixtures_dir / "rdb" / "lru.rdb"
    if not path.exists():
        pytest.skip("fixture missing")
    code = "from rdbtools.reader import load; print(len(load('-').keys))"
    with open(path, "rb") as f:
        out = subprocess.run([sys.executable, "-c", code], stdin=f, capture_output=True,
                             text=True, cwd=str(fixtures_dir.parent), timeout=60)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == len(load(path).keys) > 0
