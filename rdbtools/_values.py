"""Reading RDB primitives and value bodies out of an in-memory buffer.

Everything works on `(d, p)`: `d` is a `bytes` buffer, `p` an index into it. Running
out of buffer raises `NeedMore(index needed)`, so the streaming parser can rewind and
ask for more; wrong bytes raise `Bad(reason, index)`. The parser (or `decode_value`)
turns both into located `FormatError`s with absolute offsets; nothing here knows
about files, offsets or the CRC.
"""

from __future__ import annotations

import math
import struct

from . import _lzf
from .blobs import as_bytes as _bytes_items
from .blobs import intset as _intset
from .blobs import listpack as _listpack
from .blobs.listpack import strings as _lp_strings
from .blobs import ziplist as _ziplist
from .blobs import zipmap as _zipmap
from .constants import (
    DOUBLE_NAN, DOUBLE_NEG_INF, DOUBLE_POS_INF, F64, HFE_EXPIRE_TIME_MAX, I8, I16, I32, I64,
    MAX_DECLARED_COUNT, MAX_STRING_BYTES, STREAM_ID, STREAM_ITEM_FLAG_DELETED,
    STREAM_ITEM_FLAG_SAMEFIELDS, U32_BE, U64_BE, VALKEY_TYPE_HASH_2, ModuleOpcode,
    QuicklistContainer, RdbType,
)
from .errors import CorruptError, UnsupportedError
from .records import (
    Consumer, ConsumerGroup, ModuleValue, PendingEntry, Stream, StreamEntry, module_name,
)

_U32_BE, _U64_BE, _I8, _I16, _I32, _I64, _F64, _ID = U32_BE, U64_BE, I8, I16, I32, I64, F64, STREAM_ID
_U64_MAX = (1 << 64) - 1
_PACKED = int(QuicklistContainer.PACKED)


class NeedMore(Exception):
    """The buffer ends before index `at` - 1; more input may complete the record."""

    __slots__ = ("at",)

    def __init__(self, at: int) -> None:
        self.at = at


class Bad(Exception):
    """Wrong bytes at buffer index `at`; `cls` is the public error class to raise."""

    def __init__(self, reason: str, at: int, cls=CorruptError) -> None:
        super().__init__(reason)
        self.reason = reason
        self.at = at
        self.cls = cls


# --------------------------------------------------------------------------------
# primitives

def read_len(d, p: int) -> tuple[int, int]:
    """An RDB length (6/14/32/64-bit forms); an encoded-string byte here is an error."""
    if p >= len(d):
        raise NeedMore(p + 1)
    b = d[p]
    if b < 0x40:
        return b, p + 1
    if b < 0x80:
        if p + 2 > len(d):
            raise NeedMore(p + 2)
        return ((b & 0x3F) << 8) | d[p + 1], p + 2
    if b == 0x80:
        if p + 5 > len(d):
            raise NeedMore(p + 5)
        return _U32_BE.unpack_from(d, p + 1)[0], p + 5
    if b == 0x81:
        if p + 9 > len(d):
            raise NeedMore(p + 9)
        return _U64_BE.unpack_from(d, p + 1)[0], p + 9
    if b >= 0xC0:
        raise Bad(f"unexpected encoded-string byte 0x{b:02x} where a length is expected", p)
    raise Bad(f"Unknown length encoding {b >> 6} in rdbLoadLen() (byte 0x{b:02x})", p)


def read_count(d, p: int, what: str, min_size: int = 1) -> tuple[int, int]:
    """A length used as an element count: capped before any loop trusts it. Each
    element takes at least `min_size` bytes, so a count the buffer cannot hold asks
    for that much at once (no partial collection is built, and a slow feeder is not
    re-parsed once per element)."""
    n, q = read_len(d, p)
    if n > MAX_DECLARED_COUNT:
        raise Bad(f"{what} count {n} is beyond any real file", p)
    end = q + n * min_size
    if end > len(d):
        raise NeedMore(end)
    return n, q


