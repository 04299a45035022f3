"""Estimate what `MEMORY USAGE key SAMPLES 0` reports on Redis 7.0 (64-bit, jemalloc).

The model follows 7.0's `objectComputeSize()` plus the key's own sds and dict entry:
it predicts the encoding 7.0 would hold under the default thresholds, sizes listpacks,
intsets and sds strings exactly as Redis lays them out, and rounds every allocation
up to its jemalloc size class. Parts that depend on a server's history rather than on
the data (skiplist node levels are random, stream nodes are preallocated, dicts may be
mid-rehash) use their expected value. Sizes are computed arithmetically, never by
building the blobs, so a report over a large file stays cheap.
"""

from __future__ import annotations

import csv
import datetime as _dt
import heapq
import io
from dataclasses import dataclass
from typing import BinaryIO

from .. import constants as C
from ..constants import Kind
from ..records import KeyRecord, Record, Stream

ROBJ = 16
DICT = 56  # dictType*, 2 tables, 2 used counters, rehashidx, pauserehash, size exps
DICT_ENTRY = 24
QUICKLIST = 40
QUICKLIST_NODE = 40
ZSET = 16
ZSKIPLIST = 32
ZSKIPLIST_HEADER = 24 + 32 * 16  # node with ZSKIPLIST_MAXLEVEL levels
STREAM = 80
STREAM_CG = 40
STREAM_NACK = 24
STREAM_CONSUMER = 24
RAX_NODE_COST = 4 + 8 * 30  # sizeof(raxNode) + the fixed overhead Redis adds per node
EMBSTR_MAX = 44
SHARED_INTEGERS = 10000
STREAM_PREALLOC = 4096


@dataclass(frozen=True)
class MemoryConfig:
    """The server settings the estimate depends on (Redis 7.0 defaults)."""

    hash_max_listpack_entries: int = C.HASH_MAX_LISTPACK_ENTRIES
    hash_max_listpack_value: int = C.HASH_MAX_LISTPACK_VALUE
    zset_max_listpack_entries: int = C.ZSET_MAX_LISTPACK_ENTRIES
    zset_max_listpack_value: int = C.ZSET_MAX_LISTPACK_VALUE
    set_max_intset_entries: int = C.SET_MAX_INTSET_ENTRIES
    list_max_listpack_size: int = C.LIST_MAX_LISTPACK_SIZE
    list_compress_depth: int = 0
    stream_node_max_bytes: int = C.STREAM_NODE_MAX_BYTES
    stream_node_max_entries: int = C.STREAM_NODE_MAX_ENTRIES

    #: Old (ziplist) spellings Redis 7.0 still accepts.
    ALIASES = {"hash-max-ziplist-entries": "hash-max-listpack-entries",
               "hash-max-ziplist-value": "hash-max-listpack-value",
               "zset-max-ziplist-entries": "zset-max-listpack-entries",
               "zset-max-ziplist-value": "zset-max-listpack-value",
               "list-max-ziplist-size": "list-max-listpack-size"}

    @classmethod
    def from_redis(cls, settings: dict) -> "MemoryConfig":
        """From `CONFIG GET`-style names and values; settings that do not matter here
        (rdbcompression, maxmemory-policy, ...) are ignored."""
        known = {f.replace("_", "-") for f in cls.__dataclass_fields__}
        values = {}
        for name, value in settings.items():
            name = cls.ALIASES.get(name.lower(), name.lower())
            if name in known:
                try:
                    values[name.replace("-", "_")] = int(value)
                except (TypeError, ValueError) as e:
                    raise ValueError(f"{name}: not an integer: {value!r}") from e
        return cls(**values)


DEFAULT_CONFIG = MemoryConfig()

#: Quicklist nodes smaller than this are never compressed; compression must save more
#: than MIN_COMPRESS_IMPROVE bytes to be kept (quicklist.c).
MIN_COMPRESS_BYTES = 48
MIN_COMPRESS_IMPROVE = 8
#: A positive list-max-listpack-size caps entries, and node size at this many bytes.
SIZE_SAFETY_LIMIT = 8192


def jemalloc_size(n: int) -> int:
    """The jemalloc size class a request of `n` bytes lands in (4 classes per doubling)."""
    if n <= 8:
        return 8
    if n <= 128:
        return (n + 15) & ~15
    k = (n - 1).bit_length() - 1
    spacing = 1 << (k - 2)
    return (n + spacing - 1) // spacing * spacing


def sds_alloc(length: int) -> int:
    if length < 32:
        hdr = 1
    elif length < 256:
        hdr = 3
    elif length < 65536:
        hdr = 5
    elif length < 1 << 32:
        hdr = 9
    else:
        hdr = 17
    return jemalloc_size(hdr + length + 1)


