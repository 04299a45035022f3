"""rdbtools: the RDB codec of rdbkit (reader, writer, DUMP payloads, DEBUG DIGEST).

Not the abandoned redis-rdb-tools package of the same import name: install rdbkit in
an environment of its own.
"""

from .constants import Kind, Opcode, RdbType
from .errors import ChecksumError, CorruptError, FormatError, RdbkitError, TruncatedError
from .records import (
    Aux, Consumer, ConsumerGroup, Dataset, End, Function, Header, KeyRecord, ModuleAux,
    ModuleValue, PendingEntry, ResizeDb, SelectDb, SlotInfo, Stream, StreamEntry,
)

__all__ = [
    "Kind", "Opcode", "RdbType",
    "ChecksumError", "CorruptError", "FormatError", "RdbkitError", "TruncatedError",
    "Aux", "Consumer", "ConsumerGroup", "Dataset", "End", "Function", "Header",
    "KeyRecord", "ModuleAux", "ModuleValue", "PendingEntry", "ResizeDb", "SelectDb",
    "SlotInfo", "Stream", "StreamEntry",
]
