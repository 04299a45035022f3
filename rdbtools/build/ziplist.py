"""Ziplist encoder (Redis 2.6-6.2 `ziplist.c`, RDB >= 6 integer encodings).

Used when writing RDB 6-9: list, hash and zset blobs and quicklist v1 nodes. Entries
are laid out as `ziplistPush` at the tail lays them out: prevlen, encoding, data.
"""

from __future__ import annotations

from ..constants import U16, U32
from ._ints import canonical_int

ZL_HEADER_SIZE = 10
ZL_END = b"\xff"
ZL_COUNT_UNKNOWN = 0xFFFF
#: A prevlen below this fits one byte; otherwise 0xFE + 4 bytes.
ZL_BIG_PREVLEN = 254
#: zipTryEncoding() only looks at strings shorter than this.
ZL_MAX_INT_STR = 32


def _int_part(v: int) -> bytes:
    if 0 <= v <= 12:
        return bytes((0xF1 + v,))
    if -128 <= v <= 127:
        return b"\xfe" + (v & 0xFF).to_bytes(1, "little")
    if -32768 <= v <= 32767:
        return b"\xc0" + (v & 0xFFFF).to_bytes(2, "little")
    if -8388608 <= v <= 8388607:
        return b"\xf0" + (v & 0xFFFFFF).to_bytes(3, "little")
    if -2147483648 <= v <= 2147483647:
        return b"\xd0" + (v & 0xFFFFFFFF).to_bytes(4, "little")
    return b"\xe0" + (v & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little")


def _str_part(data: bytes) -> bytes:
    n = len(data)
    if n <= 0x3F:
        return bytes((n,)) + data
    if n <= 0x3FFF:
        return bytes((0x40 | (n >> 8), n & 0xFF)) + data
    return b"\x80" + n.to_bytes(4, "big") + data


def ziplist_entry(item: bytes | int) -> bytes:
    """Encoding and data of one entry (without its prevlen)."""
    if isinstance(item, int):
        return _int_part(item)
    v = canonical_int(item) if 0 < len(item) < ZL_MAX_INT_STR else None
    return _str_part(bytes(item)) if v is None else _int_part(v)


def _prevlen(n: int) -> bytes:
    if n < ZL_BIG_PREVLEN:
        return bytes((n,))
    return b"\xfe" + U32.pack(n)


class ZiplistBuilder:
    """Append-only ziplist with a running size (quicklist v1 node split rule)."""

    __slots__ = ("_parts", "_size", "_last", "_tail", "_count")

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._size = ZL_HEADER_SIZE + 1
        self._last = 0      # byte size of the previous entry (its prevlen for the next)
        self._tail = ZL_HEADER_SIZE
        self._count = 0

    def append(self, item: bytes | int) -> None:
        entry = _prevlen(self._last) + ziplist_entry(item)
        self._tail = self._size - 1
        self._parts.append(entry)
        self._size += len(entry)
        self._last = len(entry)
        self._count += 1

    @property
    def nbytes(self) -> int:
        return self._size

    def __len__(self) -> int:
        return self._count

    def to_bytes(self) -> bytes:
        count = min(self._count, ZL_COUNT_UNKNOWN)
        return b"".join((U32.pack(self._size), U32.pack(self._tail), U16.pack(count),
                         *self._parts, ZL_END))


def build_ziplist(items) -> bytes:
    zl = ZiplistBuilder()
    for item in items:
        zl.append(item)
    return zl.to_bytes()