def as_int(b: bytes) -> int | None:
    """The int64 a string is the canonical decimal form of, else None (Redis's string2ll)."""
    n = len(b)
    if n == 0 or n > 20:
        return None
    if not (b.isdigit() or (b[:1] == b"-" and b[1:].isdigit())):
        return None
    if (b[0] == 0x30 and n > 1) or b[:2] == b"-0":
        return None
    v = int(b)
    if -(1 << 63) <= v < (1 << 63):
        return v
    return None


def lp_entry_size(b: bytes) -> int:
    """Bytes one element takes in a listpack, backlen included."""
    v = as_int(b)
    if v is not None:
        if 0 <= v <= 127:
            return 2
        if -4096 <= v <= 4095:
            return 3
        if -32768 <= v <= 32767:
            return 4
        if -(1 << 23) <= v < 1 << 23:
            return 5
        if -(1 << 31) <= v < 1 << 31:
            return 6
        return 10
    n = len(b)
    enc = 1 + n if n < 64 else (2 + n if n < 4096 else 5 + n)
    return enc + _backlen(enc)


def lp_int_size(v: int) -> int:
    if 0 <= v <= 127:
        return 2
    if -4096 <= v <= 4095:
        return 3
    if -32768 <= v <= 32767:
        return 4
    if -(1 << 23) <= v < 1 << 23:
        return 5
    if -(1 << 31) <= v < 1 << 31:
        return 6
    return 10


def _backlen(l: int) -> int:
    if l < 128:
        return 1
    if l < 16383:
        return 2
    if l < 2097151:
        return 3
    if l < 268435455:
        return 4
    return 5


LP_HEADER = 6
LP_END = 1


def zset_score_lp_size(s: float) -> int:
    if s == s and abs(s) != float("inf") and s == int(s) and abs(s) <= (1 << 62) - 1:
        return lp_int_size(int(s))
    text = ("%.17g" % s).encode()
    return lp_entry_size(text)


def dict_slots(n: int) -> int:
    if n <= 4:
        return 4
    return 1 << (n - 1).bit_length()


def live_dict_slots(n: int, created_for: int = 0, steps_per_add: int = 1) -> int:
    """Bucket count of a dict that was created for `created_for` elements (0: empty) and
    then grew one insert at a time to `n`: right after a doubling both tables exist
    until incremental rehashing (one bucket per dict lookup/insert; an insert costs
    `steps_per_add` of them; about 0.63 non-empty buckets per element) has moved the
    old one."""
    start = dict_slots(created_for) if created_for else 4
    if n <= start:
        return start
    final = dict_slots(n)
    prev = final // 2
    if (n - prev - 1) * steps_per_add < int(0.632 * prev + 0.5):
        return final + prev
    return final


def _hashtable_elems(n: int, per_elem_total: int, created_for: int = 0,
                     steps_per_add: int = 1) -> int:
    return DICT + 8 * live_dict_slots(n, created_for, steps_per_add) + per_elem_total


# Expected jemalloc size of a skiplist node's level array: levels are random (p = 1/4).
def _expected_zsl_node() -> float:
    total, p = 0.0, 0.75
    for level in range(1, 33):
        prob = p * (0.25 ** (level - 1))
        total += prob * jemalloc_size(24 + 16 * level)
    return total


ZSL_NODE = _expected_zsl_node()


def string_size(v: bytes) -> tuple[int, str]:
    if len(v) <= 20 and as_int(v) is not None:
        return ROBJ, "int"
    if len(v) <= EMBSTR_MAX:
        return jemalloc_size(ROBJ + 3 + len(v) + 1), "embstr"
    return ROBJ + sds_alloc(len(v)), "raw"


def list_size(elems: list[bytes], cfg: MemoryConfig = DEFAULT_CONFIG) -> tuple[int, str]:
    fill = cfg.list_max_listpack_size
    if fill < 0:
        limit, max_count = C.QUICKLIST_SIZE_LIMITS.get(fill, 65536), 65535
    else:
        limit, max_count = SIZE_SAFETY_LIMIT, max(fill, 1)
    nodes: list[tuple[int, int, int]] = []  # (listpack bytes, first index, end index)
    node = count = start = 0
    for i, e in enumerate(elems):
        sz = lp_entry_size(e)
        if node and node + len(e) + 8 <= limit and count < max_count:
            node += sz
            count += 1
        else:
            if node:
                nodes.append((node, start, i))
            node, count, start = LP_HEADER + LP_END + sz, 1, i
    if node:
        nodes.append((node, start, len(elems)))
    depth = cfg.list_compress_depth
    total = ROBJ + QUICKLIST
    for j, (nbytes, lo, hi) in enumerate(nodes):
        if depth and depth <= j < len(nodes) - depth:
            total += QUICKLIST_NODE + _compressed_node(elems[lo:hi], nbytes)
        else:
            total += QUICKLIST_NODE + jemalloc_size(nbytes)
    return total, "quicklist"


