"""The sans-I/O RDB pull parser: `feed()` bytes, `next_event()` records.

Each call parses one whole record out of an immutable `bytes` buffer with
`struct.unpack_from`. If the buffer ends inside the record, parsing rewinds to the
record start and returns `NEED_DATA`, remembering how far the buffer must reach before
a retry can succeed, so feeding tiny chunks does not re-parse on every byte. The parser
owns the absolute offset and the running CRC-64 over consumed bytes.
"""

from __future__ import annotations

import copy
import gc
import struct
from collections import deque

from ._crc import crc64
from ._values import (
    VALKEY_VALUE_READERS, VALUE_READERS, Bad, NeedMore, read_len, read_string, walk_module_ops,
)
from .constants import (
    MAGIC_REDIS, MAGIC_VALKEY, RDB_VERSION_CHECKSUM, RDB_VERSION_MAX,
    RDB_VERSION_MIN, VALKEY_OPCODE_SLOT_IMPORT, VALKEY_RDB_VERSION_MAX, VALKEY_RDB_VERSION_MIN,
    ModuleOpcode, Opcode, RdbType,
)
from .describe import check_rdb_type_name as _check_rdb_type_name
from .errors import ChecksumError, CorruptError, FormatError, TruncatedError, UnsupportedError
from .records import (
    Aux, End, Function, Header, KeyRecord, ModuleAux, ResizeDb, SelectDb, SlotInfo,
)

__all__ = ["RdbParser", "NEED_DATA", "DONE", "type_name"]


class _Sentinel:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NEED_DATA = _Sentinel("NEED_DATA")
DONE = _Sentinel("DONE")

_gc_isenabled, _gc_disable, _gc_enable = gc.isenabled, gc.disable, gc.enable

_I32 = struct.Struct("<i")
_I64 = struct.Struct("<q")
_U64 = struct.Struct("<Q")

#: Compact the consumed prefix once it is at least this big.
_COMPACT_AT = 1 << 16

_OP_EOF = Opcode.EOF
_OP_SELECTDB = Opcode.SELECTDB
_OP_EXPIRETIME = Opcode.EXPIRETIME
_OP_EXPIRETIME_MS = Opcode.EXPIRETIME_MS
_OP_RESIZEDB = Opcode.RESIZEDB
_OP_AUX = Opcode.AUX
_OP_FREQ = Opcode.FREQ
_OP_IDLE = Opcode.IDLE
_OP_MODULE_AUX = Opcode.MODULE_AUX
_OP_FUNCTION_PRE_GA = Opcode.FUNCTION_PRE_GA
_OP_FUNCTION2 = Opcode.FUNCTION2
_OP_SLOT_INFO = Opcode.SLOT_INFO
_OP_KEY_META = Opcode.KEY_META

_RDB_TYPES = {int(t): t for t in RdbType}
_STRING = RdbType.STRING
#: A batch of records stops once it has consumed this many bytes.
_BATCH_BYTES = 1 << 18
#: Longest record the short-string fast path reads: expire, type, two 63-byte strings.
_FAST_MAX = 9 + 1 + 64 + 64


def type_name(rtype: int | None, valkey: bool = False) -> str | None:
    """The name redis-check-rdb prints for a type byte: 7.0's table where it has one,
    later releases' names past it (so errors in newer types still say what they are)."""
    if rtype is None:
        return None
    name = _check_rdb_type_name(rtype, redis70=True, valkey=valkey)
    if not name or name == "unknown":
        name = _check_rdb_type_name(rtype, redis70=False, valkey=valkey)
    return name or "unknown"


