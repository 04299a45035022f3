"""`redis-check-rdb`, reproduced: the same walk, the same lines, the same offsets.

The report of `redis-check-rdb` 7.0.15 is only useful to compare against if every
`[offset N]` is the one Redis prints, and Redis prints "bytes consumed so far" as its
own loader consumed them: one read per primitive (a type byte, the first byte of a
length and then its tail, a whole string body, an LZF blob...), a failed read consuming
nothing, and corruption inside a value reported only after the whole value was read.
So this module walks a file in exactly the loader's order (`redis-check-rdb.c` main
loop, `rdbLoadObject()`), validates blobs with the same rules as Redis's deep
sanitisation (`lpValidateIntegrity()`, `ziplistValidateIntegrity()`, ...), and words
every failure as Redis does, including the `rdb.c:<line>` it prints. Those line numbers
(and one extra stream check) are the ones of the Debian 7.0.15 build this project
tests against (7.0.15-1~deb12u10, whose security patches shifted upstream's lines by
up to 9); they were read off that binary by the crafted cases in the tests.

Beyond Redis 7.0: files with RDB version 11-13 (Redis 7.2-8.6) and Valkey's
`VALKEY08x` files are checked too, with the types those versions added; the report
keeps the same shape. `strict=True` refuses them exactly as 7.0 does.

The walk reads the input in large chunks, computes the CRC over whole chunks, and
never allocates more than the input actually holds.
"""

from __future__ import annotations

import io
import math
import os
import re
import stat
import struct
import time
from dataclasses import dataclass, field
from typing import BinaryIO, Callable

from . import fileio
from ._crc import crc64
from ._lzf import decompress as _lzf_decompress
from .constants import (
    F64, I16, I32, I64, RDB_VERSION_MAX, U16, U32, U32_BE, U64, U64_BE,
    VALKEY_RDB_VERSION_MAX, VALKEY_RDB_VERSION_MIN,
)
from .describe import DOING_NAMES, check_rdb_type_name, clip_message, cstr, module_type_name, text
from .errors import ChecksumError, CorruptError, FormatError, TruncatedError, UnsupportedError

__all__ = ["check_rdb", "CheckResult"]

#: What redis-check-rdb 7.0 accepts: `RDB_VERSION` and `rdbIsObjectType()`.
REDIS70_RDB_VERSION = 10

# Redis 7.0 defaults that decide how a value is loaded (and so which checks apply).
_SET_MAX_INTSET_ENTRIES = 512
_HASH_MAX_LISTPACK_ENTRIES = 512
_HASH_MAX_LISTPACK_VALUE = 64
_LISTPACK_MAX_SAFETY = 1 << 30
#: A declared size that no allocator can satisfy (47-bit user address space): Redis's
#: `ztrymalloc()` fails and the loader gives up with "Unexpected EOF".
_UNALLOCATABLE = 1 << 47
_READ_CAP = 1 << 26

_UNEXPECTED_EOF = "Unexpected EOF reading RDB file"

(DOING_START, DOING_READ_TYPE, DOING_READ_EXPIRE, DOING_READ_KEY, DOING_READ_VALUE,
 DOING_CHECK_SUM, DOING_READ_LEN, DOING_READ_AUX, DOING_READ_MODULE_AUX,
 DOING_READ_FUNCTIONS) = range(10)


# --------------------------------------------------------------------------- results

@dataclass
class CheckResult:
    """Outcome of one check; `ok` is what redis-check-rdb's exit status would say."""

    name: str
    ok: bool = False
    end_offset: int | None = None        # byte after the CRC footer (or the EOF opcode)
    error: FormatError | None = None
    keys: int = 0
    expires: int = 0
    already_expired: int = 0
    version: int | None = None
    magic: str | None = None
    aux: list[tuple[bytes, bytes]] = field(default_factory=list)
    dbs: list[int] = field(default_factory=list)
    functions: int = 0
    module_aux: list[str] = field(default_factory=list)
    checksum: str | None = None           # ok / disabled / absent / mismatch
    stored_checksum: int | None = None
    computed_checksum: int | None = None
    redis70_reads: bool = True            # would redis-check-rdb 7.0 even try this file?
    terminated: bool = False              # Redis would have exited from inside the loader
    detail: str | None = None             # rdbkit's own explanation, beyond Redis's words
    open_failed: bool = False

    def to_dict(self) -> dict:
        err = self.error
        return {
            "file": self.name,
            "ok": self.ok,
            "version": self.version,
            "magic": self.magic,
            "end_offset": self.end_offset,
            "keys": self.keys,
            "expires": self.expires,
            "already_expired": self.already_expired,
            "dbs": self.dbs,
            "functions": self.functions,
            "module_aux": self.module_aux,
            "aux": {k.decode("utf-8", "backslashreplace"): _jsonable(v) for k, v in self.aux},
            "checksum": self.checksum,
            "stored_checksum": None if self.stored_checksum is None
            else f"{self.stored_checksum:016x}",
            "computed_checksum": None if self.computed_checksum is None
            else f"{self.computed_checksum:016x}",
            "redis_7_0_reads_this_version": self.redis70_reads,
            "error": None if err is None else {
                "reason": err.reason,
                "offset": err.offset,
                "doing": err.phase,
                "key": None if err.key is None else _jsonable(err.key),
                "type": err.type,
                "db": err.db,
                "class": type(err).__name__,
                "detail": self.detail,
            },
        }

    def summary(self) -> str:
        if self.open_failed:
            return f"{self.name}: cannot open"
        if self.ok:
            return (f"{self.name}: OK, RDB {self.version}, {self.keys} keys, "
                    f"{self.expires} expires, {self.end_offset} bytes")
        err = self.error
        where = "" if err is None or err.offset is None else f" at offset {err.offset}"
        reason = "" if err is None else f": {err.reason}"
        return f"{self.name}: BAD{where}{reason}"


