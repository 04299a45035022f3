"""Offline `DEBUG DIGEST` / `DEBUG DIGEST-VALUE`, as Redis 7.0 computes them.

The point is to prove a file (or a converted copy of it) holds the same data a real
server would hold after loading it, without starting one. So besides the hashing
itself this module applies the loader's visible effects: keys already expired at load
time are dropped, empty collections are skipped, and a `-0.0` score becomes `0` when
the loader would keep the sorted set as a listpack (formats.md §7.4). Files only Redis
7.2+ or Valkey can load are digested as those servers print scores (`fpconv_dtoa()`
instead of `%.17g`), since no 7.0 could ever show a digest for them.

Hashing (formats.md §7.1): `xor(D, b)` folds SHA1(b) into D (order-free); `mix(D, b)`
replaces D by SHA1(D xor SHA1(b)) (order-sensitive). The running states are kept as
Python ints so that the many xors of a big set or hash cost one int op each.
"""

from __future__ import annotations

import hashlib
import math
import struct
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from .constants import (
    Kind, RdbType, ZSET_MAX_LISTPACK_ENTRIES, ZSET_MAX_LISTPACK_VALUE,
)
from .records import Header, KeyRecord

__all__ = [
    "value_digest", "DatasetDigest", "digest_file", "iter_key_digests", "loaded_digest",
    "format_score", "format_score_fpconv", "loaded_value", "digest_records", "LoadRules",
    "ZERO_DIGEST",
]

ZERO_DIGEST = "0" * 40

_sha1 = hashlib.sha1
_TYPE_TAG = {kind: struct.pack(">I", int(kind)) for kind in Kind}
_EXPIRE_MARK = b"!!expire!!"
_HEXPIRE_MARK = b"!!hexpire!!"
#: SHA1 of the two marker strings, pre-computed: they are xored into many states.
_EXPIRE_SHA = int.from_bytes(_sha1(_EXPIRE_MARK).digest(), "big")
_HEXPIRE_SHA = int.from_bytes(_sha1(_HEXPIRE_MARK).digest(), "big")
_STRING_TAG_SHA = int.from_bytes(_sha1(_TYPE_TAG[Kind.STRING]).digest(), "big")
#: A listpack may not grow past 1 GB; a zset whose members exceed it stays a skiplist.
_LISTPACK_MAX_SAFETY = 1 << 30
_COLLECTIONS = (Kind.LIST, Kind.SET, Kind.ZSET, Kind.HASH)


def _h(data) -> int:
    return int.from_bytes(_sha1(data).digest(), "big")


def _mix(state: int, data) -> int:
    """SHA1(state xor SHA1(data)), with 20-byte states held as ints."""
    return int.from_bytes(_sha1((state ^ _h(data)).to_bytes(20, "big")).digest(), "big")


def format_score(score: float) -> bytes:
    """A zset score as Redis 7.0 prints it for the digest: C's `%.17g` (Python's
    formatter gives the same text)."""
    if score != score:  # NaN never reaches a real server's zset; keep C's spelling
        return b"nan"
    return (b"%.17g" % score)


def format_score_fpconv(score: float) -> bytes:
    """A zset score as Redis >= 7.2 (and Valkey) prints it: `fpconv_dtoa()`, the
    shortest round-trip digits laid out by its own rules (plain up to 7 trailing
    zeros, fixed point down to 1e-6, otherwise `d.ddde+N` with an unpadded exponent)."""
    if score != score:
        return b"nan"
    neg = math.copysign(1.0, score) < 0
    sign = b"-" if neg else b""
    if score == 0.0:
        return sign + b"0"
    if math.isinf(score):
        return sign + b"inf"
    mantissa, _, exp_text = repr(abs(score)).partition("e")
    whole, _, frac = mantissa.partition(".")
    frac = frac.rstrip("0") if frac != "0" else ""
    digits = (whole + frac).lstrip("0")
    K = (int(exp_text) if exp_text else 0) - len(frac)
    stripped = digits.rstrip("0")
    K += len(digits) - len(stripped)
    digits = stripped
    nd = len(digits)
    exp = abs(K + nd - 1)
    if K >= 0 and exp < nd + 7:
        return sign + (digits + "0" * K).encode()
    if K < 0 and (K > -7 or exp < 4):
        offset = nd + K
        if offset <= 0:
            return sign + ("0." + "0" * -offset + digits).encode()
        return sign + (digits[:offset] + "." + digits[offset:]).encode()
    nd = min(nd, 18 - neg)
    body = digits[0] + ("." + digits[1:nd] if nd > 1 else "")
    return sign + f"{body}e{'-' if K + nd - 1 < 0 else '+'}{exp}".encode()


