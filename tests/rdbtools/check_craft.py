"""Hand-built RDB files that each trip one check of Redis 7.0's loader.

Kept apart from the tests so the differential test against redis-check-rdb and the
library tests share one table. Every body is built from the format description, not
from a Redis-written file, so each case says exactly which rule it breaks.
"""

from __future__ import annotations

import struct

from rdbtools._crc import crc64


def length(n: int) -> bytes:
    if n < 64:
        return bytes([n])
    if n < 16384:
        return bytes([0x40 | (n >> 8), n & 0xFF])
    if n < 1 << 32:
        return b"\x80" + struct.pack(">I", n)
    return b"\x81" + struct.pack(">Q", n)


def string(s: bytes) -> bytes:
    return length(len(s)) + s


def lp_entry(v) -> bytes:
    if isinstance(v, int):
        assert 0 <= v < 128
        return bytes([v, 1])
    assert len(v) < 64
    body = bytes([0x80 | len(v)]) + v
    return body + bytes([len(body)])


def listpack(items, count=None) -> bytes:
    body = b"".join(lp_entry(i) for i in items)
    total = 6 + len(body) + 1
    return struct.pack("<IH", total, len(items) if count is None else count) + body + b"\xff"


def zl_entry(prev: int, v: bytes) -> bytes:
    assert len(v) < 64 and prev < 254
    return bytes([prev, len(v)]) + v


def ziplist(items) -> bytes:
    entries = []
    prev = 0
    for v in items:
        e = zl_entry(prev, v)
        entries.append(e)
        prev = len(e)
    body = b"".join(entries)
    tail = 10 + sum(len(e) for e in entries[:-1]) if entries else 10
    return struct.pack("<IIH", 10 + len(body) + 1, tail, len(items)) + body + b"\xff"


def intset(values, width=2) -> bytes:
    fmt = {2: "h", 4: "i", 8: "q"}[width]
    return struct.pack("<II", width, len(values)) + struct.pack("<%d%s" % (len(values), fmt),
                                                                 *values)


def zipmap(pairs) -> bytes:
    out = bytes([len(pairs)])
    for f, v in pairs:
        out += bytes([len(f)]) + f + bytes([len(v), 0]) + v
    return out + b"\xff"


def rdb(body: bytes, *, version: int = 10, footer: bool = True) -> bytes:
    data = b"REDIS%04d" % version + b"\xfa" + string(b"redis-ver") + string(b"7.0.15") + body
    if not footer:
        return data
    data += b"\xff"
    return data + struct.pack("<Q", crc64(data))


def key(rtype: int, name: bytes, value: bytes) -> bytes:
    return b"\xfe\x00" + bytes([rtype]) + string(name) + value


def stream_lp() -> bytes:
    # master entry: count 1, deleted 0, 1 field "f", terminator 0; one SAMEFIELDS entry
    return listpack([1, 0, 1, b"f", 0, 2, 0, 0, b"v", 4])


def stream_v2(nodes=None, *, length_=1, tail=b"", groups=b"\x00") -> bytes:
    if nodes is None:
        nodes = [(b"\x00" * 15 + b"\x01", stream_lp())]
    out = length(len(nodes))
    for k, lp in nodes:
        out += string(k) + string(lp)
    out += length(length_) + b"\x00\x01" + b"\x00\x01" + b"\x00\x00" + b"\x01"
    return out + tail + groups


ID1 = b"\x00" * 15 + b"\x01"
ID2 = b"\x00" * 15 + b"\x02"


def group(name=b"g", pel=(), consumers=()) -> bytes:
    out = string(name) + b"\x00\x01" + b"\x01" + length(len(pel))
    for raw in pel:
        out += raw + struct.pack("<q", 1000) + b"\x01"
    out += length(len(consumers))
    for cname, owned in consumers:
        out += string(cname) + struct.pack("<q", 1000) + length(len(owned))
        for raw in owned:
            out += raw
    return out


MODULE_ID = length(0x45E25238DF912C03)  # "ReJSON-RL" encver 3
NAN = struct.pack("<d", float("nan"))


