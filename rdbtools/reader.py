"""Blocking conveniences over `RdbParser`: iterate a file's records, load a Dataset,
decode one DUMP-style value body.
"""

from __future__ import annotations

import os
import struct
from itertools import chain
from typing import Iterator

from . import fileio
from ._values import VALKEY_VALUE_READERS, VALUE_READERS, Bad, NeedMore
from .errors import CorruptError, FormatError
from .parser import RdbParser, type_name
from .records import Aux, Dataset, End, Function, Header, KeyRecord, ModuleAux

__all__ = ["iter_records", "load", "decode_value"]


def _chunks(source, chunk_size: int, parser: RdbParser):
    """Yield input pieces; each read asks for at least as much as is already buffered,
    so one huge value is re-parsed O(log n) times, not once per chunk."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        yield bytes(source)
        return
    if isinstance(source, (str, os.PathLike)):
        f = fileio.open_input(source)
        close = str(source) != "-"
    else:
        f, close = source, False
    try:
        while True:
            data = f.read(max(chunk_size, parser.buffered))
            if not data:
                return
            yield data
    finally:
        if close:
            f.close()


def iter_records(source, *, verify_checksum: bool = True,
                 chunk_size: int = fileio.CHUNK_SIZE, name: str | None = None,
                 size_hint: int | None = None) -> Iterator:
    """Records of an RDB from a path, `-`, bytes, or a binary file object (`name`: the
    path errors should name when `source` is a file object; `size_hint`: its size)."""
    path = name
    if isinstance(source, (str, os.PathLike)):
        path = str(source)
        if path != "-" and os.path.isfile(path) and not fileio.is_lz4(path):
            try:
                size_hint = os.path.getsize(path)
            except OSError:
                size_hint = None
    elif isinstance(source, (bytes, bytearray, memoryview)):
        size_hint = len(source)
    parser = RdbParser(verify_checksum=verify_checksum, path=path, size_hint=size_hint)
    return RecordIterator(parser, _chunks(source, chunk_size, parser))


class RecordIterator:
    """What `iter_records` returns: an iterator of records that can also hand them
    out in whole batches, for renderers that work a batch at a time.

    `iter()` gives a C-level chain over the batches (one generator resume per batch,
    not per record). `batches()` is only for a fresh iterator: it and record-wise
    iteration share one parser.
    """

    __slots__ = ("_parser", "_gen", "_it")

    def __init__(self, parser: RdbParser, chunks) -> None:
        self._parser = parser
        self._gen = _batches(parser, chunks)
        self._it = chain.from_iterable(self._gen)

    def __iter__(self):
        return self._it

    def __next__(self):
        return next(self._it)

    def batches(self, *, raw_strings: bool = False):
        """Lists of records; with `raw_strings`, plain string keys may come as
        `(db, key, value, expire_ms)` tuples (see `RdbParser.raw_strings`)."""
        self._parser.raw_strings = raw_strings
        return self._gen

    def close(self) -> None:
        self._gen.close()


def _batches(parser: RdbParser, chunks):
    next_events = parser.next_events
    while True:
        recs = next_events()
        if recs:
            yield recs
            continue
        if parser.done:
            return
        data = next(chunks, None)
        if data is None:
            parser.feed_eof()
        else:
            parser.feed(data)


def load(source, **kw) -> Dataset:
    """A whole (small) file in memory."""
    ds = Dataset()
    for rec in iter_records(source, **kw):
        cls = rec.__class__
        if cls is KeyRecord:
            ds.keys.append(rec)
        elif cls is Aux:
            ds.aux.append(rec)
        elif cls is Function:
            ds.functions.append(rec)
        elif cls is ModuleAux:
            ds.module_aux.append(rec)
        elif cls is Header:
            ds.version = rec.version
        elif cls is End:
            ds.checksum = rec.checksum
    return ds


def decode_value(rtype: int, data, *, offset_base: int = 0, key: bytes | None = None,
                 valkey: bool = False):
    """Decode one value body (the bytes after the key in an RDB, as in a DUMP payload).

    Returns `(value, field_expires)`; the body must be complete (trailing bytes are
    the caller's business: use the returned value only when the payload is exact).
    """
    value, fexp, _end = decode_value_at(rtype, data, offset_base=offset_base, key=key,
                                        valkey=valkey)
    return value, fexp


def decode_value_at(rtype: int, data, *, offset_base: int = 0, key: bytes | None = None,
                    valkey: bool = False):
    """Like `decode_value`, also returning the index just past the body."""
    d = bytes(data)
    readers = VALKEY_VALUE_READERS if valkey else VALUE_READERS
    reader = readers.get(rtype)
    tname = type_name(rtype, valkey)
    if reader is None:
        raise CorruptError(f"Unknown RDB encoding type {rtype}", offset_base,
                           phase="read-object-value", key=key, type=tname)
    try:
        value, fexp, p = reader(d, 0, None)
    except NeedMore:
        raise CorruptError("value body ends early", offset_base + len(d),
                           phase="read-object-value", key=key, type=tname) from None
    except Bad as e:
        raise e.cls(e.reason, offset_base + e.at, phase="read-object-value", key=key,
                    type=tname) from None
    except FormatError as e:
        raise e.located(phase="read-object-value", key=key, type=tname)
    except (struct.error, IndexError, ValueError, OverflowError, UnicodeDecodeError,
            TypeError, KeyError) as e:
        raise CorruptError(f"malformed value ({e.__class__.__name__}: {e})", offset_base,
                           phase="read-object-value", key=key, type=tname) from e
    return value, fexp, p