def _value_state(state: int, kind: Kind, value, has_expire: bool,
                 field_expires: dict | None = None, fmt=None) -> int:
    """Continue `state` with one value as `xorObjectDigest()` does."""
    state = _mix(state, _TYPE_TAG[kind])
    if kind == Kind.STRING:
        state = _mix(state, value)
    elif kind == Kind.LIST:
        for element in value:
            state = _mix(state, element)
    elif kind == Kind.SET:
        acc = 0
        for member in value:
            acc ^= _h(member)
        state ^= acc
    elif kind == Kind.ZSET:
        acc = 0
        fmt = fmt or format_score
        for member, score in value:
            acc ^= _h(_pair_state(member, fmt(score)).to_bytes(20, "big"))
        state ^= acc
    elif kind == Kind.HASH:
        acc = 0
        for fld, val in value:
            element = _pair_state(fld, val)
            if field_expires and fld in field_expires:
                element ^= _HEXPIRE_SHA
            acc ^= _h(element.to_bytes(20, "big"))
        state ^= acc
    elif kind == Kind.STREAM:
        for entry in value.entries:
            ms, seq = entry.id
            state = _mix(state, b"%d.%d" % (ms, seq))
            for fld, val in entry.fields:
                state = _mix(_mix(state, fld), val)
    elif kind == Kind.MODULE:
        pass  # only the module's own digest callback could add anything
    else:
        raise ValueError(f"unknown value kind {kind!r}")
    if has_expire:
        state ^= _EXPIRE_SHA
    return state


def _pair_state(a: bytes, b: bytes) -> int:
    return _mix(_mix(0, a), b)


def value_digest(kind: Kind, value, has_expire: bool, *,
                 field_expires: dict | None = None, score_format=None) -> bytes:
    """`DEBUG DIGEST-VALUE` of one value (20 bytes); callers apply loader effects first.

    `score_format` renders zset scores (default: 7.0's `%.17g`, `format_score`)."""
    return _value_state(0, Kind(kind), value, has_expire, field_expires,
                        score_format).to_bytes(20, "big")


class DatasetDigest:
    """`DEBUG DIGEST` accumulated key by key, in any key or db order."""

    __slots__ = ("_dbs", "score_format")

    def __init__(self, score_format=None) -> None:
        self._dbs: dict[int, int] = {}
        self.score_format = score_format

    def add_strings(self, run) -> None:
        """Add plain string keys given as `(db, key, value, expire_ms)` tuples (the
        parser's raw batches): `add` with the steps inlined, for most keys of a file."""
        sha1 = _sha1
        dbs = self._dbs
        tag, exp_sha = _STRING_TAG_SHA, _EXPIRE_SHA
        from_bytes = int.from_bytes
        for db, key, value, expire in run:
            state = from_bytes(sha1(sha1(key).digest()).digest(), "big") ^ tag
            state = from_bytes(sha1(state.to_bytes(20, "big")).digest(), "big")
            state ^= from_bytes(sha1(value).digest(), "big")
            final = sha1(state.to_bytes(20, "big")).digest()
            if expire is not None:
                final = (from_bytes(final, "big") ^ exp_sha).to_bytes(20, "big")
            h = from_bytes(sha1(final).digest(), "big")
            if db in dbs:
                dbs[db] ^= h
            else:
                dbs[db] = h

    def add(self, db: int, key: bytes, kind: Kind, value, has_expire: bool, *,
            field_expires: dict | None = None) -> None:
        if kind == 0:  # strings are most keys: the same steps, inlined
            sha1 = _sha1
            state = int.from_bytes(sha1(sha1(key).digest()).digest(), "big") ^ _STRING_TAG_SHA
            state = int.from_bytes(sha1(state.to_bytes(20, "big")).digest(), "big")
            state ^= int.from_bytes(sha1(value).digest(), "big")
            final = sha1(state.to_bytes(20, "big")).digest()
            if has_expire:
                final = (int.from_bytes(final, "big") ^ _EXPIRE_SHA).to_bytes(20, "big")
        else:
            state = _value_state(_mix(0, key), Kind(kind), value, has_expire, field_expires,
                                 self.score_format)
            final = state.to_bytes(20, "big")
        self._dbs[db] = self._dbs.get(db, 0) ^ int.from_bytes(_sha1(final).digest(), "big")

    def add_record(self, rec: KeyRecord) -> None:
        """Add a parsed key as given; use `loaded_value()` first to mimic a load."""
        self.add(rec.db, rec.key, rec.kind, rec.value, rec.expire_ms is not None,
                 field_expires=rec.field_expires)

    def db_hexdigest(self, db: int) -> str:
        """The digest of a dataset holding database `db` alone."""
        return (_mix(0, struct.pack(">I", db)) ^ self._dbs.get(db, 0)).to_bytes(20, "big").hex()

    def databases(self) -> list[int]:
        return sorted(self._dbs)

    def digest(self) -> bytes:
        final = 0
        for db in sorted(self._dbs):
            final = _mix(final, struct.pack(">I", db)) ^ self._dbs[db]
        return final.to_bytes(20, "big")

    def hexdigest(self) -> str:
        return self.digest().hex()

    def __len__(self) -> int:
        return len(self._dbs)


