"""One key per line: raw bytes when that is unambiguous, else a redis-cli-style quoted form.

A key is printed as is unless it holds control bytes, DEL, or starts with a double
quote; such keys are printed the way `redis-cli` quotes them ("a\\nb", "\\xff"), so
every line is exactly one key and the output can be told apart.
"""

from __future__ import annotations

import re
from typing import BinaryIO

from ..records import KeyRecord, Record

_NEEDS_QUOTING = re.compile(rb'[\x00-\x1f\x7f]|^"')
_ESCAPES = {0x5C: b"\\\\", 0x22: b'\\"', 0x0A: b"\\n", 0x0D: b"\\r", 0x09: b"\\t",
            0x07: b"\\a", 0x08: b"\\b"}


def quote(key: bytes) -> bytes:
    """Like redis's sdscatrepr: printable ASCII as is, the rest escaped."""
    out = [b'"']
    for c in key:
        esc = _ESCAPES.get(c)
        if esc is not None:
            out.append(esc)
        elif 0x20 <= c < 0x7F:
            out.append(bytes((c,)))
        else:
            out.append(b"\\x%02x" % c)
    out.append(b'"')
    return b"".join(out)


def show_key(key: bytes) -> bytes:
    return quote(key) if _NEEDS_QUOTING.search(key) else key


class KeysRenderer:
    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.keys = 0
        self._buf: list[bytes] = []

    def write(self, rec: Record) -> None:
        if type(rec) is KeyRecord:
            self.keys += 1
            self._buf.append(show_key(rec.key))
            if len(self._buf) >= 4096:
                self._flush()

    def _flush(self) -> None:
        if self._buf:
            self._buf.append(b"")
            self.out.write(b"\n".join(self._buf))
            self._buf = []

    def close(self) -> None:
        self._flush()
