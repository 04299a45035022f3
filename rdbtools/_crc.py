"""CRC-64/Jones as Redis computes it (anycrc model CRC64-REDIS), incrementally.

Not CRC-64/ISO: `crc64iso` and friends use another polynomial and must not be used.
"""

from __future__ import annotations

import anycrc

_MODEL = anycrc.Model("CRC64-REDIS")


def crc64(data, crc: int = 0) -> int:
    """Continue `crc` over `data` (bytes-like); `crc64(b"123456789") == 0xe9c6d914c4b8d9ca`."""
    if not data:
        return crc
    return _MODEL.calc(data, crc)
