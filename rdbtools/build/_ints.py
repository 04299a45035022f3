"""The one integer test every Redis encoder applies before storing a string as a number."""

from __future__ import annotations

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
#: Longest decimal Redis's string2ll() will consider ("-9223372036854775808").
MAX_INT_CHARS = 20


def canonical_int(data: bytes) -> int | None:
    """The integer `data` spells canonically (as string2ll accepts it), else None.

    Canonical means what ll2string would print back: no sign other than a leading
    `-`, no leading zeros, no `-0`, within int64. Only such strings may be stored as
    integers, since the reader renders integers back as their canonical decimal.
    """
    n = len(data)
    if n == 0 or n > MAX_INT_CHARS:
        return None
    start = 1 if data[0] == 0x2D else 0
    if start == n:
        return None
    first = data[start]
    if first == 0x30:
        return 0 if n == 1 else None
    if not (0x31 <= first <= 0x39) or not data[start:].isdigit():
        return None
    value = int(data)
    if value < INT64_MIN or value > INT64_MAX:
        return None
    return value
