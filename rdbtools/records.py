"""What the RDB parser emits and the writer consumes: one frozen record per RDB item.

Every record knows the absolute byte range it came from (`offset`, `end`); records
built by hand for the writer leave both at -1.

Value shapes, by `Kind` (the same for every on-disk encoding of that kind):

* STRING: `bytes` (integer encodings are rendered as their canonical decimal bytes)
* LIST: `list[bytes]`, head to tail
* SET: `list[bytes]`, in file order
* ZSET: `list[tuple[bytes, float]]` (member, score), in file order
* HASH: `list[tuple[bytes, bytes]]` (field, value), in file order; per-field expiry
  (Redis 7.4 / Valkey 9) is in `KeyRecord.field_expires`
* STREAM: `Stream`
* MODULE: `ModuleValue`
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from .constants import Kind, RdbType, TYPE_ENCODING, TYPE_KIND

StreamId = tuple[int, int]  # (ms, seq)


@dataclass(frozen=True, slots=True)
class Header:
    version: int
    magic: bytes = b"REDIS"  # b"REDIS" or b"VALKEY"
    offset: int = -1
    end: int = -1

    @property
    def is_valkey_numbering(self) -> bool:
        return self.magic == b"VALKEY"


@dataclass(frozen=True, slots=True)
class Aux:
    key: bytes
    value: bytes
    offset: int = -1
    end: int = -1


@dataclass(frozen=True, slots=True)
class SelectDb:
    db: int
    offset: int = -1
    end: int = -1


@dataclass(frozen=True, slots=True)
class ResizeDb:
    db_size: int
    expires_size: int
    offset: int = -1
    end: int = -1


@dataclass(frozen=True, slots=True)
class SlotInfo:
    slot: int
    slot_size: int
    expires_slot_size: int
    offset: int = -1
    end: int = -1


@dataclass(frozen=True, slots=True)
class Function:
    """A function library (opcode 245, or 246 converted to the same source form)."""

    code: bytes
    offset: int = -1
    end: int = -1

    @property
    def library_name(self) -> bytes | None:
        first = self.code.split(b"\n", 1)[0]
        for token in first.split()[1:]:
            if token.startswith(b"name="):
                return token[5:]
        return None


@dataclass(frozen=True, slots=True)
class ModuleAux:
    module_id: int
    when: int
    raw: bytes  # the opcode-prefixed body after `when`, up to and including the EOF opcode
    offset: int = -1
    end: int = -1

    @property
    def module_name(self) -> str:
        return module_name(self.module_id)


@dataclass(frozen=True, slots=True)
class ModuleValue:
    module_id: int
    raw: bytes  # the opcode-prefixed body after the id, including the EOF opcode

    @property
    def name(self) -> str:
        return module_name(self.module_id)

    @property
    def encver(self) -> int:
        return self.module_id & 1023


@dataclass(frozen=True, slots=True)
class PendingEntry:
    id: StreamId
    delivery_time: int  # ms
    delivery_count: int


@dataclass(frozen=True, slots=True)
class Consumer:
    name: bytes
    seen_time: int  # ms
    active_time: int  # ms; equals seen_time for files older than stream v3
    pending: tuple[StreamId, ...]


@dataclass(frozen=True, slots=True)
class ConsumerGroup:
    name: bytes
    last_id: StreamId
    entries_read: int  # -1 = unknown
    pending: tuple[PendingEntry, ...]
    consumers: tuple[Consumer, ...]


@dataclass(frozen=True, slots=True)
class StreamEntry:
    id: StreamId
    fields: tuple[tuple[bytes, bytes], ...]


@dataclass(frozen=True, slots=True)
class Stream:
    entries: tuple[StreamEntry, ...]  # live entries, ascending id
    length: int
    last_id: StreamId
    first_id: StreamId = (0, 0)
    max_deleted_id: StreamId = (0, 0)
    entries_added: int = 0
    groups: tuple[ConsumerGroup, ...] = ()


Value = Union[bytes, list, Stream, ModuleValue]


@dataclass(slots=True)
class KeyRecord:
    """One key. Treat as immutable: not frozen only because a frozen __init__ costs
    three times as much, and a 1M-key file builds a million of these."""

    db: int
    key: bytes
    type: RdbType  # the on-disk type byte
    value: Any
    expire_ms: int | None = None
    idle: int | None = None  # LRU idle seconds (opcode 248)
    freq: int | None = None  # LFU counter (opcode 249)
    field_expires: dict[bytes, int] | None = None  # hash field -> absolute ms
    offset: int = -1
    end: int = -1

    @property
    def kind(self) -> Kind:
        return TYPE_KIND[self.type]

    @property
    def encoding(self) -> str:
        return TYPE_ENCODING[self.type]


@dataclass(frozen=True, slots=True)
class End:
    """EOF opcode and footer. `checksum` is None for versions without a footer."""

    checksum: int | None
    computed: int | None
    offset: int = -1
    end: int = -1

    @property
    def checksum_verified(self) -> bool | None:
        """True when checked and equal; None when not computed (stored zero / no footer)."""
        if not self.checksum:
            return None
        return self.checksum == self.computed


Record = Union[Header, Aux, SelectDb, ResizeDb, SlotInfo, Function, ModuleAux, KeyRecord, End]


def module_name(module_id: int) -> str:
    from .constants import MODULE_CHARSET

    ident = module_id >> 10
    chars = []
    for i in range(9):
        chars.append(MODULE_CHARSET[(ident >> (6 * (8 - i))) & 63])
    return bytes(chars).decode("ascii")


def module_id(name: str, encver: int) -> int:
    from .constants import MODULE_CHARSET

    if len(name) != 9:
        raise ValueError("module type names are exactly 9 characters")
    ident = 0
    for ch in name.encode("ascii"):
        ident = (ident << 6) | MODULE_CHARSET.index(ch)
    return (ident << 10) | (encver & 1023)


@dataclass(slots=True)
class Dataset:
    """A whole small file in memory: what `rdbtools.load()` returns."""

    version: int = 10
    aux: list[Aux] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)
    module_aux: list[ModuleAux] = field(default_factory=list)
    keys: list[KeyRecord] = field(default_factory=list)
    checksum: int | None = None

    def db(self, n: int) -> dict[bytes, KeyRecord]:
        return {r.key: r for r in self.keys if r.db == n}
