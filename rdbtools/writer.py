"""RDB writer: values encoded the way Redis itself would save them, versions 6 to 12.

`RdbWriter` is a pure encoder (each method returns bytes and advances the running
CRC-64); `write_rdb` adds durability (temp file, fsync, rename) and the downgrade
policy: data the target version cannot hold is refused with `LossyConversion` naming
every affected key, or dropped and listed in the returned `WriteReport` when
`lossy=True`.

Encoding choices follow Redis's defaults (`hash-max-listpack-entries 512` and friends,
`list-max-listpack-size -2`, `stream-node-max-bytes 4096`), so a value built by plain
appends (RPUSH, HSET, XADD ...) encodes to the same bytes Redis would DUMP.
"""

from __future__ import annotations

import math
import struct
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import chain
from operator import itemgetter

from lzf import compress as lzf_raw

from . import constants as C
from ._crc import crc64
from ._downgrade import LossyConversion, Loss, check_key, strip_key
from ._lzf import compress_within as lzf_within
from .build import (ListpackBuilder, ZiplistBuilder, build_intset, build_listpack,
                    canonical_int, listpack_entry, ziplist_entry)
from .constants import TYPE_KIND, Kind, Opcode, RdbType
from .errors import UnsupportedError
from .records import (Dataset, Function, KeyRecord, ModuleAux, ModuleValue, ResizeDb,
                      SelectDb, Stream)

__all__ = ["RdbWriter", "encode_value", "write_rdb", "WriteReport", "LossyConversion", "Loss",
           "EncodingConfig", "DEFAULT_CONFIG",
           "encode_len", "encode_string", "WRITE_VERSION_MIN", "WRITE_VERSION_MAX",
           "REDIS_VER_FOR"]

WRITE_VERSION_MIN = 6
WRITE_VERSION_MAX = 12
#: What `redis-ver` says: the first Redis release that writes each RDB version.
REDIS_VER_FOR = {7: "3.2.0", 8: "4.0.0", 9: "5.0.0", 10: "7.0.0", 11: "7.2.0", 12: "7.4.0"}
RDBKIT_VER = "0.1.0"

#: Redis 2.6-3.0 kept small lists as one ziplist (`list-max-ziplist-*` defaults).
V6_LIST_MAX_ZIPLIST_ENTRIES = 512
V6_LIST_MAX_ZIPLIST_VALUE = 64
#: A quicklist node's byte estimate adds this per pushed element (7.0).
QUICKLIST_SIZE_OVERHEAD = 8
#: Nodes never grow past this when the fill is a count (`SIZE_SAFETY_LIMIT`).
QUICKLIST_SAFETY_LIMIT = 8192
#: In-memory node compression (`list-compress-depth`): skip nodes smaller than this,
#: and keep the LZF form only if it saves more than the improvement margin.
QUICKLIST_MIN_COMPRESS_BYTES = 48
QUICKLIST_MIN_COMPRESS_IMPROVE = 8
#: A stream node listpack never grows past this, whatever stream-node-max-bytes says.
STREAM_LISTPACK_MAX_SIZE = 1 << 30
#: Largest 32-bit length; longer lengths need the 0x81 form, which RDB < 8 lacks.
_LEN32_MAX = 0xFFFFFFFF
#: d2string()/rdbSaveDoubleValue() print integral doubles in this range as integers.
_DOUBLE2LL_LIMIT = float(1 << 62)          # Redis >= 7.0 (double2ll)
_OLD_INT_DOUBLE_LIMIT = float(1 << 52)     # Redis <= 6.2
#: Stream IDs and deltas are uint64: arithmetic on them wraps modulo this.
_U64_SPAN = 1 << 64


def _cannot(what: str, need: int, version: int) -> LossyConversion:
    return LossyConversion([Loss(None, None, f"{what} need RDB {need} (target {version})")])


def _check_version(version: int) -> int:
    if not isinstance(version, int) or not WRITE_VERSION_MIN <= version <= WRITE_VERSION_MAX:
        raise UnsupportedError(
            f"cannot write RDB version {version!r}: rdbkit writes "
            f"{WRITE_VERSION_MIN}-{WRITE_VERSION_MAX}")
    return version


# ---------------------------------------------------------------------------------
# Primitives

#: One-byte lengths (6-bit form) and single bytes, prebuilt: the per-key hot path.
_BYTE = tuple(bytes((i,)) for i in range(256))
_LEN14 = struct.Struct(">H")
#: First bytes of strings that may spell an integer; anything else skips the int test.
_INT_LEAD = frozenset(b"-0123456789")
#: The 8-bit integer string form for -128..127, indexed by value + 128.
_INT8_STRING = tuple(b"\xc0" + C.I8.pack(v) for v in range(-128, 128))


def _int_value(data: bytes) -> int | None:
    """`canonical_int` for bytes, with plain digit strings parsed directly (the
    general function slices and re-checks; this is per element in every blob)."""
    if data.isdigit():
        n = len(data)
        if n < 19 and (n == 1 or data[0] != 0x30):
            return int(data)
        return canonical_int(data)
    if data[:1] == b"-":
        return canonical_int(data)
    return None


def encode_len(n: int, version: int = 10) -> bytes:
    """RDB length, the shortest form (`rdbSaveLen`)."""
    if n < 64:
        if n < 0:
            raise ValueError(f"negative RDB length {n}")
        return _BYTE[n]
    if n < 16384:
        return _LEN14.pack(0x4000 | n)
    if n <= _LEN32_MAX:
        return b"\x80" + C.U32_BE.pack(n)
    if version < 8:
        raise UnsupportedError(f"length {n} needs 64-bit lengths, which RDB {version} lacks")
    if n >= _U64_SPAN:
        raise ValueError(f"RDB length {n} exceeds 64 bits")
    return b"\x81" + C.U64_BE.pack(n)