class RdbParser:
    """Pull parser over fed bytes; see the module docstring.

    `size_hint` is the total input size when known (a file's size): a record that
    would need bytes past it fails as truncated at once instead of waiting for
    input that cannot come. `verify_checksum=False` skips the CRC comparison
    (fuzzing, salvage); the computed value is still reported in `End`.
    """

    def __init__(self, *, verify_checksum: bool = True, path: str | None = None,
                 size_hint: int | None = None) -> None:
        self.verify_checksum = verify_checksum
        self.path = path
        self.size_hint = size_hint
        self.version: int | None = None
        self.magic: bytes | None = None
        self.db = 0
        self._d = b""          # current buffer
        self._p = 0            # index of the next unread byte in _d
        self._base = 0         # absolute offset of _d[0]
        self._pending: list[bytes] = []
        self._pending_len = 0
        self._eof = False
        self._need = 0         # absolute offset the buffer must reach before a retry
        self._crc = 0
        self._crc_at = 0       # index in _d up to which the CRC has been computed
        self._done = False
        self._readers = VALUE_READERS
        self._phase = "start"
        self._key: bytes | None = None
        self._type: int | None = None
        self._queue: deque = deque()
        #: Renderer fast path: `next_events` gives plain string keys met on its fast
        #: path as `(db, key, value, expire_ms)` tuples instead of `KeyRecord`s.
        self.raw_strings = False
        #: Absolute offset at which to stop: records starting before it are parsed
        #: (whole, even past it), none starting at or after it (a span of a split file).
        self.stop_at: int | None = None
        self._whole = False     # `_d` is the whole input (see `over`): never compacted
        self._error_next: FormatError | None = None

    @classmethod
    def over(cls, buffer, offset: int = 0, *, header=None, db: int = 0,
             path: str | None = None, verify_checksum: bool = True) -> "RdbParser":
        """A parser over a whole file already in memory (`bytes` or an `mmap`), used in
        place: no copies, no compaction. Given the file's `Header`, it starts at the
        record boundary `offset`, in database `db`, without reading a header: one span
        of a file parsed on its own. `verify_checksum=False` also skips computing the
        CRC (a span's caller checks it over the file once)."""
        p = cls(verify_checksum=verify_checksum, path=path, size_hint=len(buffer))
        p._d = buffer
        p._eof = True
        p._whole = True
        if header is not None:
            p.version = header.version
            p.magic = header.magic
            if header.magic == MAGIC_VALKEY:
                p._readers = VALKEY_VALUE_READERS
            p.db = db
            p._p = offset
            p._phase = "read-type"
        elif offset:
            raise ValueError("a parser that starts past the header needs the header")
        return p

    # ------------------------------------------------------------------ input side
    @property
    def offset(self) -> int:
        """Absolute offset of the next byte not yet handed out in a record."""
        if self._queue:
            return self._queue[0].offset
        return self._base + self._p

    @property
    def done(self) -> bool:
        """True once the EOF record has been returned (trailing bytes are ignored)."""
        return self._done and not self._queue

    @property
    def buffered(self) -> int:
        """Bytes received but not yet consumed by a complete record."""
        return len(self._d) - self._p + self._pending_len

    def fork(self) -> "RdbParser":
        """An independent parser in the same state (the buffer itself is immutable and
        shared): lets a truncation sweep or a speculative parse branch off cheaply."""
        other = copy.copy(self)
        other._pending = list(self._pending)
        other._queue = deque(self._queue)
        return other

    def feed(self, data) -> None:
        if self._eof:
            raise RuntimeError("feed() after feed_eof()")
        if data:
            self._pending.append(bytes(data))
            self._pending_len += len(data)

    def feed_eof(self) -> None:
        self._eof = True

    def _absorb(self) -> None:
        """Join pending chunks into the buffer, dropping the consumed prefix."""
        d, p = self._d, self._p
        if self._crc_at < p:
            self._crc = crc64(memoryview(d)[self._crc_at:p], self._crc)
        self._pending.insert(0, d[p:] if p else d)
        self._d = b"".join(self._pending)
        self._pending.clear()
        self._pending_len = 0
        self._base += p
        self._p = 0
        self._crc_at = 0

    # ------------------------------------------------------------------ events
    def next_event(self):
        """The next record, `NEED_DATA`, or `DONE`; raises `FormatError` subclasses."""
        q = self._queue
        if q:
            return q.popleft()
        if self._error_next is not None:
            e, self._error_next = self._error_next, None
            raise e
        if self._done:
            return DONE
        recs = self.next_events()
        if recs:
            q.extend(recs)
            return q.popleft()
        return DONE if self._done else NEED_DATA

    def next_events(self) -> list:
        """A batch of complete records (empty when more data is needed or at the end).

        Parsing many plain string keys in one tight loop is what keeps a million-key
        file fast; a batch stops after `_BATCH_BYTES` so memory stays bounded. An
        error after some good records is raised on the following call, so callers
        still see every record before the failure.
        """
        if self._queue:
            out = list(self._queue)
            self._queue.clear()
            return out
        if self._error_next is not None:
            e, self._error_next = self._error_next, None
            raise e
        if self._done:
            return []
        if self.stop_at is not None and self._base + self._p >= self.stop_at:
            return []
        if self._pending:
            if not self._eof and self._base + len(self._d) + self._pending_len < self._need:
                return []
            self._absorb()
        elif self._p >= _COMPACT_AT and self._p * 2 >= len(self._d) and not self._whole:
            self._absorb()
        out = []
        # A batch allocates thousands of records and no reference cycles; letting the
        # cyclic GC scan them as they pile up costs a fifth of the parse.
        gc_was_on = _gc_isenabled()
        if gc_was_on:
            _gc_disable()
        try:
            self._loop(out)
        except FormatError as e:
            if out:
                # kept for the next call: without its traceback and chained exceptions,
                # whose frames point back at this parser (a cycle only the GC would free)
                e.__traceback__ = e.__context__ = e.__cause__ = None
                self._error_next = e
            else:
                raise
        finally:
            if gc_was_on:
                _gc_enable()
        return out

    def _loop(self, out: list) -> None:
        d = self._d
        n = len(d)
        base = self._base
        limit = self._p + _BATCH_BYTES
        if self.stop_at is not None:
            limit = min(limit, self.stop_at - base)
        # Below `fast_end` a whole short-string record (at most 138 bytes) fits in the
        # buffer, so the fast path reads its bytes without bounds checks.
        fast_end = min(limit, n - _FAST_MAX)
        append = out.append
        cls = KeyRecord
        string_type = _STRING
        unpack_i64 = _I64.unpack_from
        rdb_types = _RDB_TYPES
        raw = self.raw_strings
        db = self.db
        p = start = self._p
        try:
            if self.version is None:
                append(self._parse_header())
                p = self._p
            readers_get = self._readers.get
            while p < limit:
                # Fast paths, below `fast_end` only: a plain string key with short raw
                # key and value, with or without a millisecond expire (a handful of
                # index reads and slices), and any other value type under a short key
                # with no prefix opcodes. Anything unusual, including every error, takes
                # the general path below, which re-parses the record and says exactly
                # what went wrong.
                while p < fast_end:
                    c = d[p]
                    if c == 0:
                        kl = d[p + 1]
                        if kl < 64:
                            kend = p + 2 + kl
                            vl = d[kend]
                            if vl < 64:
                                vend = kend + 1 + vl
                                if raw:
                                    append((db, d[p + 2:kend], d[kend + 1:vend], None))
                                else:
                                    append(cls(db, d[p + 2:kend], string_type, d[kend + 1:vend],
                                               None, None, None, None, base + p, base + vend))
                                p = vend
                                continue
                            # Integer, LZF or longer values: still no prefix, short key.
                            try:
                                value, vend = read_string(d, kend)
                            except Exception:
                                break
                            if raw:
                                append((db, d[p + 2:kend], value, None))
                            else:
                                append(cls(db, d[p + 2:kend], string_type, value, None, None,
                                           None, None, base + p, base + vend))
                            p = vend
                            continue
                    elif c == 252:
                        q = p + 9
                        if d[q] == 0:
                            kl = d[q + 1]
                            if kl < 64:
                                kend = q + 2 + kl
                                vl = d[kend]
                                if vl < 64:
                                    vend = kend + 1 + vl
                                    if raw:
                                        append((db, d[q + 2:kend], d[kend + 1:vend],
                                                unpack_i64(d, p + 1)[0]))
                                    else:
                                        append(cls(db, d[q + 2:kend], string_type,
                                                   d[kend + 1:vend], unpack_i64(d, p + 1)[0],
                                                   None, None, None, base + p, base + vend))
                                    p = vend
                                    continue
                    elif c < 0xF0:
                        reader = readers_get(c)
                        kl = d[p + 1]
                        if reader is not None and kl < 64:
                            kend = p + 2 + kl
                            try:
                                value, fexp, vend = reader(d, kend, None)
                            except Exception:
                                break
                            append(cls(db, d[p + 2:kend], rdb_types[c], value, None, None, None,
                                       fexp, base + p, base + vend))
                            p = vend
                            continue
                    break
                if p >= limit:
                    break
                start = p
                self._p = p
                rec = self._parse_record()
                if rec is not None:  # None: a record with nothing to report (slot import)
                    append(rec)
                p = self._p
                db = self.db
                if self._done:
                    return
            self._p = p
        except NeedMore as e:
            self._p = start
            if self._eof or (self.size_hint is not None and base + e.at > self.size_hint):
                raise self._truncated(e.at, start) from None
            self._need = base + e.at
        except Bad as e:
            self._p = start
            raise self._error(e.cls, e.reason, e.at) from None
        except FormatError as e:
            self._p = start
            raise e.located(path=self.path, phase=self._phase, key=self._key,
                            type=type_name(self._type, self.magic == MAGIC_VALKEY))
        except (struct.error, IndexError, ValueError, OverflowError, UnicodeDecodeError,
                TypeError, KeyError) as e:
            self._p = start
            raise self._error(CorruptError, f"malformed input ({e.__class__.__name__}: {e})",
                              start) from e

    def __iter__(self):
        """Records until `DONE`; only valid once all input (and EOF) has been fed."""
        while True:
            ev = self.next_event()
            if ev is DONE:
                return
            if ev is NEED_DATA:
                self._eof = True
                continue
            yield ev

    def _error(self, cls, reason, at):
        return cls(reason, self._base + at, phase=self._phase, key=self._key,
                   type=type_name(self._type, self.magic == MAGIC_VALKEY), path=self.path)

    def _truncated(self, at, start):
        have = self._base + len(self._d)
        return TruncatedError("Unexpected EOF reading RDB file", have, valid_up_to=self._base + start, phase=self._phase,
                              key=self._key, type=type_name(self._type, self.magic == MAGIC_VALKEY), path=self.path)

    # ------------------------------------------------------------------ header
    def _parse_header(self):
        d = self._d
        self._phase = "start"
        if len(d) < 9:
            # A wrong signature is visible before all 9 bytes arrive.
            head = d[:6]
            if not (MAGIC_REDIS.startswith(head[:5]) or MAGIC_VALKEY.startswith(head)):
                raise Bad("Wrong signature trying to load DB from file", 9)
            raise NeedMore(9)
        magic = d[:9]
        if magic[:5] == MAGIC_REDIS:
            kind, digits, lo, hi = MAGIC_REDIS, magic[5:9], RDB_VERSION_MIN, RDB_VERSION_MAX
        elif magic[:6] == MAGIC_VALKEY:
            kind, digits, lo, hi = MAGIC_VALKEY, magic[6:9], VALKEY_RDB_VERSION_MIN, VALKEY_RDB_VERSION_MAX
        else:
            raise Bad("Wrong signature trying to load DB from file", 9)
        version = int(digits) if digits.isdigit() else 0
        if not lo <= version <= hi:
            cls = UnsupportedError if version > hi else CorruptError
            raise Bad(f"Can't handle RDB format version {digits.decode('latin-1')!r}"
                      if version == 0 else f"Can't handle RDB format version {version}", 9, cls)
        self.version = version
        self.magic = kind
        if kind == MAGIC_VALKEY:
            self._readers = VALKEY_VALUE_READERS
        self._p = 9
        self._phase = "read-type"
        return Header(version, kind, self._base, self._base + 9)

    # ------------------------------------------------------------------ records
    def _parse_record(self):
        d = self._d
        p = start = self._p
        if p >= len(d):
            self._phase = "read-type"
            raise NeedMore(p + 1)
        t = d[p]
        if t < 0xF0 or (t == _OP_KEY_META and self.magic == MAGIC_REDIS) or \
                t == _OP_IDLE or t == _OP_FREQ or t == _OP_EXPIRETIME_MS or t == _OP_EXPIRETIME:
            return self._parse_key(d, p)
        base = self._base
        p += 1
        self._key = self._type = None  # errors below belong to no key
        if t == _OP_AUX:
            self._phase = "read-aux"
            k, p = read_string(d, p)
            v, p = read_string(d, p)
            self._p = p
            self._phase = "read-type"
            return Aux(k, v, base + start, base + p)
        if t == _OP_SELECTDB:
            self._phase = "read-len"
            db, p = read_len(d, p)
            self._p = p
            self.db = db
            self._phase = "read-type"
            return SelectDb(db, base + start, base + p)
        if t == _OP_RESIZEDB:
            self._phase = "read-len"
            n, p = read_len(d, p)
            m, p = read_len(d, p)
            self._p = p
            self._phase = "read-type"
            return ResizeDb(n, m, base + start, base + p)
        if t == _OP_EOF:
            return self._parse_end(d, p, start)
        if t == _OP_FUNCTION2:
            self._phase = "read-functions"
            code, p = read_string(d, p)
            self._p = p
            self._phase = "read-type"
            return Function(code, base + start, base + p)
        if t == _OP_FUNCTION_PRE_GA:
            self._phase = "read-functions"
            name, p = read_string(d, p)
            engine, p = read_string(d, p)
            has_desc, p = read_len(d, p)
            if has_desc:
                _desc, p = read_string(d, p)
            code, p = read_string(d, p)
            self._p = p
            self._phase = "read-type"
            return Function(b"#!%s name=%s\n%s" % (engine, name, code), base + start, base + p)
        if t == _OP_MODULE_AUX:
            self._phase = "read-module-aux"
            mid, p = read_len(d, p)
            at = p
            op, p = read_len(d, p)
            if op != ModuleOpcode.UINT:
                raise Bad(f"module aux 'when' has opcode {op}, expected {int(ModuleOpcode.UINT)}", at)
            when, p = read_len(d, p)
            body = p
            p = walk_module_ops(d, p)
            self._p = p
            self._phase = "read-type"
            return ModuleAux(mid, when, d[body:p], base + start, base + p)
        if t == VALKEY_OPCODE_SLOT_IMPORT and self.magic == MAGIC_VALKEY:
            # Valkey 9 atomic slot migration state: job name, then slot ranges. Not data.
            self._phase = "read-len"
            _job, p = read_string(d, p)
            n, p = read_len(d, p)
            for _ in range(n):
                _, p = read_len(d, p)
                _, p = read_len(d, p)
            self._p = p
            self._phase = "read-type"
            return None
        if t == _OP_SLOT_INFO:
            self._phase = "read-len"
            slot, p = read_len(d, p)
            size, p = read_len(d, p)
            esize, p = read_len(d, p)
            self._p = p
            self._phase = "read-type"
            return SlotInfo(slot, size, esize, base + start, base + p)
        self._phase = "read-type"
        self._key = None
        self._type = None
        raise Bad(f"Invalid object type: {t}", start)

    def _parse_key(self, d, p):
        """Prefix opcodes (expire, idle, freq, key metadata), type, key, value."""
        start = p
        expire = idle = freq = None
        self._key = None
        t = d[p]
        while t >= 0xF0:
            if t == _OP_EXPIRETIME_MS:
                self._phase = "read-expire"
                if p + 9 > len(d):
                    raise NeedMore(p + 9)
                expire = _I64.unpack_from(d, p + 1)[0]
                p += 9
            elif t == _OP_EXPIRETIME:
                self._phase = "read-expire"
                if p + 5 > len(d):
                    raise NeedMore(p + 5)
                expire = _I32.unpack_from(d, p + 1)[0] * 1000
                p += 5
            elif t == _OP_IDLE:
                self._phase = "read-len"
                idle, p = read_len(d, p + 1)
            elif t == _OP_FREQ:
                self._phase = "read-len"
                if p + 2 > len(d):
                    raise NeedMore(p + 2)
                freq = d[p + 1]
                p += 2
            elif t == _OP_KEY_META:
                self._phase = "read-len"
                p = self._skip_key_meta(d, p + 1)
            else:
                self._phase = "read-type"
                raise Bad(f"opcode {t} follows a key's expire/idle/freq prefix", p)
            if p >= len(d):
                self._phase = "read-type"
                raise NeedMore(p + 1)
            t = d[p]
        self._type = t
        self._phase = "read-key"
        reader = self._readers.get(t)
        if reader is None:
            self._phase = "read-type"
            raise Bad(f"Unknown RDB encoding type {t}" if t < 0xF0 else f"Invalid object type: {t}", p)
        key, p = read_string(d, p + 1)
        self._key = key
        self._phase = "read-object-value"
        if t == 0:
            value, p = read_string(d, p)
            fexp = None
        else:
            value, fexp, p = reader(d, p, self)
        self._p = p
        self._phase = "read-type"
        base = self._base
        return KeyRecord(self.db, key, _RDB_TYPES[t], value, expire, idle, freq, fexp,
                         base + start, base + p)

    def _skip_key_meta(self, d, p):
        """Redis 8.6 key metadata: class count, then per class a 4-byte spec and module data."""
        n, p = read_len(d, p)
        for _ in range(n):
            p += 4
            if p > len(d):
                raise NeedMore(p)
            p = walk_module_ops(d, p)
        return p

    def _parse_end(self, d, p, start):
        base = self._base
        self._phase = "check-sum"
        if self.version >= RDB_VERSION_CHECKSUM or self.magic == MAGIC_VALKEY:
            if p + 8 > len(d):
                raise NeedMore(p + 8)
            if self._whole and not self.verify_checksum:
                computed = None   # not asked for: spans of a split file (its caller checks)
            else:
                computed = crc64(memoryview(d)[self._crc_at:p], self._crc)
            stored = _U64.unpack_from(d, p)[0]
            p += 8
            if self.verify_checksum and stored and stored != computed:
                raise ChecksumError(stored, computed, base + p, phase="check-sum", path=self.path)
            end = End(stored, computed, base + start, base + p)
        else:
            end = End(None, None, base + start, base + p)
        self._p = p
        self._crc_at = p
        self._done = True
        return end