def _jsonable(data: bytes):
    """rdbkit's JSON convention: text when the bytes are UTF-8, else {"base64": ...}."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        import base64

        return {"base64": base64.b64encode(data).decode("ascii")}


# ---------------------------------------------------------------- internal signals

class _Eof(Exception):
    """A read the input could not satisfy (rioRead failed; nothing consumed)."""

    def __init__(self, offset: int) -> None:
        self.offset = offset


class _Fatal(Exception):
    """rdbReportError(): Redis prints the error and terminates from inside rdb.c."""

    def __init__(self, line: int, message: str, offset: int, detail: str | None = None,
                 truncated: bool = False) -> None:
        self.line, self.message, self.offset, self.detail = line, message, offset, detail
        self.truncated = truncated  # the cause was the end of the input


class _Fail(Exception):
    """rdbCheckError() then `goto err` in the checker's own loop."""

    def __init__(self, message: str, offset: int, detail: str | None = None,
                 unsupported: bool = False) -> None:
        self.message, self.offset, self.detail = message, offset, detail
        self.unsupported = unsupported


class _Null(Exception):
    """rdbLoadObject() returned NULL without reporting: Redis says "Unexpected EOF"."""

    def __init__(self, offset: int, detail: str) -> None:
        self.offset, self.detail = offset, detail


# ------------------------------------------------------------------- input buffer

class _Input:
    """Chunked reads with Redis's all-or-nothing semantics and a running CRC."""

    __slots__ = ("f", "buf", "pos", "base", "crc", "eof", "size")

    def __init__(self, f: BinaryIO, size: int | None) -> None:
        self.f = f
        self.buf = b""
        self.pos = 0
        self.base = 0
        self.crc = 0
        self.eof = False
        self.size = size

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def _fill(self, n: int) -> bool:
        """Make `n` bytes available at `pos`; False if the input ends first."""
        pos = self.pos
        if self.size is not None and self.base + pos + n > self.size:
            return False
        buf = self.buf
        if pos:
            self.crc = crc64(memoryview(buf)[:pos], self.crc)
            buf = buf[pos:]
            self.base += pos
            self.pos = 0
        parts = [buf]
        have = len(buf)
        while have < n and not self.eof:
            try:
                chunk = self.f.read(min(max(n - have, fileio.CHUNK_SIZE), _READ_CAP))
            except OSError as e:
                raise _Null(self.base + self.pos, f"read error: {e.strerror or e}") from e
            if not chunk:
                self.eof = True
                break
            parts.append(chunk)
            have += len(chunk)
        self.buf = b"".join(parts) if len(parts) > 1 else buf
        return have >= n

    def read(self, n: int) -> bytes:
        pos = self.pos
        end = pos + n
        if end > len(self.buf):
            if not self._fill(n):
                raise _Eof(self.base + self.pos)
            pos, end = 0, n
        self.pos = end
        return self.buf[pos:end]

    def byte(self) -> int:
        pos = self.pos
        if pos >= len(self.buf):
            if not self._fill(1):
                raise _Eof(self.base + self.pos)
            pos = 0
        self.pos = pos + 1
        return self.buf[pos]

    def consumed_crc(self) -> int:
        return crc64(memoryview(self.buf)[:self.pos], self.crc)

    # -- RDB primitives, each reading exactly as rdb.c does ---------------------

    def length(self) -> tuple[int, bool]:
        """rdbLoadLenByRef(): (value, is-encoded)."""
        b = self.byte()
        kind = b >> 6
        if kind == 0:
            return b & 0x3F, False
        if kind == 3:
            return b & 0x3F, True
        if kind == 1:
            return ((b & 0x3F) << 8) | self.byte(), False
        if b == 0x80:
            return U32_BE.unpack(self.read(4))[0], False
        if b == 0x81:
            return U64_BE.unpack(self.read(8))[0], False
        raise _Fatal(236, "Unknown length encoding 2 in rdbLoadLen()", self.offset,
                     f"length prefix byte 0x{b:02x}")

    def len(self) -> int:
        """rdbLoadLen(rdb, NULL): an encoded-value byte just yields its low six bits."""
        return self.length()[0]

    def string(self) -> bytes:
        """rdbGenericLoadStringObject()."""
        n, encoded = self.length()
        if not encoded:
            if n == 0:
                return b""
            if n >= _UNALLOCATABLE:
                raise _Null(self.offset, f"string length {n} cannot be allocated")
            return self.read(n)
        if n == 0:
            return b"%d" % _i8(self.byte())
        if n == 1:
            return b"%d" % I16.unpack(self.read(2))[0]
        if n == 2:
            return b"%d" % I32.unpack(self.read(4))[0]
        if n == 3:
            clen = self.len()
            ulen = self.len()
            if clen >= _UNALLOCATABLE or ulen >= _UNALLOCATABLE:
                raise _Null(self.offset, f"LZF sizes {clen}/{ulen} cannot be allocated")
            data = self.read(clen)
            if ulen == 0:
                return b""
            try:
                return _lzf_decompress(data, ulen)
            except CorruptError as e:
                raise _Fatal(413, "Invalid LZF compressed string", self.offset,
                             str(e.reason)) from None
        raise _Fatal(529, f"Unknown RDB string encoding type {n}", self.offset)


def _i8(b: int) -> int:
    return b - 256 if b > 127 else b


# ------------------------------------------------------------- blob validators
# Each returns the decoded elements (bytes; integers as canonical decimal) or None
# when Redis's deep integrity check would fail. They follow listpack.c, ziplist.c,
# intset.c, zipmap.c and t_stream.c of 7.0.15 rule for rule.

def _lp_backlen_size(n: int) -> int:
    if n <= 127:
        return 1
    if n < 16383:
        return 2
    if n < 2097151:
        return 3
    if n < 268435455:
        return 4
    return 5


