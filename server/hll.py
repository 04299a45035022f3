"""HyperLogLog strings exactly as Redis 7.0 lays them out (sans-I/O, no engine).

An HLL is a plain string: a 16-byte header (`HYLL`, encoding byte, 3 spare bytes, the
cached cardinality as a little-endian uint64 whose top bit marks it stale) and then
either 12288 bytes of packed 6-bit registers (dense) or run-length opcodes (sparse):
ZERO `00xxxxxx` (1-64 zero registers), XZERO `01xxxxxx yyyyyyyy` (1-16384 zeros) and
VAL `1vvvvvxx` (1-4 registers of value 1-32). Every byte must come out as Redis
writes it, because GET, DUMP, RDB files and DEBUG DIGEST all see the string, so the
sparse editor reproduces hllSparseSet's splits and its bounded merge of neighbours.

Speed without per-bit loops: dense bodies are unpacked to one byte per register with
slicing, `bytes.translate` tables and big-int ORs; register maxima are a SWAR trick on
big ints; a sparse HLL is edited as a list of opcodes with the first register of each
(a split or merge never moves the registers of later opcodes, so `bisect` finds the
opcode a register is in and the list edits are C-level memmoves).
"""

from __future__ import annotations

import math
import re
import struct
from bisect import bisect_right
from itertools import accumulate

MAGIC = b"HYLL"
HDR = 16
DENSE = 0
SPARSE = 1
P = 14
REGISTERS = 1 << P                 # 16384
Q = 64 - P                         # hash bits left for the zero run
DENSE_BODY = REGISTERS * 6 // 8    # 12288
DENSE_SIZE = HDR + DENSE_BODY
SPARSE_VAL_MAX = 32
SPARSE_VAL_MAX_LEN = 4
ZERO_MAX_LEN = 64
XZERO_MAX_LEN = 16384
ALPHA_INF = 0.721347520444481703680  # 0.5 / ln(2)
SEED = 0xADC83B19
PROMOTE = 2                        # sparse_set result: the HLL must become dense first

#: a fresh HLL: sparse, cached cardinality 0 (valid), one XZERO:16384
EMPTY = MAGIC + bytes((SPARSE, 0, 0, 0)) + bytes(8) + b"\x7f\xff"

_M = 0xC6A4A7935BD1E995
_MASK = (1 << 64) - 1
_Q_BIT = 1 << Q


class InvalidHll(Exception):
    """A sparse HLL whose opcodes do not add up (Redis: INVALIDOBJ)."""


# -- hashing ------------------------------------------------------------------------------

def murmur64a(data: bytes, seed: int = SEED) -> int:
    """MurmurHash64A as Redis's endian-neutral copy computes it."""
    n = len(data)
    h = (seed ^ (n * _M)) & _MASK
    n8 = n & ~7
    if n8:
        for (k,) in struct.iter_unpack("<Q", data[:n8]):
            k = (k * _M) & _MASK
            k ^= k >> 47
            h ^= (k * _M) & _MASK
            h = (h * _M) & _MASK
    if n & 7:
        h = ((h ^ int.from_bytes(data[n8:], "little")) * _M) & _MASK
    h ^= h >> 47
    h = (h * _M) & _MASK
    return h ^ (h >> 47)


def pat_len(element: bytes) -> tuple[int, int]:
    """(register index, length of the 0...01 run) for one element (hllPatLen)."""
    h = murmur64a(element)
    rest = (h >> P) | _Q_BIT
    return h & (REGISTERS - 1), (rest & -rest).bit_length()


# -- header -------------------------------------------------------------------------------

def is_hll(v) -> bool:
    """isHLLObjectOrReply's checks on a string value."""
    n = len(v)
    if n < HDR or v[:4] != MAGIC:
        return False
    enc = v[4]
    if enc > SPARSE:
        return False
    return enc != DENSE or n == DENSE_SIZE


def cache_valid(v) -> bool:
    return not v[15] & 0x80


def cached_card(v) -> int:
    return int.from_bytes(v[8:16], "little")


def invalidate(v: bytearray) -> None:
    v[15] |= 0x80


def set_card(v: bytearray, card: int) -> None:
    v[8:16] = (card & _MASK).to_bytes(8, "little")


# -- dense --------------------------------------------------------------------------------

def _table(f) -> bytes:
    return bytes(f(i) & 0xFF for i in range(256))


