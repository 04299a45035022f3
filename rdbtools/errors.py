"""One exception family for every format rdbkit reads.

A `FormatError` always knows where it happened (absolute byte offset), what was being
read (the phase, named as redis-check-rdb names it: read-type, read-key,
read-object-value, ...) and, once known, which key and type. `TruncatedError` means
the input simply ended early -- everything before `valid_up_to` is sound -- while
`CorruptError` means the bytes themselves are wrong.
"""

from __future__ import annotations


class RdbkitError(Exception):
    """Root of everything rdbkit raises on purpose."""


class FormatError(RdbkitError):
    """Bad input, located."""

    def __init__(
        self,
        reason: str,
        offset: int | None = None,
        *,
        phase: str | None = None,
        key: bytes | None = None,
        type: str | None = None,
        path: str | None = None,
        db: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.offset = offset
        self.phase = phase
        self.key = key
        self.type = type
        self.path = path
        self.db = db

    def located(self, **fields) -> "FormatError":
        """Fill in context known only further up (key, path, ...) without losing any."""
        for name, value in fields.items():
            if getattr(self, name, None) is None and value is not None:
                setattr(self, name, value)
        return self

    def __str__(self) -> str:
        parts = []
        if self.path:
            parts.append(f"{self.path}:")
        if self.offset is not None:
            parts.append(f"offset {self.offset} (0x{self.offset:x}):")
        parts.append(self.reason)
        if self.phase:
            parts.append(f"while {self.phase}")
        if self.key is not None:
            parts.append(f"key={_show_key(self.key)}")
        if self.type:
            parts.append(f"type={self.type}")
        if self.db is not None:
            parts.append(f"db={self.db}")
        return " ".join(parts)


class TruncatedError(FormatError):
    """The input ended early; bytes before `valid_up_to` form complete records."""

    def __init__(self, reason: str = "unexpected end of input", offset: int | None = None,
                 *, valid_up_to: int = 0, **kw) -> None:
        super().__init__(reason, offset, **kw)
        self.valid_up_to = valid_up_to


class CorruptError(FormatError):
    """The bytes are wrong: no amount of further input makes them valid."""


class ChecksumError(CorruptError):
    """The CRC-64 footer does not match the content."""

    def __init__(self, expected: int, actual: int, offset: int | None = None, **kw) -> None:
        super().__init__(
            f"RDB CRC error: stored checksum {expected:016x}, computed {actual:016x}", offset, **kw
        )
        self.expected = expected
        self.actual = actual


class UnsupportedError(CorruptError):
    """Valid for some server, but not something rdbkit can decode (e.g. module type 6)."""


def _show_key(key: bytes) -> str:
    text = key.decode("utf-8", "backslashreplace")
    if len(text) > 80:
        text = text[:77] + "..."
    return repr(text)
