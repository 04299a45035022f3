"""Argument parsing and small helpers shared by the command modules."""

from __future__ import annotations

import functools
import math
import re

from .engine import NOT_FLOAT, NOT_INT, SYNTAX, WRONGTYPE, CommandError
from .objects import INT64_MAX, INT64_MIN, canonical_int
from .proto import Error


#: SRANDMEMBER/HRANDFIELD/ZRANDMEMBER with a negative count build their reply in
#: memory here (Redis streams it): beyond this many elements they answer an error.
MAX_RANDOM_REPLY = 10_000_000


def to_int(b: bytes, error=NOT_INT) -> int:
    v = canonical_int(b)
    if v is None:
        raise CommandError(error)
    return v


_OUT_OF_RANGE = Error(b"ERR value is out of range")
_NUMKEYS = Error(b"ERR numkeys should be greater than 0")
_LIMIT_NEGATIVE = Error(b"ERR LIMIT can't be negative")


def check_random_count(count: int) -> int:
    """The COUNT of SRANDMEMBER / HRANDFIELD / ZRANDMEMBER, range-checked as Redis does."""
    # below -MAX_RANDOM_REPLY Redis would stream the reply; we refuse to build it in memory
    if count < -(1 << 62) or count > (1 << 62) or count < -MAX_RANDOM_REPLY:
        raise CommandError(_OUT_OF_RANGE)
    return count


def random_count_args(argv: list[bytes], flag: bytes) -> tuple[int | None, bool]:
    """`key [count [flag]]` of HRANDFIELD (WITHVALUES) and ZRANDMEMBER (WITHSCORES)."""
    if len(argv) < 3:
        return None, False
    count = to_int(argv[2])
    with_flag = False
    if len(argv) == 4:
        if argv[3].lower() != flag:
            raise CommandError(SYNTAX)
        with_flag = True
    elif len(argv) > 4:
        raise CommandError(SYNTAX)
    return check_random_count(count), with_flag


def intercard_args(argv: list[bytes]) -> tuple[list[bytes], int]:
    """`numkeys key [key ...] [LIMIT limit]` of SINTERCARD and ZINTERCARD."""
    n = to_int(argv[1], _NUMKEYS)
    if n <= 0:
        raise CommandError(_NUMKEYS)
    if n > len(argv) - 2:
        raise CommandError(Error(b"ERR Number of keys can't be greater than number of args"))
    limit = 0
    i = 2 + n
    while i < len(argv):
        if argv[i].lower() == b"limit" and i + 1 < len(argv):
            limit = to_int(argv[i + 1], _LIMIT_NEGATIVE)
            if limit < 0:
                raise CommandError(_LIMIT_NEGATIVE)
            i += 2
        else:
            raise CommandError(SYNTAX)
    return argv[2:2 + n], limit


def to_int_range(b: bytes, lo: int, hi: int, error) -> int:
    v = canonical_int(b)
    if v is None or v < lo or v > hi:
        raise CommandError(error)
    return v


_FLOAT_OK = re.compile(rb"[+-]?(?:inf(?:inity)?|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\Z", re.I)
_HEX_FLOAT = re.compile(rb"[+-]?0x(?:[0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)(?:p[+-]?\d+)?\Z",
                        re.I)
_NONZERO_MANTISSA = re.compile(rb"[+-]?(?:[0.]*[1-9]|0x[0.]*[1-9a-f])", re.I)


def to_float(b: bytes, error=NOT_FLOAT) -> float:
    """strtod semantics as Redis checks them: whole string, no spaces, no NaN, no
    overflow, no underflow to zero; C99 hex floats too."""
    if b.isdigit():
        return float(b)
    if _FLOAT_OK.match(b):
        v = float(b)
    elif _HEX_FLOAT.match(b):
        try:
            v = float.fromhex(b.decode())
        except OverflowError:
            raise CommandError(error) from None
    else:
        raise CommandError(error)
    if math.isinf(v) and b"inf" not in b.lower():
        raise CommandError(error)       # ERANGE, HUGE_VAL
    if v == 0.0 and _NONZERO_MANTISSA.match(b):
        raise CommandError(error)       # ERANGE, underflow to zero
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


def _glob_tokens(pattern: bytes) -> list:
    """Split a Redis glob into tokens: b"*" for stars, else one regex piece per char."""
    out: list = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == 42:  # *
            if not out or out[-1] != b"*":
                out.append(b"*")
        elif c == 63:  # ?
            out.append(b".")
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
                    lo, hi = pattern[i], pattern[i + 2]
                    if lo > hi:
                        lo, hi = hi, lo
                    cls += b"\\x%02x-\\x%02x" % (lo, hi)
                    i += 2
                else:
                    cls += re.escape(pattern[i:i + 1])
                i += 1
            if not cls:
                out.append(b"." if neg else b"(?!)")
            else:
                out.append(b"[" + (b"^" if neg else b"") + bytes(cls) + b"]")
        elif c == 92 and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i:i + 1]))
        else:
            out.append(re.escape(pattern[i:i + 1]))
        i += 1
    return out


@functools.lru_cache(maxsize=256)
def _glob_plan(pattern: bytes, nocase: bool):
    """Compile a glob into fixed-length segments between stars.

    Matching then never backtracks across stars: the first segment is anchored at the
    start, the last at the end, and each middle one is taken at its leftmost place,
    which is always right for globs. A hostile pattern such as `*a*a*a*a*b` therefore
    costs O(len(key) * len(pattern)), not exponential time (Redis guards the same).
    """
    flags = re.S | (re.I if nocase else 0)
    segs: list[list[bytes]] = [[]]
    for t in _glob_tokens(pattern):
        if t == b"*":
            segs.append([])
        else:
            segs[-1].append(t)
    compiled = [(re.compile(b"".join(seg), flags), len(seg)) for seg in segs]
    return compiled


def glob_match(pattern: bytes, s: bytes, nocase: bool = False) -> bool:
    if pattern == b"*":
        return True
    plan = _glob_plan(pattern, nocase)
    first_re, first_len = plan[0]
    if len(plan) == 1:
        return len(s) == first_len and first_re.match(s) is not None
    if first_re.match(s) is None:
        return False
    pos = first_len
    last_re, last_len = plan[-1]
    end = len(s) - last_len
    if end < pos or last_re.match(s, end) is None:
        return False
    for seg_re, seg_len in plan[1:-1]:
        if not seg_len:
            continue
        m = seg_re.search(s, pos, end)
        if m is None:
            return False
        pos = m.end()
    return True


def glob_matcher(pattern: bytes):
    if pattern == b"*":
        return lambda s: True
    _glob_plan(pattern, False)
    return lambda s: glob_match(pattern, s)


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
