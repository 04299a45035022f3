"""Listpack encoder (Redis 7 `listpack.c`): hash, zset and set blobs, list and stream nodes.

Strings that spell a canonical integer are stored as integers, as `lpAppend` does, and
integers take the smallest form; the result is byte-identical to Redis's own.
"""

from __future__ import annotations

from ..constants import U16, U32
from ._ints import canonical_int

#: Header (total bytes u32 + element count u16) and the 0xFF terminator.
LP_HEADER_SIZE = 6
LP_END = b"\xff"
#: The element count field saturates here and then means "count by scanning".
LP_COUNT_UNKNOWN = 0xFFFF

_I16 = (-32768, 32767)
_I24 = (-8388608, 8388607)
_I32 = (-2147483648, 2147483647)


def _backlen(n: int) -> bytes:
    """The entry-length trailer, read right to left; note Redis's odd upper bounds."""
    if n <= 127:
        return bytes((n,))
    if n < 16383:
        return bytes((n >> 7, (n & 127) | 128))
    if n < 2097151:
        return bytes((n >> 14, ((n >> 7) & 127) | 128, (n & 127) | 128))
    if n < 268435455:
        return bytes((n >> 21, ((n >> 14) & 127) | 128, ((n >> 7) & 127) | 128,
                      (n & 127) | 128))
    return bytes((n >> 28, ((n >> 21) & 127) | 128, ((n >> 14) & 127) | 128,
                  ((n >> 7) & 127) | 128, (n & 127) | 128))


def _int_body(v: int) -> bytes:
    if 0 <= v <= 127:
        return bytes((v,))
    if -4096 <= v <= 4095:
        u = v & 0x1FFF
        return bytes((0xC0 | (u >> 8), u & 0xFF))
    if _I16[0] <= v <= _I16[1]:
        return b"\xf1" + (v & 0xFFFF).to_bytes(2, "little")
    if _I24[0] <= v <= _I24[1]:
        return b"\xf2" + (v & 0xFFFFFF).to_bytes(3, "little")
    if _I32[0] <= v <= _I32[1]:
        return b"\xf3" + (v & 0xFFFFFFFF).to_bytes(4, "little")
    return b"\xf4" + (v & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little")


def _str_body(data: bytes) -> bytes:
    n = len(data)
    if n < 64:
        return bytes((0x80 | n,)) + data
    if n < 4096:
        return bytes((0xE0 | (n >> 8), n & 0xFF)) + data
    return b"\xf0" + U32.pack(n) + data


def listpack_entry(item: bytes | int) -> bytes:
    """One complete entry (encoding, data, backlen) for a string or an int64."""
    if isinstance(item, int):
        body = _int_body(item)
    else:
        v = canonical_int(item) if len(item) <= 20 else None
        body = _str_body(bytes(item)) if v is None else _int_body(v)
    return body + _backlen(len(body))


class ListpackBuilder:
    """Append-only listpack whose byte size is known at every step (node split rules)."""

    __slots__ = ("_entries", "_size")

    def __init__(self) -> None:
        self._entries: list[bytes] = []
        self._size = LP_HEADER_SIZE + 1

    def append(self, item: bytes | int) -> None:
        entry = listpack_entry(item)
        self._entries.append(entry)
        self._size += len(entry)

    def replace(self, index: int, item: bytes | int) -> None:
        """Overwrite one element in place (stream master entry counters)."""
        entry = listpack_entry(item)
        self._size += len(entry) - len(self._entries[index])
        self._entries[index] = entry

    @property
    def nbytes(self) -> int:
        return self._size

    def __len__(self) -> int:
        return len(self._entries)

    def to_bytes(self) -> bytes:
        count = min(len(self._entries), LP_COUNT_UNKNOWN)
        return b"".join((U32.pack(self._size), U16.pack(count), *self._entries, LP_END))


def build_listpack(items) -> bytes:
    """A listpack holding `items` (bytes or ints) in order."""
    entries = [listpack_entry(i) for i in items]
    size = LP_HEADER_SIZE + 1 + sum(map(len, entries))
    count = min(len(entries), LP_COUNT_UNKNOWN)
    return b"".join((U32.pack(size), U16.pack(count), *entries, LP_END))