_AND63 = _table(lambda b: b & 63)
_SHR6 = _table(lambda b: b >> 6)
_LO4_SHL2 = _table(lambda b: (b & 15) << 2)
_SHR4 = _table(lambda b: b >> 4)
_LO2_SHL4 = _table(lambda b: (b & 3) << 4)
_SHR2 = _table(lambda b: b >> 2)
_LO2_SHL6 = _table(lambda b: (b & 3) << 6)
_LO4_SHL4 = _table(lambda b: (b & 15) << 4)
_SHL2 = _table(lambda b: b << 2)
_LANE_HI = int.from_bytes(b"\x80" * REGISTERS, "little")


def _or(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "little") | int.from_bytes(b, "little")).to_bytes(len(a), "little")


def dense_unpack(body) -> bytearray:
    """12288 packed bytes -> 16384 register bytes (4 registers per 3 bytes, LSB first)."""
    body = bytes(body)
    b0, b1, b2 = body[0::3], body[1::3], body[2::3]
    regs = bytearray(REGISTERS)
    regs[0::4] = b0.translate(_AND63)
    regs[1::4] = _or(b0.translate(_SHR6), b1.translate(_LO4_SHL2))
    regs[2::4] = _or(b1.translate(_SHR4), b2.translate(_LO2_SHL4))
    regs[3::4] = b2.translate(_SHR2)
    return regs


def dense_pack(regs) -> bytes:
    """16384 register bytes (values < 64) -> the 12288-byte dense body."""
    regs = bytes(regs)
    r0, r1, r2, r3 = regs[0::4], regs[1::4], regs[2::4], regs[3::4]
    body = bytearray(DENSE_BODY)
    body[0::3] = _or(r0.translate(_AND63), r1.translate(_LO2_SHL6))
    body[1::3] = _or(r1.translate(_SHR2), r2.translate(_LO4_SHL4))
    body[2::3] = _or(r2.translate(_SHR4), r3.translate(_SHL2))
    return bytes(body)


def regs_max(a, b) -> bytes:
    """Bytewise maximum of two register arrays (values < 128), with big-int lanes."""
    x = int.from_bytes(a, "little")
    y = int.from_bytes(b, "little")
    ge = (((x | _LANE_HI) - y) & _LANE_HI) >> 7   # 1 in each lane where a >= b
    sel = (ge << 8) - ge                          # 0xff in those lanes
    return ((x & sel) | (y & ~sel)).to_bytes(REGISTERS, "little")


def dense_get(v, r: int) -> int:
    q, m = divmod(r, 4)
    i = HDR + 3 * q
    if m == 0:
        return v[i] & 63
    if m == 1:
        return (v[i] >> 6) | ((v[i + 1] & 15) << 2)
    if m == 2:
        return (v[i + 1] >> 4) | ((v[i + 2] & 3) << 4)
    return v[i + 2] >> 2


def dense_set(v: bytearray, r: int, val: int) -> None:
    q, m = divmod(r, 4)
    i = HDR + 3 * q
    if m == 0:
        v[i] = (v[i] & 0xC0) | val
    elif m == 1:
        v[i] = (v[i] & 0x3F) | ((val << 6) & 0xFF)
        v[i + 1] = (v[i + 1] & 0xF0) | (val >> 2)
    elif m == 2:
        v[i + 1] = (v[i + 1] & 0x0F) | ((val << 4) & 0xFF)
        v[i + 2] = (v[i + 2] & 0xFC) | (val >> 4)
    else:
        v[i + 2] = (v[i + 2] & 0x03) | (val << 2)


def dense_add(v: bytearray, index: int, count: int) -> int:
    """hllDenseSet: raise the register to `count`; 1 if it changed."""
    if count > dense_get(v, index):
        dense_set(v, index, count)
        return 1
    return 0


# -- sparse opcodes -------------------------------------------------------------------------

_OP_RE = re.compile(rb"[\x40-\x7f].|[^\x40-\x7f]", re.S)
#: every opcode covers at least one register and takes at most 2 bytes, so a sparse body
#: that adds up to 16384 registers is never longer than this; a longer one is corrupt
#: and is never split into opcode objects (a hostile 512 MB string would cost GBs)
MAX_SPARSE_BODY = 2 * REGISTERS
_ONE = [bytes((i,)) for i in range(256)]


def _val_op(value: int, run: int) -> bytes:
    return _ONE[0x80 | ((value - 1) << 2) | (run - 1)]


