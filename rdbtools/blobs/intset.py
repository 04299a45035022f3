"""intset (type 11): u32 width (2, 4 or 8), u32 count, count little-endian integers."""

from __future__ import annotations

import struct

from ..errors import CorruptError

_HDR = struct.Struct("<II")
_CODES = {2: "h", 4: "i", 8: "q"}


def entries(blob) -> list[int]:
    n = len(blob)
    if n < 8:
        raise CorruptError(f"intset of {n} bytes is shorter than its 8-byte header", 0)
    width, count = _HDR.unpack_from(blob, 0)
    code = _CODES.get(width)
    if code is None:
        raise CorruptError(f"intset element width {width} is not 2, 4 or 8", 0)
    if 8 + count * width != n:
        raise CorruptError(
            f"intset header says {count} elements of {width} bytes but the blob has {n} bytes", 4)
    return list(struct.unpack_from(f"<{count}{code}", blob, 8))
