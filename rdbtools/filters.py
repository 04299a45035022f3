"""Which key records a dump or conversion keeps: db, key regex, type, expiry.

Regexes run over the raw key bytes (a `str` pattern is UTF-8 encoded), so binary keys
can be matched too. `search` semantics, as redis-rdb-tools' `--key` had.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from .constants import Kind
from .records import KeyRecord, Record

#: Names accepted by `--type`: what `TYPE` answers, plus redis-rdb-tools' spellings.
TYPE_NAMES = {
    "string": Kind.STRING, "list": Kind.LIST, "set": Kind.SET, "zset": Kind.ZSET,
    "sortedset": Kind.ZSET, "hash": Kind.HASH, "stream": Kind.STREAM, "module": Kind.MODULE,
}


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class KeyFilter:
    dbs: frozenset[int] | None = None
    key: re.Pattern | None = None
    not_key: re.Pattern | None = None
    kinds: frozenset[Kind] | None = None
    skip_expired: bool = False
    now_ms: int | None = None
    _now: int = field(default=0, init=False, repr=False)

    @classmethod
    def build(cls, *, dbs: Iterable[int] = (), key: str | bytes | None = None,
              not_key: str | bytes | None = None, types: Iterable[str] = (),
              skip_expired: bool = False, now_ms: int | None = None) -> "KeyFilter":
        kinds = set()
        for t in types:
            k = TYPE_NAMES.get(t.lower())
            if k is None:
                raise ValueError(f"unknown type {t!r} (one of {', '.join(sorted(TYPE_NAMES))})")
            kinds.add(k)
        return cls(dbs=frozenset(dbs) or None, key=_compile(key), not_key=_compile(not_key),
                   kinds=frozenset(kinds) or None, skip_expired=skip_expired, now_ms=now_ms)

    @property
    def is_noop(self) -> bool:
        return (self.dbs is None and self.key is None and self.not_key is None
                and self.kinds is None and not self.skip_expired)

    def __post_init__(self) -> None:
        self._now = self.now_ms if self.now_ms is not None else now_ms()

    def accepts(self, rec: KeyRecord) -> bool:
        if self.dbs is not None and rec.db not in self.dbs:
            return False
        if self.kinds is not None and rec.kind not in self.kinds:
            return False
        if self.key is not None and self.key.search(rec.key) is None:
            return False
        if self.not_key is not None and self.not_key.search(rec.key) is not None:
            return False
        if self.skip_expired and rec.expire_ms is not None and rec.expire_ms < self._now:
            return False
        return True

    def apply(self, records: Iterable[Record]) -> Iterator[Record]:
        """Drop key records that do not pass; every other record goes through."""
        if self.is_noop:
            yield from records
            return
        accepts = self.accepts
        for rec in records:
            if type(rec) is not KeyRecord or accepts(rec):
                yield rec


def _compile(pattern: str | bytes | None) -> re.Pattern | None:
    if pattern is None:
        return None
    if isinstance(pattern, str):
        pattern = pattern.encode("utf-8")
    try:
        return re.compile(pattern)
    except re.error as e:
        raise ValueError(f"bad regular expression {pattern!r}: {e}") from e