def _compressed_node(elems: list[bytes], nbytes: int) -> int:
    """Allocation of a quicklist node LZF-compressed in memory (list-compress-depth)."""
    if nbytes < MIN_COMPRESS_BYTES:
        return jemalloc_size(nbytes)
    import lzf

    from ..build.listpack import build_listpack

    packed = lzf.compress(build_listpack(elems), nbytes)
    if packed is None or len(packed) + MIN_COMPRESS_IMPROVE >= nbytes:
        return jemalloc_size(nbytes)
    return jemalloc_size(4 + len(packed))


def set_size(members: list[bytes], cfg: MemoryConfig = DEFAULT_CONFIG) -> tuple[int, str]:
    n = len(members)
    lo = hi = 0
    all_ints = True
    for m in members:
        v = as_int(m)
        if v is None:
            all_ints = False
            break
        lo, hi = min(lo, v), max(hi, v)
    if all_ints and n <= cfg.set_max_intset_entries:
        width = 2 if -32768 <= lo and hi <= 32767 else (
            4 if -(1 << 31) <= lo and hi < 1 << 31 else 8)
        return ROBJ + jemalloc_size(8 + n * width), "intset"
    # All integers but too many: converted from an intset when it passed the limit.
    created_for = cfg.set_max_intset_entries + 1 if all_ints else 0
    elems = sum(DICT_ENTRY + sds_alloc(len(m)) for m in members)
    return ROBJ + _hashtable_elems(n, elems, created_for), "hashtable"


def zset_size(pairs: list[tuple[bytes, float]], cfg: MemoryConfig = DEFAULT_CONFIG
              ) -> tuple[int, str]:
    n = len(pairs)
    if n <= cfg.zset_max_listpack_entries and all(
            len(m) <= cfg.zset_max_listpack_value for m, _ in pairs):
        lp = LP_HEADER + LP_END + sum(lp_entry_size(m) + zset_score_lp_size(s)
                                      for m, s in pairs)
        return ROBJ + jemalloc_size(lp), "listpack"
    elems = sum(sds_alloc(len(m)) + DICT_ENTRY for m, _ in pairs) + n * ZSL_NODE
    # 7.0 converts a listpack zset by inserting into an empty dict, one element at a
    # time (zsetAdd looks the member up first: two rehash steps per insert).
    size = (ROBJ + ZSET + ZSKIPLIST + DICT + 8 * live_dict_slots(n, 0, 2)
            + jemalloc_size(ZSKIPLIST_HEADER) + elems)
    return int(size), "skiplist"


def hash_size(pairs: list[tuple[bytes, bytes]], cfg: MemoryConfig = DEFAULT_CONFIG
              ) -> tuple[int, str]:
    n = len(pairs)
    vmax = cfg.hash_max_listpack_value
    if n <= cfg.hash_max_listpack_entries and all(
            len(f) <= vmax and len(v) <= vmax
            for f, v in pairs):
        lp = LP_HEADER + LP_END + sum(lp_entry_size(f) + lp_entry_size(v) for f, v in pairs)
        return ROBJ + jemalloc_size(lp), "listpack"
    small = all(len(f) <= vmax and len(v) <= vmax for f, v in pairs)
    created_for = cfg.hash_max_listpack_entries + 1 if small else 0
    elems = sum(sds_alloc(len(f)) + sds_alloc(len(v)) + DICT_ENTRY for f, v in pairs)
    return ROBJ + _hashtable_elems(n, elems, created_for, 2), "hashtable"


def _rax(numele: int) -> int:
    """Redis's own estimate for a rax of 16-byte stream IDs; node count is modelled."""
    nodes = 1 if numele == 0 else (2 if numele == 1 else 2 * numele + 2)
    return numele * 16 + nodes * RAX_NODE_COST


