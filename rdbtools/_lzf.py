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
    return compress_within(bytes(data), n - 4)


def compress_within(data: bytes, out_len: int) -> bytes | None:
    """What Redis's `lzf_compress(data, n, out, out_len)` gives: the compressed bytes, or
    None where it gives up.

    python-lzf makes the same stream (same liblzf algorithm) but judges the space left
    differently near the end (it may return a stream Redis's copy refuses, even one byte
    over `out_len`), so the stream is made with room to spare and Redis's own checks are
    replayed on it when it lands within their slack of `out_len`."""
    packed = lzf.compress(data, len(data) + len(data) // 16 + 64)
    if packed is None:
        return None
    size = len(packed)
    if size > out_len:
        return None
    if size + 4 <= out_len or _redis_keeps(packed, len(data), out_len):
        return packed
    return None


def _redis_keeps(stream: bytes, in_len: int, out_len: int) -> bool:
    """Replay liblzf's (Redis 7.0's src/lzf_c.c) space checks along a finished stream.

    Its output pointer `op` always has one byte reserved for the header of the literal
    run in progress; a literal byte copied in the main loop needs op < out_len, a back
    reference needs op + 4 < out_len where it starts (after an empty run's header is
    taken back), and leaving the main loop (the input's last 2 bytes, or fewer, go
    unchecked) needs op + 3 <= out_len."""
    op, lit, ip, i = 1, 0, 0, 0
    main_end = in_len - 2
    checked_tail = False
    n = len(stream)
    while i < n:
        ctrl = stream[i]
        if ctrl < 32:                      # literal run of ctrl + 1 bytes
            for _ in range(ctrl + 1):
                if ip < main_end:
                    if op >= out_len:
                        return False
                elif not checked_tail:
                    if op + 3 > out_len:
                        return False
                    checked_tail = True
                op += 1
                lit += 1
                ip += 1
                if lit == 32:
                    op += 1
                    lit = 0
            i += ctrl + 2
            continue
        length = ctrl >> 5
        size = 2
        if length == 7:
            length += stream[i + 1]
            size = 3
        if lit == 0:
            op -= 1                         # the empty run's header is taken back
        if op + 4 >= out_len:
            return False
        op += size + 1
        lit = 0
        ip += length + 2
        i += size
    if not checked_tail and op + 3 > out_len:
        return False
    return True