def _int_string(v: int) -> bytes | None:
    if -128 <= v <= 127:
        return _INT8_STRING[v + 128]
    if -32768 <= v <= 32767:
        return b"\xc1" + C.I16.pack(v)
    if -2147483648 <= v <= 2147483647:
        return b"\xc2" + C.I32.pack(v)
    return None


def encode_string(data: bytes, compress: bool = True, version: int = 10) -> bytes:
    """An RDB string exactly as `rdbSaveRawString` picks: int form, LZF, or raw.

    Ordered for the common case (short text): a first-byte test rules out the integer
    parse, and LZF is tried only past Redis's 20-byte threshold."""
    n = len(data)
    if n <= 11 and n and data[0] in _INT_LEAD:
        v = canonical_int(data)
        if v is not None:
            enc = _int_string(v)
            if enc is not None:
                return enc
    if n > 20 and compress:
        # Redis's rule (as rdbtools._lzf.compress): keep LZF only if it saves 4 bytes.
        packed = lzf_within(data if type(data) is bytes else bytes(data), n - 4)
        if packed is not None:
            return b"\xc3" + encode_len(len(packed), version) + encode_len(n, version) + packed
    if n < 64:
        return _BYTE[n] + data
    return encode_len(n, version) + data


_ms = C.I64.pack
_EXPIRE_MS_OP = _BYTE[Opcode.EXPIRETIME_MS]
_KEY_STRING = _BYTE[RdbType.STRING]


def _stream_id_raw(sid) -> bytes:
    return C.STREAM_ID.pack(sid[0], sid[1])


def _signed64(v: int) -> int:
    v &= _U64_SPAN - 1
    return v - _U64_SPAN if v >= 1 << 63 else v


def _shortest_text(x: float) -> bytes:
    """fpconv_dtoa's layout (Redis >= 7.2) of the shortest round-trip digits."""
    _, digits, k = Decimal(repr(abs(x))).as_tuple()
    text = "".join(map(str, digits)).rstrip("0")
    k += len(digits) - len(text)
    n = len(text)
    neg = "-" if x < 0 else ""
    exp = abs(k + n - 1)
    if k >= 0 and exp < n + 7:
        return (neg + text + "0" * k).encode()
    if k < 0 and (k > -7 or exp < 4):
        offset = n + k
        if offset <= 0:
            return (neg + "0." + "0" * -offset + text).encode()
        return (neg + text[:offset] + "." + text[offset:]).encode()
    text = text[: 18 - len(neg)]
    mant = text[0] + ("." + text[1:] if len(text) > 1 else "")
    return f"{neg}{mant}e{'-' if k + len(text) - 1 < 0 else '+'}{exp}".encode()


def _double_text(score: float, version: int) -> bytes:
    """How Redis of the target's era prints a score into a listpack or ziplist."""
    if math.isnan(score):
        return b"nan"
    if math.isinf(score):
        return b"inf" if score > 0 else b"-inf"
    if score == 0 and math.copysign(1.0, score) < 0:
        # A listpack Redis >= 7 builds never holds -0.0 (ZADD stores integer 0), but
        # one loaded from an old ziplist does, and DEBUG DIGEST tells them apart.
        return b"-0"
    if version >= 10:
        if -_DOUBLE2LL_LIMIT <= score <= _DOUBLE2LL_LIMIT and score == int(score):
            return b"%d" % int(score)
        if version >= 11:
            return _shortest_text(score)
    elif -_OLD_INT_DOUBLE_LIMIT < score < _OLD_INT_DOUBLE_LIMIT and score == int(score):
        return b"%d" % int(score)
    return b"%.17g" % score


def _string_double(score: float) -> bytes:
    """Type-3 score: length-prefixed text with 253/254/255 for nan/+inf/-inf."""
    if math.isnan(score):
        return bytes((C.DOUBLE_NAN,))
    if math.isinf(score):
        return bytes((C.DOUBLE_POS_INF if score > 0 else C.DOUBLE_NEG_INF,))
    if score == 0 and math.copysign(1.0, score) < 0:
        # Redis itself prints -0.0 as "0" here, losing the sign a skiplist keeps
        # (and DEBUG DIGEST shows); "-0" parses back to -0.0 with every loader.
        text = b"-0"
    elif -_OLD_INT_DOUBLE_LIMIT < score < _OLD_INT_DOUBLE_LIMIT and score == int(score):
        text = b"%d" % int(score)
    else:
        text = b"%.17g" % score
    return bytes((len(text),)) + text


# ---------------------------------------------------------------------------------
# Values

@dataclass(frozen=True, slots=True)
class EncodingConfig:
    """The server settings that decide encodings; defaults are Redis 7.0's.

    Matching a server's non-default settings reproduces what that server saves.
    """

    hash_max_listpack_entries: int = C.HASH_MAX_LISTPACK_ENTRIES
    hash_max_listpack_value: int = C.HASH_MAX_LISTPACK_VALUE
    zset_max_listpack_entries: int = C.ZSET_MAX_LISTPACK_ENTRIES
    zset_max_listpack_value: int = C.ZSET_MAX_LISTPACK_VALUE
    set_max_intset_entries: int = C.SET_MAX_INTSET_ENTRIES
    set_max_listpack_entries: int = C.SET_MAX_LISTPACK_ENTRIES
    set_max_listpack_value: int = C.SET_MAX_LISTPACK_VALUE
    list_max_listpack_size: int = C.LIST_MAX_LISTPACK_SIZE
    list_compress_depth: int = 0
    stream_node_max_bytes: int = C.STREAM_NODE_MAX_BYTES
    stream_node_max_entries: int = C.STREAM_NODE_MAX_ENTRIES

    @classmethod
    def from_redis(cls, settings: dict) -> "EncodingConfig":
        """From CONFIG-style names (`hash-max-ziplist-entries` aliases too); others ignored."""
        known = set(cls.__dataclass_fields__)
        out = {}
        for name, value in settings.items():
            attr = name.replace("-", "_").replace("ziplist", "listpack")
            if attr in known:
                out[attr] = int(value)
        return cls(**out)


