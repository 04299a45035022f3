"""Intset encoder (`intset.c`): sorted unique integers at the narrowest common width."""

from __future__ import annotations

import struct

from ..constants import U32

_WIDTHS = ((2, "h", -(1 << 15), (1 << 15) - 1), (4, "i", -(1 << 31), (1 << 31) - 1),
           (8, "q", -(1 << 63), (1 << 63) - 1))


def build_intset(values) -> bytes:
    """An intset of `values`; duplicates collapse, as SADD would collapse them."""
    members = sorted(set(values))
    lo = members[0] if members else 0
    hi = members[-1] if members else 0
    for width, code, wmin, wmax in _WIDTHS:
        if wmin <= lo and hi <= wmax:
            break
    else:
        raise ValueError("intset members must fit int64")
    body = struct.pack(f"<{len(members)}{code}", *members)
    return U32.pack(width) + U32.pack(len(members)) + body