def _zero_ops(n: int) -> bytes:
    """A run of n zero registers as one ZERO or XZERO, as hllSparseSet writes it."""
    if n > ZERO_MAX_LEN:
        n -= 1
        return bytes((0x40 | (n >> 8), n & 0xFF))
    return _ONE[n - 1]


def _span(op: bytes) -> int:
    b = op[0]
    if b < 0x40:
        return b + 1
    if b < 0x80:
        return (((b & 0x3F) << 8) | op[1]) + 1
    return (b & 3) + 1


_SPAN1 = [_span(o) if not 0x40 <= i < 0x80 else 0 for i, o in enumerate(_ONE)]


def parse_ops(body) -> tuple[list[bytes], bool]:
    """Opcodes of a sparse body; True when its last byte is a cut-off XZERO.

    Redis reads such an XZERO's second byte from the string's terminating NUL, so the
    returned list carries it completed with a zero byte, as every reader sees it.
    """
    ops = _OP_RE.findall(bytes(body))
    cut = len(body) and sum(map(len, ops)) != len(body)
    if cut:
        ops.append(bytes((body[-1], 0)))
    return ops, bool(cut)


def _spans(ops: list[bytes]) -> list[int]:
    return [_SPAN1[o[0]] if len(o) == 1 else _span(o) for o in ops]


def sparse_histogram(ops: list[bytes]) -> list[int]:
    """hllSparseRegHisto; raises InvalidHll unless the runs cover exactly 16384."""
    hist = [0] * 64
    idx = 0
    for op in ops:
        b = op[0]
        if b & 0x80:
            n = (b & 3) + 1
            hist[((b >> 2) & 0x1F) + 1] += n
        elif b < 0x40:
            n = b + 1
            hist[0] += n
        else:
            n = (((b & 0x3F) << 8) | op[1]) + 1
            hist[0] += n
        idx += n
    if idx != REGISTERS:
        raise InvalidHll
    return hist


def sparse_registers(ops: list[bytes], into: bytearray | None = None) -> bytearray:
    """Registers of a sparse HLL (hllSparseToDense / hllMerge); InvalidHll unless the runs
    cover exactly 16384 registers. With `into`, take the maximum with what is there.

    Redis 7.0.15 as shipped by Debian carries the CVE-2025-32023 fix: runs past register
    16383 are an error even where the original 7.0.15 code stopped reading quietly (a VAL
    after a complete XZERO:16384 was accepted there); we follow the installed binary."""
    regs = bytearray(REGISTERS) if into is None else into
    idx = 0
    for op in ops:
        b = op[0]
        if b < 0x40:
            idx += b + 1
        elif b < 0x80:
            idx += (((b & 0x3F) << 8) | op[1]) + 1
        else:
            n = (b & 3) + 1
            if idx + n > REGISTERS:
                raise InvalidHll
            val = ((b >> 2) & 0x1F) + 1
            if into is None:
                regs[idx:idx + n] = _ONE[val] * n
            else:
                for r in range(idx, idx + n):
                    if val > regs[r]:
                        regs[r] = val
            idx += n
    if idx != REGISTERS:
        raise InvalidHll
    return regs


def decode_text(body) -> bytes:
    """PFDEBUG DECODE's text (built as it goes: as big as Redis's reply, no bigger)."""
    body = bytes(body)
    out = bytearray()
    end = 0
    for m in _OP_RE.finditer(body):
        op = m.group()
        end = m.end()
        b = op[0]
        if b & 0x80:
            out += b"v:%d,%d " % (((b >> 2) & 0x1F) + 1, (b & 3) + 1)
        elif b < 0x40:
            out += b"z:%d " % (b + 1)
        else:
            out += b"Z:%d " % ((((b & 0x3F) << 8) | op[1]) + 1)
    if end < len(body):  # a cut-off XZERO: its second byte is the terminating NUL
        out += b"Z:%d " % (((body[-1] & 0x3F) << 8) + 1)
    return bytes(out[:-1])


# -- whole values -----------------------------------------------------------------------------

def _sparse_ops(v) -> list[bytes]:
    """Opcodes of a sparse value for the readers that need a valid one."""
    if len(v) - HDR > MAX_SPARSE_BODY:
        raise InvalidHll
    return parse_ops(memoryview(v)[HDR:])[0]