DEFAULT_CONFIG = EncodingConfig()


def _small(items, max_entries: int, max_value: int) -> bool:
    if len(items) > max_entries:
        return False
    return not items or max(map(len, items)) <= max_value


def _node_fits(node_bytes: int, count: int, sz: int, overhead: int, fill: int) -> bool:
    """`_quicklistNodeAllowInsert`: may an element of `sz` bytes join this node?"""
    new_sz = node_bytes + sz + overhead
    if fill < 0:
        return new_sz <= C.QUICKLIST_SIZE_LIMITS.get(fill, 0)
    return new_sz <= QUICKLIST_SAFETY_LIMIT and count < fill


def _ziplist_overhead(sz: int) -> int:
    """Redis <= 6.2's estimate of a ziplist entry's prevlen + header bytes."""
    return (1 if sz < 254 else 5) + (1 if sz < 64 else 2 if sz < 16384 else 5)


# Blob builders for the hot path: byte-identical to rdbtools.build's, with short
# strings and small integers laid out from prebuilt tables; anything else is handed to
# build's own entry encoders.

_LP_HEADER = struct.Struct("<IH")
_LP_STR_HEAD = tuple(bytes((0x80 | n,)) for n in range(64))
#: A short string entry's backlen: its body is 1 + n bytes (<= 127: one byte).
_LP_STR_BACKLEN = tuple(bytes((n + 1,)) for n in range(64))
#: Complete entries for the 7-bit unsigned integers (body byte + backlen 1).
_LP_UINT7 = tuple(bytes((v, 1)) for v in range(128))
_ZL_HEADER = struct.Struct("<IIH")
_ZL_BIG_PREVLEN = 254


def _listpack(items: Sequence) -> bytes:
    """`build_listpack(items)` for a sized sequence of bytes and ints."""
    parts: list[bytes] = []
    put = parts.append
    for x in items:
        if type(x) is bytes:
            n = len(x)
            if n < 64:
                # Only digit strings and '-' leads can be integers: test inline.
                if n <= 20 and (x.isdigit() or (n and x[0] == 0x2D)):
                    v = _int_value(x)
                    if v is not None:
                        put(_LP_UINT7[v] if 0 <= v < 128 else listpack_entry(v))
                        continue
                put(_LP_STR_HEAD[n])
                put(x)
                put(_LP_STR_BACKLEN[n])
                continue
        elif type(x) is int and 0 <= x < 128:
            put(_LP_UINT7[x])
            continue
        put(listpack_entry(x))
    body = b"".join(parts)
    return _LP_HEADER.pack(len(body) + 7, min(len(items), 0xFFFF)) + body + b"\xff"


def _ziplist(items: Sequence) -> bytes:
    """`build_ziplist(items)` for a sized sequence of bytes and ints."""
    parts: list[bytes] = []
    put = parts.append
    size = tail = 10                     # header bytes; the end byte is added last
    prev = 0
    for x in items:
        if type(x) is bytes and len(x) < 64:
            n = len(x)
            v = (_int_value(x) if n <= 20 and (x.isdigit() or (n and x[0] == 0x2D))
                 else None)
            entry = _BYTE[n] + x if v is None else ziplist_entry(v)
        else:
            entry = ziplist_entry(x)
        put(_BYTE[prev] if prev < _ZL_BIG_PREVLEN else b"\xfe" + C.U32.pack(prev))
        put(entry)
        tail = size
        prev = len(entry) + (1 if prev < _ZL_BIG_PREVLEN else 5)
        size += prev
    return (_ZL_HEADER.pack(size + 1, tail, min(len(items), 0xFFFF)) + b"".join(parts)
            + b"\xff")


def _one_node_fits(value, fill: int) -> bool:
    """Cheap sufficient test that RPUSHing all of `value` leaves a single quicklist node.

    An entry takes at most its string length + 10 bytes in either blob format, and the
    per-push estimate adds at most 10, so when this generous bound is under the node
    limit no push can overflow (and no element is big enough for a PLAIN node)."""
    n = len(value)
    if fill < 0:
        limit = C.QUICKLIST_SIZE_LIMITS.get(fill, 0)
    else:
        limit = QUICKLIST_SAFETY_LIMIT if n <= fill else 0
    return sum(map(len, value)) + 20 * n + 16 <= limit


def _quicklist_nodes(value, version: int, fill: int) -> list[tuple[int, bytes]]:
    """(container, blob) per node, split as successive RPUSHes would split them."""
    packed = C.QuicklistContainer.PACKED
    if value and _one_node_fits(value, fill):
        return [(packed, _listpack(value) if version >= 10 else _ziplist(value))]
    nodes: list[tuple[int, bytes]] = []
    node = None
    for item in value:
        sz = len(item)
        if version >= 10:
            if sz >= C.QUICKLIST_PACKED_THRESHOLD:
                if node is not None:
                    nodes.append((packed, node.to_bytes()))
                    node = None
                nodes.append((C.QuicklistContainer.PLAIN, bytes(item)))
                continue
            overhead = QUICKLIST_SIZE_OVERHEAD
        else:
            overhead = _ziplist_overhead(sz)
        if node is not None and not _node_fits(node.nbytes, len(node), sz, overhead, fill):
            nodes.append((packed, node.to_bytes()))
            node = None
        if node is None:
            node = ListpackBuilder() if version >= 10 else ZiplistBuilder()
        node.append(item)
    if node is not None:
        nodes.append((packed, node.to_bytes()))
    return nodes