def _lp_walk(lp: bytes, *, check_count: bool, exact_end: bool = True) -> list | None:
    """lpValidateIntegrity(deep=1) (or the walk streams do); None if invalid.

    Streams stop at the first terminator byte found at an entry boundary
    (`exact_end=False`); everything else must end exactly at the last byte.
    Small integers and short strings (nearly every entry Redis writes) take an
    inline path; the rest go through `_lp_entry()`.
    """
    size = len(lp)
    if size < 7 or U32.unpack_from(lp, 0)[0] != size or lp[-1] != 0xFF:
        return None
    last = size - 1
    p = 6
    out = []
    append = out.append
    while True:
        b = lp[p]
        if b < 0x80:  # 7-bit unsigned int: 1 byte + backlen 1
            if lp[p + 1] != 1 or p + 2 > last:
                return None
            append(b)
            p += 2
        elif b < 0xC0:  # string up to 63 bytes: backlen is one byte holding 1 + len
            nxt = p + (b & 0x3F) + 1
            if nxt + 1 > last or lp[nxt] != nxt - p:
                return None
            append(lp[p + 1:nxt])
            p = nxt + 1
        elif b == 0xFF:
            break
        else:
            step = _lp_entry(lp, p, last)
            if step is None:
                return None
            p, val = step
            append(val)
    if p != last and exact_end:
        return None
    if check_count:
        numele = U16.unpack_from(lp, 4)[0]
        if numele != 65535 and numele != len(out):
            return None
    return out


def _lp_entry(lp: bytes, p: int, last: int):
    """One entry of any encoding at `p`: (next position, value) or None (lpValidateNext)."""
    b = lp[p]
    if b < 0xE0:
        v = ((b & 0x1F) << 8) | lp[p + 1]
        enc, hdr, val = 2, 1, v - 8192 if v >= 4096 else v
    elif b < 0xF0:
        if p + 2 > last:
            return None
        enc, hdr, val = 2 + (((b & 0x0F) << 8) | lp[p + 1]), 2, None
    elif b == 0xF0:
        if p + 5 > last:
            return None
        enc, hdr, val = 5 + U32.unpack_from(lp, p + 1)[0], 5, None
    elif b <= 0xF4:
        enc, hdr, val = 1 + (2, 3, 4, 8)[b - 0xF1], 1, True
    else:
        return None
    if p + hdr > last:
        return None
    blen = _lp_backlen_size(enc)
    nxt = p + enc + blen
    if nxt > last:
        return None
    # the backlen, decoded backwards from its last byte, must equal `enc`
    q = nxt - 1
    v = 0
    shift = 0
    while True:
        c = lp[q]
        v |= (c & 127) << shift
        if not c & 128:
            break
        shift += 7
        q -= 1
        if shift > 28 or q < 0:
            return None
    if v != enc:
        return None
    if val is None:
        val = lp[p + hdr:p + enc]
    elif val is True:
        val = int.from_bytes(lp[p + 1:p + enc], "little", signed=True)
    return nxt, val


def _as_bytes(v) -> bytes:
    """An element as Redis compares it (lpGet): integers by their decimal text."""
    return v if type(v) is bytes else b"%d" % v


def _unique(values) -> bool:
    names = [_as_bytes(v) for v in values]
    return len(set(names)) == len(names)


def _lp_pairs(lp: bytes) -> list | None:
    """lpPairsValidateIntegrityAndDups(deep=1)."""
    items = _lp_walk(lp, check_count=True)
    if items is None or len(items) % 2 or not _unique(items[0::2]):
        return None
    return items


_ZIP_INT = {0xC0: 2, 0xD0: 4, 0xE0: 8, 0xF0: 3, 0xFE: 1}


def _zl_walk(zl: bytes, *, pairs: bool = False) -> list | None:
    """ziplistValidateIntegrity(deep=1), with the pairs dup/parity rule if asked."""
    size = len(zl)
    if size < 11 or U32.unpack_from(zl, 0)[0] != size or zl[-1] != 0xFF:
        return None
    tail = U32.unpack_from(zl, 4)[0]
    if tail > size - 1:
        return None
    header_count = U16.unpack_from(zl, 8)[0]
    first, last = 10, size - 1
    p = first
    prev = None
    prev_raw = 0
    out = []
    seen = set() if pairs else None
    while zl[p] != 0xFF:
        if p + 1 > last:
            return None
        if zl[p] < 254:
            plsize, prevlen = 1, zl[p]
        else:
            plsize = 5
            if p + 5 > last:
                return None
            prevlen = U32.unpack_from(zl, p + 1)[0]
        e = p + plsize
        if e > last:
            return None
        enc = zl[e]
        if enc < 0xC0:
            kind = enc & 0xC0
            if kind == 0:
                lensize, ln = 1, enc & 0x3F
            elif kind == 0x40:
                lensize = 2
                if e + 2 > last:
                    return None
                ln = ((enc & 0x3F) << 8) | zl[e + 1]
            else:  # 0x80-0xBF: masked to the 32-bit form, as ZIP_ENTRY_ENCODING does
                lensize = 5
                if e + 5 > last:
                    return None
                ln = U32_BE.unpack_from(zl, e + 1)[0]
            is_str = True
        elif enc in _ZIP_INT:
            lensize, ln, is_str = 1, _ZIP_INT[enc], False
        elif 0xF1 <= enc <= 0xFD:
            lensize, ln, is_str = 1, 0, False
        else:
            return None
        if e + lensize > last:
            return None
        headersize = plsize + lensize
        if p + headersize + ln > last:
            return None
        if p - prevlen < first:
            return None
        if prevlen != prev_raw:
            return None
        data_at = p + headersize
        if is_str:
            val = zl[data_at:data_at + ln]
        elif ln == 0:
            val = b"%d" % ((enc & 0x0F) - 1)
        else:
            val = b"%d" % int.from_bytes(zl[data_at:data_at + ln], "little", signed=True)
        if pairs and not len(out) % 2:
            if val in seen:
                return None
            seen.add(val)
        out.append(val)
        prev_raw = headersize + ln
        prev = p
        p += headersize + ln
    if p != size - 1:
        return None
    if prev is not None and prev != tail:
        return None
    if header_count != 65535 and len(out) != header_count:
        return None
    if pairs and len(out) % 2:
        return None
    return out


def _intset_ok(blob: bytes) -> int | None:
    """intsetValidateIntegrity(deep=1); the member count, or None."""
    if len(blob) < 8:
        return None
    width, count = U32.unpack_from(blob, 0)[0], U32.unpack_from(blob, 4)[0]
    if width not in (2, 4, 8) or 8 + count * width != len(blob) or count == 0:
        return None
    fmt = {2: "<%dh", 4: "<%di", 8: "<%dq"}[width] % count
    values = struct.unpack_from(fmt, blob, 8)
    if any(b <= a for a, b in zip(values, values[1:])):
        return None
    return count