def _cases():
    k = key
    yield "bad-length-encoding", rdb(k(0, b"k", b"\x82"))
    yield "bad-lzf", rdb(k(0, b"k", b"\xc3" + length(3) + length(10) + b"\xff\xff\xff"))
    yield "lzf-zero-length", rdb(k(0, b"k", b"\xc3" + length(2) + length(0) + b"ab"))
    yield "bad-string-encoding", rdb(k(0, b"k", b"\xc4"))
    yield "empty-list", rdb(k(1, b"k", b"\x00"))
    yield "dup-intset-members", rdb(k(2, b"k", length(2) + string(b"1") + string(b"1")))
    yield "dup-set-members", rdb(k(2, b"k", length(2) + string(b"a") + string(b"a")))
    yield "nan-score", rdb(k(5, b"k", length(1) + string(b"a") + NAN))
    yield "nan-text-score", rdb(k(3, b"k", length(1) + string(b"a") + b"\xfd"))
    yield "bad-text-score", rdb(k(3, b"k", length(1) + string(b"a") + b"\x03abc"))
    yield "dup-zset", rdb(k(5, b"k", length(2) + string(b"a") + struct.pack("<d", 1)
                           + string(b"a") + struct.pack("<d", 2)))
    yield "dup-hash-small", rdb(k(4, b"k", length(2) + string(b"f") + string(b"v")
                                 + string(b"f") + string(b"w")))
    yield "dup-hash-after-convert", rdb(k(4, b"k", length(2) + string(b"f") + string(b"v" * 65)
                                         + string(b"f") + string(b"w")))
    yield "quicklist-bad-container", rdb(k(18, b"k", length(1) + b"\x03" + string(b"x")))
    yield "quicklist-empty-node", rdb(k(18, b"k", length(1) + b"\x02" + b"\x00"))
    yield "quicklist-plain-node", rdb(k(18, b"k", length(1) + b"\x01" + string(b"raw")))
    yield "quicklist-bad-listpack", rdb(k(18, b"k", length(1) + b"\x02"
                                         + string(listpack([b"a"], count=2))))
    yield "quicklist-v1-bad-ziplist", rdb(k(14, b"k", length(1) + string(ziplist([b"a"])[:-1]
                                                                        + b"\xfe")))
    yield "quicklist-all-empty", rdb(k(18, b"k", length(1) + b"\x02" + string(listpack([]))))
    yield "bad-zipmap", rdb(k(9, b"k", string(b"\x01\x01f\x01\x00")))
    yield "zipmap-dup", rdb(k(9, b"k", string(zipmap([(b"f", b"1"), (b"f", b"2")]))))
    yield "zipmap-ok", rdb(k(9, b"k", string(zipmap([(b"f", b"1"), (b"g", b"2")]))))
    yield "bad-list-ziplist", rdb(k(10, b"k", string(ziplist([b"a", b"b"])[:-2] + b"\xff")))
    yield "empty-list-ziplist", rdb(k(10, b"k", string(ziplist([]))))
    yield "bad-intset-order", rdb(k(11, b"k", string(intset([2, 1]))))
    yield "empty-intset", rdb(k(11, b"k", string(intset([]))))
    yield "bad-zset-ziplist", rdb(k(12, b"k", string(ziplist([b"a", b"1", b"a", b"2"]))))
    yield "odd-hash-ziplist", rdb(k(13, b"k", string(ziplist([b"a", b"1", b"b"]))))
    yield "ok-hash-ziplist", rdb(k(13, b"k", string(ziplist([b"a", b"1", b"b", b"2"]))))
    yield "bad-zset-listpack", rdb(k(17, b"k", string(listpack([b"a"]))))
    yield "bad-hash-listpack-dup", rdb(k(16, b"k", string(listpack([b"f", b"1", b"f", b"2"]))))
    yield "empty-hash-listpack", rdb(k(16, b"k", string(listpack([]))))
    yield "bad-listpack-backlen", rdb(k(16, b"k", string(listpack([b"f", b"v"])[:-2] + b"\x05\xff")))
    yield "stream-ok", rdb(k(19, b"k", stream_v2()))
    yield "stream-no-len", rdb(k(19, b"k", b""), footer=False)
    yield "stream-no-node-key", rdb(k(19, b"k", b"\x01"), footer=False)
    yield "stream-short-node-key", rdb(k(19, b"k", b"\x01" + string(b"abc")))
    yield "stream-no-listpack", rdb(k(19, b"k", b"\x01" + string(ID1)), footer=False)
    yield "stream-bad-listpack", rdb(k(19, b"k", stream_v2([(ID1, listpack([1, 0]))])))
    yield "stream-dup-node", rdb(k(19, b"k", stream_v2([(ID1, stream_lp()), (ID1, stream_lp())],
                                                       length_=2)))
    yield "stream-short-metadata", rdb(k(19, b"k", b"\x00\x00\x00"), footer=False)
    yield "stream-length-without-nodes", rdb(k(19, b"k", stream_v2([], length_=5)))
    yield "stream-no-group-count", rdb(k(19, b"k", stream_v2(groups=b"")), footer=False)
    gs = b"\x01"
    yield "stream-no-group-name", rdb(k(19, b"k", stream_v2(groups=gs)), footer=False)
    yield "stream-short-group-id", rdb(k(19, b"k", stream_v2(groups=gs + string(b"g") + b"\x00")),
                                       footer=False)
    yield "stream-no-group-offset", rdb(k(19, b"k", stream_v2(
        groups=gs + string(b"g") + b"\x00\x01")), footer=False)
    yield "stream-dup-group", rdb(k(19, b"k", stream_v2(groups=b"\x02" + group() + group())))
    yield "stream-no-pel-size", rdb(k(19, b"k", stream_v2(
        groups=gs + string(b"g") + b"\x00\x01\x01")), footer=False)
    yield "stream-short-pel-id", rdb(k(19, b"k", stream_v2(
        groups=gs + string(b"g") + b"\x00\x01\x01\x01" + ID1[:5])), footer=False)
    yield "stream-short-nack", rdb(k(19, b"k", stream_v2(
        groups=gs + string(b"g") + b"\x00\x01\x01\x01" + ID1 + b"\x00" * 3)), footer=False)
    yield "stream-dup-pel", rdb(k(19, b"k", stream_v2(groups=gs + group(pel=(ID1, ID1)))))
    yield "stream-no-consumer-count", rdb(k(19, b"k", stream_v2(
        groups=gs + group()[:-1])), footer=False)
    yield "stream-no-consumer-name", rdb(k(19, b"k", stream_v2(
        groups=gs + group()[:-1] + b"\x01")), footer=False)
    yield "stream-dup-consumer", rdb(k(19, b"k", stream_v2(
        groups=gs + group(consumers=[(b"c", ()), (b"c", ())]))))
    yield "stream-short-seen-time", rdb(k(19, b"k", stream_v2(
        groups=gs + group()[:-1] + b"\x01" + string(b"c") + b"\x00")), footer=False)
    yield "stream-no-consumer-pel", rdb(k(19, b"k", stream_v2(
        groups=gs + group()[:-1] + b"\x01" + string(b"c") + b"\x00" * 8)), footer=False)
    yield "stream-short-consumer-pel-id", rdb(k(19, b"k", stream_v2(
        groups=gs + group(pel=(ID1,))[:-1] + b"\x01" + string(b"c") + b"\x00" * 8 + b"\x01"
        + ID1[:3])), footer=False)
    yield "stream-consumer-pel-unknown", rdb(k(19, b"k", stream_v2(
        groups=gs + group(consumers=[(b"c", (ID2,))]))))
    yield "stream-consumer-pel-dup", rdb(k(19, b"k", stream_v2(
        groups=gs + group(pel=(ID1,), consumers=[(b"c", (ID1, ID1))]))))
    yield "stream-pel-without-consumer", rdb(k(19, b"k", stream_v2(
        groups=gs + group(pel=(ID1,), consumers=[(b"c", ())]))))
    yield "stream-with-group-ok", rdb(k(19, b"k", stream_v2(
        groups=gs + group(pel=(ID1,), consumers=[(b"c", (ID1,)), (b"d", ())]))))
    yield "module-no-id", rdb(k(7, b"k", b""), footer=False)
    yield "module-type-6", rdb(k(6, b"k", MODULE_ID + b"\x00"))
    yield "module-ok", rdb(k(7, b"k", MODULE_ID + b"\x02\x05\x05" + string(b"hello") + b"\x04"
                            + struct.pack("<d", 1.5) + b"\x03" + b"\x00" * 4 + b"\x00"))
    yield "module-short-int", rdb(k(7, b"k", MODULE_ID + b"\x02"), footer=False)
    yield "module-short-string", rdb(k(7, b"k", MODULE_ID + b"\x05\x05ab"), footer=False)
    yield "module-short-float", rdb(k(7, b"k", MODULE_ID + b"\x03ab"), footer=False)
    yield "module-short-double", rdb(k(7, b"k", MODULE_ID + b"\x04abc"), footer=False)
    yield "module-aux-bad-when", rdb(b"\xf7" + MODULE_ID + b"\x01\x01")
    yield "module-aux-ok", rdb(b"\xf7" + MODULE_ID + b"\x02\x02" + b"\x02\x07\x00")
    yield "function-truncated", rdb(b"\xf5" + length(40) + b"#!lua name=x", footer=False)
    yield "function-rc-truncated", rdb(b"\xf6" + string(b"lib") + string(b"LUA") + b"\x01",
                                       footer=False)
    yield "function-rc-ok", rdb(b"\xf6" + string(b"lib") + string(b"LUA") + b"\x01"
                                + string(b"desc") + string(b"return 1"))
    yield "invalid-type", rdb(k(8, b"k", b""))
    yield "slot-info-in-7.0", rdb(b"\xf4\x01\x01\x00")
    yield "type-20-in-7.0", rdb(k(20, b"k", string(listpack([b"a"]))))
    yield "expire-seconds", rdb(b"\xfd" + struct.pack("<i", 1) + k(0, b"k", string(b"v"))[2:])
    yield "idle-freq", rdb(b"\xfe\x00\xf8\x05\xf9\x07" + bytes([0]) + string(b"k") + string(b"v"))
    yield "key-with-nul", rdb(k(1, b"a\x00b", b"\x00"))
    yield "aux-with-nul", rdb(b"\xfa" + string(b"x\x00y") + string(b"v\x00w"))
    yield "version-1", rdb(k(0, b"k", string(b"v")), version=1, footer=False) + b"\xff"
    yield "version-4-no-crc", rdb(k(0, b"k", string(b"v")), version=4, footer=False) + b"\xff"
    yield "bad-version-text", b"REDISab12" + b"\xff" + b"\x00" * 8
    yield "zero-crc", (lambda d: d[:-8] + b"\x00" * 8)(rdb(k(0, b"k", string(b"v"))))
    yield "int-key-and-aux", rdb(b"\xfa" + string(b"n") + b"\xc1\x39\x30"
                                 + b"\xfe\x00\x00\xc0\x05" + b"\xc2\x01\x00\x00\x80")


CASES = dict(_cases())
