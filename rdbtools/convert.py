"""`convert(src, dst)`: RDB <-> rdbkit JSON/JSONL, RDB -> RDB (another version), -> RESP.

Input format comes from the content (RDB magic, or JSON text), output format from
`to=` or else the destination's name (`.rdb`, `.json`, `.jsonl`/`.ndjson`,
`.resp`/`.aof`; a trailing `.lz4` is looked through and means LZ4 framing). Everything
streams: one record in memory at a time. Outputs are written atomically and never over
an input, so a failed conversion leaves no partial file.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Iterator

from . import fileio
from .errors import RdbkitError
from .filters import KeyFilter
from .records import Record

INPUT_FORMATS = ("rdb", "json")
OUTPUT_FORMATS = ("rdb", "json", "jsonl", "resp")
_SUFFIXES = {".rdb": "rdb", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
             ".resp": "resp", ".aof": "resp"}


class ConvertError(RdbkitError):
    """Bad request: unknown format, unreadable input kind, missing --to."""


@dataclass
class ConvertReport:
    src_format: str
    dst_format: str
    keys: int = 0
    dropped: list = field(default_factory=list)  # what --lossy dropped (writer's Loss)


class _Prepended(io.RawIOBase):
    """A binary stream with some already-read bytes put back in front."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self.head = head
        self.rest = rest

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self.head:
            if n is None or n < 0:
                data, self.head = self.head + self.rest.read(), b""
                return data
            data, self.head = self.head[:n], self.head[n:]
            if len(data) < n:
                data += self.rest.read(n - len(data))
            return data
        return self.rest.read(n)

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self.rest.close()
        finally:
            super().close()


def sniff(head: bytes) -> str | None:
    if head.startswith(b"REDIS") or head.startswith(b"VALKEY"):
        return "rdb"
    from .jsonfmt import looks_like_json

    if looks_like_json(head):
        return "json"
    if head[:1] in (b"*", b"$"):
        return "resp"
    return None


def output_format(dst: str | os.PathLike, to: str | None) -> str:
    if to is not None:
        if to not in OUTPUT_FORMATS:
            raise ConvertError(f"unknown output format {to!r} (one of {', '.join(OUTPUT_FORMATS)})")
        return to
    name = str(dst)
    if name.endswith(".lz4"):
        name = name[:-4]
    fmt = _SUFFIXES.get(os.path.splitext(name)[1].lower())
    if fmt is None:
        raise ConvertError(f"cannot tell the output format from {str(dst)!r}: pass --to "
                           f"({'|'.join(OUTPUT_FORMATS)})")
    return fmt


def open_records(src: str | os.PathLike | BinaryIO, *, verify_checksum: bool = True
                 ) -> tuple[str, Iterator[Record], Callable[[], None]]:
    """(input format, record iterator, close) for an RDB or rdbkit JSON source."""
    if isinstance(src, (str, os.PathLike)):
        f = fileio.open_input(src)
        owned = str(src) != "-"
    else:
        f, owned = src, False
    try:
        head = f.read(64)
        fmt = sniff(head)
        if fmt is None:
            raise ConvertError(f"{src}: neither an RDB file nor rdbkit JSON")
        if fmt == "resp":
            raise ConvertError(f"{src}: looks like RESP/AOF; the library reads RDB or rdbkit "
                               "JSON (`rdbkit convert` replays AOFs through the server engine)")
        stream = _Prepended(head, f)
    except BaseException:
        if owned:
            f.close()
        raise

    def close() -> None:
        if owned:
            f.close()

    if fmt == "rdb":
        from .reader import iter_records

        name = size = None
        if isinstance(src, (str, os.PathLike)) and str(src) != "-":
            name = str(src)
            if os.path.isfile(src) and not fileio.is_lz4(src):
                try:
                    size = os.path.getsize(src)
                except OSError:
                    size = None
        return fmt, iter_records(stream, verify_checksum=verify_checksum, name=name,
                                 size_hint=size), close
    from .jsonfmt import iter_records as iter_json

    return fmt, iter_json(stream), close