def _node_string(blob: bytes, in_memory_lzf: bool, compress: bool, version: int) -> bytes:
    """A node as saved: inner nodes of a compressed quicklist are already LZF in memory
    and are written as such even with rdbcompression off; others as any string."""
    if in_memory_lzf and len(blob) >= QUICKLIST_MIN_COMPRESS_BYTES:
        # Redis's own bound (len(blob)) is never the deciding one here: the stream
        # must also save 8 bytes, and python-lzf and liblzf differ only near the bound.
        packed = lzf_raw(blob, len(blob))
        if packed is not None and len(packed) + QUICKLIST_MIN_COMPRESS_IMPROVE < len(blob):
            return (b"\xc3" + encode_len(len(packed), version) + encode_len(len(blob), version)
                    + packed)
    return encode_string(blob, compress, version)


_QUICKLIST_2, _QUICKLIST = RdbType.LIST_QUICKLIST_2, RdbType.LIST_QUICKLIST
_ONE_NODE = encode_len(1)
_ONE_PACKED_NODE = _ONE_NODE + encode_len(C.QuicklistContainer.PACKED)


def _encode_list(value: Sequence[bytes], version: int, compress: bool, cfg: EncodingConfig):
    if version < 7:
        if _small(value, V6_LIST_MAX_ZIPLIST_ENTRIES, V6_LIST_MAX_ZIPLIST_VALUE):
            return RdbType.LIST_ZIPLIST, encode_string(_ziplist(value), compress, version)
        return RdbType.LIST, _plain_strings(value, compress, version)
    if value and _one_node_fits(value, cfg.list_max_listpack_size):
        # One node is never an inner (compressed) one, whatever list-compress-depth says.
        blob = _listpack(value) if version >= 10 else _ziplist(value)
        if version >= 10:
            return _QUICKLIST_2, _ONE_PACKED_NODE + encode_string(blob, compress, version)
        return _QUICKLIST, _ONE_NODE + encode_string(blob, compress, version)
    nodes = _quicklist_nodes(value, version, cfg.list_max_listpack_size)
    depth = cfg.list_compress_depth
    squeeze = depth > 0 and len(nodes) >= 2 * depth
    out = [encode_len(len(nodes), version)]
    for i, (container, blob) in enumerate(nodes):
        inner = squeeze and depth <= i < len(nodes) - depth
        if version >= 10:
            out.append(encode_len(container, version))
        out.append(_node_string(blob, inner, compress, version))
    rtype = RdbType.LIST_QUICKLIST_2 if version >= 10 else RdbType.LIST_QUICKLIST
    return rtype, b"".join(out)


def _plain_strings(items, compress: bool, version: int) -> bytes:
    return encode_len(len(items), version) + b"".join(
        encode_string(x, compress, version) for x in items)


def _encode_set(value: Sequence[bytes], version: int, compress: bool, cfg: EncodingConfig):
    if value and len(value) <= cfg.set_max_intset_entries:
        ints = []
        for m in value:
            v = _int_value(m) if type(m) is bytes else canonical_int(m)
            if v is None:
                break
            ints.append(v)
        else:
            return RdbType.SET_INTSET, encode_string(build_intset(ints), compress, version)
    if value and version >= 11 and _small(value, cfg.set_max_listpack_entries,
                                          cfg.set_max_listpack_value):
        return RdbType.SET_LISTPACK, encode_string(_listpack(value), compress, version)
    return RdbType.SET, _plain_strings(value, compress, version)


_first = itemgetter(0)
_second = itemgetter(1)
#: Redis's zset order: by score, then member bytes.
_by_score = itemgetter(1, 0)


def _score_item(score: float, version: int) -> bytes | int:
    """A score as a blob element: integral scores as ints (what the text form of
    `_double_text` turns into anyway), everything else as that text."""
    if type(score) is float:
        if score.is_integer():
            if score or math.copysign(1.0, score) > 0:
                if version >= 10:
                    if -_DOUBLE2LL_LIMIT <= score <= _DOUBLE2LL_LIMIT:
                        return int(score)
                elif -_OLD_INT_DOUBLE_LIMIT < score < _OLD_INT_DOUBLE_LIMIT:
                    return int(score)
        elif version < 11 and score - score == 0.0:  # finite, not integral: %.17g
            return b"%.17g" % score
    return _double_text(score, version)


def _encode_zset(value: Sequence[tuple[bytes, float]], version: int, compress: bool,
                 cfg: EncodingConfig):
    if value and len(value) <= cfg.zset_max_listpack_entries and (
            max(map(len, map(_first, value))) <= cfg.zset_max_listpack_value):
        items: list = []
        put = items.append
        for m, s in sorted(value, key=_by_score):
            put(m)
            put(_score_item(s, version))
        if version >= 10:
            return RdbType.ZSET_LISTPACK, encode_string(_listpack(items), compress, version)
        return RdbType.ZSET_ZIPLIST, encode_string(_ziplist(items), compress, version)
    ordered = sorted(value, key=_by_score, reverse=True)
    out = [encode_len(len(ordered), version)]
    if version >= 8:
        for m, s in ordered:
            out.append(encode_string(m, compress, version))
            out.append(C.F64.pack(s))
        return RdbType.ZSET_2, b"".join(out)
    for m, s in ordered:
        out.append(encode_string(m, compress, version))
        out.append(_string_double(s))
    return RdbType.ZSET, b"".join(out)


