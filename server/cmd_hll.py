"""HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST (Redis 7.0).

The value is a plain string in `server.hll`'s layout. Like Redis, every command that
writes to an HLL first "unshares" it into a raw string (a bytearray here), and PFCOUNT
of one key stores the cardinality it computed in the header: a change of the value by
a read-only command, which Redis propagates (PFCOUNT is `may-replicate`).
"""

from __future__ import annotations

import math
import random

from . import _docs, hll
from .engine import COMMANDS, WRONGTYPE, CommandError, command
from .proto import OK, Error, Simple, err

NOT_HLL = Error(b"WRONGTYPE Key is not a valid HyperLogLog string value.")
INVALID = Error(b"INVALIDOBJ Corrupted HLL object detected")

_docs.SYNTAX.update({
    "pfadd": "key:key [element ...]",
    "pfcount": "key:key ...",
    "pfmerge": "destkey:key sourcekey:key ...",
    "pfdebug": "subcommand key:key",
})


def _check(v) -> None:
    """isHLLObjectOrReply."""
    t = type(v)
    if t is not bytes and t is not bytearray:
        raise CommandError(WRONGTYPE)
    if not hll.is_hll(v):
        raise CommandError(NOT_HLL)


def _read(e, db, key: bytes):
    """lookupKeyRead: counts a keyspace hit or miss."""
    v = db.get(key)
    e.stats["keyspace_hits" if v is not None else "keyspace_misses"] += 1
    return v


def _unshare(db, key: bytes, v) -> bytearray:
    """dbUnshareStringValue: the value becomes a raw (mutable) string."""
    if type(v) is not bytearray:
        v = bytearray(v)
        db.data[key] = v
    return v


def _sparse_max(e) -> int:
    return int(e.config.values["hll-sparse-max-bytes"])


def _add_all(v: bytearray, elements, max_bytes: int) -> tuple[bytearray, int, bool]:
    """Add elements to a valid HLL -> (new value, registers changed, corrupt)."""
    updated = 0
    pat_len = hll.pat_len
    i, n = 0, len(elements)
    if v[4] == hll.SPARSE:
        ed = hll.SparseEditor(v)
        while i < n:
            index, count = pat_len(elements[i])
            i += 1
            r = ed.set(index, count, max_bytes)
            if r == hll.PROMOTE:
                try:
                    v = hll.to_dense(ed.value())
                except hll.InvalidHll:
                    return ed.value(), updated, True
                hll.dense_add(v, index, count)
                updated += 1
                break
            if r < 0:
                return ed.value(), updated, True
            updated += r
        else:
            return ed.value(), updated, False
    get, put = hll.dense_get, hll.dense_set
    while i < n:
        index, count = pat_len(elements[i])
        i += 1
        if count > get(v, index):
            put(v, index, count)
            updated += 1
    return v, updated, False


@command("pfadd", -2, "write denyoom fast", 1, 1, 1, "hyperloglog", since="2.8.9")
def pfadd(e, c, argv):
    db = c.db
    key = argv[1]
    v = db.get(key)
    created = v is None
    if created:
        v = bytearray(hll.EMPTY)
        db.add(key, v)
    else:
        _check(v)
        v = _unshare(db, key, v)
    new, updated, corrupt = _add_all(v, argv[2:], _sparse_max(e))
    if new is not v:
        db.data[key] = new
    if corrupt:
        return INVALID
    updated += created
    if updated:
        hll.invalidate(new)
        if db.watched:
            db.touch(key)
        e.dirty += updated
        return 1
    return 0


def _union(e, db, keys) -> bytearray | None:
    """Registers of the union of HLLs (missing keys are empty); raises on bad ones."""
    acc = None
    for k in keys:
        v = _read(e, db, k)
        if v is None:
            continue
        _check(v)
        try:
            acc = hll.registers(v) if acc is None else hll.merge_into(acc, v)
        except hll.InvalidHll:
            raise CommandError(INVALID) from None
    return acc


@command("pfcount", -2, "readonly may-replicate", 1, -1, 1, "hyperloglog", since="2.8.9")
def pfcount(e, c, argv):
    db = c.db
    if len(argv) > 2:
        regs = _union(e, db, argv[1:])
        return hll.estimate(hll.histogram(regs)) if regs is not None else 0
    key = argv[1]
    v = _read(e, db, key)
    if v is None:
        return 0
    _check(v)
    v = _unshare(db, key, v)
    if hll.cache_valid(v):
        return hll.cached_card(v)
    try:
        card = hll.count(v)
    except hll.InvalidHll:
        return INVALID
    hll.set_card(v, card)
    if db.watched:
        db.touch(key)
    e.dirty += 1
    # The engine propagates only `write` commands; Redis also propagates this one when
    # it changed the dataset. Skip it if the engine learns to do so itself.
    if not COMMANDS[b"pfcount"].is_write:
        e.propagate(db.id, list(argv))
    return card