def convert(src, dst, *, to: str | None = None, rdb_version: int = 10, lossy: bool = False,
            key_filter: KeyFilter | None = None, resp_restore: bool = False,
            compress: bool = True, on_record: Callable[[Record], None] | None = None,
            jobs: int | None = None, on_offset: Callable[[int], None] | None = None
            ) -> ConvertReport:
    """Convert `src` into `dst` (path or `-`); returns what was done. Never prints.

    A large plain RDB file to JSON/JSONL is rendered by `jobs` processes (default: one
    per CPU, at most 4; see `render.parallel`), reporting progress to `on_offset`
    instead of `on_record`."""
    dst_fmt = output_format(dst, to)
    if dst_fmt in ("json", "jsonl"):
        from .render import parallel

        jobs = parallel.default_jobs() if jobs is None else jobs
        if parallel.eligible(src, dst_fmt, jobs):
            with output_file(dst, inputs=(src,)) as out:
                r = parallel.dump_parallel(src, out, dst_fmt, key_filter=key_filter,
                                           jobs=jobs, on_offset=on_offset)
            report = ConvertReport("rdb", dst_fmt)
            report.keys = r.keys
            return report
    src_fmt, records, close = open_records(src)
    inputs = (src,) if isinstance(src, (str, os.PathLike)) else ()
    try:
        return convert_records(records, dst, src_format=src_fmt, to=dst_fmt, inputs=inputs,
                               rdb_version=rdb_version, lossy=lossy, key_filter=key_filter,
                               resp_restore=resp_restore, compress=compress,
                               on_record=on_record)
    finally:
        close()


def convert_records(records: Iterator[Record], dst, *, src_format: str, to: str | None = None,
                    inputs: tuple = (), rdb_version: int = 10, lossy: bool = False,
                    key_filter: KeyFilter | None = None, resp_restore: bool = False,
                    compress: bool = True,
                    on_record: Callable[[Record], None] | None = None) -> ConvertReport:
    """Write already-open records (an RDB's, a JSON file's, an AOF replayed by the
    server engine) to `dst`; `inputs` are paths that must not be overwritten."""
    dst_fmt = output_format(dst, to)
    report = ConvertReport(src_format, dst_fmt)
    if src_format == "json":
        records = unique_keys(records)
    if key_filter is not None and not key_filter.is_noop:
        records = key_filter.apply(records)
    if on_record is not None:
        records = _tap(records, on_record)
    if dst_fmt == "rdb":
        from .writer import write_rdb

        wr = write_rdb(dst, records, version=rdb_version, lossy=lossy, inputs=inputs,
                       compress=compress)
        report.keys = wr.keys
        report.dropped = list(wr.dropped)
    else:
        from .render import dump_records

        with output_file(dst, inputs=inputs) as out:
            r = dump_records(records, out, dst_fmt, resp_restore=resp_restore,
                             rdb_version=rdb_version)
        report.keys = r.keys
    return report


def output_file(dst, *, inputs=()):
    """Where every non-RDB output goes: atomic, never over an input, `.lz4` framed."""
    return fileio.atomic_output(dst, inputs=tuple(inputs))


#: Keys up to this long are remembered as they are; longer ones by a 128-bit digest.
_SHORT_KEY = 32


def unique_keys(records):
    """Refuse a key that appears twice in one database (hand-edited JSON can do that;
    Redis 7.0 aborts loading such an RDB). Remembers each short key itself (it exists
    anyway; no hashing beyond the set's own) and a 128-bit digest of a longer one:
    at most about 100 bytes per key."""
    import hashlib

    from .jsonfmt import JsonFormatError
    from .records import KeyRecord

    seen: dict[int, set] = {}
    for rec in records:
        if type(rec) is KeyRecord:
            key = rec.key
            keys = seen.get(rec.db)
            if keys is None:
                keys = seen[rec.db] = set()
            if len(key) > _SHORT_KEY:
                # An int never equals a bytes key, so no short key can clash with it.
                key = int.from_bytes(hashlib.blake2b(key, digest_size=16).digest(), "little")
            n = len(keys)
            keys.add(key)
            if len(keys) == n:
                raise JsonFormatError("duplicate key in the same database", None,
                                      phase="read-json", key=rec.key, db=rec.db)
        yield rec


def _tap(records, fn):
    for rec in records:
        fn(rec)
        yield rec