def read_string(d, p: int) -> tuple[bytes, int]:
    """An RDB string: raw, int8/16/32 (rendered as decimal) or LZF-compressed."""
    if p >= len(d):
        raise NeedMore(p + 1)
    b = d[p]
    if b < 0x40:
        q = p + 1 + b
        if q > len(d):
            raise NeedMore(q)
        return d[p + 1:q], q
    if b >= 0xC0:
        if b == 0xC0:
            if p + 2 > len(d):
                raise NeedMore(p + 2)
            return b"%d" % _I8.unpack_from(d, p + 1)[0], p + 2
        if b == 0xC1:
            if p + 3 > len(d):
                raise NeedMore(p + 3)
            return b"%d" % _I16.unpack_from(d, p + 1)[0], p + 3
        if b == 0xC2:
            if p + 5 > len(d):
                raise NeedMore(p + 5)
            return b"%d" % _I32.unpack_from(d, p + 1)[0], p + 5
        if b == 0xC3:
            clen, q = read_len(d, p + 1)
            ulen, q = read_len(d, q)
            if clen > MAX_STRING_BYTES or ulen > MAX_STRING_BYTES:
                raise Bad(f"LZF string lengths {clen}/{ulen} are beyond any real file", p)
            if ulen > max(clen, 1) * 128 or ulen == 0:
                raise Bad(f"LZF declared length {ulen} is absurd for {clen} compressed bytes", p)
            end = q + clen
            if end > len(d):
                raise NeedMore(end)
            try:
                return _lzf.decompress(d[q:end], ulen, p), end
            except CorruptError as e:
                raise Bad(e.reason, p) from None
        raise Bad(f"Unknown RDB string encoding type {b & 0x3F}", p)
    n, q = read_len(d, p)
    if n > MAX_STRING_BYTES:
        raise Bad(f"string length {n} is beyond any real file", p)
    end = q + n
    if end > len(d):
        raise NeedMore(end)
    return d[q:end], end


def _more(e: NeedMore, n: int, done: int, min_size: int) -> NeedMore:
    """Widen a NeedMore raised inside element `done` of `n`: the elements after it
    need at least `min_size` bytes each, so feeding a big collection slowly is
    re-parsed O(log n) times, not once per element."""
    return NeedMore(e.at + (n - done - 1) * min_size)


def read_string_double(d, p: int) -> tuple[float, int]:
    """Type-3 zset score: one length byte then ASCII, or the nan/inf marker bytes."""
    if p >= len(d):
        raise NeedMore(p + 1)
    n = d[p]
    if n == DOUBLE_NAN:
        return math.nan, p + 1
    if n == DOUBLE_POS_INF:
        return math.inf, p + 1
    if n == DOUBLE_NEG_INF:
        return -math.inf, p + 1
    end = p + 1 + n
    if end > len(d):
        raise NeedMore(end)
    text = d[p + 1:end]
    try:
        return float(text), end
    except ValueError:
        raise Bad(f"invalid double {text!r}", p) from None


def _blob(decoder, d, p: int, what: str):
    """Read an RDB string and decode it as a blob; blob errors point at the string."""
    raw, q = read_string(d, p)
    try:
        return decoder(raw), q
    except CorruptError as e:
        where = f" at blob byte {e.offset}" if e.offset is not None else ""
        raise Bad(f"{what}: {e.reason}{where}", p) from None
    except (struct.error, IndexError, ValueError) as e:
        raise Bad(f"{what}: malformed ({e})", p) from None


def _lp_blob(d, p: int, what: str):
    """`_blob(_lp_strings, ...)` with the usual short raw string read inline."""
    if p < len(d) and d[p] < 0x40:
        q = p + 1 + d[p]
        if q > len(d):
            raise NeedMore(q)
        raw = d[p + 1:q]
    else:
        raw, q = read_string(d, p)
    try:
        return _lp_strings(raw), q
    except CorruptError as e:
        where = f" at blob byte {e.offset}" if e.offset is not None else ""
        raise Bad(f"{what}: {e.reason}{where}", p) from None
    except (struct.error, IndexError, ValueError) as e:
        raise Bad(f"{what}: malformed ({e})", p) from None


def _pairs(items, p: int, what: str) -> list:
    if len(items) & 1:
        raise Bad(f"{what} holds an odd number of elements ({len(items)})", p)
    it = iter(items)
    return list(zip(it, it))


# --------------------------------------------------------------------------------
# value bodies: each returns (value, field_expires, new index)

def _v_string(d, p, ctx):
    v, p = read_string(d, p)
    return v, None, p


def _v_list(d, p, ctx):
    n, p = read_count(d, p, "list")
    out = []
    try:
        for _ in range(n):
            v, p = read_string(d, p)
            out.append(v)
    except NeedMore as e:
        raise _more(e, n, len(out), 1) from None
    return out, None, p