@dataclass(frozen=True)
class LoadRules:
    """What the loading server does that the digest can see.

    Defaults are Redis 7.0's (and 7.2/7.4's) defaults; a sidecar written by a server
    with other thresholds needs its values to reproduce that server's digest.
    """

    zset_max_listpack_entries: int = ZSET_MAX_LISTPACK_ENTRIES
    zset_max_listpack_value: int = ZSET_MAX_LISTPACK_VALUE
    #: None: pick by file version (7.0's %.17g up to RDB 10; fpconv for 11+ / Valkey).
    score_format: Callable[[float], bytes] | None = None


DEFAULT_RULES = LoadRules()


def _zset_held_as_listpack(rec: KeyRecord, rules: LoadRules) -> bool:
    """Would the loader keep this sorted set as a listpack right after loading it?"""
    count = len(rec.value)
    if rec.type in (RdbType.ZSET, RdbType.ZSET_2):
        if count > rules.zset_max_listpack_entries:
            return False
        longest = total = 0
        for member, _score in rec.value:
            n = len(member)
            total += n
            if n > longest:
                longest = n
        return longest <= rules.zset_max_listpack_value and total < _LISTPACK_MAX_SAFETY
    # Blob encodings are converted on the count alone; their scores keep the bytes
    # they were stored with (an integer 0 is already +0.0).
    return False


def loaded_value(rec: KeyRecord, now_ms: int | None, keep_expired: bool = False,
                 rules: LoadRules = DEFAULT_RULES):
    """The value (and field expiries) a 7.0-style load would hold, or None if dropped.

    Returns `(value, field_expires)`. Keys whose expire is strictly before `now_ms`
    are dropped unless `keep_expired`, as `rdbLoad()` does for a master (Redis tests
    `expire < now`; a key expiring exactly now is still loaded).
    """
    if not keep_expired and rec.expire_ms is not None and rec.expire_ms < now_ms:
        return None
    value = rec.value
    kind = rec.kind
    field_expires = rec.field_expires
    if field_expires and not keep_expired:
        gone = {f for f, at in field_expires.items() if at < now_ms}
        if gone:
            value = [(f, v) for f, v in value if f not in gone]
            field_expires = {f: at for f, at in field_expires.items() if f not in gone}
    if kind in _COLLECTIONS and not value:
        return None
    if kind == Kind.ZSET and _zset_held_as_listpack(rec, rules):
        if any(score == 0.0 for _m, score in value):
            value = [(m, 0.0 if s == 0.0 else s) for m, s in value]
    return value, field_expires


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _score_format_for(header: Header | None, rules: LoadRules):
    if rules.score_format is not None:
        return rules.score_format
    if header is not None and (header.magic == b"VALKEY" or header.version >= 11):
        return format_score_fpconv
    return format_score


