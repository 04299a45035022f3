"""Blocking commands (BLPOP & co.): the engine answers `Block` when nothing is ready; the
network loop parks the client and re-runs its command after writes, or times it out."""

from __future__ import annotations

import math

from .engine import CommandError
from .proto import err


class Block:
    __slots__ = ("keys", "timeout", "timeout_reply", "rerun")

    def __init__(self, keys, timeout: float, timeout_reply, rerun=None) -> None:
        self.keys = list(keys)
        self.timeout = timeout  # seconds; 0 = forever
        self.timeout_reply = timeout_reply
        self.rerun = rerun  # the argv to retry with (e.g. XREAD with `$` resolved)


BLOCK = Block


def parse_timeout(b: bytes) -> float:
    try:
        t = float(b)
    except ValueError:
        raise CommandError(err("ERR timeout is not a float or out of range")) from None
    if math.isnan(t) or math.isinf(t) or b[:1].isspace():
        raise CommandError(err("ERR timeout is not a float or out of range"))
    if t < 0:
        raise CommandError(err("ERR timeout is negative"))
    return t