def _v_zset(d, p, ctx):
    n, p = read_count(d, p, "zset", 2)
    out = []
    try:
        for _ in range(n):
            m, p = read_string(d, p)
            s, p = read_string_double(d, p)
            out.append((m, s))
    except NeedMore as e:
        raise _more(e, n, len(out), 2) from None
    return out, None, p


def _v_zset2(d, p, ctx):
    n, p = read_count(d, p, "zset", 9)
    out = []
    unpack = _F64.unpack_from
    try:
        for _ in range(n):
            m, p = read_string(d, p)
            if p + 8 > len(d):
                raise NeedMore(p + 8)
            out.append((m, unpack(d, p)[0]))
            p += 8
    except NeedMore as e:
        raise _more(e, n, len(out), 9) from None
    return out, None, p


def _v_hash(d, p, ctx):
    n, p = read_count(d, p, "hash", 2)
    out = []
    try:
        for _ in range(n):
            f, p = read_string(d, p)
            v, p = read_string(d, p)
            out.append((f, v))
    except NeedMore as e:
        raise _more(e, n, len(out), 2) from None
    return out, None, p


def _v_zipmap(d, p, ctx):
    v, p = _blob(_zipmap.pairs, d, p, "zipmap")
    return v, None, p


def _v_list_ziplist(d, p, ctx):
    items, p = _blob(_ziplist.entries, d, p, "ziplist")
    return _bytes_items(items), None, p


def _v_intset(d, p, ctx):
    items, q = _blob(_intset.entries, d, p, "intset")
    # One C-level formatting pass instead of a per-element Python expression.
    return " ".join(map(str, items)).encode().split(b" ") if items else [], None, q


def _zset_from(items, p, what):
    if len(items) & 1:
        raise Bad(f"{what} holds an odd number of elements ({len(items)})", p)
    members = _bytes_items(items[0::2])
    try:
        scores = list(map(float, items[1::2]))
    except ValueError:
        bad = next(s for s in items[1::2] if not _is_float(s))
        raise Bad(f"invalid zset score {bad[:40]!r}", p) from None
    return list(zip(members, scores))


def _is_float(x) -> bool:
    try:
        float(x)
    except ValueError:
        return False
    return True


def _v_zset_ziplist(d, p, ctx):
    items, q = _blob(_ziplist.entries, d, p, "zset ziplist")
    return _zset_from(items, p, "zset ziplist"), None, q


def _v_zset_listpack(d, p, ctx):
    items, q = _lp_blob(d, p, "zset listpack")
    if len(items) & 1:
        raise Bad(f"zset listpack holds an odd number of elements ({len(items)})", p)
    try:
        return list(zip(items[0::2], map(float, items[1::2]))), None, q
    except ValueError:
        return _zset_from(items, p, "zset listpack"), None, q


def _v_hash_ziplist(d, p, ctx):
    items, q = _blob(_ziplist.entries, d, p, "hash ziplist")
    return _pairs(_bytes_items(items), p, "hash ziplist"), None, q


def _v_hash_listpack(d, p, ctx):
    items, q = _lp_blob(d, p, "hash listpack")
    if len(items) & 1:
        raise Bad(f"hash listpack holds an odd number of elements ({len(items)})", p)
    it = iter(items)
    return list(zip(it, it)), None, q


def _v_set_listpack(d, p, ctx):
    items, q = _lp_blob(d, p, "set listpack")
    return items, None, q


def _v_quicklist(d, p, ctx):
    n, p = read_count(d, p, "quicklist node", 1)
    out = []
    i = 0
    try:
        for i in range(n):
            items, p = _blob(_ziplist.entries, d, p, "quicklist ziplist node")
            out.extend(_bytes_items(items))
    except NeedMore as e:
        raise _more(e, n, i, 1) from None
    return out, None, p


def _v_quicklist2(d, p, ctx):
    n, p = read_count(d, p, "quicklist node", 2)
    if n == 1 and d[p] == _PACKED:
        # One listpack node: most lists. Errors are reported by the general loop.
        try:
            items, q = _lp_blob(d, p + 1, "quicklist listpack node")
        except (Bad, NeedMore):
            pass
        else:
            return items, None, q
    out = []
    i = 0
    try:
        for i in range(n):
            p = _quicklist2_node(d, p, out)
    except NeedMore as e:
        raise _more(e, n, i, 2) from None
    return out, None, p