def _zipmap_pairs(zm: bytes) -> list | None:
    """zipmapValidateIntegrity(deep=1), then the pairs (field, value)."""
    size = len(zm)
    if size < 2 or zm[-1] != 0xFF:
        return None
    hi = size - 1

    def out_of_range(q: int) -> bool:
        return q < 2 or q > hi

    def decode(q: int) -> tuple[int, int]:
        if zm[q] < 254:
            return zm[q], 1
        return U32.unpack_from(zm, q + 1)[0], 5

    p = 1
    pairs = []
    while zm[p] != 0xFF:
        s = 1 if zm[p] < 254 else 5
        if out_of_range(p + s):
            return None
        flen, s = decode(p)
        fstart = p + s
        p = fstart + flen
        if out_of_range(p):
            return None
        s = 1 if zm[p] < 254 else 5
        if out_of_range(p + s):
            return None
        vlen, s = decode(p)
        p += s
        free = zm[p]
        p += 1
        vstart = p
        p += (vlen + free) & 0xFFFFFFFF
        if out_of_range(p):
            return None
        pairs.append((zm[fstart:fstart + flen], zm[vstart:vstart + vlen]))
    if not pairs:
        return None
    if zm[0] != 254 and zm[0] != len(pairs):
        return None
    return pairs


def _as_int(v) -> int | None:
    """lpGetIntegerIfValid(): integers, or strings string2ll() accepts."""
    if isinstance(v, int):
        return v
    return _parse_ll(v)


_LL_RE = re.compile(rb"-?[1-9][0-9]*\Z|0\Z")


def _parse_ll(b: bytes) -> int | None:
    """string2ll(): canonical base-10 int64 only (no '+', no leading zeros, no '-0')."""
    if not b or len(b) > 20 or not _LL_RE.match(b):
        return None
    v = int(b)
    if v < -(1 << 63) or v >= (1 << 63):
        return None
    return v


def _stream_lp_ok(lp: bytes) -> list | None:
    """streamValidateListpackIntegrity(deep=1): the node's entries, or None."""
    items = _lp_walk(lp, check_count=False, exact_end=False)
    if not items:
        return None
    n = len(items)
    i = 0

    def integer() -> int:
        nonlocal i
        if i >= n:
            raise IndexError
        v = items[i]
        i += 1
        if type(v) is bytes:
            v = _parse_ll(v)
            if v is None:
                raise ValueError
        return v

    def skip(count: int) -> None:
        nonlocal i
        if count < 0 or i + count > n:
            raise IndexError
        i += count

    try:
        entry_count = integer()
        deleted = integer()
        master_fields = integer()
        skip(master_fields)
        if integer() != 0:
            return None
        for _ in range(max(entry_count + deleted, 0)):
            fields, extra = master_fields, 3
            flags = integer()
            integer()
            integer()
            if not flags & 2:
                fields = integer()
                skip(fields)
                extra += fields + 1
            skip(fields)
            if integer() != fields + extra:
                return None
    except (IndexError, ValueError):
        return None
    if i != n:
        return None
    return items


# ------------------------------------------------------------------ the walker

_FLOAT_RE = re.compile(
    rb"[ \t\n\v\f\r]*[+-]?(?:(?:inf(?:inity)?|nan(?:\([0-9a-z_]*\))?)"
    rb"|0x(?:[0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)(?:p[+-]?[0-9]+)?"
    rb"|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?)", re.IGNORECASE)


def _scan_double(text_bytes: bytes) -> float | None:
    """sscanf("%lg"): the longest accepted prefix, or None when nothing matches."""
    m = _FLOAT_RE.match(cstr(text_bytes))
    if not m:
        return None
    token = m.group(0).strip().lower()
    try:
        if b"0x" in token:
            sign = -1.0 if token.startswith(b"-") else 1.0
            return sign * float.fromhex(token.lstrip(b"+-").decode())
        if b"nan" in token:
            return math.nan
        return float(token.split(b"(")[0])
    except (ValueError, OverflowError):
        return None


