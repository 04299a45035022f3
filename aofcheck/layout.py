"""Which kind of AOF a path is: plain RESP, RDB-preamble, or a multi-part manifest.

Detection is by content.  A manifest is recognised as Redis 7.2.5+ does it: skip `#`
comment lines, and the first other line must start with `file`.  redis-check-aof
7.0.15 looked at *every* line instead, so an AOF holding a value such as `filename`
(or an RDB preamble with a string starting `file`) was taken for a manifest; we do not
reproduce that.  But 7.2.5's rule alone would take a manifest with a damaged first
line for a RESP log (and `--fix` would empty it), so a file that does not start like a
log falls back to 7.0's rule (see `detect`).  A folder (the `appenddirname` folder, or
Redis' `dir` holding it) is resolved to the one manifest inside it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from rdbtools.errors import RdbkitError

from .manifest import MANIFEST_MAX_LINE

__all__ = ["Layout", "RESP", "PREAMBLE", "MULTI_PART", "detect", "is_manifest",
           "is_manifest_file", "is_rdb", "LayoutError"]

RESP, PREAMBLE, MULTI_PART = "resp", "rdb-preamble", "multi-part"
RDB_MAGIC = b"REDIS"


class LayoutError(RdbkitError):
    """The path cannot be resolved to something to check (message is user-facing)."""


@dataclass(frozen=True, slots=True)
class Layout:
    kind: str          # RESP, PREAMBLE or MULTI_PART
    path: str          # the file to check (the manifest for MULTI_PART)
    dirpath: str       # where manifest entries are resolved (dirname(path), as Redis)


def is_manifest(head: bytes) -> bool:
    """7.2.5 rule over the first bytes of a file (comments may precede the first entry)."""
    p, n = 0, len(head)
    while p < n:
        nl = head.find(b"\n", p, p + MANIFEST_MAX_LINE)
        end = nl + 1 if nl >= 0 else min(p + MANIFEST_MAX_LINE, n)
        chunk = head[p:end]
        if chunk[:1] != b"#":
            return chunk[:4] == b"file"
        p = end
    return False


def is_manifest_file(path: str) -> bool:
    """Is the file at `path` a multi-part AOF manifest (`is_manifest` over its head)?"""
    try:
        with open(path, "rb") as f:
            return is_manifest(f.read(4096))
    except OSError:
        return False


def is_rdb(head: bytes, size: int) -> bool:
    return size >= 8 and head[:5] == RDB_MAGIC


def _head(path: str, limit: int = 1 << 16) -> bytes:
    with open(path, "rb") as f:
        data = f.read(limit)
        # a manifest may begin with many comment lines: keep reading while they last
        while data and is_comment_only(data):
            more = f.read(limit)
            if not more:
                break
            data += more
    return data


def is_comment_only(data: bytes) -> bool:
    lines = data.split(b"\n")
    return all(line[:1] == b"#" for line in lines[:-1]) and lines[-1][:1] in (b"", b"#")


def _dirname(path: str) -> str:
    """POSIX dirname(3), which Redis uses to resolve manifest entries."""
    d = os.path.dirname(path.rstrip("/")) if path.rstrip("/") else "/"
    return d or "."


def _find_manifest(folder: str) -> str:
    def manifests(d: str) -> list[str]:
        try:
            names = sorted(os.listdir(d))
        except OSError as e:
            raise LayoutError(f"Cannot open folder {d}: {e.strerror}") from e
        return [os.path.join(d, n) for n in names
                if n.endswith(".manifest") and not n.startswith("temp-")
                and os.path.isfile(os.path.join(d, n))]

    found = manifests(folder)
    if not found:
        # Redis' `dir`: look one level down for the appenddirname folder
        try:
            subs = sorted(os.listdir(folder))
        except OSError as e:
            raise LayoutError(f"Cannot open folder {folder}: {e.strerror}") from e
        for sub in subs:
            full = os.path.join(folder, sub)
            if os.path.isdir(full):
                found += manifests(full)
    if len(found) == 1:
        return found[0]
    if not found:
        raise LayoutError(f"No AOF manifest (*.manifest) found in {folder}")
    raise LayoutError(f"Several AOF manifests found in {folder}: " + ", ".join(found)
                      + "; name the one to check")


def _first_record_byte(head: bytes) -> int | None:
    """The first byte that is not inside a leading `#` comment line."""
    p = 0
    while p < len(head):
        if head[p] != 0x23:
            return head[p]
        nl = head.find(b"\n", p)
        if nl < 0:
            return None
        p = nl + 1
    return None


def _any_line_starts_with_file(path: str) -> bool:
    """redis-check-aof 7.0.15's manifest test: any non-comment fgets chunk starting `file`."""
    with open(path, "rb") as f:
        carry = b""
        while True:
            block = f.read(1 << 20)
            eof = not block
            data = carry + block
            p, n = 0, len(data)
            while p < n:
                nl = data.find(b"\n", p, p + MANIFEST_MAX_LINE)
                if nl < 0 and n - p < MANIFEST_MAX_LINE and not eof:
                    break  # an incomplete chunk: finish it with the next block
                end = nl + 1 if nl >= 0 else min(p + MANIFEST_MAX_LINE, n)
                if data[p:p + 1] != b"#" and data[p:p + 4] == b"file":
                    return True
                p = end
            if eof:
                return False
            carry = data[p:]


def detect(path: str) -> Layout:
    """Resolve `path` (file, manifest or folder) to a Layout; raise OSError/LayoutError.

    Order: a manifest by the 7.2.5 rule; an RDB preamble (`REDIS`, >= 8 bytes); a RESP
    log when the first record starts with `*`.  A file that starts like neither is
    ambiguous: if 7.0's rule (any line starting `file`) calls it a manifest -- a
    manifest whose first line is damaged -- it is checked as one, so that a repair
    cannot truncate it to nothing as a "RESP log with garbage at offset 0" (which is
    what 7.2.5 would do); otherwise it is a RESP log.
    """
    if os.path.isdir(path):
        path = _find_manifest(path)
    size = os.stat(path).st_size
    head = _head(path) if size else b""
    if size and is_manifest(head):
        return Layout(MULTI_PART, path, _dirname(path))
    if is_rdb(head, size):
        return Layout(PREAMBLE, path, _dirname(path))
    first = _first_record_byte(head)
    if size and first != 0x2A and _any_line_starts_with_file(path):
        return Layout(MULTI_PART, path, _dirname(path))
    return Layout(RESP, path, _dirname(path))
