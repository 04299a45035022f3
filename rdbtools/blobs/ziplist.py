"""ziplist (Redis 2.6 - 6.2 compact lists, hashes, zsets and quicklist v1 nodes).

Layout: u32 zlbytes, u32 zltail, u16 zllen (65535 = unknown), entries, 0xFF. Each
entry is prevlen (1 byte, or 0xFE + u32) then encoding then data.
"""

from __future__ import annotations

import struct

from ..errors import CorruptError

_HDR = struct.Struct("<IIH")
_U32 = struct.Struct("<I")
_U32_BE = struct.Struct(">I")
_I16 = struct.Struct("<h")
_I32 = struct.Struct("<i")
_I64 = struct.Struct("<q")
_HEADER_SIZE = 10


def entries(blob) -> list:
    """All elements in order: `bytes` for strings, `int` for integer encodings."""
    n = len(blob)
    if n < _HEADER_SIZE + 1:
        raise CorruptError(f"ziplist of {n} bytes is shorter than its 11-byte minimum", 0)
    zlbytes, zltail, zllen = _HDR.unpack_from(blob, 0)
    if zlbytes != n:
        raise CorruptError(f"ziplist header says {zlbytes} bytes but the blob has {n}", 0)
    last = n - 1
    if blob[last] != 0xFF:
        raise CorruptError("ziplist does not end with 0xFF", last)
    if zltail > last:
        raise CorruptError(f"ziplist tail offset {zltail} is outside the blob", 4)
    out = []
    append = out.append
    p = _HEADER_SIZE
    prev_size = 0
    tail = _HEADER_SIZE
    while p < last:
        start = p
        b = blob[p]
        if b == 0xFF:
            raise CorruptError("ziplist end marker before the end of the blob", p)
        if b == 0xFE:
            if p + 5 > last:
                raise CorruptError("ziplist prevlen runs past the end", p)
            prevlen = _U32.unpack_from(blob, p + 1)[0]
            p += 5
        else:
            prevlen = b
            p += 1
        if prevlen != prev_size:
            raise CorruptError(
                f"ziplist entry prevlen {prevlen} does not match the previous entry size {prev_size}", start)
        if p >= last:
            raise CorruptError("ziplist entry header runs past the end", p)
        e = blob[p]
        kind = e >> 6
        if kind == 0:
            ln = e & 0x3F
            p += 1
        elif kind == 1:
            if p + 2 > last:
                raise CorruptError("ziplist entry header runs past the end", p)
            ln = ((e & 0x3F) << 8) | blob[p + 1]
            p += 2
        elif e == 0x80:
            if p + 5 > last:
                raise CorruptError("ziplist entry header runs past the end", p)
            ln = _U32_BE.unpack_from(blob, p + 1)[0]
            p += 5
        elif kind == 2:
            raise CorruptError(f"invalid ziplist string encoding 0x{e:02x}", p)
        else:
            ln = -1
            if e == 0xC0:
                w = 2
            elif e == 0xD0:
                w = 4
            elif e == 0xE0:
                w = 8
            elif e == 0xF0:
                w = 3
            elif e == 0xFE:
                w = 1
            elif 0xF1 <= e <= 0xFD:
                w = 0
            else:
                raise CorruptError(f"invalid ziplist integer encoding 0x{e:02x}", p)
            if p + 1 + w > last:
                raise CorruptError("ziplist integer runs past the end", p)
            if w == 0:
                append((e & 0x0F) - 1)
            elif w == 2:
                append(_I16.unpack_from(blob, p + 1)[0])
            elif w == 4:
                append(_I32.unpack_from(blob, p + 1)[0])
            elif w == 8:
                append(_I64.unpack_from(blob, p + 1)[0])
            else:
                append(int.from_bytes(blob[p + 1:p + 1 + w], "little", signed=True))
            p += 1 + w
        if ln >= 0:
            if p + ln > last:
                raise CorruptError("ziplist string runs past the end", p)
            append(blob[p:p + ln])
            p += ln
        tail = start
        prev_size = p - start
    if zllen != 65535 and zllen != len(out):
        raise CorruptError(f"ziplist header says {zllen} entries but it holds {len(out)}", 8)
    if zltail != tail:
        raise CorruptError(f"ziplist tail offset {zltail} does not point at the last entry ({tail})", 4)
    return out