def _quicklist2_node(d, p, out):
    at = p
    container, p = read_len(d, p)
    if container == QuicklistContainer.PLAIN:
        v, p = read_string(d, p)
        if not v:
            raise Bad("empty PLAIN quicklist node", at)
        out.append(v)
    elif container == QuicklistContainer.PACKED:
        items, p = _lp_blob(d, p, "quicklist listpack node")
        out.extend(items)
    else:
        raise Bad(f"Quicklist integrity check failed: container {container}", at)
    return p


def _v_set(d, p, ctx):
    return _v_list(d, p, ctx)


def _read_ms(d, p):
    if p + 8 > len(d):
        raise NeedMore(p + 8)
    return _I64.unpack_from(d, p)[0], p + 8


def _v_hash_metadata(d, p, ctx, pre_ga=False):
    """7.4 type 24 (relative TTLs after a minExpire base) and pre-GA 22 (absolute)."""
    if pre_ga:
        base = 0
    else:
        base, p = _read_ms(d, p)
    n, p = read_count(d, p, "hash", 3)
    out = []
    fexp = {}
    try:
        for _ in range(n):
            ttl, p = read_len(d, p)
            f, p = read_string(d, p)
            v, p = read_string(d, p)
            out.append((f, v))
            if ttl:
                at = ttl if pre_ga else ttl + base - 1
                if at > HFE_EXPIRE_TIME_MAX:
                    raise Bad(f"invalid hash field expire time {at}", p)
                fexp[f] = at
    except NeedMore as e:
        raise _more(e, n, len(out), 3) from None
    return out, fexp, p


def _v_hash_listpack_ex(d, p, ctx, pre_ga=False):
    at = p
    if not pre_ga:
        _min, p = _read_ms(d, p)
        at = p
    items, q = _blob(_listpack.entries, d, p, "hash listpack-ex")
    if len(items) % 3:
        raise Bad(f"hash listpack-ex holds {len(items)} elements, not triplets", at)
    out = []
    fexp = {}
    for i in range(0, len(items), 3):
        f, v, t = items[i], items[i + 1], items[i + 2]
        f = b"%d" % f if f.__class__ is int else f
        v = b"%d" % v if v.__class__ is int else v
        out.append((f, v))
        if t.__class__ is not int:
            raise Bad("hash listpack-ex expire time is not an integer", at)
        if t:
            if t < 0 or t > HFE_EXPIRE_TIME_MAX:
                raise Bad(f"invalid hash field expire time {t}", at)
            fexp[f] = t
    return out, fexp, q


def _v_valkey_hash2(d, p, ctx):
    """Valkey 9 type 22: field, value, 8-byte expiry (-1 = none) per entry."""
    n, p = read_count(d, p, "hash", 10)
    out = []
    fexp = {}
    try:
        for _ in range(n):
            f, p = read_string(d, p)
            v, p = read_string(d, p)
            t, p = _read_ms(d, p)
            out.append((f, v))
            if t != -1:
                fexp[f] = t
    except NeedMore as e:
        raise _more(e, n, len(out), 10) from None
    return out, fexp, p


def _int(x, p):
    if x.__class__ is int:
        return x
    try:
        return int(x)
    except ValueError:
        raise Bad(f"stream listpack holds {x[:20]!r} where a number is expected", p) from None


