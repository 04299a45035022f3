"""The skimmer: the fast path for RDB files whose values can travel as stored."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from rdbtools import fileio
from rdbtools._crc import _MODEL as _CRC_MODEL, crc64
from rdbtools._values import VALUE_READERS, Bad, NeedMore, read_len, read_string
from rdbtools.constants import U16 as _U16, U64 as _U64, RdbType
from rdbtools.records import Function, KeyRecord

from .units import _BULK_HEADERS, _HDR_MAX, _VALUE_MIDS, J_BULK, J_NONE, Unit, _bulk_header

if TYPE_CHECKING:
    from .planner import _Planner

_I32 = struct.Struct("<i")
_I64 = struct.Struct("<q")

#: Keys per bulk unit (one RESTORE or SET each; a bulk unit never outgrows one window).
BULK_KEYS = 256
#: Bytes the skimmer reads at a time (more when one record is bigger).
SKIM_CHUNK = fileio.CHUNK_SIZE
_TYPE_BYTES = tuple(bytes((i,)) for i in range(256))
#: Types whose value can be stepped over without decoding it.
_BLOB_TYPES = frozenset((0, 9, 10, 11, 12, 13, 16, 17, 20))


class _SkimAbort(Exception):
    """Something the skimmer does not handle: replan with the full parser from here."""


def _skip_str(d, p: int) -> int:
    """Index after the RDB string at `p` (raw, integer or LZF form), without copying it."""
    b = d[p]
    if b < 0x40:
        return p + 1 + b
    if b < 0x80:
        return p + 2 + (((b & 0x3F) << 8) | d[p + 1])
    if b == 0x80:
        return p + 5 + int.from_bytes(d[p + 1:p + 5], "big")
    if b == 0x81:
        return p + 9 + int.from_bytes(d[p + 1:p + 9], "big")
    if b == 0xC0:
        return p + 2
    if b == 0xC1:
        return p + 3
    if b == 0xC2:
        return p + 5
    if b == 0xC3:
        clen, q = read_len(d, p + 1)
        _ulen, q = read_len(d, q)
        return q + clen
    raise _SkimAbort


def _skip_value(d, p: int, t: int) -> int:
    """Index after a value of type `t` at `p`; raises _SkimAbort for types to decode."""
    if t in _BLOB_TYPES:
        return _skip_str(d, p)
    if t in (1, 2, 14):           # list, set, quicklist v1: N strings
        n, p = read_len(d, p)
        for _ in range(n):
            p = _skip_str(d, p)
        return p
    if t == 4:                    # hash: N field/value pairs
        n, p = read_len(d, p)
        for _ in range(2 * n):
            p = _skip_str(d, p)
        return p
    if t == 5:                    # zset v2: member, binary double
        n, p = read_len(d, p)
        for _ in range(n):
            p = _skip_str(d, p) + 8
        return p
    if t == 3:                    # zset v1: member, text double
        n, p = read_len(d, p)
        for _ in range(n):
            p = _skip_str(d, p)
            k = d[p]
            p += 1 if k >= 253 else 1 + k
        return p
    if t == 18:                   # quicklist v2: container, node
        n, p = read_len(d, p)
        for _ in range(n):
            _c, p = read_len(d, p)
            p = _skip_str(d, p)
        return p
    raise _SkimAbort


class _Skimmer:
    """Walks an RDB file record by record without decoding values, turning runs of keys
    into bulk units of RESTOREs whose payloads are the stored value bytes (in auto mode,
    `SET key value` for plain strings stored raw: neither integer-encoded nor LZF).

    Used only when every value can travel as stored (file version <= target's, REDIS
    magic, auto or restore mode, no key/type filter, no --on-existing fail). Keys that need more
    (expired ones, TTL policies on field expiries, streams and other types it does not
    step over) are decoded with the reader's own value readers and planned one by one.
    The file CRC is checked at the end, as the streaming reader does.
    """

    def __init__(self, planner: "_Planner", path: str, chunk: int | None = None):
        self.planner = planner
        self.path = path
        self.chunk = chunk or SKIM_CHUNK
        self.end_offset: int | None = None

    def units(self):
        pl = self.planner
        opts = pl.opts
        dbs = pl.dbs
        target_db = pl.target_db
        now = pl.now
        replace_tail = pl.tail_plain
        bulk_max = min(BULK_KEYS, opts.pipeline)
        ttl_active = pl.ttl_active
        argc_plain, argc_abs, tail_abs = pl.argc_plain, pl.argc_abs, pl.tail_abs
        u64 = _U64.pack
        calc = _CRC_MODEL.calc
        restore_fmt = b"*%d\r\n$7\r\nRESTORE\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n%s"
        blob_types = _BLOB_TYPES
        type_bytes = _TYPE_BYTES
        restore_plain = (b"*%d\r\n$7\r\nRESTORE\r\n" % argc_plain
                         + b"$%d\r\n%s\r\n$1\r\n0\r\n$%d\r\n%s\r\n" + replace_tail)
        # the same command by concatenation: bytes % formatting is the costliest step
        plain_head = b"*%d\r\n$7\r\nRESTORE\r\n" % argc_plain
        plain_mid = b"\r\n$1\r\n0\r\n"
        plain_tail = b"\r\n" + replace_tail
        hdr = _BULK_HEADERS
        join = b"".join
        set_route = pl.set_strings
        set_head, set_tail = pl.set_head, pl.set_tail
        value_mids = _VALUE_MIDS
        # a command's head with its key's length header, for keys shorter than 64
        set_heads = tuple(set_head + h for h in hdr[:0x40])
        restore_heads = tuple(plain_head + h for h in hdr[:0x40])
        f = fileio.open_input(self.path)
        try:
            d = f.read(max(self.chunk, 64))
            if len(d) < 9 or d[:5] != b"REDIS" or not d[5:9].isdigit():
                raise _SkimAbort
            version = int(d[5:9])
            if not 5 <= version <= (pl.version or 0):
                raise _SkimAbort       # no checksum to verify, or a payload too new
            tag = _U16.pack(version)
            pl.raw_tag = tag
            nd = len(d)
            base = 0                   # absolute offset of d[0]
            crc = 0
            p = 9
            eof = False
            n = 0
            db = 0
            kdb = db if target_db is None else target_db
            bulk_cmds: list = []
            runs = dbs is None            # may keys of this db take the tight loop?
            bulk_first = 0
            bulk_db = 0
            while True:
                if runs:
                    # Runs of keys without expiry or LRU/LFU data, whose key is stored raw
                    # with a 6-bit length and whose value is one blob (raw under 16 KB,
                    # or LZF): strings, listpacks, ziplists, intsets, one-node
                    # quicklists, i.e. most keys of most files. They become commands
                    # here, with nothing kept per key but the command. Anything else (or
                    # a record cut by the end of the buffer) ends the run and goes the
                    # long way below.
                    if bulk_cmds and (kdb != bulk_db or len(bulk_cmds) >= bulk_max):
                        yield self._bulk(bulk_first, bulk_db, bulk_cmds)
                        bulk_cmds = []
                    before = len(bulk_cmds)
                    room = bulk_max - before
                    append = bulk_cmds.append
                    q = p
                    try:
                        for _ in range(room):
                            t = d[q]
                            b = d[q + 1]
                            if b >= 0x40:
                                break
                            ke = q + 2 + b
                            if not t or t in blob_types:
                                vs = ke                 # the value is one blob
                            elif t == 14 and d[ke] == 1:
                                vs = ke + 1             # a quicklist of one ziplist
                            elif t == 18 and d[ke] == 1 and d[ke + 1] < 0x40:
                                vs = ke + 2             # one node: container, listpack
                            else:
                                break
                            vb = d[vs]
                            if vb < 0x40:
                                ve = vs + 1 + vb
                                if ve > nd:
                                    break
                                if set_route and not t:
                                    append(join((set_heads[b], d[q + 2:ke], value_mids[vb],
                                                 d[vs + 1:ve], set_tail)))
                                    q = ve
                                    continue
                            elif vb < 0x80:
                                ve = vs + 2 + (((vb & 0x3F) << 8) | d[vs + 1])
                                if ve > nd:
                                    break
                                if set_route and not t:
                                    append(join((set_heads[b], d[q + 2:ke], b"\r\n",
                                                 _bulk_header(ve - vs - 2), d[vs + 2:ve],
                                                 set_tail)))
                                    q = ve
                                    continue
                            elif vb == 0xC3:            # LZF: travels as stored
                                ve = _skip_str(d, vs)
                                if ve > nd:
                                    break
                            else:
                                break
                            body = type_bytes[t] + d[ke:ve] + tag
                            plen = ve - ke + 11
                            append(join((restore_heads[b], d[q + 2:ke], plain_mid,
                                         hdr[plen] if plen < _HDR_MAX else b"$%d\r\n" % plen,
                                         body, u64(calc(body, 0)), plain_tail)))
                            q = ve
                    except (IndexError, NeedMore, Bad):
                        pass            # the long way below refills, or reports the damage
                    got = len(bulk_cmds) - before
                    if got:
                        if not before:
                            bulk_first, bulk_db = n + 1, kdb
                        n += got
                        p = q
                        if got == room:
                            continue
                start = p
                key = None
                try:
                    t = d[p]
                    expire = None
                    idle = freq = None
                    if t >= 0xF0:
                        if t == 0xFA:          # AUX
                            p = _skip_str(d, _skip_str(d, p + 1))
                            if p > len(d):
                                raise IndexError
                            continue
                        if t == 0xFE:          # SELECTDB
                            db, p = read_len(d, p + 1)
                            kdb = db if target_db is None else target_db
                            runs = dbs is None or db in dbs
                            continue
                        if t == 0xFB:          # RESIZEDB
                            _a, p = read_len(d, p + 1)
                            pl.report.keys_expected += _a
                            _b, p = read_len(d, p)
                            continue
                        if t == 0xF5:          # FUNCTION2
                            code, p = read_string(d, p + 1)
                            if bulk_cmds:
                                yield self._bulk(bulk_first, bulk_db, bulk_cmds)
                                bulk_cmds = []
                            n += 1
                            yield pl.function_unit(n, Function(code))
                            continue
                        if t == 0xFF:          # EOF and CRC
                            if p + 9 > len(d):
                                raise IndexError
                            crc = crc64(d[:p + 1], crc)
                            stored = _U64.unpack_from(d, p + 1)[0]
                            if stored and stored != crc:
                                from rdbtools.errors import ChecksumError

                                raise ChecksumError(stored, crc, base + p + 1,
                                                    phase="check-sum", path=self.path)
                            if bulk_cmds:
                                yield self._bulk(bulk_first, bulk_db, bulk_cmds)
                            self.end_offset = base + p + 9
                            return
                        while t >= 0xF0:
                            if t == 0xFC:
                                expire = _I64.unpack_from(d, p + 1)[0]
                                p += 9
                            elif t == 0xFD:
                                expire = _I32.unpack_from(d, p + 1)[0] * 1000
                                p += 5
                            elif t == 0xF8:
                                idle, p = read_len(d, p + 1)
                            elif t == 0xF9:
                                freq = d[p + 1]
                                p += 2
                            else:
                                raise _SkimAbort
                            t = d[p]
                    kstart = p + 1
                    b = d[kstart]
                    if b < 0x40:
                        kend = kstart + 1 + b
                        key = d[kstart + 1:kend]
                    else:
                        key, kend = read_string(d, kstart)
                    try:
                        if t == 0:      # strings: most keys, stepped over right here
                            b = d[kend]
                            vend = kend + 1 + b if b < 0x40 else _skip_str(d, kend)
                        elif t in blob_types:
                            vend = _skip_str(d, kend)
                        else:
                            vend = _skip_value(d, kend, t)
                        simple = True
                    except _SkimAbort:
                        simple = False
                        reader = VALUE_READERS.get(t)
                        if reader is None:
                            raise
                        value, fexp, vend = reader(d, kend, None)
                    if vend > nd:
                        raise IndexError
                except (IndexError, NeedMore, struct.error):
                    if eof:
                        from rdbtools.errors import TruncatedError

                        raise TruncatedError("unexpected end of file", base + len(d),
                                             valid_up_to=base + start, path=self.path,
                                             phase="read-object-value" if key is not None
                                             else "read-type", key=key) from None
                    crc = crc64(d[:start], crc)
                    more = f.read(max(self.chunk, len(d) - start))
                    if not more:
                        eof = True
                    d = d[start:] + more
                    nd = len(d)
                    base += start
                    p = 0
                    continue
                except Bad as e:
                    raise e.cls(e.reason, base + e.at, path=self.path, key=key,
                                phase="read-object-value" if key is not None
                                else "read-key") from None
                except _SkimAbort as e:
                    # hand over to the full parser; what was gathered goes first
                    if bulk_cmds:
                        yield self._bulk(bulk_first, bulk_db, bulk_cmds)
                    raise e
                p = vend
                n += 1
                if dbs is not None and db not in dbs:
                    if bulk_cmds:
                        yield self._bulk(bulk_first, bulk_db, bulk_cmds)
                        bulk_cmds = []
                    yield Unit(n, n, [], J_NONE, kdb, kdb, key, outcome="filtered")
                    continue
                stored_expire = expire
                if ttl_active and expire is not None:
                    expire = opts.ttl.apply(expire)
                if not simple or (expire is not None and expire < now):
                    # the general per-key path decides (expired, field TTLs, streams...)
                    if simple:
                        from rdbtools.reader import decode_value_at

                        value, fexp, _e = decode_value_at(t, d[kend:vend], key=key,
                                                          offset_base=base + kend)
                    rec = KeyRecord(db, key, RdbType(t), value, stored_expire, idle, freq,
                                    fexp, base + start, base + vend)
                    if bulk_cmds:
                        yield self._bulk(bulk_first, bulk_db, bulk_cmds)
                        bulk_cmds = []
                    yield pl.key_unit(n, rec, d[start:vend])
                    continue
                if set_route and t == 0 and expire is None and idle is None \
                        and freq is None and d[kend] < 0xC0:
                    # a string stored raw (not as an integer, not LZF): SET key value
                    b = d[kend]
                    vstart = kend + (1 if b < 0x40 else 2 if b < 0x80 else 5 if b == 0x80
                                     else 9)
                    cmd = join((set_head, _bulk_header(len(key)), key, b"\r\n",
                                _bulk_header(vend - vstart), d[vstart:vend], set_tail))
                    if bulk_cmds and (kdb != bulk_db or len(bulk_cmds) >= bulk_max):
                        yield self._bulk(bulk_first, bulk_db, bulk_cmds)
                        bulk_cmds = []
                    if not bulk_cmds:
                        bulk_first, bulk_db = n, kdb
                    bulk_cmds.append(cmd)
                    continue
                body = type_bytes[t] + d[kend:vend] + tag
                if expire is None and idle is None and freq is None:
                    klen = len(key)
                    plen = len(body) + 8
                    if klen < _HDR_MAX and plen < _HDR_MAX:   # the common case, no formatting
                        cmd = join((plain_head, hdr[klen], key, plain_mid, hdr[plen], body,
                                    u64(calc(body, 0)), plain_tail))
                    else:
                        payload = body + u64(calc(body, 0))
                        cmd = restore_plain % (klen, key, len(payload), payload)
                    if bulk_cmds and (kdb != bulk_db or len(bulk_cmds) >= bulk_max):
                        yield self._bulk(bulk_first, bulk_db, bulk_cmds)
                        bulk_cmds = []
                    if not bulk_cmds:
                        bulk_first, bulk_db = n, kdb
                    bulk_cmds.append(cmd)
                    continue
                payload = body + u64(calc(body, 0))
                if expire is None:
                    ttl, tail, argc = b"0", replace_tail, argc_plain
                else:
                    ttl, tail, argc = b"%d" % expire, tail_abs, argc_abs
                if idle is not None:
                    sidle = b"%d" % idle
                    tail += b"$8\r\nIDLETIME\r\n$%d\r\n%s\r\n" % (len(sidle), sidle)
                    argc += 2
                elif freq is not None:
                    sfreq = b"%d" % freq
                    tail += b"$4\r\nFREQ\r\n$%d\r\n%s\r\n" % (len(sfreq), sfreq)
                    argc += 2
                if bulk_cmds and (kdb != bulk_db or len(bulk_cmds) >= bulk_max):
                    yield self._bulk(bulk_first, bulk_db, bulk_cmds)
                    bulk_cmds = []
                if not bulk_cmds:
                    bulk_first, bulk_db = n, kdb
                bulk_cmds.append(restore_fmt % (argc, len(key), key, len(ttl), ttl, len(payload),
                                                payload, tail))
        finally:
            f.close()

    @staticmethod
    def _bulk(first: int, db: int, cmds: list) -> Unit:
        return Unit(first, first + len(cmds) - 1, cmds, J_BULK, db, db, None)
