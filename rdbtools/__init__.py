"""rdbtools: the RDB codec of rdbkit (reader, writer, DUMP payloads, DEBUG DIGEST).

Not the abandoned redis-rdb-tools package of the same import name: install rdbkit in
an environment of its own.

Reading::

    for rec in rdbtools.iter_records("dump.rdb"):      # streams; .lz4 transparent
        if isinstance(rec, rdbtools.KeyRecord): ...
    ds = rdbtools.load("small.rdb")                      # whole file as a Dataset

Writing, payloads, digest: `write_rdb`, `create_payload` / `parse_payload`,
`digest_file`. Heavier modules load on first use.
"""

from __future__ import annotations

import importlib

from .constants import Kind, Opcode, RdbType
from .errors import (
    ChecksumError, CorruptError, FormatError, RdbkitError, TruncatedError, UnsupportedError,
)
from .records import (
    Aux, Consumer, ConsumerGroup, Dataset, End, Function, Header, KeyRecord, ModuleAux,
    ModuleValue, PendingEntry, ResizeDb, SelectDb, SlotInfo, Stream, StreamEntry,
)

#: public name -> module that defines it (imported on first access)
_LAZY = {
    "RdbParser": ".parser", "NEED_DATA": ".parser", "DONE": ".parser",
    "iter_records": ".reader", "load": ".reader", "decode_value": ".reader",
    "RdbWriter": ".writer", "EncodingConfig": ".writer", "WriteReport": ".writer",
    "encode_value": ".writer", "write_rdb": ".writer",
    "create_payload": ".payload", "parse_payload": ".payload",
    "LossyConversion": "._downgrade",
    "value_digest": ".digest", "DatasetDigest": ".digest", "digest_file": ".digest",
    "check_rdb": ".check", "CheckResult": ".check",
    "convert": ".convert", "dump_records": ".render", "KeyFilter": ".filters",
}

__all__ = [
    "Kind", "Opcode", "RdbType",
    "ChecksumError", "CorruptError", "FormatError", "RdbkitError", "TruncatedError",
    "UnsupportedError",
    "Aux", "Consumer", "ConsumerGroup", "Dataset", "End", "Function", "Header",
    "KeyRecord", "ModuleAux", "ModuleValue", "PendingEntry", "ResizeDb", "SelectDb",
    "SlotInfo", "Stream", "StreamEntry",
    *_LAZY,
]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rdbtools' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
