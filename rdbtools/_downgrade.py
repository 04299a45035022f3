"""What an older RDB version cannot hold, and how a value is cut down to fit it.

Writing an older version re-encodes everything it can (listpack -> ziplist, quicklist
v2 -> v1, stream v3 -> v2 -> v1); this module decides what is *lost* on the way: whole
keys (streams below RDB 9, module values below 8), hash field TTLs below 12, stream
consumer active-times below 11 and stream v2 bookkeeping below 10 whenever the older
loader could not reconstruct it. A loss is refused unless the caller opted into it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .constants import Kind
from .errors import RdbkitError, _show_key
from .records import KeyRecord, Stream

#: What a v1 stream loader sets first-id to when the stream has no entries.
_NO_FIRST_ID = ((1 << 64) - 1, (1 << 64) - 1)
_ENTRIES_READ_UNKNOWN = -1


@dataclass(frozen=True, slots=True)
class Loss:
    """One thing the target version cannot carry (db/key None for file-level data)."""

    db: int | None
    key: bytes | None
    what: str

    def __str__(self) -> str:
        if self.key is None:
            return self.what
        return f"db {self.db} key {_show_key(self.key)}: {self.what}"


class LossyConversion(RdbkitError):
    """The target RDB version cannot hold some of the data; nothing was written."""

    def __init__(self, losses: list[Loss]) -> None:
        self.losses = list(losses)
        shown = "; ".join(str(x) for x in self.losses[:20])
        more = f" (and {len(self.losses) - 20} more)" if len(self.losses) > 20 else ""
        super().__init__(f"conversion would lose data (pass lossy=True to drop it): {shown}{more}")

    @property
    def keys(self) -> list[tuple[int, bytes]]:
        return [(x.db, x.key) for x in self.losses if x.key is not None]


def _v1_entries_read(n: int, first_id, last_id, group_last) -> int:
    """entries-read a 7.0 loader estimates for a v1 stream group (no v2 fields)."""
    if n == 0:
        return 0  # entries_added == length == 0
    if group_last == last_id:
        return n
    if group_last > last_id:
        return _ENTRIES_READ_UNKNOWN
    if group_last < first_id:
        return 0
    if group_last == first_id:
        return 1
    return _ENTRIES_READ_UNKNOWN


def _stream_losses(s: Stream, version: int) -> list[str]:
    out = []
    if version < 11:
        n = sum(1 for g in s.groups for c in g.consumers if c.active_time != c.seen_time)
        if n:
            out.append(f"active-time of {n} stream consumer(s) (needs RDB 11)")
    if version < 10:
        n = len(s.entries)
        first = s.entries[0].id if n else _NO_FIRST_ID
        if s.entries_added != n:
            out.append(f"stream entries-added {s.entries_added} (RDB {version} implies {n})")
        if s.max_deleted_id != (0, 0):
            out.append("stream max-deleted-entry-id %d-%d (needs RDB 10)" % s.max_deleted_id)
        if n and s.first_id != first:
            out.append("stream first-id %d-%d (needs RDB 10)" % s.first_id)
        for g in s.groups:
            guess = _v1_entries_read(n, first, s.last_id, g.last_id)
            if g.entries_read != guess:
                out.append(f"entries-read {g.entries_read} of group {_show_key(g.name)} "
                           "(needs RDB 10)")
    return out


#: Kinds every version holds whole (enum members as a set: a per-key test).
_ALWAYS_KEPT = frozenset((Kind.STRING, Kind.LIST, Kind.SET, Kind.ZSET))
#: Enum members as plain globals: cheaper to reach per key than `Kind.X`.
_STREAM, _MODULE, _HASH = Kind.STREAM, Kind.MODULE, Kind.HASH


def check_key(rec: KeyRecord, version: int) -> list[Loss]:
    """Everything about `rec` that RDB `version` cannot hold (empty when nothing)."""
    kind = rec.kind
    if kind in _ALWAYS_KEPT:
        return []
    if kind is _STREAM and version < 9:
        return [Loss(rec.db, rec.key, f"stream key (streams need RDB 9, target {version})")]
    if kind is _MODULE and version < 8:
        return [Loss(rec.db, rec.key, f"module value (needs RDB 8, target {version})")]
    losses = []
    if kind is _HASH and version < 12 and rec.field_expires:
        n = sum(1 for t in rec.field_expires.values() if t is not None)
        if n:
            losses.append(Loss(rec.db, rec.key, f"TTLs of {n} hash field(s) (need RDB 12)"))
    if kind is _STREAM:
        losses += [Loss(rec.db, rec.key, w) for w in _stream_losses(rec.value, version)]
    return losses


def strip_key(rec: KeyRecord, version: int) -> KeyRecord | None:
    """`rec` cut down to what `version` holds; None when the whole key goes."""
    kind = rec.kind
    if kind in _ALWAYS_KEPT:
        return rec
    if (kind is _STREAM and version < 9) or (kind is _MODULE and version < 8):
        return None
    if kind is _HASH and version < 12 and rec.field_expires:
        return replace(rec, field_expires=None)
    return rec