def _encode_hash(value, version: int, compress: bool, field_expires, cfg: EncodingConfig):
    flat = None
    small = False
    if value and len(value) <= cfg.hash_max_listpack_entries:
        flat = list(chain.from_iterable(value))
        small = max(map(len, flat)) <= cfg.hash_max_listpack_value
    if field_expires and version >= 12:
        live = {f: t for f, t in field_expires.items() if t is not None}
        if live:
            return _encode_hash_ttl(value, live, small, compress, version)
    if small:
        if version >= 10:
            return RdbType.HASH_LISTPACK, encode_string(_listpack(flat), compress, version)
        return RdbType.HASH_ZIPLIST, encode_string(_ziplist(flat), compress, version)
    out = [encode_len(len(value), version)]
    for f, v in value:
        out.append(encode_string(f, compress, version))
        out.append(encode_string(v, compress, version))
    return RdbType.HASH, b"".join(out)


def _encode_hash_ttl(value, ttls: dict, small: bool, compress: bool, version: int):
    for t in ttls.values():
        if not 0 <= t <= C.HFE_EXPIRE_TIME_MAX:
            raise UnsupportedError(f"hash field expire time {t} is outside 0..2**48-1")
    min_expire = min((ttls[f] for f, _ in value if f in ttls), default=0)
    if small:
        with_ttl = sorted((p for p in value if p[0] in ttls), key=lambda p: ttls[p[0]])
        items: list = []
        for f, v in with_ttl:
            items += (f, v, ttls[f])
        for f, v in value:
            if f not in ttls:
                items += (f, v, 0)
        return RdbType.HASH_LISTPACK_EX, _ms(min_expire) + encode_string(
            build_listpack(items), compress, version)
    out = [_ms(min_expire), encode_len(len(value), version)]
    for f, v in value:
        t = ttls.get(f)
        out.append(encode_len(0 if t is None else t - min_expire + 1, version))
        out.append(encode_string(f, compress, version))
        out.append(encode_string(v, compress, version))
    return RdbType.HASH_METADATA, b"".join(out)


def _stream_nodes(entries, cfg: EncodingConfig) -> list[tuple[tuple[int, int], bytes]]:
    """Node listpacks as successive `streamAppendItem` calls would leave them."""
    nodes: list[tuple[tuple[int, int], bytes]] = []
    max_bytes = cfg.stream_node_max_bytes
    if max_bytes <= 0 or max_bytes > STREAM_LISTPACK_MAX_SIZE:
        max_bytes = STREAM_LISTPACK_MAX_SIZE
    max_entries = cfg.stream_node_max_entries
    lp: ListpackBuilder | None = None
    master = (0, 0)
    master_fields: tuple = ()
    count = 0
    for entry in entries:
        fields = entry.fields
        if lp is not None:
            total = sum(len(f) + len(v) for f, v in fields)
            if lp.nbytes + total >= max_bytes or (max_entries and count >= max_entries):
                nodes.append((master, lp.to_bytes()))
                lp = None
        names = tuple(f for f, _ in fields)
        if lp is None:
            lp = ListpackBuilder()
            master, master_fields, count = entry.id, names, 1
            lp.append(1)
            lp.append(0)
            lp.append(len(names))
            for name in names:
                lp.append(name)
            lp.append(0)
            same = True
        else:
            count += 1
            lp.replace(0, count)
            same = names == master_fields
        flags = C.STREAM_ITEM_FLAG_SAMEFIELDS if same else C.STREAM_ITEM_FLAG_NONE
        lp.append(flags)
        lp.append(_signed64(entry.id[0] - master[0]))
        lp.append(_signed64(entry.id[1] - master[1]))
        if not same:
            lp.append(len(fields))
        for f, v in fields:
            if not same:
                lp.append(f)
            lp.append(v)
        lp.append(len(fields) + 3 if same else 2 * len(fields) + 4)
    if lp is not None:
        nodes.append((master, lp.to_bytes()))
    return nodes


def _encode_stream(s: Stream, version: int, compress: bool, cfg: EncodingConfig):
    if version < 9:
        raise _cannot("streams", 9, version)
    rtype = (RdbType.STREAM_LISTPACKS_3 if version >= 11 else
             RdbType.STREAM_LISTPACKS_2 if version >= 10 else RdbType.STREAM_LISTPACKS)
    L = lambda n: encode_len(n, version)  # noqa: E731
    out = []
    nodes = _stream_nodes(s.entries, cfg)
    out.append(L(len(nodes)))
    for key, lp in nodes:
        out.append(encode_string(_stream_id_raw(key), compress, version))
        out.append(encode_string(lp, compress, version))
    out.append(L(len(s.entries)))
    out.append(L(s.last_id[0]) + L(s.last_id[1]))
    if rtype >= RdbType.STREAM_LISTPACKS_2:
        out.append(L(s.first_id[0]) + L(s.first_id[1]))
        out.append(L(s.max_deleted_id[0]) + L(s.max_deleted_id[1]))
        out.append(L(s.entries_added))
    groups = sorted(s.groups, key=lambda g: g.name)
    out.append(L(len(groups)))
    for g in groups:
        out.append(encode_string(g.name, compress, version))
        out.append(L(g.last_id[0]) + L(g.last_id[1]))
        if rtype >= RdbType.STREAM_LISTPACKS_2:
            out.append(L(g.entries_read & (_U64_SPAN - 1)))
        pel = sorted(g.pending, key=lambda p: p.id)
        out.append(L(len(pel)))
        for p in pel:
            out.append(_stream_id_raw(p.id) + _ms(p.delivery_time) + L(p.delivery_count))
        consumers = sorted(g.consumers, key=lambda c: c.name)
        out.append(L(len(consumers)))
        for c in consumers:
            out.append(encode_string(c.name, compress, version))
            out.append(_ms(c.seen_time))
            if rtype >= RdbType.STREAM_LISTPACKS_3:
                out.append(_ms(c.active_time))
            ids = sorted(c.pending)
            out.append(L(len(ids)))
            out.append(b"".join(_stream_id_raw(i) for i in ids))
    return rtype, b"".join(out)


