"""zipmap (type 9, Redis <= 2.4 small hashes).

Layout: u8 count (254 = unknown), then (len key, len free value, free bytes)*, 0xFF.
A len is one byte below 254, or 254 followed by a little-endian u32.
"""

from __future__ import annotations

import struct

from ..errors import CorruptError

_U32 = struct.Struct("<I")


def _len(blob, p: int, last: int) -> tuple[int, int]:
    b = blob[p]
    if b < 254:
        return b, p + 1
    if b == 254:
        if p + 5 > last:
            raise CorruptError("zipmap length runs past the end", p)
        return _U32.unpack_from(blob, p + 1)[0], p + 5
    raise CorruptError("zipmap ends where a value length is expected", p)


def pairs(blob) -> list[tuple[bytes, bytes]]:
    n = len(blob)
    if n < 2:
        raise CorruptError(f"zipmap of {n} bytes is too short", 0)
    last = n - 1
    if blob[last] != 0xFF:
        raise CorruptError("zipmap does not end with 0xFF", last)
    declared = blob[0]
    out = []
    p = 1
    while True:
        if p > last:
            raise CorruptError("zipmap runs past the end", p)
        if blob[p] == 0xFF:
            break
        klen, p = _len(blob, p, last)
        if p + klen > last:
            raise CorruptError("zipmap field runs past the end", p)
        key = blob[p:p + klen]
        p += klen
        if p >= last:
            raise CorruptError("zipmap value length runs past the end", p)
        vlen, p = _len(blob, p, last)
        if p >= last:
            raise CorruptError("zipmap free byte runs past the end", p)
        free = blob[p]
        p += 1
        if p + vlen + free > last:
            raise CorruptError("zipmap value runs past the end", p)
        out.append((key, blob[p:p + vlen]))
        p += vlen + free
    if p != last:
        raise CorruptError("zipmap end marker before the end of the blob", p)
    if declared < 254 and declared != len(out):
        raise CorruptError(f"zipmap header says {declared} entries but it holds {len(out)}", 0)
    return out