@command("pfmerge", -2, "write denyoom", 1, -1, 1, "hyperloglog", since="2.8.9")
def pfmerge(e, c, argv):
    db = c.db
    acc = bytearray(hll.REGISTERS)
    use_dense = False
    for k in argv[1:]:
        v = _read(e, db, k)
        if v is None:
            continue
        _check(v)
        if v[4] == hll.DENSE:
            use_dense = True
        try:
            acc = hll.merge_into(acc, v)
        except hll.InvalidHll:
            return INVALID
    key = argv[1]
    v = db.get(key)
    if v is None:
        v = bytearray(hll.EMPTY)
        db.add(key, v)
    else:
        v = _unshare(db, key, v)
    if use_dense and v[4] == hll.SPARSE:
        try:
            v = hll.to_dense(v)
        except hll.InvalidHll:  # the target was checked as a source: not reached
            return INVALID
    if v[4] == hll.SPARSE:
        ed = hll.SparseEditor(v)
        max_bytes = _sparse_max(e)
        promoted = None
        for j in range(hll.REGISTERS):
            val = acc[j]
            if val:
                if ed.set(j, val, max_bytes) == hll.PROMOTE:
                    promoted = j
                    break
        v = ed.value()
        if promoted is not None:
            v = hll.to_dense(v)
    if v[4] == hll.DENSE:
        cur = hll.dense_unpack(memoryview(v)[hll.HDR:])
        v[hll.HDR:] = hll.dense_pack(hll.regs_max(cur, acc))
    hll.invalidate(v)
    db.data[key] = v
    if db.watched:
        db.touch(key)
    e.dirty += 1
    return OK


def _sanitize(b: bytes) -> str:
    return b.split(b"\0", 1)[0].decode("utf-8", "surrogateescape").replace(
        "\r", " ").replace("\n", " ")


@command("pfdebug", 3, "write denyoom admin", 2, 2, 1, "hyperloglog", since="2.8.9")
def pfdebug(e, c, argv):
    db = c.db
    key = argv[2]
    v = db.get(key)
    if v is None:
        return err("ERR The specified key does not exist")
    _check(v)
    v = _unshare(db, key, v)
    sub = argv[1].lower()
    if sub == b"getreg" or sub == b"todense":
        converted = v[4] == hll.SPARSE
        if converted:
            try:
                v = hll.to_dense(v)
            except hll.InvalidHll:
                return INVALID
            db.data[key] = v
            e.dirty += 1  # Redis forces propagation of the encoding change
        if sub == b"todense":
            return 1 if converted else 0
        return list(hll.dense_unpack(memoryview(v)[hll.HDR:]))
    if sub == b"decode":
        if v[4] != hll.SPARSE:
            return err("ERR HLL encoding is not sparse")
        return hll.decode_text(memoryview(v)[hll.HDR:])
    if sub == b"encoding":
        return Simple(b"dense" if v[4] == hll.DENSE else b"sparse")
    return err("ERR Unknown PFDEBUG subcommand '%s'" % _sanitize(argv[1]))


@command("pfselftest", 1, "admin", 0, 0, 0, "hyperloglog", since="2.8.9")
def pfselftest(e, c, argv):
    """A lighter PFSELFTEST: the same checks, fewer rounds and up to 10^5 elements
    (Redis runs 10^7 in C; pure Python would block the server for minutes)."""
    rng = random.Random()
    for _ in range(3):
        regs = bytes(rng.randrange(64) for _ in range(hll.REGISTERS))
        back = hll.dense_unpack(hll.dense_pack(regs))
        probe = bytearray(hll.DENSE_SIZE)
        for r in range(0, hll.REGISTERS, 97):
            hll.dense_set(probe, r, regs[r])
        for r in range(hll.REGISTERS):
            want = regs[r] if r % 97 == 0 else 0
            if back[r] != regs[r] or hll.dense_get(probe, r) != want:
                return err("TESTFAILED Register %d should be %d but is %d"
                           % (r, regs[r], back[r]))
    dense = bytearray(hll.MAGIC + bytes(12)) + bytes(hll.DENSE_BODY)
    sparse = bytearray(hll.EMPTY)
    max_bytes = _sparse_max(e)
    relerr = 1.04 / hll.REGISTERS ** 0.5
    seed = rng.getrandbits(64)
    checkpoint = 1
    added = 0
    batch = []
    while checkpoint <= 100_000:
        while added < checkpoint:
            added += 1
            batch.append(((added ^ seed) & ((1 << 64) - 1)).to_bytes(8, "little"))
        for el in batch:
            hll.dense_add(dense, *hll.pat_len(el))
        sparse, _, _ = _add_all(sparse, batch, max_bytes)
        batch = []
        if checkpoint < max_bytes / 2 and sparse[4] != hll.SPARSE:
            return err("TESTFAILED sparse encoding not used")
        card = hll.count(dense)
        if card != hll.count(sparse):
            return err("TESTFAILED dense/sparse disagree")
        maxerr = 1 if checkpoint == 10 else math.ceil(relerr * 6 * checkpoint)
        if abs(checkpoint - card) > maxerr:
            return err("TESTFAILED Too big error. card:%d abserr:%d"
                       % (checkpoint, abs(checkpoint - card)))
        checkpoint *= 10
    return OK