def stream_size(s: Stream, cfg: MemoryConfig = DEFAULT_CONFIG) -> tuple[int, str]:
    # Rebuild the node split as streamAppendItem would for the live entries. A node
    # starts preallocated to 4096 bytes and is shrunk to fit only when it closes for
    # reaching the entry limit.
    prealloc = STREAM_PREALLOC
    if 0 < cfg.stream_node_max_bytes < prealloc:
        prealloc = cfg.stream_node_max_bytes
    nodes: list[int] = []  # allocated bytes per closed node
    cur = 0
    count = 0
    master: tuple = ()
    base = (0, 0)
    for e in s.entries:
        fields = tuple(f for f, _ in e.fields)
        add = sum(len(f) + len(v) for f, v in e.fields)
        if cur:
            if cfg.stream_node_max_bytes and cur + add >= cfg.stream_node_max_bytes:
                nodes.append(jemalloc_size(max(prealloc, cur)))
                cur = 0
            elif cfg.stream_node_max_entries and count >= cfg.stream_node_max_entries:
                nodes.append(jemalloc_size(cur))
                cur = 0
        if not cur:
            master = fields
            cur = LP_HEADER + LP_END + lp_int_size(1) + lp_int_size(0) + lp_int_size(len(fields))
            cur += sum(lp_entry_size(f) for f in fields) + lp_int_size(0)
            base = e.id
            count = 0
        count += 1
        cur += 2 + lp_int_size(e.id[0] - base[0]) + lp_int_size(e.id[1] - base[1])
        if fields == master:
            cur += sum(lp_entry_size(v) for _, v in e.fields) + lp_int_size(len(fields) + 3)
        else:
            cur += lp_int_size(len(fields))
            cur += sum(lp_entry_size(f) + lp_entry_size(v) for f, v in e.fields)
            cur += lp_int_size(2 * len(fields) + 4)
    if cur:
        nodes.append(jemalloc_size(max(prealloc, cur)))
    size = ROBJ + STREAM + _rax(len(nodes)) + sum(nodes)
    for g in s.groups:
        size += STREAM_CG + _rax(len(g.pending)) + STREAM_NACK * len(g.pending)
        for c in g.consumers:
            size += STREAM_CONSUMER + len(c.name) + _rax(len(c.pending))
    return size, "stream"


def estimate(rec: KeyRecord, cfg: MemoryConfig = DEFAULT_CONFIG) -> tuple[int, str, int, int]:
    """(bytes MEMORY USAGE would report, encoding, num_elements, len_largest_element)."""
    kind, v = rec.kind, rec.value
    if kind == Kind.STRING:
        size, enc = string_size(v)
        n = largest = len(v)
    elif kind == Kind.LIST:
        size, enc = list_size(v, cfg)
        n, largest = len(v), max(map(len, v), default=0)
    elif kind == Kind.SET:
        size, enc = set_size(v, cfg)
        n, largest = len(v), max(map(len, v), default=0)
    elif kind == Kind.ZSET:
        size, enc = zset_size(v, cfg)
        n, largest = len(v), max((len(m) for m, _ in v), default=0)
    elif kind == Kind.HASH:
        size, enc = hash_size(v, cfg)
        n = len(v)
        largest = max((max(len(f), len(x)) for f, x in v), default=0)
    elif kind == Kind.STREAM:
        size, enc = stream_size(v, cfg)
        n = v.length
        largest = max((len(x) for e in v.entries for f, val in e.fields for x in (f, val)),
                      default=0)
    else:
        size, enc, n, largest = ROBJ, "module", 0, 0
    size += sds_alloc(len(rec.key)) + DICT_ENTRY
    return size, enc, n, largest


COLUMNS = ("database", "type", "key", "size_in_bytes", "encoding", "num_elements",
           "len_largest_element", "expiry")


def format_expiry(ms: int | None) -> str:
    if ms is None:
        return ""
    try:
        t = _dt.datetime(1970, 1, 1) + _dt.timedelta(milliseconds=ms)
    except OverflowError:
        return str(ms)
    return t.isoformat(timespec="milliseconds")


def key_text(key: bytes) -> str:
    return key.decode("utf-8", "backslashreplace")


class MemoryRenderer:
    """CSV rows, one per key; with `largest`, only the N biggest (bounded heap)."""

    def __init__(self, out: BinaryIO, *, largest: int | None = None,
                 config: MemoryConfig = DEFAULT_CONFIG) -> None:
        self.out = out
        self.largest = largest
        self.config = config
        self.heap: list = []
        self.seq = 0
        self.keys = 0
        self._buf = io.StringIO()
        self._csv = csv.writer(self._buf, lineterminator="\n")
        self._csv.writerow(COLUMNS)
        self._flush()

    def _flush(self) -> None:
        self.out.write(self._buf.getvalue().encode("utf-8"))
        self._buf.seek(0)
        self._buf.truncate()

    def row(self, rec: KeyRecord) -> list:
        size, enc, n, largest = estimate(rec, self.config)
        return [rec.db, rec.kind.label, key_text(rec.key), size, enc, n, largest,
                format_expiry(rec.expire_ms)]

    def write(self, rec: Record) -> None:
        if type(rec) is not KeyRecord:
            return
        self.keys += 1
        row = self.row(rec)
        if self.largest is None:
            self._csv.writerow(row)
            if self._buf.tell() > 1 << 16:
                self._flush()
            return
        if self.largest <= 0:
            return
        self.seq += 1
        item = (row[3], -self.seq, row)
        if len(self.heap) < self.largest:
            heapq.heappush(self.heap, item)
        elif item > self.heap[0]:
            heapq.heapreplace(self.heap, item)

    def close(self) -> None:
        if self.largest is not None:
            for _, _, row in sorted(self.heap, reverse=True):
                self._csv.writerow(row)
        self._flush()