def _stream_node(items, master_ms, master_seq, at, out):
    """Live entries of one stream listpack node, appended to `out`."""
    try:
        count = _int(items[0], at)
        deleted = _int(items[1], at)
        nfields = _int(items[2], at)
        if nfields < 0 or 3 + nfields >= len(items):
            raise Bad("stream listpack master entry is malformed", at)
        mfields = _bytes_items(items[3:3 + nfields])
        i = 3 + nfields
        if items[i] != 0:
            raise Bad("stream listpack master entry does not end with 0", at)
        i += 1
        if count < 0 or deleted < 0 or count + deleted > len(items):
            raise Bad("stream listpack entry counts are malformed", at)
        for _ in range(count + deleted):
            flags = _int(items[i], at)
            # streamAppendItem stores uint64 differences as int64: wrap like C does.
            ms = (master_ms + _int(items[i + 1], at)) & _U64_MAX
            seq = (master_seq + _int(items[i + 2], at)) & _U64_MAX
            i += 3
            if flags & STREAM_ITEM_FLAG_SAMEFIELDS:
                vals = items[i:i + nfields]
                if len(vals) != nfields:
                    raise Bad("stream listpack entry runs past the node", at)
                i += nfields
                fields = tuple(zip(mfields, _bytes_items(vals)))
                expect_lp = nfields + 3
            else:
                k = _int(items[i], at)
                i += 1
                if k < 0 or i + 2 * k > len(items):
                    raise Bad("stream listpack entry runs past the node", at)
                flat = _bytes_items(items[i:i + 2 * k])
                i += 2 * k
                it = iter(flat)
                fields = tuple(zip(it, it))
                expect_lp = 2 * k + 4
            if _int(items[i], at) != expect_lp:
                raise Bad("stream listpack entry lp-count does not match its fields", at)
            i += 1
            if not flags & STREAM_ITEM_FLAG_DELETED:
                out.append(StreamEntry((ms, seq), fields))
        if i != len(items):
            raise Bad("stream listpack node has trailing elements", at)
    except IndexError:
        raise Bad("stream listpack node ends in the middle of an entry", at) from None


def _estimate_entries_read(gid, length, last_id, first_id, max_deleted, added) -> int:
    """A v1 group's entries-read, estimated from the stream the way Redis does on
    load (`streamEstimateDistanceFromFirstEverEntry`); -1 when it cannot tell."""
    if not added:
        return 0
    if not length and gid <= last_id:
        return added
    if gid != (0, 0) and gid < max_deleted:
        return -1
    if gid == last_id:
        return added
    if gid > last_id:
        return -1
    if max_deleted == (0, 0) or max_deleted < first_id:
        if gid < first_id:
            return added - length
        if gid == first_id:
            return added - length + 1
    return -1


def _read_id_lens(d, p):
    ms, p = read_len(d, p)
    seq, p = read_len(d, p)
    return (ms, seq), p


def _v_stream(d, p, ctx, ver=1):
    nodes, p = read_count(d, p, "stream node", 2)
    entries = []
    i = 0
    try:
        for i in range(nodes):
            at = p
            nodekey, p = read_string(d, p)
            if len(nodekey) != 16:
                raise Bad(f"stream node key is {len(nodekey)} bytes, not 16", at)
            mms, mseq = _ID.unpack(nodekey)
            at = p
            items, p = _blob(_listpack.entries, d, p, "stream listpack")
            if not items:
                raise Bad("empty listpack inside a stream", at)
            _stream_node(items, mms, mseq, at, entries)
    except NeedMore as e:
        raise _more(e, nodes, i, 2) from None
    length, p = read_len(d, p)
    last_id, p = _read_id_lens(d, p)
    if ver >= 2:
        first_id, p = _read_id_lens(d, p)
        max_deleted, p = _read_id_lens(d, p)
        added, p = read_len(d, p)
    else:
        # What Redis does when loading a v1 stream: first id of the live entries
        # (UINT64_MAX-UINT64_MAX when there is none), no deletions, added = length.
        first_id = entries[0].id if entries else (_U64_MAX, _U64_MAX)
        max_deleted = (0, 0)
        added = length
    ngroups, p = read_count(d, p, "consumer group", 5)
    groups = []
    for _ in range(ngroups):
        name, p = read_string(d, p)
        glast, p = _read_id_lens(d, p)
        if ver >= 2:
            er, p = read_len(d, p)
            entries_read = -1 if er == _U64_MAX else er
        else:
            entries_read = _estimate_entries_read(glast, length, last_id, first_id, max_deleted, added)
        npel, p = read_count(d, p, "PEL", 25)
        pel = []
        try:
            for _ in range(npel):
                if p + 24 > len(d):
                    raise NeedMore(p + 24)
                eid = _ID.unpack_from(d, p)
                dtime = _I64.unpack_from(d, p + 16)[0]
                cnt, p = read_len(d, p + 24)
                pel.append(PendingEntry(eid, dtime, cnt))
        except NeedMore as e:
            raise _more(e, npel, len(pel), 25) from None
        ncons, p = read_count(d, p, "consumer", 10)
        consumers = []
        for _ in range(ncons):
            cname, p = read_string(d, p)
            seen, p = _read_ms(d, p)
            active = seen
            if ver >= 3:
                active, p = _read_ms(d, p)
            k, p = read_count(d, p, "consumer PEL", 16)
            if p + 16 * k > len(d):
                raise NeedMore(p + 16 * k)
            ids = tuple(_ID.unpack_from(d, p + 16 * j) for j in range(k))
            p += 16 * k
            consumers.append(Consumer(cname, seen, active, ids))
        groups.append(ConsumerGroup(name, glast, entries_read, tuple(pel), tuple(consumers)))
    stream = Stream(tuple(entries), length, last_id, first_id, max_deleted, added, tuple(groups))
    return stream, None, p


