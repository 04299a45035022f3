"""AOF errors: the rdbtools `FormatError` family, so every offset prints the same way."""

from __future__ import annotations

from rdbtools.errors import CorruptError, FormatError, TruncatedError

__all__ = ["AofError", "RespCorrupt", "RespTruncated", "ManifestError"]


class AofError(FormatError):
    """Anything wrong with an AOF file, a record in it, or its manifest."""


class RespCorrupt(CorruptError, AofError):
    """The bytes at `offset` cannot start or continue an AOF record."""


class RespTruncated(TruncatedError, AofError):
    """The log ends inside a record (or inside MULTI); `valid_up_to` is where it may be cut."""


class ManifestError(AofError):
    """A manifest line Redis would refuse; `line` is the 1-based physical line number.

    `text` is the trimmed line as the server echoes it (None when Redis prints none).
    """

    def __init__(self, reason: str, *, line: int | None = None, text: str | None = None,
                 path: str | None = None) -> None:
        super().__init__(reason, None, phase="read-manifest", path=path)
        self.line = line
        self.text = text

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        at = f"line {self.line}: " if self.line is not None else ""
        shown = f" ({self.text!r})" if self.text is not None else ""
        return f"{where}{at}{self.reason}{shown}"
