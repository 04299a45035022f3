"""One logical database: the key dict, the expires dict, SCAN order and WATCH hooks."""

from __future__ import annotations

import itertools


class Database:
    __slots__ = ("id", "data", "expires", "seqof", "order_keys", "order_seqs", "next_seq",
                 "watched", "engine")

    def __init__(self, dbid: int, engine) -> None:
        self.id = dbid
        self.engine = engine
        self.data: dict[bytes, object] = {}
        self.expires: dict[bytes, int] = {}
        # SCAN: every key gets an increasing sequence number on insertion; a cursor is a
        # sequence number, so keys present for the whole scan are always returned even
        # while others come and go.
        self.seqof: dict[bytes, int] = {}
        self.order_keys: list[bytes] = []
        self.order_seqs: list[int] = []
        self.next_seq = 1
        self.watched: dict[bytes, set] = {}

    # -- lookups ------------------------------------------------------------------------
    def get(self, key: bytes):
        """Value of a live key (expiring it lazily), else None."""
        v = self.data.get(key)
        if v is not None and self.expires:
            when = self.expires.get(key)
            if when is not None and when <= self.engine.now_ms and not self.engine.loading:
                self.expire_now(key)
                return None
        return v

    def is_expired(self, key: bytes) -> bool:
        """Logically expired? Never while loading, as Redis's keyIsExpired()."""
        when = self.expires.get(key)
        return when is not None and when <= self.engine.now_ms and not self.engine.loading

    def expire_now(self, key: bytes) -> None:
        """Reclaim a key whose time has come, and propagate it as a DEL."""
        e = self.engine
        if e.loading:
            return
        self.delete(key)
        e.stats["expired_keys"] += 1
        if e.prop_hooks:
            e.propagate(self.id, [b"DEL", key])

    # -- writes -------------------------------------------------------------------------
    def add(self, key: bytes, value) -> None:
        """Insert a key known to be absent."""
        self.data[key] = value
        s = self.next_seq
        self.next_seq = s + 1
        self.seqof[key] = s
        self.order_keys.append(key)
        self.order_seqs.append(s)
        if self.watched:
            self.touch(key)

    def set(self, key: bytes, value, *, keep_ttl: bool = False) -> None:
        """SET semantics: overwrite (or add), dropping any TTL unless keep_ttl."""
        if key in self.data:
            self.data[key] = value
            if not keep_ttl and self.expires:
                self.expires.pop(key, None)
            if self.watched:
                self.touch(key)
        else:
            self.add(key, value)

    def delete(self, key: bytes) -> bool:
        if self.data.pop(key, None) is None:
            return False
        if self.expires:
            self.expires.pop(key, None)
        self.seqof.pop(key, None)
        if len(self.order_keys) > 2 * len(self.data) + 1024:
            self._compact()
        if self.watched:
            self.touch(key)
        return True

    def clear(self) -> int:
        n = len(self.data)
        self.data = {}
        self.expires = {}
        self.seqof = {}
        self.order_keys = []
        self.order_seqs = []
        return n

    def _compact(self) -> None:
        seqof = self.seqof
        keep = [(k, s) for k, s in zip(self.order_keys, self.order_seqs) if seqof.get(k) == s]
        self.order_keys = [k for k, _ in keep]
        self.order_seqs = [s for _, s in keep]

    # -- WATCH ----------------------------------------------------------------------------
    def touch(self, key: bytes) -> None:
        clients = self.watched.get(key)
        if not clients:
            return
        for c in clients:
            wk = (self.id, key)
            if c.watched.get(wk):
                # The key was already expired when watched: deleting it changes nothing.
                if key not in self.data:
                    c.watched[wk] = False
                    continue
            c.dirty_cas = True

    def touch_all(self, other: "Database | None" = None) -> None:
        for key, clients in self.watched.items():
            if key in self.data or (other is not None and key in other.data):
                for c in clients:
                    c.dirty_cas = True

    # -- SCAN ----------------------------------------------------------------------------
    def scan_from(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        import bisect

        seqs = self.order_seqs
        i = bisect.bisect_left(seqs, cursor)
        keys = self.order_keys
        seqof = self.seqof
        out = []
        n = len(keys)
        while i < n and len(out) < count:
            k = keys[i]
            if seqof.get(k) == seqs[i]:
                out.append(k)
            i += 1
        return (seqs[i] if i < n else 0), out

    def sample_keys(self, start: int, n: int) -> list[bytes]:
        return list(itertools.islice(self.expires, start, start + n))
