"""Argument parsing and small helpers shared by the command modules."""

from __future__ import annotations

import functools
import math
import re

from .engine import NOT_FLOAT, NOT_INT, SYNTAX, WRONGTYPE, CommandError
from .objects import INT64_MAX, INT64_MIN, canonical_int


#: SRANDMEMBER/HRANDFIELD/ZRANDMEMBER with a negative count build their reply in
#: memory here (Redis streams it): beyond this many elements they answer an error.
MAX_RANDOM_REPLY = 10_000_000


def to_int(b: bytes, error=NOT_INT) -> int:
    v = canonical_int(b)
    if v is None:
        raise CommandError(error)
    return v


def to_int_range(b: bytes, lo: int, hi: int, error) -> int:
    v = canonical_int(b)
    if v is None or v < lo or v > hi:
        raise CommandError(error)
    return v


_FLOAT_OK = re.compile(rb"[+-]?(?:inf(?:inity)?|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\Z", re.I)


def to_float(b: bytes, error=NOT_FLOAT) -> float:
    """strtod semantics as Redis checks them: whole string, no spaces, no NaN, no overflow."""
    if b.isdigit():
        return float(b)
    if not _FLOAT_OK.match(b):
        raise CommandError(error)
    v = float(b)
    if math.isinf(v) and b"inf" not in b.lower():
        raise CommandError(error)
    return v


def check_type(v, t):
    if type(v) is not t:
        raise CommandError(WRONGTYPE)
    return v


def is_string(v) -> bool:
    t = type(v)
    return t is bytes or t is bytearray


def syntax():
    raise CommandError(SYNTAX)


def check_int64(v: int, error="ERR increment or decrement would overflow") -> int:
    if v < INT64_MIN or v > INT64_MAX:
        raise CommandError(error)
    return v


@functools.lru_cache(maxsize=256)
def _glob_regex(pattern: bytes, nocase: bool):
    """Translate Redis's stringmatchlen() glob (with \\ escapes, [^..], ranges)."""
    out = bytearray()
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == 42:  # *
            out += b".*"
        elif c == 63:  # ?
            out += b"."
        elif c == 91:  # [
            i += 1
            neg = i < n and pattern[i] == 94
            if neg:
                i += 1
            cls = bytearray()
            while i < n and pattern[i] != 93:
                if pattern[i] == 92 and i + 1 < n:
                    i += 1
                    cls += re.escape(pattern[i:i + 1])
                elif i + 2 < n and pattern[i + 1] == 45 and pattern[i + 2] != 93:
                    a, b = pattern[i], pattern[i + 2]
                    if a > b:
                        a, b = b, a
                    cls += b"\\x%02x-\\x%02x" % (a, b)
                    i += 2
                else:
                    cls += re.escape(pattern[i:i + 1])
                i += 1
            if not cls:
                out += b"(?!)" if not neg else b"."
            else:
                out += b"[" + (b"^" if neg else b"") + bytes(cls) + b"]"
        elif c == 92 and i + 1 < n:
            i += 1
            out += re.escape(pattern[i:i + 1])
        else:
            out += re.escape(pattern[i:i + 1])
        i += 1
    flags = re.S | (re.I if nocase else 0)
    return re.compile(bytes(out) + b"\\Z", flags)


def glob_match(pattern: bytes, s: bytes, nocase: bool = False) -> bool:
    if pattern == b"*":
        return True
    return _glob_regex(pattern, nocase).match(s) is not None


def glob_matcher(pattern: bytes):
    if pattern == b"*":
        return lambda s: True
    return _glob_regex(pattern, False).match


def fmt_float_human(v: float) -> bytes:
    """INCRBYFLOAT's rendering (long double `%.17Lf`, trailing zeros trimmed), for doubles."""
    if v == 0:
        return b"0"
    r = repr(v)
    if "e" in r or "E" in r:
        s = b"%.17f" % v
        if b"." in s:
            s = s.rstrip(b"0").rstrip(b".")
        return s
    if r.endswith(".0"):
        r = r[:-2]
    return r.encode()


def range_indices(start: int, end: int, n: int) -> tuple[int, int] | None:
    """Redis's negative-index normalisation for LRANGE/GETRANGE/ZRANGE; None = empty."""
    if start < 0:
        start += n
    if end < 0:
        end += n
    if start < 0:
        start = 0
    if start > end or start >= n:
        return None
    if end >= n:
        end = n - 1
    return start, end