def registers(v) -> bytearray:
    """All 16384 registers of a valid HLL string (InvalidHll for a bad sparse one)."""
    if v[4] == DENSE:
        return dense_unpack(memoryview(v)[HDR:])
    return sparse_registers(_sparse_ops(v))


def merge_into(acc: bytearray, v) -> bytearray:
    """acc = max(acc, registers of v), as hllMerge; InvalidHll for a bad sparse one."""
    if v[4] == DENSE:
        return bytearray(regs_max(acc, dense_unpack(memoryview(v)[HDR:])))
    return sparse_registers(_sparse_ops(v), acc)


def to_dense(v) -> bytearray:
    """hllSparseToDense: same header (cached value included), encoding byte 0."""
    regs = sparse_registers(_sparse_ops(v))
    out = bytearray(v[:HDR])
    out[4] = DENSE
    out += dense_pack(regs)
    return out


def histogram(regs) -> list[int]:
    hist = [0] * 64
    for val in set(regs):
        hist[val] = regs.count(val)
    return hist


def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y = 1.0
    z = x
    while True:
        x *= x
        prev = z
        z += x * y
        y += y
        if prev == z:
            return z


def _tau(x: float) -> float:
    if x == 0.0 or x == 1.0:
        return 0.0
    y = 1.0
    z = 1 - x
    while True:
        x = math.sqrt(x)
        prev = z
        y *= 0.5
        z -= (1 - x) ** 2 * y
        if prev == z:
            return z / 3


def estimate(hist: list[int]) -> int:
    """hllCount's estimator (Ertl's improved raw estimate), same float steps as the C."""
    m = float(REGISTERS)
    z = m * _tau((m - hist[Q + 1]) / m)
    for j in range(Q, 0, -1):
        z += hist[j]
        z *= 0.5
    z += m * _sigma(hist[0] / m)
    e = ALPHA_INF * m * m / z
    f = math.floor(e)
    return int(f + 1 if e - f >= 0.5 else f)


def count(v) -> int:
    """Cardinality of one valid HLL string, as PFCOUNT recomputes it (InvalidHll)."""
    if v[4] == DENSE:
        return estimate(histogram(dense_unpack(memoryview(v)[HDR:])))
    return estimate(sparse_histogram(_sparse_ops(v)))


# -- sparse editing -----------------------------------------------------------------------------

class SparseEditor:
    """A sparse HLL opened for several register updates (one PFADD or PFMERGE).

    `set()` returns 1 (changed), 0 (no change), -1 (corrupt) or PROMOTE (the caller
    converts `value()` to dense and sets the register there). A body whose last XZERO
    is cut off goes through `sparse_set_bytes`, the byte-level rendition of Redis's
    code, since the opcode list cannot express the half opcode.
    """

    def __init__(self, v) -> None:
        self.header = bytearray(v[:HDR])
        if len(v) - HDR > MAX_SPARSE_BODY:  # corrupt, yet PFADD edits it as Redis does
            ops, cut = [], True
        else:
            ops, cut = parse_ops(memoryview(v)[HDR:])
        self.raw = bytearray(v) if cut else None
        self.ops = ops
        self.starts = [0, *accumulate(_spans(ops))][:-1] if not cut else []
        self.nbytes = len(v)

    def value(self) -> bytearray:
        if self.raw is not None:
            return bytearray(self.raw)
        out = bytearray(self.header)
        out += b"".join(self.ops)
        return out

    def set(self, index: int, count: int, max_bytes: int) -> int:
        if count > SPARSE_VAL_MAX:
            return PROMOTE
        if self.raw is not None:
            return sparse_set_bytes(self.raw, index, count, max_bytes)
        ops, starts = self.ops, self.starts
        i = bisect_right(starts, index) - 1
        if i < 0:
            return -1
        op = ops[i]
        first = starts[i]
        b = op[0]
        span = _SPAN1[b] if len(op) == 1 else _span(op)
        if index > first + span - 1:
            return -1
        if b & 0x80:
            cur = ((b >> 2) & 0x1F) + 1
            if cur >= count:
                return 0
            if span == 1:
                ops[i] = _val_op(count, 1)
                return self._merge(i)
        elif b == 0:
            ops[i] = _val_op(count, 1)
            return self._merge(i)
        last = first + span - 1
        seq: list[bytes] = []
        seq_starts: list[int] = []
        if b & 0x80:
            if index != first:
                seq.append(_val_op(cur, index - first))
                seq_starts.append(first)
            seq.append(_val_op(count, 1))
            seq_starts.append(index)
            if index != last:
                seq.append(_val_op(cur, last - index))
                seq_starts.append(index + 1)
        else:
            if index != first:
                seq.append(_zero_ops(index - first))
                seq_starts.append(first)
            seq.append(_val_op(count, 1))
            seq_starts.append(index)
            if index != last:
                seq.append(_zero_ops(last - index))
                seq_starts.append(index + 1)
        delta = sum(map(len, seq)) - len(op)
        if delta > 0 and self.nbytes + delta > max_bytes:
            return PROMOTE
        ops[i:i + 1] = seq
        starts[i:i + 1] = seq_starts
        self.nbytes += delta
        return self._merge(i)

    def _merge(self, i: int) -> int:
        """Step 4 of hllSparseSet: from the opcode before the edit, up to 5 opcodes,
        fold adjacent VALs of one value whose runs fit in one VAL."""
        ops, starts = self.ops, self.starts
        p = i - 1 if i > 0 else 0
        scan = 5
        while p < len(ops) and scan:
            scan -= 1
            b = ops[p][0]
            if not b & 0x80:
                p += 1
                continue
            if p + 1 < len(ops):
                b2 = ops[p + 1][0]
                if b2 & 0x80 and (b ^ b2) & 0x7C == 0:
                    n = (b & 3) + (b2 & 3) + 2
                    if n <= SPARSE_VAL_MAX_LEN:
                        ops[p:p + 2] = [_val_op(((b >> 2) & 0x1F) + 1, n)]
                        del starts[p + 1]
                        self.nbytes -= 1
                        continue
            p += 1
        self.header[15] |= 0x80
        return 1