def encode_value(kind: Kind, value, *, version: int = C.RDB_VERSION_DEFAULT_WRITE,
                 compress: bool = True, field_expires=None,
                 config: EncodingConfig = DEFAULT_CONFIG) -> tuple[RdbType, bytes]:
    """The type byte and value body Redis would save for `value` in RDB `version`."""
    return _encode(Kind(kind), value, _check_version(version), compress, field_expires,
                   config)


# Enum members as plain globals: `Kind.LIST` is an attribute lookup through the enum
# machinery, several times slower than a global, and _encode runs once per key.
_STRING_KIND, _LIST_KIND, _SET_KIND, _ZSET_KIND, _HASH_KIND = (
    Kind.STRING, Kind.LIST, Kind.SET, Kind.ZSET, Kind.HASH)
_STRING_TYPE, _ZSET_TYPE, _ZSET_2_TYPE = RdbType.STRING, RdbType.ZSET, RdbType.ZSET_2


def _encode(kind: Kind, value, version: int, compress: bool, field_expires,
            config: EncodingConfig) -> tuple[RdbType, bytes]:
    """`encode_value` with its arguments already checked (the per-key path)."""
    if kind is _STRING_KIND:
        return _STRING_TYPE, encode_string(value, compress, version)
    if kind is _LIST_KIND:
        return _encode_list(value, version, compress, config)
    if kind is _SET_KIND:
        return _encode_set(value, version, compress, config)
    if kind is _ZSET_KIND:
        return _encode_zset(value, version, compress, config)
    if kind is _HASH_KIND:
        if field_expires and version < 12 and any(t is not None for t in field_expires.values()):
            raise _cannot("hash field TTLs", 12, version)
        return _encode_hash(value, version, compress, field_expires, config)
    if kind is Kind.STREAM:
        return _encode_stream(value, version, compress, config)
    if kind is Kind.MODULE:
        if version < 8:
            raise _cannot("module values", 8, version)
        if not isinstance(value, ModuleValue):
            raise TypeError("module values are written from ModuleValue.raw")
        return RdbType.MODULE_2, encode_len(value.module_id, version) + bytes(value.raw)
    raise TypeError(f"cannot encode kind {kind!r}")


def _zset_as_loaded(value, cfg: EncodingConfig):
    """A skiplist-form zset as a loader with `cfg` holds it: small ones become
    listpacks, where -0.0 turns into integer 0 (zzlInsertAt), so the digest sees 0."""
    if len(value) > cfg.zset_max_listpack_entries or not value:
        return value
    if 0.0 not in map(_second, value):  # == 0.0 holds for -0.0 too: the rare case
        return value
    if max(map(len, map(_first, value))) > cfg.zset_max_listpack_value:
        return value
    if not any(s == 0 and math.copysign(1.0, s) < 0 for _, s in value):
        return value
    return [(m, 0.0 if s == 0 else s) for m, s in value]


# ---------------------------------------------------------------------------------
# Whole files

class RdbWriter:
    """Pure encoder for one RDB file: call in file order, concatenate what it returns."""

    def __init__(self, version: int = C.RDB_VERSION_DEFAULT_WRITE, *, compress: bool = True,
                 checksum: bool = True, config: EncodingConfig = DEFAULT_CONFIG) -> None:
        self.version = _check_version(version)
        self.compress = compress
        self.config = config
        self.checksum = checksum
        self.crc = 0
        self.nbytes = 0

    def _emit(self, data: bytes) -> bytes:
        if self.checksum:
            self.crc = crc64(data, self.crc)
        self.nbytes += len(data)
        return data

    def _str(self, data: bytes) -> bytes:
        return encode_string(data, self.compress, self.version)

    def _len(self, n: int) -> bytes:
        return encode_len(n, self.version)

    def header(self) -> bytes:
        return self._emit(b"REDIS%04d" % self.version)

    def aux(self, key: bytes | str, value: bytes | str) -> bytes:
        if self.version < 7:
            raise UnsupportedError(f"AUX fields need RDB 7 (target {self.version})")
        if isinstance(key, str):
            key = key.encode()
        if isinstance(value, str):
            value = value.encode()
        return self._emit(bytes((Opcode.AUX,)) + self._str(key) + self._str(value))

    def default_aux(self, *, ctime: int | None = None, used_mem: int = 0) -> bytes:
        """The AUX block a server of the target's era writes, plus `rdbkit-ver`."""
        if self.version < 7:
            return b""
        ctime = int(time.time()) if ctime is None else ctime
        parts = [self.aux("redis-ver", REDIS_VER_FOR[self.version]),
                 self.aux("rdbkit-ver", RDBKIT_VER),
                 self.aux("redis-bits", "64"),
                 self.aux("ctime", str(ctime)),
                 self.aux("used-mem", str(used_mem))]
        if self.version >= 10:
            parts.append(self.aux("aof-base", "0"))
        elif self.version >= 8:
            parts.append(self.aux("aof-preamble", "0"))
        return b"".join(parts)

    def select_db(self, db: int) -> bytes:
        return self._emit(bytes((Opcode.SELECTDB,)) + self._len(db))

    def resize_db(self, n: int, n_expires: int) -> bytes:
        if self.version < 7:
            return b""
        return self._emit(bytes((Opcode.RESIZEDB,)) + self._len(n) + self._len(n_expires))

    def function(self, code: bytes) -> bytes:
        if self.version < 10:
            raise _cannot("functions", 10, self.version)
        return self._emit(bytes((Opcode.FUNCTION2,)) + self._str(code))

    def module_aux(self, rec: ModuleAux) -> bytes:
        if self.version < 9:
            raise _cannot("module aux data", 9, self.version)
        return self._emit(bytes((Opcode.MODULE_AUX,)) + self._len(rec.module_id)
                          + self._len(C.ModuleOpcode.UINT) + self._len(rec.when) + bytes(rec.raw))

    def key(self, rec: KeyRecord) -> bytes:
        return self._emit(self._key_bytes(rec))

    def _key_bytes(self, rec: KeyRecord) -> bytes:
        """One key's bytes, not yet counted in the CRC (write_rdb batches that)."""
        version = self.version
        compress = self.compress
        rtype = rec.type
        if rtype == _STRING_TYPE:
            body = encode_string(rec.value, compress, version)
        else:
            value = rec.value
            if rtype == _ZSET_TYPE or rtype == _ZSET_2_TYPE:
                value = _zset_as_loaded(value, self.config)
            try:
                rtype, body = _encode(TYPE_KIND[rtype], value, version, compress,
                                      rec.field_expires, self.config)
            except LossyConversion as e:
                raise LossyConversion([Loss(rec.db, rec.key, x.what) for x in e.losses]) from None
            except UnsupportedError as e:
                raise e.located(key=rec.key, db=rec.db)
        head = _BYTE[rtype] + encode_string(rec.key, compress, version)
        expire = rec.expire_ms
        if version >= 9 and (rec.idle is not None or rec.freq is not None):
            if rec.freq is not None:
                head = _BYTE[Opcode.FREQ] + _BYTE[rec.freq & 0xFF] + head
            if rec.idle is not None:
                head = _BYTE[Opcode.IDLE] + encode_len(rec.idle, version) + head
        if expire is not None:
            head = _EXPIRE_MS_OP + _ms(expire) + head
        return head + body

    def end(self) -> bytes:
        tail = self._emit(bytes((Opcode.EOF,)))
        return tail + C.U64.pack(self.crc if self.checksum else 0)