def iter_key_digests(source=None, *, now_ms: int | None = None, keep_expired: bool = False,
                     records: Iterable | None = None, rules: LoadRules = DEFAULT_RULES
                     ) -> Iterator[tuple[KeyRecord, bytes]]:
    """Yield `(record, DEBUG DIGEST-VALUE)` for every key a load would keep."""
    if now_ms is None:
        now_ms = _now_ms()
    if records is None:
        from .reader import iter_records

        records = iter_records(source)
    fmt = _score_format_for(None, rules)
    for rec in records:
        if not isinstance(rec, KeyRecord):
            if isinstance(rec, Header):
                fmt = _score_format_for(rec, rules)
            continue
        loaded = loaded_value(rec, now_ms, keep_expired, rules)
        if loaded is None:
            continue
        value, field_expires = loaded
        yield rec, value_digest(rec.kind, value, rec.expire_ms is not None,
                                field_expires=field_expires, score_format=fmt)


def digest_records(records: Iterable, *, now_ms: int | None = None,
                   keep_expired: bool = False, rules: LoadRules = DEFAULT_RULES) -> str:
    """`DEBUG DIGEST` of already-parsed records (any order, any mix of record kinds)."""
    if now_ms is None:
        now_ms = _now_ms()
    acc = DatasetDigest(_score_format_for(None, rules))
    _digest_into(acc, records, now_ms, keep_expired, rules)
    return acc.hexdigest()


def loaded_digest(records: Iterable, *, now_ms: int | None = None,
                  keep_expired: bool = False, rules: LoadRules = DEFAULT_RULES,
                  counts: dict | None = None, on_other=None) -> "DatasetDigest":
    """The digest state of what a load of `records` keeps, per database.

    A fresh `iter_records` iterator is read through its raw batches (plain string keys
    as tuples, digested in runs). `counts` gets the keys kept per database;
    `on_other(rec)` sees every record that is not a key."""
    if now_ms is None:
        now_ms = _now_ms()
    acc = DatasetDigest(_score_format_for(None, rules))
    batches = getattr(records, "batches", None)
    if batches is not None:
        records = _strings_digested(batches(raw_strings=True), acc, now_ms, keep_expired,
                                    counts)
    _digest_into(acc, records, now_ms, keep_expired, rules, counts, on_other)
    return acc


def _digest_into(acc: DatasetDigest, records: Iterable, now_ms: int, keep_expired: bool,
                 rules: LoadRules, counts: dict | None = None, on_other=None) -> None:
    for rec in records:
        if not isinstance(rec, KeyRecord):
            if isinstance(rec, Header):
                acc.score_format = _score_format_for(rec, rules)
            if on_other is not None:
                on_other(rec)
            continue
        loaded = loaded_value(rec, now_ms, keep_expired, rules)
        if loaded is None:
            continue
        value, field_expires = loaded
        acc.add(rec.db, rec.key, rec.kind, value, rec.expire_ms is not None,
                field_expires=field_expires)
        if counts is not None:
            counts[rec.db] = counts.get(rec.db, 0) + 1


def _strings_digested(batches, acc: DatasetDigest, now_ms: int, keep_expired: bool,
                      counts: dict | None = None):
    """Digest the raw string tuples of each batch into `acc`; yield the other records."""
    for batch in batches:
        run = [r for r in batch if r.__class__ is tuple]
        if run:
            if not keep_expired:
                run = [r for r in run if r[3] is None or r[3] >= now_ms]
            acc.add_strings(run)
            if counts is not None and run:
                db = run[0][0]
                if run[-1][0] == db and all(r[0] == db for r in run):
                    counts[db] = counts.get(db, 0) + len(run)
                else:
                    for r in run:
                        counts[r[0]] = counts.get(r[0], 0) + 1
            if len(run) == len(batch):
                continue
            yield from (r for r in batch if r.__class__ is not tuple)
        else:
            yield from batch


def digest_file(source, *, now_ms: int | None = None, keep_expired: bool = False,
                rules: LoadRules = DEFAULT_RULES) -> str:
    """`DEBUG DIGEST` a server shows right after loading `source` as master: Redis 7.0
    for the files it reads, Redis 7.2+ / Valkey rules for newer ones."""
    from .reader import iter_records

    return loaded_digest(iter_records(source), now_ms=now_ms, keep_expired=keep_expired,
                         rules=rules).hexdigest()
