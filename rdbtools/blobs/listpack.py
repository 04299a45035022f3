"""listpack (Redis >= 5 streams, >= 7.0 hashes/zsets/lists, >= 7.2 sets).

Layout: u32 total bytes, u16 element count (65535 = unknown), entries, 0xFF. Each
entry is encoding+data followed by a backlen holding the size of encoding+data.
"""

from __future__ import annotations

import struct

from ..errors import CorruptError

_HDR = struct.Struct("<IH")
_I16 = struct.Struct("<h")
_I32 = struct.Struct("<i")
_I64 = struct.Struct("<q")
_U32 = struct.Struct("<I")
_UNKNOWN_COUNT = 65535


def _backlen_size(size: int) -> int:
    if size < 128:
        return 1
    if size < 16383:
        return 2
    if size < 2097151:
        return 3
    if size < 268435455:
        return 4
    return 5


def entries(blob) -> list:
    """All elements in order: `bytes` for strings, `int` for integer encodings."""
    n = len(blob)
    if n < 7:
        raise CorruptError(f"listpack of {n} bytes is shorter than its 7-byte minimum", 0)
    total, count = _HDR.unpack_from(blob, 0)
    if total != n:
        raise CorruptError(f"listpack header says {total} bytes but the blob has {n}", 0)
    if blob[n - 1] != 0xFF:
        raise CorruptError("listpack does not end with 0xFF", n - 1)
    last = n - 1
    out = []
    append = out.append
    p = 6
    while p < last:
        b = blob[p]
        # The two common forms first, backlen checked inline (it is one byte).
        if b < 0x80:
            append(b)
            if blob[p + 1] != 1:
                raise CorruptError("listpack entry backlen does not match its size", p + 1)
            p += 2
            continue
        if b < 0xC0:
            end = p + 1 + (b & 0x3F)
            if end >= last:
                raise CorruptError("listpack string runs past the end", p)
            append(blob[p + 1:end])
            if blob[end] != end - p:
                raise CorruptError("listpack entry backlen does not match its size", end)
            p = end + 1
            continue
        if b < 0xE0:
            if p + 2 > last:
                raise CorruptError("listpack int13 runs past the end", p)
            v = ((b & 0x1F) << 8) | blob[p + 1]
            append(v - 8192 if v >= 4096 else v)
            size = 2
        elif b < 0xF0:
            if p + 2 > last:
                raise CorruptError("listpack string header runs past the end", p)
            size = 2 + (((b & 0x0F) << 8) | blob[p + 1])
            if p + size > last:
                raise CorruptError("listpack string runs past the end", p)
            append(blob[p + 2:p + size])
        elif b == 0xF0:
            if p + 5 > last:
                raise CorruptError("listpack string header runs past the end", p)
            size = 5 + _U32.unpack_from(blob, p + 1)[0]
            if p + size > last:
                raise CorruptError("listpack string runs past the end", p)
            append(blob[p + 5:p + size])
        elif b == 0xF1:
            size = 3
            if p + size > last:
                raise CorruptError("listpack int16 runs past the end", p)
            append(_I16.unpack_from(blob, p + 1)[0])
        elif b == 0xF2:
            size = 4
            if p + size > last:
                raise CorruptError("listpack int24 runs past the end", p)
            append(int.from_bytes(blob[p + 1:p + 4], "little", signed=True))
        elif b == 0xF3:
            size = 5
            if p + size > last:
                raise CorruptError("listpack int32 runs past the end", p)
            append(_I32.unpack_from(blob, p + 1)[0])
        elif b == 0xF4:
            size = 9
            if p + size > last:
                raise CorruptError("listpack int64 runs past the end", p)
            append(_I64.unpack_from(blob, p + 1)[0])
        elif b == 0xFF:
            raise CorruptError("listpack terminator before the end of the blob", p)
        else:
            raise CorruptError(f"invalid listpack encoding byte 0x{b:02x}", p)
        q = p + size
        if size < 128:
            if q >= last or blob[q] != size:
                raise CorruptError("listpack entry backlen does not match its size", q)
            p = q + 1
            continue
        bl = _backlen_size(size)
        if q + bl > last:
            raise CorruptError("listpack backlen runs past the end", q)
        i = q + bl - 1
        v = blob[i] & 0x7F
        shift = 7
        while blob[i] & 0x80 and i > q:
            i -= 1
            v |= (blob[i] & 0x7F) << shift
            shift += 7
        if i != q or v != size or blob[q] & 0x80:
            raise CorruptError("listpack entry backlen does not match its size", q)
        p = q + bl
    if count != _UNKNOWN_COUNT and count != len(out):
        raise CorruptError(f"listpack header says {count} elements but it holds {len(out)}", 4)
    return out


#: Decimal bytes of the 7-bit integers a listpack stores in one byte.
_SMALL = tuple(b"%d" % i for i in range(128))


def strings(blob) -> list[bytes]:
    """`entries` with integers as canonical decimal bytes, decoded in one pass.

    Hashes, sets, lists and zset members want bytes; small listpacks are nearly all
    6-bit strings and 7-bit integers, so those two forms get a loop of their own and
    anything else falls back to the general decoder.
    """
    n = len(blob)
    if n < 7:
        return _general_strings(blob)
    total, count = _HDR.unpack_from(blob, 0)
    last = n - 1
    if total != n or blob[last] != 0xFF:
        return _general_strings(blob)
    out = []
    append = out.append
    small = _SMALL
    p = 6
    while p < last:
        b = blob[p]
        if b < 0x80:
            if blob[p + 1] != 1:
                return _general_strings(blob)
            append(small[b])
            p += 2
        elif b < 0xC0:
            end = p + b - 127  # p + 1 + (b & 0x3F)
            if end >= last or blob[end] != end - p:
                return _general_strings(blob)
            append(blob[p + 1:end])
            p = end + 1
        else:
            return _general_strings(blob)
    if count != _UNKNOWN_COUNT and count != len(out):
        return _general_strings(blob)
    return out


def _general_strings(blob) -> list[bytes]:
    # The general decoder raises the precise error, or handles the rarer forms.
    return [b"%d" % x if x.__class__ is int else x for x in entries(blob)]