class _Checker:
    def __init__(self, inp: _Input, result: CheckResult, out: Callable[[str], None],
                 now_ms: int) -> None:
        self.inp = inp
        self.res = result
        self.out = out
        self.now = now_ms
        self.doing = DOING_START
        self.key: bytes | None = None
        self.key_type = 0  # zero-initialised in Redis: "Reading type 0" before any key
        self.db = 0
        self.version = 0
        self.valkey = False
        self.redis70 = True

    # -- output ----------------------------------------------------------------

    def info(self, message: bytes | str, offset: int | None = None) -> None:
        if isinstance(message, str):
            message = message.encode("utf-8", "surrogateescape")
        where = self.inp.offset if offset is None else offset
        self.out(f"[offset {where}] {text(clip_message(message))}")

    def type_name(self, rtype: int) -> str:
        return check_rdb_type_name(rtype, redis70=self.redis70, valkey=self.valkey)

    def error_block(self, message: str, offset: int) -> None:
        out = self.out
        out("--- RDB ERROR DETECTED ---")
        clipped = clip_message(message.encode("utf-8", "surrogateescape"))
        out(f"[offset {offset}] {text(clipped)}")
        out(f"[additional info] While doing: {DOING_NAMES[self.doing]}")
        if self.key is not None:
            out(f"[additional info] Reading key '{text(cstr(self.key))}'")
        if self.key_type != -1:
            out(f"[additional info] Reading type {self.key_type} "
                f"({self.type_name(self.key_type)})")
        self.generic_info()

    def generic_info(self) -> None:
        res = self.res
        self.out(f"[info] {res.keys} keys read")
        self.out(f"[info] {res.expires} expires")
        self.out(f"[info] {res.already_expired} already expired")

    # -- the main loop (redis_check_rdb()) --------------------------------------

    def run(self, strict: bool) -> None:
        inp = self.inp
        res = self.res
        header = inp.read(9)
        if header[:5] == b"REDIS":
            version = _atoi(header[5:9])
            res.magic = "REDIS"
            if 1 <= version <= REDIS70_RDB_VERSION:
                pass
            elif REDIS70_RDB_VERSION < version <= RDB_VERSION_MAX and not strict:
                self.redis70 = False
            else:
                raise _Fail(f"Can't handle RDB format version {version}", inp.offset)
        elif header[:6] == b"VALKEY" and not strict:
            version = _atoi(header[6:9])
            res.magic = "VALKEY"
            if not VALKEY_RDB_VERSION_MIN <= version <= VALKEY_RDB_VERSION_MAX:
                raise _Fail(f"Can't handle RDB format version {version}", inp.offset)
            self.redis70 = False
            self.valkey = True
        else:
            raise _Fail("Wrong signature trying to load DB from file", inp.offset)
        self.version = res.version = version
        res.redis70_reads = self.redis70
        if not self.redis70:
            self.info(f"RDB format version {version}{' (Valkey)' if self.valkey else ''} "
                      "is newer than redis-check-rdb 7.0 reads: checking with rdbkit's rules")
        accept = _accepted_types(version, self.valkey)

        expiretime = -1
        byte = inp.byte
        fast = self.fast_strings
        while True:
            self.doing = DOING_READ_TYPE
            rtype = byte()
            if (rtype == 0 or rtype == 0xFC) and expiretime == -1:
                inp.pos -= 1
                if fast():
                    continue
                inp.pos += 1
            if rtype >= 0xF4 or (rtype == 0xF3 and not self.redis70):
                if rtype == 0xFC:
                    self.doing = DOING_READ_EXPIRE
                    expiretime = I64.unpack(inp.read(8))[0]
                    continue
                if rtype == 0xFD:
                    self.doing = DOING_READ_EXPIRE
                    expiretime = I32.unpack(inp.read(4))[0] * 1000
                    continue
                if rtype == 0xF9:
                    byte()
                    continue
                if rtype == 0xF8:
                    inp.len()
                    continue
                if rtype == 0xFF:
                    break
                if rtype == 0xFE:
                    self.doing = DOING_READ_LEN
                    db = inp.len()
                    self.info(f"Selecting DB ID {db}")
                    self.db = db
                    if db not in res.dbs:
                        res.dbs.append(db)
                    continue
                if rtype == 0xFB:
                    self.doing = DOING_READ_LEN
                    inp.len()
                    inp.len()
                    continue
                if rtype == 0xFA:
                    self.doing = DOING_READ_AUX
                    k = inp.string()
                    v = inp.string()
                    self.info(b"AUX FIELD " + cstr(k) + b" = '" + cstr(v) + b"'")
                    res.aux.append((k, v))
                    continue
                if rtype == 0xF7:
                    self.module_aux()
                    continue
                if rtype in (0xF5, 0xF6):
                    self.doing = DOING_READ_FUNCTIONS
                    self.function(rtype)
                    res.functions += 1
                    continue
                if rtype == 0xF4 and not self.redis70 and (self.version >= 12 or self.valkey):
                    self.doing = DOING_READ_LEN
                    inp.len()
                    inp.len()
                    inp.len()
                    continue
                if rtype == 0xF3 and not self.redis70:
                    what = "SLOT_IMPORT" if self.valkey else "KEY_META"
                    raise _Fail(f"Unsupported opcode {rtype} ({what})", inp.offset,
                                "its layout is not documented well enough to check",
                                unsupported=True)
            if rtype not in accept:
                raise _Fail(f"Invalid object type: {rtype}", inp.offset)
            self.key_type = rtype
            self.doing = DOING_READ_KEY
            self.key = inp.string()
            res.keys += 1
            self.doing = DOING_READ_VALUE
            self.value(rtype)
            if expiretime != -1:
                if expiretime < self.now:
                    res.already_expired += 1
                res.expires += 1
            self.key = None
            self.key_type = -1
            expiretime = -1

        if self.version >= 5 or self.valkey:
            self.doing = DOING_CHECK_SUM
            expected = inp.consumed_crc()
            stored = U64.unpack(inp.read(8))[0]
            res.stored_checksum, res.computed_checksum = stored, expected
            if stored == 0:
                res.checksum = "disabled"
                self.info("RDB file was saved with checksum disabled: no check performed.")
            elif stored != expected:
                res.checksum = "mismatch"
                raise _Fail("RDB CRC error", inp.offset,
                            f"stored checksum {stored:016x}, computed {expected:016x}")
            else:
                res.checksum = "ok"
                self.info("Checksum OK")
        else:
            res.checksum = "absent"
        res.end_offset = inp.offset

    def fast_strings(self) -> bool:
        """Skip a run of plain string keys already in the buffer; True if any.

        Most keys of a real dataset are short strings; walking them inline over the
        buffer, without a call per primitive, is what keeps big files fast. Anything
        unusual (LZF, long lengths, other types, the buffer's end) is left to the
        general walk, which then reports errors exactly as Redis would.
        """
        inp = self.inp
        buf = inp.buf
        pos = inp.pos
        n = len(buf)
        now = self.now
        keys = expires = already = 0
        unpack_expire = I64.unpack_from
        while pos < n:
            start = pos
            t = buf[pos]
            expire = None
            if t == 0xFC:
                if pos + 10 > n:
                    break
                expire = unpack_expire(buf, pos + 1)[0]
                pos += 9
                t = buf[pos]
            if t != 0 or pos + 2 >= n:
                pos = start
                break
            b = buf[pos + 1]
            if b < 0x40:
                pos += 2 + b
            elif b < 0x80:
                pos += 3 + (((b & 0x3F) << 8) | buf[pos + 2])
            else:
                pos = start
                break
            if pos + 1 >= n:
                pos = start
                break
            b = buf[pos]
            if b < 0x40:
                pos += 1 + b
            elif b < 0x80:
                pos += 2 + (((b & 0x3F) << 8) | buf[pos + 1])
            elif b == 0xC0:
                pos += 2
            elif b == 0xC1:
                pos += 3
            elif b == 0xC2:
                pos += 5
            else:
                pos = start
                break
            if pos > n:
                pos = start
                break
            keys += 1
            if expire is not None:
                expires += 1
                if expire < now:
                    already += 1
        if not keys:
            return False
        inp.pos = pos
        res = self.res
        res.keys += keys
        res.expires += expires
        res.already_expired += already
        self.key = None
        self.key_type = -1
        return True

    # -- opcodes with bodies ----------------------------------------------------

    def module_aux(self) -> None:
        inp = self.inp
        self.doing = DOING_READ_MODULE_AUX
        module_id = inp.len()
        when_opcode = inp.len()
        inp.len()  # when
        if when_opcode != 2:
            raise _Fail("bad when_opcode", inp.offset)
        name = module_type_name(module_id)
        self.info(f"MODULE AUX for: {name}")
        self.res.module_aux.append(name)
        self.module_value(name)

    def function(self, opcode: int) -> None:
        inp = self.inp
        steps = ([("Failed loading library payload", "string")] if opcode == 0xF5 else [
            ("Failed loading library name", "string"),
            ("Failed loading engine name", "string"),
            ("Failed loading library description indicator", "len"),
            ("Failed loading library description", "desc"),
            ("Failed loading library blob", "string"),
        ])
        has_desc = 0
        for message, what in steps:
            try:
                if what == "len":
                    has_desc = inp.len()
                elif what == "desc":
                    if has_desc:
                        inp.string()
                else:
                    inp.string()
            except (_Eof, _Null) as e:
                raise _Fail(f"Failed loading library, {message}", e.offset,
                            "input ended" if isinstance(e, _Eof) else e.detail) from None

    def module_value(self, name: str) -> None:
        """rdbLoadCheckModuleValue(): walk opcode-prefixed values to the EOF opcode."""
        inp = self.inp
        while True:
            try:
                opcode = inp.len()
            except _Eof as e:
                # Redis loops forever here (the failed read repeats); rdbkit stops.
                raise _Null(e.offset, f"module {name} value ends before its EOF opcode "
                            "(redis-check-rdb 7.0 hangs on this)") from None
            if opcode == 0:
                return
            try:
                if opcode in (1, 2):
                    inp.length()
                elif opcode == 5:
                    inp.string()
                elif opcode == 3:
                    inp.read(4)
                elif opcode == 4:
                    inp.read(8)
            except (_Eof, _Null) as e:
                line, what = {1: (1540, "integer"), 2: (1540, "integer"), 5: (1546, "string"),
                              3: (1553, "float"), 4: (1559, "double")}[opcode]
                raise _Fatal(line, f"Error reading {what} from module {name} value",
                             e.offset, truncated=isinstance(e, _Eof)) from None

    # -- values (rdbLoadObject()) -----------------------------------------------

    def value(self, t: int) -> None:
        inp = self.inp
        if t == 0:
            inp.string()
        elif t == 1:
            n = inp.len()
            if n == 0:
                raise _Null(inp.offset, "empty list")
            string = inp.string
            for _ in range(n):
                string()
        elif t == 2:
            self.plain_set()
        elif t in (3, 5):
            self.plain_zset(t)
        elif t == 4:
            self.plain_hash()
        elif t in (14, 18):
            self.quicklist(t)
        elif t in (9, 10, 11, 12, 13, 16, 17, 20):
            self.blob(t)
        elif t in (15, 19, 21):
            self.stream(t)
        elif t in (6, 7):
            self.module(t)
        elif t in (22, 23, 24, 25):
            self.hash_with_ttls(t)
        else:
            raise _Fail(f"Unsupported object type: {t}", inp.offset,
                        f"type {t} ({self.type_name(t)}) is not documented well enough "
                        "to check", unsupported=True)

    def plain_set(self) -> None:
        inp = self.inp
        n = inp.len()
        if n == 0:
            raise _Null(inp.offset, "empty set")
        intset = n <= _SET_MAX_INTSET_ENTRIES
        seen = set()
        for _ in range(n):
            m = inp.string()
            if intset and _parse_ll(m) is None:
                intset = False
            if m in seen:
                raise _Fatal(1809 if intset else 1829, "Duplicate set members detected",
                             inp.offset, f"member {m[:60]!r} repeats")
            seen.add(m)

    def plain_zset(self, t: int) -> None:
        inp = self.inp
        n = inp.len()
        if n == 0:
            raise _Null(inp.offset, "empty sorted set")
        seen = set()
        for _ in range(n):
            m = inp.string()
            if t == 5:
                score = F64.unpack(inp.read(8))[0]
            else:
                ln = inp.byte()
                if ln == 253:
                    score = math.nan
                elif ln in (254, 255):
                    score = math.inf if ln == 254 else -math.inf
                else:
                    score = _scan_double(inp.read(ln))
                    if score is None:
                        raise _Null(inp.offset, "zset score is not a number")
            if score != score:
                raise _Fatal(1882, "Zset with NAN score detected", inp.offset)
            if m in seen:
                raise _Fatal(1894, "Duplicate zset fields detected", inp.offset,
                             f"member {m[:60]!r} repeats")
            seen.add(m)

    def plain_hash(self) -> None:
        inp = self.inp
        n = inp.len()
        if n == 0:
            raise _Null(inp.offset, "empty hash")
        listpack = n <= _HASH_MAX_LISTPACK_ENTRIES
        seen = set()
        for _ in range(n):
            f = inp.string()
            v = inp.string()
            if f in seen:
                raise _Fatal(1951 if listpack else 2019,
                             "Hash with dup elements" if listpack
                             else "Duplicate hash fields detected", inp.offset,
                             f"field {f[:60]!r} repeats")
            seen.add(f)
            if listpack and (len(f) > _HASH_MAX_LISTPACK_VALUE
                             or len(v) > _HASH_MAX_LISTPACK_VALUE):
                listpack = False

    def quicklist(self, t: int) -> None:
        inp = self.inp
        n = inp.len()
        if n == 0:
            raise _Null(inp.offset, "empty list")
        elements = 0
        for i in range(n):
            container = 2
            if t == 18:
                container = inp.len()
                if container not in (1, 2):
                    raise _Fatal(2048, "Quicklist integrity check failed.", inp.offset,
                                 f"node {i} has container {container}")
            data = inp.string()
            if not data:
                raise _Null(inp.offset, f"quicklist node {i} is empty")
            if container == 1:
                elements += 1
                continue
            if t == 18:
                items = _lp_walk(data, check_count=True)
                if items is None:
                    raise _Fatal(2071, "Listpack integrity check failed.", inp.offset,
                                 f"node {i}")
            else:
                items = _zl_walk(data)
                if items is None:
                    raise _Fatal(2081, "Ziplist integrity check failed.", inp.offset,
                                 f"node {i}")
            elements += len(items)
        if elements == 0:
            raise _Null(inp.offset, "every quicklist node is empty")

    def blob(self, t: int) -> None:
        inp = self.inp
        data = inp.string()
        if t == 9:
            pairs = _zipmap_pairs(data)
            if pairs is None:
                raise _Fatal(2130, "Zipmap integrity check failed.", inp.offset)
            seen = set()
            for f, v in pairs:
                if f in seen or len(f) + len(v) >= _LISTPACK_MAX_SAFETY:
                    raise _Fatal(2154, f"Hash zipmap with dup elements, or big length "
                                 f"({len(f)})", inp.offset)
                seen.add(f)
        elif t == 10:
            items = _zl_walk(data)
            if items is None:
                raise _Fatal(2189, "List ziplist integrity check failed.", inp.offset)
            if not items:
                raise _Null(inp.offset, "empty list")
        elif t == 11:
            if _intset_ok(data) is None:
                raise _Fatal(2214, "Intset integrity check failed.", inp.offset)
        elif t in (12, 13):
            items = _zl_walk(data, pairs=True)
            if items is None:
                raise _Fatal(2229 if t == 12 else 2275,
                             f"{'Zset' if t == 12 else 'Hash'} ziplist integrity check failed.",
                             inp.offset)
            if not items:
                raise _Null(inp.offset, "empty sorted set" if t == 12 else "empty hash")
        elif t in (16, 17):
            items = _lp_pairs(data)
            if items is None:
                raise _Fatal(2301 if t == 16 else 2255,
                             f"{'Hash' if t == 16 else 'Zset'} listpack integrity check failed.",
                             inp.offset)
            if not items:
                raise _Null(inp.offset, "empty hash" if t == 16 else "empty sorted set")
        elif t == 20:
            items = _lp_walk(data, check_count=True)
            if items is None or not _unique(items):
                raise _Fail("Set listpack integrity check failed.", inp.offset)
            if not items:
                raise _Null(inp.offset, "empty set")

    def stream(self, t: int) -> None:
        inp = self.inp

        def read_error(line: int, message: str, fn):
            try:
                return fn()
            except _Eof as e:
                raise _Fatal(line, message, e.offset, "input ended", truncated=True) from None
            except _Null as e:
                raise _Fatal(line, message, e.offset, e.detail) from None

        nodes = read_error(2327, "Stream listpacks len loading failed.", inp.len)
        node_keys = set()
        for _ in range(nodes):
            key = read_error(2338, "Stream master ID loading failed: invalid encoding or "
                             "I/O error.", inp.string)
            if len(key) != 16:
                raise _Fatal(2343, "Stream node key entry is not the size of a stream ID",
                             inp.offset)
            lp = read_error(2355, "Stream listpacks loading failed.", inp.string)
            if _stream_lp_ok(lp) is None:
                raise _Fatal(2362, "Stream listpack integrity check failed.", inp.offset)
            if key in node_keys:
                raise _Fatal(2386, "Listpack re-added with existing key", inp.offset)
            node_keys.add(key)

        def metadata():
            length = inp.len()
            inp.len()
            inp.len()
            if t != 15:
                for _ in range(5):
                    inp.len()
            return length

        length = read_error(2424, "Stream object metadata loading failed.", metadata)
        if length and not node_keys:
            raise _Fatal(2430, "Stream length inconsistent with rax entries", inp.offset)
        groups = read_error(2438, "Stream cgroup count loading failed.", inp.len)
        names = set()
        for _ in range(groups):
            name = read_error(2449, "Error reading the consumer group name from Stream",
                              inp.string)
            read_error(2458, "Stream cgroup ID loading failed.",
                       lambda: (inp.len(), inp.len()))
            if t != 15:
                read_error(2469, "Stream cgroup offset loading failed.", inp.len)
            if name in names:
                raise _Fatal(2480, f"Duplicated consumer group name "
                             f"{text(cstr(name))}", inp.offset)
            names.add(name)
            pel_size = read_error(2495, "Stream PEL size loading failed.", inp.len)
            pel: dict[bytes, bool] = {}
            for _ in range(pel_size):
                raw = read_error(2502, "Stream PEL ID loading failed.", lambda: inp.read(16))
                read_error(2510, "Stream PEL NACK loading failed.",
                           lambda: (inp.read(8), inp.len()))
                if raw in pel:
                    raise _Fatal(2516, "Duplicated global PEL entry loading stream "
                                 "consumer group", inp.offset)
                pel[raw] = False
            consumers = read_error(2527, "Stream consumers num loading failed.", inp.len)
            cnames = set()
            for _ in range(consumers):
                cname = read_error(2534, "Error reading the consumer name from Stream group.",
                                   inp.string)
                if cname in cnames:
                    raise _Fatal(2543, "Duplicate stream consumer detected.", inp.offset)
                cnames.add(cname)
                read_error(2549, "Stream short read reading seen time.", lambda: inp.read(8))
                if t == 21:
                    read_error(2549, "Stream short read reading active time.",
                               lambda: inp.read(8))
                owned = read_error(2558, "Stream consumer PEL num loading failed.", inp.len)
                for _ in range(owned):
                    raw = read_error(2566, "Stream short read reading PEL streamID.",
                                     lambda: inp.read(16))
                    if raw not in pel:
                        raise _Fatal(2573, "Consumer entry not found in group global PEL",
                                     inp.offset)
                    if pel[raw]:
                        # Debian's CVE-2026-25243 fix; it also catches an id listed twice
                        # by one consumer, upstream's "Duplicated consumer PEL entry".
                        raise _Fatal(2583, "Stream consumer PEL entry already has a consumer "
                                     "assigned", inp.offset)
                    pel[raw] = True
            if not all(pel.values()):
                raise _Fatal(2611, "Stream CG PEL entry without consumer", inp.offset)

    def module(self, t: int) -> None:
        inp = self.inp
        try:
            module_id = inp.len()
        except _Eof as e:
            raise _Fatal(2622, "Short read module id", e.offset, truncated=True) from None
        name = module_type_name(module_id)
        if t == 7:
            self.module_value(name)
            return
        raise _Fatal(2636, "The RDB file contains module data I can't load: no matching "
                     f"module type '{name}'", inp.offset,
                     "module values of type 6 (4.0 release candidates) cannot be walked")

    def hash_with_ttls(self, t: int) -> None:
        """Hash field expiry: Redis 7.4 types 22-25, Valkey 9's type 22 (HASH_2)."""
        inp = self.inp
        if self.valkey and t == 22:
            n = inp.len()
            if n == 0:
                raise _Null(inp.offset, "empty hash")
            seen = set()
            for _ in range(n):
                f = inp.string()
                inp.string()
                inp.read(8)
                if f in seen:
                    raise _Fail("Duplicate hash fields detected", inp.offset)
                seen.add(f)
            return
        if t in (24, 25):
            inp.read(8)  # minimal expire of the hash
        if t in (22, 24):
            n = inp.len()
            if n == 0:
                raise _Null(inp.offset, "empty hash")
            seen = set()
            for _ in range(n):
                inp.len()
                f = inp.string()
                inp.string()
                if f in seen:
                    raise _Fail("Duplicate hash fields detected", inp.offset)
                seen.add(f)
            return
        data = inp.string()
        items = _lp_walk(data, check_count=True)
        if items is None or len(items) % 3 or not _unique(items[0::3]) \
                or any(_as_int(x) is None for x in items[2::3]):
            raise _Fail("Hash listpack with TTL integrity check failed.", inp.offset)
        if not items:
            raise _Null(inp.offset, "empty hash")


