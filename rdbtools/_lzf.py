"""LZF as Redis uses it for RDB strings (python-lzf wraps the same liblzf).

Decompression is bounded: the expected length is declared in the file and checked
against `MAX_LZF_RATIO` before anything is allocated, so an LZF bomb is refused.
"""

from __future__ import annotations

import lzf

from .constants import MAX_LZF_RATIO, MAX_STRING_BYTES
from .errors import CorruptError

#: Redis compresses only strings longer than this.
LZF_MIN_INPUT = 20


def decompress(data, expected_len: int, offset: int | None = None) -> bytes:
    if expected_len < 0 or expected_len > MAX_STRING_BYTES:
        raise CorruptError(f"LZF declared length {expected_len} is out of range", offset)
    if expected_len > max(len(data), 1) * MAX_LZF_RATIO:
        raise CorruptError(
            f"LZF declared length {expected_len} is absurd for {len(data)} compressed bytes", offset
        )
    if expected_len == 0:
        raise CorruptError("LZF string with zero declared length", offset)
    try:
        out = lzf.decompress(bytes(data), expected_len)
    except (ValueError, OSError) as e:
        raise CorruptError(f"Invalid LZF compressed string ({e})", offset) from e
    if out is None or len(out) != expected_len:
        raise CorruptError("Invalid LZF compressed string", offset)
    return out


def compress(data: bytes) -> bytes | None:
    """Redis's rule: compress strings over 20 bytes when LZF saves at least 4 bytes."""
    n = len(data)
    if n <= LZF_MIN_INPUT:
        return None
    return lzf.compress(bytes(data), n - 4)