def sparse_set_bytes(s: bytearray, index: int, count: int, max_bytes: int) -> int:
    """hllSparseSet over the raw string, byte for byte (the byte past the end reads 0,
    like the sds terminator). The reference for SparseEditor; used for odd bodies."""
    if count > SPARSE_VAL_MAX:
        return PROMOTE
    end = len(s)

    def at(k: int) -> int:
        return s[k] if k < len(s) else 0

    p = HDR
    first = 0
    prev = -1
    span = 0
    while p < end:
        b = s[p]
        oplen = 1
        if b < 0x40:
            span = b + 1
        elif b & 0x80:
            span = (b & 3) + 1
        else:
            span = (((b & 0x3F) << 8) | at(p + 1)) + 1
            oplen = 2
        if index <= first + span - 1:
            break
        prev = p
        p += oplen
        first += span
    if span == 0 or p >= end:
        return -1
    b = s[p]
    is_val = bool(b & 0x80)
    is_xzero = 0x40 <= b < 0x80
    updated = False
    if is_val:
        cur = ((b >> 2) & 0x1F) + 1
        if cur >= count:
            return 0
        if span == 1:
            s[p] = _val_op(count, 1)[0]
            updated = True
    elif not is_xzero and span == 1:
        s[p] = _val_op(count, 1)[0]
        updated = True
    if not updated:
        last = first + span - 1
        if is_val:
            seq = ((_val_op(cur, index - first) if index != first else b"")
                   + _val_op(count, 1)
                   + (_val_op(cur, last - index) if index != last else b""))
        else:
            seq = ((_zero_ops(index - first) if index != first else b"")
                   + _val_op(count, 1)
                   + (_zero_ops(last - index) if index != last else b""))
        oldlen = 2 if is_xzero else 1
        delta = len(seq) - oldlen
        if delta > 0 and len(s) + delta > max_bytes:
            return PROMOTE
        newlen = len(s) + delta
        buf = s[:p] + seq + s[p + oldlen:]
        s[:] = buf[:newlen]
        end = newlen
    p = prev if prev >= 0 else HDR
    scan = 5
    while p < end and scan:
        scan -= 1
        b = s[p]
        if 0x40 <= b < 0x80:
            p += 2
            continue
        if b < 0x40:
            p += 1
            continue
        if p + 1 < end and s[p + 1] & 0x80:
            b2 = s[p + 1]
            if (b ^ b2) & 0x7C == 0:
                n = (b & 3) + (b2 & 3) + 2
                if n <= SPARSE_VAL_MAX_LEN:
                    s[p + 1] = _val_op(((b >> 2) & 0x1F) + 1, n)[0]
                    del s[p]
                    end -= 1
                    continue
        p += 1
    s[15] |= 0x80
    return 1