@dataclass
class WriteReport:
    """What `write_rdb` wrote, and what it had to drop (only with `lossy=True`)."""

    version: int
    keys: int = 0
    functions: int = 0
    bytes: int = 0
    dropped: list[Loss] = field(default_factory=list)
    #: Eviction hints (IDLE/FREQ) the target version cannot carry; not data.
    dropped_eviction_hints: int = 0
    #: Empty lists/sets/zsets/hashes (db, key): Redis would skip them on load anyway.
    skipped_empty: list[tuple[int, bytes]] = field(default_factory=list)

    @property
    def lossless(self) -> bool:
        return not self.dropped


_COLLECTIONS = frozenset((Kind.LIST, Kind.SET, Kind.ZSET, Kind.HASH))


def _kept(rec: KeyRecord, version: int) -> bool:
    """Whether `rec` ends up in the file (for RESIZEDB, which precedes the keys)."""
    if rec.kind in _COLLECTIONS and not rec.value:
        return False
    return strip_key(rec, version) is not None


def _group_by_db(keys: Iterable[KeyRecord]):
    by_db: dict[int, list[KeyRecord]] = {}
    for rec in keys:
        by_db.setdefault(rec.db, []).append(rec)
    return [(db, by_db[db]) for db in sorted(by_db)]


#: write_rdb hands the file (and the CRC) buffers of about this many bytes.
_FLUSH_BYTES = 1 << 18


def _flush(parts: list, w: RdbWriter, out) -> int:
    """Write the gathered bytes as one buffer (one CRC update); returns the new
    pending count (0)."""
    if parts:
        data = b"".join(parts)
        parts.clear()
        out.write(w._emit(data))
    return 0