def _atoi(data: bytes) -> int:
    """C atoi() over a NUL-terminated buffer: leading blanks, sign, digits."""
    m = re.match(rb"[ \t\n\v\f\r]*([+-]?[0-9]*)", data)
    digits = m.group(1) if m else b""
    try:
        return int(digits)
    except ValueError:
        return 0


def _accepted_types(version: int, valkey: bool) -> frozenset:
    base = set(range(0, 8)) | set(range(9, 20))  # Redis 7.0's rdbIsObjectType()
    if valkey:
        base |= {20, 21, 22}
    elif version >= 11:
        base |= {20, 21}
        if version >= 12:
            base |= {22, 23, 24, 25}
        if version >= 13:
            base |= {26}
    return frozenset(base)


# ---------------------------------------------------------------- entry point

def _open(source) -> tuple[BinaryIO, bool, int | None]:
    """(file, close-it?, known size from here on)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        return io.BytesIO(data), True, len(data)
    if isinstance(source, (str, os.PathLike)):
        f = fileio.open_input(source)
        return f, str(source) != "-", _remaining(f)
    return source, False, _remaining(source)


def _remaining(f) -> int | None:
    """Bytes left in a regular, uncompressed file; None when unknowable."""
    if not isinstance(f, (io.BufferedReader, io.FileIO, io.BytesIO)):
        return None
    try:
        if isinstance(f, io.BytesIO):
            return len(f.getbuffer()) - f.tell()
        st = os.fstat(f.fileno())
        if stat.S_ISREG(st.st_mode):
            return st.st_size - f.tell()
    except (OSError, ValueError, io.UnsupportedOperation):
        pass
    return None


def check_rdb(source, *, name: str, out: Callable[[str], None] = lambda line: None,
              now_ms: int | None = None, strict: bool = False) -> CheckResult:
    """Check one RDB like `redis-check-rdb <name>`; every report line goes to `out`.

    `source` is a path, `-`, bytes, or a binary file object positioned at the RDB's
    first byte (left open; an AOF preamble's RDB ends at `result.end_offset`).
    `strict` refuses what 7.0 refuses (RDB > 10, Valkey magic). Never raises for
    bad input: the verdict and the error are in the result.
    """
    result = CheckResult(name=name)
    out(f"[offset 0] Checking RDB file {name}")
    try:
        f, close, size = _open(source)
    except OSError as e:
        result.open_failed = True
        result.detail = f"{e.strerror or e}"
        return result
    now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    inp = _Input(f, size)
    checker = _Checker(inp, result, out, now)
    try:
        checker.run(strict)
    except _Eof as e:
        _record(checker, TruncatedError, _UNEXPECTED_EOF, e.offset, "input ended")
    except _Null as e:
        _record(checker, CorruptError, _UNEXPECTED_EOF, e.offset, e.detail)
    except _Fail as e:
        cls = ChecksumError if e.message == "RDB CRC error" else (
            UnsupportedError if e.unsupported else CorruptError)
        _record(checker, cls, e.message, e.offset, e.detail)
    except _Fatal as e:
        message = (f"Internal error in RDB reading offset 0, function at rdb.c:{e.line} -> "
                   f"{e.message}")
        _record(checker, TruncatedError if e.truncated else CorruptError, message, e.offset,
                e.detail)
        result.terminated = True
        out(f"{os.getpid()}:C {_log_time()} # Terminating server after rdb file reading "
            "failure.")
    else:
        result.ok = True
        out("[offset %d] \\o/ RDB looks OK! \\o/" % inp.offset)
        checker.generic_info()
    finally:
        if close:
            f.close()
    return result


def _record(checker: _Checker, cls, message: str, offset: int, detail: str | None) -> None:
    res = checker.res
    checker.error_block(message, offset)
    if cls is ChecksumError:
        err = ChecksumError(res.stored_checksum or 0, res.computed_checksum or 0, offset,
                            phase=DOING_NAMES[checker.doing])
        err.reason = message
    elif cls is TruncatedError:
        err = TruncatedError(message, offset, valid_up_to=offset,
                             phase=DOING_NAMES[checker.doing])
    else:
        err = cls(message, offset, phase=DOING_NAMES[checker.doing])
    err.located(key=checker.key, db=checker.db if checker.key is not None else None,
                type=(checker.type_name(checker.key_type) if checker.key_type != -1
                      and checker.key is not None else None),
                path=res.name)
    res.error = err
    res.detail = detail


def _log_time() -> str:
    now = time.time()
    ms = int((now - int(now)) * 1000)
    return time.strftime("%d %b %Y %H:%M:%S", time.localtime(now)) + f".{ms:03d}"