def walk_module_ops(d, p: int) -> int:
    """Skip opcode-prefixed module data up to and including its EOF opcode."""
    while True:
        at = p
        op, p = read_len(d, p)
        if op == ModuleOpcode.EOF:
            return p
        if op == ModuleOpcode.SINT or op == ModuleOpcode.UINT:
            _, p = read_len(d, p)
        elif op == ModuleOpcode.FLOAT:
            p += 4
            if p > len(d):
                raise NeedMore(p)
        elif op == ModuleOpcode.DOUBLE:
            p += 8
            if p > len(d):
                raise NeedMore(p)
        elif op == ModuleOpcode.STRING:
            _, p = read_string(d, p)
        else:
            raise Bad(f"Unknown module opcode {op} (module data not terminated)", at)


def _v_module2(d, p, ctx):
    mid, p = read_len(d, p)
    start = p
    p = walk_module_ops(d, p)
    return ModuleValue(mid, d[start:p]), None, p


def _v_module_pre_ga(d, p, ctx):
    at = p
    mid, p = read_len(d, p)
    raise Bad(f"module value of type 6 (pre-GA) for module {module_name(mid)!r} "
              f"cannot be skipped without the module", at, UnsupportedError)


def _v_stream4(d, p, ctx):
    raise Bad("stream with IDMP data (type 26, Redis 8.6) is not decoded by this reader",
              p, UnsupportedError)


VALUE_READERS = {
    RdbType.STRING: _v_string,
    RdbType.LIST: _v_list,
    RdbType.SET: _v_set,
    RdbType.ZSET: _v_zset,
    RdbType.HASH: _v_hash,
    RdbType.ZSET_2: _v_zset2,
    RdbType.MODULE_PRE_GA: _v_module_pre_ga,
    RdbType.MODULE_2: _v_module2,
    RdbType.HASH_ZIPMAP: _v_zipmap,
    RdbType.LIST_ZIPLIST: _v_list_ziplist,
    RdbType.SET_INTSET: _v_intset,
    RdbType.ZSET_ZIPLIST: _v_zset_ziplist,
    RdbType.HASH_ZIPLIST: _v_hash_ziplist,
    RdbType.LIST_QUICKLIST: _v_quicklist,
    RdbType.STREAM_LISTPACKS: _v_stream,
    RdbType.HASH_LISTPACK: _v_hash_listpack,
    RdbType.ZSET_LISTPACK: _v_zset_listpack,
    RdbType.LIST_QUICKLIST_2: _v_quicklist2,
    RdbType.STREAM_LISTPACKS_2: lambda d, p, ctx: _v_stream(d, p, ctx, 2),
    RdbType.SET_LISTPACK: _v_set_listpack,
    RdbType.STREAM_LISTPACKS_3: lambda d, p, ctx: _v_stream(d, p, ctx, 3),
    RdbType.HASH_METADATA_PRE_GA: lambda d, p, ctx: _v_hash_metadata(d, p, ctx, True),
    RdbType.HASH_LISTPACK_EX_PRE_GA: lambda d, p, ctx: _v_hash_listpack_ex(d, p, ctx, True),
    RdbType.HASH_METADATA: _v_hash_metadata,
    RdbType.HASH_LISTPACK_EX: _v_hash_listpack_ex,
    RdbType.STREAM_LISTPACKS_4: _v_stream4,
}
#: Valkey (magic VALKEY) numbers 22 differently; 23 (PATH_HASH, 9.2 dev) is not decoded.
# Valkey's 23 (PATH_HASH, 9.2 dev) and Redis's 24+ are not Valkey types.
VALKEY_VALUE_READERS = {k: v for k, v in VALUE_READERS.items() if k < 22}
VALKEY_VALUE_READERS[VALKEY_TYPE_HASH_2] = _v_valkey_hash2