def write_rdb(path, source, *, version: int = C.RDB_VERSION_DEFAULT_WRITE, lossy: bool = False,
              inputs=(), compress: bool = True, checksum: bool = True,
              ctime: int | None = None, config: EncodingConfig = DEFAULT_CONFIG,
              batched: bool = False) -> WriteReport:
    """Write `source` (a Dataset or Records) as an RDB file at `path`, atomically.

    Header, AUX and end records of the source are replaced by our own. A Dataset or a
    sequence is grouped by database with exact RESIZEDB counts; a one-pass iterator is
    written in its own order, RESIZEDB taken from the source's hints. `batched=True`:
    the iterator yields lists of records, in which a plain string key may also be a
    `(db, key, value, expire_ms)` tuple, as `RecordIterator.batches(raw_strings=True)`
    hands them out (no `KeyRecord` built per key). A `RecordIterator` itself (what
    `iter_records` returns) is read that way: pass it fresh, as for `dump_records`.

    Keys are encoded into a list of parts that goes to the file, and through the CRC,
    every `_FLUSH_BYTES`: per-key file writes and CRC calls cost more than encoding a
    short string key. Plain string keys (most keys in most datasets) are encoded inline.
    """
    from .fileio import atomic_output

    w = RdbWriter(version, compress=compress, checksum=checksum, config=config)
    report = WriteReport(version=w.version)
    losses: list[Loss] = []

    if isinstance(source, Dataset):
        prelude = [*source.module_aux, *source.functions]
        groups = _group_by_db(source.keys)
        stream = None
    elif isinstance(source, Sequence):
        prelude = [r for r in source if isinstance(r, (Function, ModuleAux))]
        groups = _group_by_db(r for r in source if isinstance(r, KeyRecord))
        stream = None
    elif batched:
        prelude, groups, stream = [], [], chain.from_iterable(source)
    elif getattr(source, "batches", None) is not None:
        prelude, groups = [], []
        stream = chain.from_iterable(source.batches(raw_strings=True))
    else:
        prelude, groups, stream = [], [], iter(source)

    def key_bytes(rec: KeyRecord) -> bytes:
        """Any key but a plain string one without eviction hints."""
        if TYPE_KIND[rec.type] in _COLLECTIONS and not rec.value:
            # Redis deletes empty collections; loaders skip them and redis-check-rdb
            # calls them corrupt, so they are not written.
            report.skipped_empty.append((rec.db, rec.key))
            return b""
        problems = check_key(rec, w.version)
        if problems:
            losses.extend(problems)
            if not lossy:
                return b""
            report.dropped.extend(problems)
            rec = strip_key(rec, w.version)
            if rec is None:
                return b""
        if w.version < 9 and (rec.idle is not None or rec.freq is not None):
            report.dropped_eviction_hints += 1
        report.keys += 1
        return w._key_bytes(rec)

    def other_bytes(rec) -> bytes:
        if isinstance(rec, Function):
            if w.version < 10:
                loss = Loss(None, None, f"function library {rec.library_name!r} (needs RDB 10)")
                losses.append(loss)
                if lossy:
                    report.dropped.append(loss)
                return b""
            report.functions += 1
            return w.function(rec.code)
        if isinstance(rec, ModuleAux):
            if w.version < 9:
                loss = Loss(None, None, f"module aux data of {rec.module_name} (needs RDB 9)")
                losses.append(loss)
                if lossy:
                    report.dropped.append(loss)
                return b""
            return w.module_aux(rec)
        return b""

    def pump(records, out, current_db: int | None, after: list) -> None:
        """Encode `records` in order; SELECTDB/RESIZEDB when the database changes."""
        version = w.version
        compress = w.compress
        enc = encode_string
        short = _BYTE
        int_lead = _INT_LEAD
        put = (parts := []).append
        pending = 0
        plain = 0
        hint: tuple[int, int, int] | None = None
        pending_db: int | None = None
        key_cls = KeyRecord

        def switch_db(db: int) -> None:
            _flush(parts, w, out)
            out.write(w.select_db(db))
            if hint is not None and hint[0] == db:
                out.write(w.resize_db(hint[1], hint[2]))
            else:
                out.write(w.resize_db(0, 0))

        for rec in records:
            cls = type(rec)
            if cls is tuple:  # a plain string key from a parser batch
                db, k, v, expire = rec
                if db != current_db:
                    pending = 0
                    switch_db(db)
                    current_db = db
                data = None
            elif cls is key_cls or isinstance(rec, KeyRecord):
                db = rec.db
                if db != current_db and _kept(rec, version):
                    pending = 0
                    switch_db(db)
                    current_db = db
                if rec.type == 0 and rec.idle is None and rec.freq is None:
                    k = rec.key
                    v = rec.value
                    expire = rec.expire_ms
                    data = None
                else:
                    data = key_bytes(rec)
            else:
                if isinstance(rec, SelectDb):
                    pending_db = rec.db
                elif isinstance(rec, ResizeDb):
                    if pending_db is not None:
                        hint = (pending_db, rec.db_size, rec.expires_size)
                elif isinstance(rec, ModuleAux) and rec.when == 2:
                    after.append(rec)
                elif isinstance(rec, (Function, ModuleAux)):
                    pending = _flush(parts, w, out)
                    out.write(other_bytes(rec))
                continue
            if data is None:
                # A plain string key without eviction hints: encode_string inlined for
                # what it leaves raw (<= 20 bytes, no integer lead byte).
                n = len(k)
                m = len(v)
                try:
                    if n <= 20 and (n > 11 or (n and k[0] not in int_lead)):
                        if m <= 20 and (m > 11 or (m and v[0] not in int_lead)):
                            data = _KEY_STRING + short[n] + k + short[m] + v
                        else:
                            data = _KEY_STRING + short[n] + k + enc(v, compress, version)
                    else:
                        data = _KEY_STRING + enc(k, compress, version) + enc(
                            v, compress, version)
                except UnsupportedError as e:
                    raise e.located(key=k, db=db)
                if expire is not None:
                    data = _EXPIRE_MS_OP + _ms(expire) + data
                plain += 1
            n = len(data)
            if n < _FLUSH_BYTES:
                put(data)
                pending += n
                if pending >= _FLUSH_BYTES:
                    pending = _flush(parts, w, out)
            else:  # a big value goes out as it is, not copied into a batch
                pending = _flush(parts, w, out)
                out.write(w._emit(data))
        _flush(parts, w, out)
        report.keys += plain

    with atomic_output(path, inputs=tuple(inputs)) as out:
        out.write(w.header())
        out.write(w.default_aux(ctime=ctime))
        after = [r for r in prelude if isinstance(r, ModuleAux) and r.when == 2]
        for rec in prelude:
            if not (isinstance(rec, ModuleAux) and rec.when == 2):
                out.write(other_bytes(rec))
        for db, recs in groups:
            kept = [r for r in recs if _kept(r, w.version)]
            if kept:  # a database left empty gets no SELECTDB, as Redis writes it
                out.write(w.select_db(db))
                out.write(w.resize_db(len(kept), sum(r.expire_ms is not None for r in kept)))
            pump(recs, out, db, after)
        if stream is not None:
            pump(stream, out, None, after)
        for rec in after:
            out.write(other_bytes(rec))
        if losses and not lossy:
            raise LossyConversion(losses)
        out.write(w.end())
    report.bytes = w.nbytes + 8
    return report
