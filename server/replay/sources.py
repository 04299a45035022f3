"""What a replay reads: the kind of a source (RDB, AOF file or folder, rdbkit JSON) and one
stream of its items in load order, RDB keys with their raw record bytes."""

from __future__ import annotations

import os
from typing import Iterator

from rdbtools import fileio
from rdbtools._values import read_len
from rdbtools.records import End, KeyRecord

from .options import ReplayError


def _is_manifest_file(path: str) -> bool:
    from aofcheck.layout import is_manifest_file

    return is_manifest_file(path)


def source_kind(path: str) -> str:
    """`multi-part`, `rdb`, `json` or `resp` (what the first bytes say)."""
    if os.path.isdir(path) or _is_manifest_file(path):
        return "multi-part"
    with fileio.open_input(path) as f:
        head = f.read(64)
    from rdbtools.convert import sniff

    kind = sniff(head)
    if kind is None and head:
        raise ReplayError(f"{path}: neither an RDB file, an AOF nor rdbkit JSON")
    return kind or "resp"


def iter_source(path: str) -> Iterator[tuple[str, object]]:
    """Records and AOF commands of `path`, in load order (manifest order for a folder)."""
    if os.path.isdir(path) or _is_manifest_file(path):
        from aofcheck import layout
        from aofcheck.manifest import parse_manifest

        try:
            lay = layout.detect(path)
        except layout.LayoutError as e:
            raise ReplayError(str(e)) from e
        if lay.kind != layout.MULTI_PART:
            yield from _iter_file(lay.path)
            return
        with open(lay.path, "rb") as f:
            manifest = parse_manifest(f.read(), path=lay.path)
        for info in manifest.files_to_load():
            yield from _iter_file(os.path.join(lay.dirpath, info.fsname))
        return
    yield from _iter_file(path)


def _iter_file(path: str) -> Iterator[tuple[str, object]]:
    from rdbtools.convert import sniff

    with fileio.open_input(path) as f:
        head = f.read(64)
    if not head:
        return
    kind = sniff(head)
    if kind == "json":
        from rdbtools.convert import open_records

        _fmt, records, close = open_records(path)
        try:
            for rec in records:
                yield "rec", rec
        finally:
            close()
        return
    if kind == "rdb":
        end = yield from _iter_rdb(path)
        if end is None:
            return
        skip = end  # an RDB preamble: RESP commands may follow its CRC
    elif kind == "resp" or head[:1] == b"#":
        skip = 0
    else:
        raise ReplayError(f"{path}: neither an RDB file, an AOF nor rdbkit JSON")
    yield from _resp_tail(path, skip)


def _resp_tail(path: str, skip: int) -> Iterator[tuple[str, object]]:
    """("cmd", Command) for the RESP records of `path` from byte `skip` on."""
    with fileio.open_input(path) as f:
        _skip_bytes(f, skip)
        first = f.read(1)
        if first not in (b"*", b"#"):
            return  # bytes after an RDB's CRC that are not RESP: ignored, as Redis does
        from aofcheck.resp import Annotation, iter_events

        stream = _Prepend(first, f)
        for ev in iter_events(stream, base_offset=skip, path=path):
            if type(ev) is not Annotation:
                yield "cmd", ev


class _Tee:
    """A binary stream that keeps what was read, so records can be cut out of it raw."""

    def __init__(self, raw) -> None:
        self.raw = raw
        self.buf = bytearray()
        self.base = 0           # absolute offset of buf[0]

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.buf += data
        return data

    def slice(self, start: int, end: int) -> bytes:
        return bytes(self.buf[start - self.base:end - self.base])

    def trim(self, upto: int) -> None:
        """Forget bytes before absolute offset `upto` (once enough piled up)."""
        cut = upto - self.base
        if cut > _TEE_TRIM:
            del self.buf[:cut]
            self.base = upto


#: Keep at most about this much already-parsed input in `_Tee`.
_TEE_TRIM = 4 << 20


def _iter_rdb(path: str):
    """("rdb", Header) first, then ("key", (record, raw bytes)) for keys and ("rec", record)
    for the rest; returns the End record's end offset (None if there was none)."""
    from rdbtools.reader import iter_records
    from rdbtools.records import Header

    end = None
    with fileio.open_input(path) as f:
        tee = _Tee(f)
        for rec in iter_records(tee):
            cls = type(rec)
            if cls is KeyRecord:
                if rec.offset >= 0:
                    yield "key", (rec, tee.slice(rec.offset, rec.end))
                    tee.trim(rec.end)
                else:
                    yield "key", (rec, None)
                continue
            if cls is End:
                end = rec.end
            elif cls is Header:
                yield "rdb", rec
            yield "rec", rec
    return end


def _value_span(raw: bytes) -> int | None:
    """Index of the type byte in a raw key record (after expire/idle/freq), or None."""
    p = 0
    t = raw[0]
    while t >= 0xF0:
        if t == 252:
            p += 9
        elif t == 253:
            p += 5
        elif t == 249:
            p += 2
        elif t == 248:
            _n, p = read_len(raw, p + 1)
        else:
            return None
        t = raw[p]
    return p


def _skip_bytes(f, n: int) -> None:
    try:
        f.seek(n)
        return
    except (OSError, AttributeError, ValueError):
        pass
    while n > 0:
        got = f.read(min(n, 1 << 20))
        if not got:
            return
        n -= len(got)


class _Prepend:
    def __init__(self, head: bytes, rest) -> None:
        self.head, self.rest = head, rest

    def read(self, n: int = -1) -> bytes:
        if self.head:
            data, self.head = self.head, b""
            return data + self.rest.read(max(n - len(data), 0) if n and n > 0 else -1)
        return self.rest.read(n)
