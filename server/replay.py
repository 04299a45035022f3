"""Replay a backup (RDB, AOF in any layout, rdbkit JSON; `.lz4` or not) into a live server.

The work splits in two. A *planner* turns the source into numbered units: one per key,
function library or AOF command (a MULTI ... EXEC block is one unit). Numbers count
source items, not wire commands, so they stay the same whatever the mode, TTL policy or
clock says; that is what makes `resume_from` land on the same item in a second run. A
*sender* packs units into pipelined windows, writes them over one or more connections,
and judges every unit from its replies (written, skipped, expired, failed).

Keys travel either as `RESTORE` with a DUMP payload written for the target's own RDB
version, or as plain commands (the AOF-rewrite forms of `rdbtools.render.resp`) built
under a temporary name and renamed into place, so a key is never seen half-built and a
unit can be sent again without doubling anything. On the first failure the sender stops
handing out new windows, drains what is in flight and reports the item to resume from.
With `on_existing="fail"` the keys of a window are checked with `EXISTS` before it is
sent, so nothing after the failing key has run when the replay stops.

Speed comes from not decoding what need not be decoded: when an RDB file is no newer
than the target, the bytes of each stored value already are a DUMP payload body for the
file's version. A skimmer steps over values by their structure, packs runs of keys into
bulk units of RESTOREs, and leaves to the full reader only what it does not handle.
Windows whose replies should all be `+OK` are checked on the raw reply bytes. As with
the streaming reader, the file CRC is known only at its end, after its keys were sent.
"""

from __future__ import annotations

import os
import secrets
import struct
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator

from rdbtools import fileio
from rdbtools._crc import _MODEL as _CRC_MODEL, crc64
from rdbtools._values import VALUE_READERS, Bad, NeedMore, read_len, read_string
from rdbtools.constants import TYPE_KIND, U16 as _U16, U64 as _U64, Kind, RdbType
from rdbtools.errors import FormatError, RdbkitError
from rdbtools.filters import KeyFilter
from rdbtools.records import Aux, End, Function, KeyRecord, ResizeDb

from ._client import Connection, ConnectionLost, ReplyError, Target, encode, info_fields

__all__ = ["ReplayOptions", "ReplayReport", "Failure", "TtlPolicy", "ReplayError", "replay",
           "rdb_version_for", "MODES", "ON_EXISTING", "iter_source", "plan"]

MODES = ("auto", "restore", "commands")
ON_EXISTING = ("replace", "skip", "fail")

#: Default number of wire commands per pipelined window.
DEFAULT_PIPELINE = 1000
#: A window is sent once it holds this many bytes, whatever its command count.
WINDOW_MAX_BYTES = 8 << 20

#: First release of each RDB version (formats.md §1.1); newer releases keep the last one
#: until the next row. Valkey answers `redis_version:7.2.4`, which lands on 11, as it should.
_RDB_BY_RELEASE = (
    ((2, 6), 6), ((3, 2), 7), ((4, 0), 8), ((5, 0), 9), ((7, 0), 10), ((7, 2), 11),
    ((7, 4), 12), ((8, 6), 13), ((8, 8), 14),
)


class ReplayError(RdbkitError):
    """A replay request that cannot be carried out (bad option mix, unreadable source)."""


def rdb_version_for(redis_version: str) -> int | None:
    """RDB version a Redis release writes (and the newest its RESTORE accepts).

    None for releases without DUMP/RESTORE (before 2.6) or unparsable versions."""
    try:
        nums = tuple(int(x) for x in redis_version.strip().split(".")[:2])
    except ValueError:
        return None
    if len(nums) < 2:
        nums = (nums + (0,))[:2] if nums else None
    if not nums:
        return None
    found = None
    for release, version in _RDB_BY_RELEASE:
        if nums >= release:
            found = version
    return found


@dataclass(frozen=True)
class TtlPolicy:
    """`keep` expiries as stored, `drop` them, or `shift` every one by `shift_ms`."""

    action: str = "keep"
    shift_ms: int = 0

    @classmethod
    def parse(cls, text: str) -> "TtlPolicy":
        text = text.strip()
        if text in ("keep", "drop"):
            return cls(text)
        if text.startswith("shift:"):
            amount = text[6:]
            body = amount[1:] if amount[:1] in "+-" else amount
            if body.isdigit():
                return cls("shift", int(amount) * 1000)
        raise ValueError(f"bad TTL policy {text!r}: keep, drop or shift:+SECONDS")

    def apply(self, ms: int | None) -> int | None:
        if ms is None or self.action == "keep":
            return ms
        if self.action == "drop":
            return None
        return ms + self.shift_ms

    def apply_fields(self, field_expires: dict | None) -> dict | None:
        if not field_expires or self.action == "keep":
            return field_expires
        if self.action == "drop":
            return None
        return {f: (t + self.shift_ms if t is not None else None)
                for f, t in field_expires.items()}


@dataclass
class ReplayOptions:
    mode: str = "auto"
    on_existing: str = "replace"
    ttl: TtlPolicy = field(default_factory=TtlPolicy)
    key_filter: KeyFilter | None = None
    skip_expired: bool = False
    target_db: int | None = None
    pipeline: int = DEFAULT_PIPELINE
    connections: int = 1
    resume_from: int = 1
    rdb_version: int | None = None  # payload version; default: the target's own
    lossy: bool = False
    verify: bool = False            # decode every value before sending (no skimming)
    now_ms: int | None = None
    timeout: float = 60.0

    def check(self) -> None:
        if self.mode not in MODES:
            raise ReplayError(f"unknown mode {self.mode!r} (one of {', '.join(MODES)})")
        if self.on_existing not in ON_EXISTING:
            raise ReplayError(f"unknown --on-existing {self.on_existing!r}")
        if self.pipeline < 1 or self.connections < 1 or self.resume_from < 1:
            raise ReplayError("pipeline, connections and resume-from must be >= 1")


@dataclass
class Failure:
    """Where a replay stopped. `resume_from` is the item to pass to `--resume-from`."""

    number: int
    resume_from: int
    error: str
    key: bytes | None = None
    db: int | None = None
    #: later items already sent (and so applied by the server) when the failure was seen
    sent_after: int = 0


@dataclass
class ReplayReport:
    source: str = ""
    mode: str = ""
    rdb_version: int | None = None
    server_version: str | None = None
    resumed_from: int = 1
    items: int = 0              # items handled in this run (numbers >= resumed_from)
    last_number: int = 0        # highest item number judged
    keys_written: int = 0
    keys_skipped: int = 0       # present on the target (--on-existing skip)
    keys_expired: int = 0       # already expired: not created (replace: deleted)
    keys_filtered: int = 0      # left out by --db/--key/--type/--skip-expired
    keys_expected: int = 0      # keys announced by the RDB's RESIZEDB hints seen so far
    keys_failed: int = 0
    functions_written: int = 0
    functions_skipped: int = 0
    commands_applied: int = 0   # AOF commands (MULTI blocks count each command)
    commands_failed: int = 0
    wire_commands: int = 0      # everything sent, SELECTs and temporaries included
    seconds: float = 0.0
    failure: Failure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def written(self) -> int:
        return self.keys_written + self.functions_written + self.commands_applied

    @property
    def skipped(self) -> int:
        return self.keys_skipped + self.functions_skipped + self.keys_expired + self.keys_filtered

    @property
    def failed(self) -> int:
        return self.keys_failed + self.commands_failed

    def as_dict(self) -> dict:
        d = {k: getattr(self, k) for k in (
            "source", "mode", "rdb_version", "server_version", "resumed_from", "items",
            "last_number", "keys_written", "keys_skipped", "keys_expired", "keys_filtered",
            "keys_failed", "functions_written", "functions_skipped", "commands_applied",
            "commands_failed", "wire_commands", "seconds")}
        d["ok"] = self.ok
        if self.failure is not None:
            f = self.failure
            d["failure"] = {"number": f.number, "resume_from": f.resume_from,
                            "error": f.error, "db": f.db, "sent_after": f.sent_after,
                            "key": f.key.decode("utf-8", "backslashreplace")
                            if f.key is not None else None}
        return d


# ---------------------------------------------------------------------------------------
# Sources: one stream of ("rec", record) and ("cmd", aofcheck Command) items

def _is_manifest_file(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    if head[:1] not in (b"#", b"f"):
        return False    # a manifest opens with a comment or a `file` line
    from aofcheck.layout import is_manifest

    return is_manifest(head)


def source_kind(path: str) -> str:
    """`multi-part`, `rdb`, `json` or `resp` (what the first bytes say)."""
    if os.path.isdir(path) or _is_manifest_file(path):
        return "multi-part"
    with fileio.open_input(path) as f:
        head = f.read(64)
    from rdbtools.convert import sniff

    kind = sniff(head)
    if kind is None and head:
        raise ReplayError(f"{path}: neither an RDB file, an AOF nor rdbkit JSON")
    return kind or "resp"


def iter_source(path: str) -> Iterator[tuple[str, object]]:
    """Records and AOF commands of `path`, in load order (manifest order for a folder)."""
    if os.path.isdir(path) or _is_manifest_file(path):
        from aofcheck import layout
        from aofcheck.manifest import parse_manifest

        try:
            lay = layout.detect(path)
        except layout.LayoutError as e:
            raise ReplayError(str(e)) from e
        if lay.kind != layout.MULTI_PART:
            yield from _iter_file(lay.path)
            return
        with open(lay.path, "rb") as f:
            manifest = parse_manifest(f.read(), path=lay.path)
        for info in manifest.files_to_load():
            yield from _iter_file(os.path.join(lay.dirpath, info.fsname))
        return
    yield from _iter_file(path)


def _iter_file(path: str) -> Iterator[tuple[str, object]]:
    from rdbtools.convert import sniff

    with fileio.open_input(path) as f:
        head = f.read(64)
    if not head:
        return
    kind = sniff(head)
    if kind == "json":
        from rdbtools.convert import open_records

        _fmt, records, close = open_records(path)
        try:
            for rec in records:
                yield "rec", rec
        finally:
            close()
        return
    if kind == "rdb":
        end = yield from _iter_rdb(path)
        if end is None:
            return
        skip = end  # an RDB preamble: RESP commands may follow its CRC
    elif kind == "resp" or head[:1] == b"#":
        skip = 0
    else:
        raise ReplayError(f"{path}: neither an RDB file, an AOF nor rdbkit JSON")
    yield from _resp_tail(path, skip)


def _resp_tail(path: str, skip: int) -> Iterator[tuple[str, object]]:
    """("cmd", Command) for the RESP records of `path` from byte `skip` on."""
    from aofcheck.resp import Annotation, iter_events

    with fileio.open_input(path) as f:
        _skip_bytes(f, skip)
        first = f.read(1)
        if first not in (b"*", b"#"):
            return  # bytes after an RDB's CRC that are not RESP: ignored, as Redis does
        stream = _Prepend(first, f)
        for ev in iter_events(stream, base_offset=skip, path=path):
            if type(ev) is not Annotation:
                yield "cmd", ev


class _Tee:
    """A binary stream that keeps what was read, so records can be cut out of it raw."""

    def __init__(self, raw) -> None:
        self.raw = raw
        self.buf = bytearray()
        self.base = 0           # absolute offset of buf[0]

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.buf += data
        return data

    def slice(self, start: int, end: int) -> bytes:
        return bytes(self.buf[start - self.base:end - self.base])

    def trim(self, upto: int) -> None:
        """Forget bytes before absolute offset `upto` (once enough piled up)."""
        cut = upto - self.base
        if cut > _TEE_TRIM:
            del self.buf[:cut]
            self.base = upto


#: Keep at most about this much already-parsed input in `_Tee`.
_TEE_TRIM = 4 << 20


def _iter_rdb(path: str):
    """("rdb", Header) first, then ("key", (record, raw bytes)) for keys and ("rec", record)
    for the rest; returns the End record's end offset (None if there was none)."""
    from rdbtools.reader import iter_records
    from rdbtools.records import Header

    end = None
    with fileio.open_input(path) as f:
        tee = _Tee(f)
        for rec in iter_records(tee):
            cls = type(rec)
            if cls is KeyRecord:
                if rec.offset >= 0:
                    yield "key", (rec, tee.slice(rec.offset, rec.end))
                    tee.trim(rec.end)
                else:
                    yield "key", (rec, None)
                continue
            if cls is End:
                end = rec.end
            elif cls is Header:
                yield "rdb", rec
            yield "rec", rec
    return end


def _value_span(raw: bytes) -> int | None:
    """Index of the type byte in a raw key record (after expire/idle/freq), or None."""
    p = 0
    t = raw[0]
    while t >= 0xF0:
        if t == 252:
            p += 9
        elif t == 253:
            p += 5
        elif t == 249:
            p += 2
        elif t == 248:
            _n, p = read_len(raw, p + 1)
        else:
            return None
        t = raw[p]
    return p


def _skip_bytes(f, n: int) -> None:
    try:
        f.seek(n)
        return
    except (OSError, AttributeError, ValueError):
        pass
    while n > 0:
        got = f.read(min(n, 1 << 20))
        if not got:
            return
        n -= len(got)


class _Prepend:
    def __init__(self, head: bytes, rest) -> None:
        self.head, self.rest = head, rest

    def read(self, n: int = -1) -> bytes:
        if self.head:
            data, self.head = self.head, b""
            return data + self.rest.read(max(n - len(data), 0) if n and n > 0 else -1)
        return self.rest.read(n)


# ---------------------------------------------------------------------------------------
# Planning: source items -> numbered units

_STRING_TYPE = RdbType.STRING
_COLLECTIONS = (Kind.LIST, Kind.SET, Kind.ZSET, Kind.HASH)
_I32 = struct.Struct("<i")
_I64 = struct.Struct("<q")

# Judges: how a unit's replies become an outcome.
J_NONE, J_RESTORE, J_TMP, J_TMP_NX, J_EXPIRED, J_FUNCTION, J_AOF, J_BULK, J_SET = range(9)


@dataclass(slots=True)
class Unit:
    number: int
    last: int                 # last item number it covers (MULTI blocks span several)
    cmds: list                # encoded commands (bytes)
    judge: int
    db: int | None = None     # database it must run in; None: any
    end_db: int | None = None  # database its own SELECTs leave the connection in
    key: bytes | None = None
    barrier: bool = False     # send alone: nothing after it may run before it is judged
    outcome: str | None = None  # decided without the server (filtered, failed, expired)
    error: str | None = None
    kind: str = "key"         # key, function, aof

    @property
    def check_exists(self) -> bool:
        return self.kind == "key" and self.judge in (J_RESTORE, J_SET, J_TMP_NX) \
            and self.cmds != []

    def item_key(self, i: int) -> bytes | None:
        """Key of the unit's `i`-th item (a bulk unit holds one per command; keys are
        read back from the commands, which only failure reports need)."""
        if self.judge == J_BULK:
            return _command_key(self.cmds[i])
        return self.key

    def item_keys(self) -> list:
        return [self.item_key(i) for i in range(self.last - self.number + 1)]


def _command_key(cmd: bytes) -> bytes:
    """The first argument (the key) of one encoded RESTORE or SET command."""
    p = cmd.index(b"\r\n") + 2                     # after *<argc>
    p = cmd.index(b"\r\n", p) + 2                  # after $<len of name>
    p = cmd.index(b"\r\n", p) + 2                  # after the name
    e = cmd.index(b"\r\n", p)
    start = e + 2
    return cmd[start:start + int(cmd[p + 1:e])]


def _bulk_header(n: int) -> bytes:
    return _BULK_HEADERS[n] if n < _HDR_MAX else b"$%d\r\n" % n


class _Planner:
    def __init__(self, opts: ReplayOptions, rdb_version: int | None, now_ms: int) -> None:
        self.opts = opts
        self.version = rdb_version
        self.now = now_ms
        self.token = secrets.token_hex(4).encode()
        f = opts.key_filter
        self.accepts = None if f is None or f.is_noop else f.accepts
        self.key_filtering = f is not None and (f.key is not None or f.not_key is not None
                                                or f.kinds is not None)
        self.dbs = f.dbs if f is not None else None
        self.target_db = opts.target_db
        self.raw_tag = None
        self.ttl_active = opts.ttl.action != "keep"
        # strings go the short way when they would be RESTOREd at all
        self.fast_strings = rdb_version is not None and opts.mode != "commands"
        # auto: plain strings travel as SET (the target spends less on it than on
        # RESTORE, and the client builds it without a CRC)
        self.set_strings = opts.mode == "auto"
        nx = opts.on_existing != "replace"
        self.set_head = b"*4\r\n$3\r\nSET\r\n" if nx else b"*3\r\n$3\r\nSET\r\n"
        self.set_tail = b"\r\n$2\r\nNX\r\n" if nx else b"\r\n"
        if rdb_version is not None:
            self.version_tag = _U16.pack(rdb_version)
        replace_opt = b"$7\r\nREPLACE\r\n" if opts.on_existing == "replace" else b""
        self.tail_plain = replace_opt
        self.tail_abs = replace_opt + b"$6\r\nABSTTL\r\n"
        self.argc_plain = 4 + bool(replace_opt)
        self.argc_abs = self.argc_plain + 1
        self.renderer = None      # made on first use: most replays never render commands

    def can_skim(self, path: str) -> bool:
        """Can `_Skimmer` plan this source (it re-checks the file's own version)?"""
        if self.version is None or self.version < 6 or self.opts.mode == "commands":
            return False
        if self.key_filtering or self.opts.on_existing == "fail" or self.opts.verify:
            return False
        return os.path.isfile(path) and source_kind(path) == "rdb"

    def db_for(self, db: int) -> int:
        return self.opts.target_db if self.opts.target_db is not None else db

    # -- keys ---------------------------------------------------------------------
    def file_version(self, header) -> None:
        """Values of an RDB file no newer than the target travel as they are stored."""
        v = header.version
        self.raw_tag = None
        if (not header.is_valkey_numbering and self.version is not None
                and v <= self.version and self.opts.mode != "commands"
                and self.version >= 6):
            self.raw_tag = _U16.pack(v)

    def key_unit(self, n: int, rec: KeyRecord, raw: bytes | None = None) -> Unit:
        opts = self.opts
        db = rec.db if self.target_db is None else self.target_db
        if self.accepts is not None and not self.accepts(rec):
            return Unit(n, n, [], J_NONE, db, db, rec.key, outcome="filtered")
        expire = rec.expire_ms
        if self.ttl_active:
            expire = opts.ttl.apply(expire)
            fexp = opts.ttl.apply_fields(rec.field_expires)
            if expire != rec.expire_ms or fexp is not rec.field_expires:
                rec = replace(rec, expire_ms=expire, field_expires=fexp)
        if rec.kind in _COLLECTIONS and not rec.value:
            # loaders skip empty collections (and RESTORE refuses them): left out
            return Unit(n, n, [], J_NONE, db, db, rec.key, outcome="filtered")
        if expire is not None and expire < self.now:
            if opts.skip_expired:
                return Unit(n, n, [], J_NONE, db, db, rec.key, outcome="filtered")
            if opts.on_existing == "replace":
                return Unit(n, n, [encode(b"DEL", rec.key)], J_EXPIRED, db, db, rec.key)
            return Unit(n, n, [], J_NONE, db, db, rec.key, outcome="expired")
        if rec.type is _STRING_TYPE and self.set_strings and expire is None \
                and rec.idle is None and rec.freq is None:
            return Unit(n, n, [self.set_command(rec.key, rec.value)], J_SET, db, db, rec.key)
        if raw is not None and self.raw_tag is not None and not (
                self.ttl_active and rec.field_expires):
            # The hot path: the value bytes of the file are already a DUMP payload body
            # for its version, which the target reads (payloads of older versions load).
            t = _value_span(raw)
            if t is not None:
                _key, p = read_string(raw, t + 1)
                body = raw[t:t + 1] + raw[p:] + self.raw_tag
                return Unit(n, n, [self.restore_command(rec, expire, body + _U64.pack(crc64(body)))],
                            J_RESTORE, db, db, rec.key)
        if rec.type is _STRING_TYPE and self.fast_strings:
            # A string's payload needs no encoder; it is left uncompressed, RESTORE takes
            # it as it is.
            return Unit(n, n, [self.restore_string(rec, expire)], J_RESTORE, db, db, rec.key)
        unit = Unit(n, n, [], J_NONE, db, db, rec.key)
        if self.use_restore(rec):
            self.restore_unit(unit, rec)
        else:
            self.commands_unit(unit, rec)
        return unit

    def set_command(self, key: bytes, value: bytes) -> bytes:
        """`SET key value` (`NX` unless existing keys are replaced)."""
        return b"".join((self.set_head, _bulk_header(len(key)), key, b"\r\n",
                         _bulk_header(len(value)), value, self.set_tail))

    def restore_string(self, rec: KeyRecord, expire: int | None) -> bytes:
        value = rec.value
        n = len(value)
        if n >= 64:
            from rdbtools.writer import encode_len
        body = (b"\x00" + (bytes((n,)) if n < 64 else encode_len(n, self.version)) + value
                + self.version_tag)
        return self.restore_command(rec, expire, body + _U64.pack(crc64(body)))

    def restore_command(self, rec: KeyRecord, expire: int | None, payload: bytes) -> bytes:
        key = rec.key
        if expire is None:
            ttl, tail, argc = b"0", self.tail_plain, self.argc_plain
        else:
            ttl, tail, argc = b"%d" % expire, self.tail_abs, self.argc_abs
        if rec.idle is not None:
            idle = b"%d" % rec.idle
            tail += b"$8\r\nIDLETIME\r\n$%d\r\n%s\r\n" % (len(idle), idle)
            argc += 2
        elif rec.freq is not None:
            freq = b"%d" % rec.freq
            tail += b"$4\r\nFREQ\r\n$%d\r\n%s\r\n" % (len(freq), freq)
            argc += 2
        return b"*%d\r\n$7\r\nRESTORE\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n%s" % (
            argc, len(key), key, len(ttl), ttl, len(payload), payload, tail)

    def use_restore(self, rec: KeyRecord) -> bool:
        mode = self.opts.mode
        if rec.kind == Kind.MODULE:
            return True   # only a payload can carry a module value
        if mode == "commands":
            return False
        if mode == "restore":
            return True
        if self.version is None:
            return False
        from rdbtools._downgrade import check_key

        return not check_key(rec, self.version)

    def restore_unit(self, unit: Unit, rec: KeyRecord) -> None:
        from rdbtools._downgrade import check_key, strip_key
        from rdbtools.payload import create_payload

        version = self.version
        if version is None:
            unit.outcome, unit.error = "failed", ("the target's RDB version is unknown: "
                                                  "pass --rdb-version or --mode commands")
            return
        losses = check_key(rec, version)
        if losses:
            if not self.opts.lossy:
                unit.outcome = "failed"
                unit.error = ("RDB %d cannot hold it: %s (pass --lossy to drop that, or "
                              "--mode commands)" % (version, "; ".join(x.what for x in losses)))
                return
            rec = strip_key(rec, version)
            if rec is None:
                unit.outcome = "filtered"
                return
        try:
            payload = create_payload(rec.kind, rec.value, version=version,
                                     field_expires=rec.field_expires)
        except RdbkitError as e:
            unit.outcome, unit.error = "failed", f"cannot build a DUMP payload: {e}"
            return
        args = [b"RESTORE", rec.key, b"0" if rec.expire_ms is None else b"%d" % rec.expire_ms,
                payload]
        if self.opts.on_existing == "replace":
            args.append(b"REPLACE")
        if rec.expire_ms is not None:
            args.append(b"ABSTTL")
        if rec.idle is not None:
            args += [b"IDLETIME", b"%d" % rec.idle]
        elif rec.freq is not None:
            args += [b"FREQ", b"%d" % rec.freq]
        unit.cmds = [encode(*args)]
        unit.judge = J_RESTORE

    def commands_unit(self, unit: Unit, rec: KeyRecord) -> None:
        if self.renderer is None:
            from rdbtools.render.resp import RespRenderer

            self.renderer = RespRenderer(None)
        tmp = b"rdbkit-replay:" + self.token + b":" + rec.key
        try:
            build = self.renderer.key_commands(replace(rec, key=tmp))
        except (ValueError, RdbkitError) as e:
            unit.outcome, unit.error = "failed", f"cannot render as commands: {e}"
            return
        cmds = [encode(b"DEL", tmp)]
        cmds += build
        if self.opts.on_existing == "replace":
            cmds.append(encode(b"RENAME", tmp, rec.key))
            unit.judge = J_TMP
        else:
            cmds.append(encode(b"RENAMENX", tmp, rec.key))
            cmds.append(encode(b"DEL", tmp))
            unit.judge = J_TMP_NX
        unit.cmds = cmds

    # -- functions ------------------------------------------------------------------
    def function_unit(self, n: int, rec: Function) -> Unit:
        args = [b"FUNCTION", b"LOAD"]
        if self.opts.on_existing == "replace":
            args.append(b"REPLACE")
        args.append(rec.code)
        return Unit(n, n, [encode(*args)], J_FUNCTION, None, None, rec.library_name,
                    barrier=True, kind="function")


def plan(path: str, opts: ReplayOptions, rdb_version: int | None,
         now_ms: int, report: ReplayReport | None = None) -> Iterator[Unit]:
    """Numbered units for `path`; numbering starts at 1 and counts every key record,
    function and AOF command of the source, filtered or not. `report.keys_expected`
    follows the file's size hints (for progress display)."""
    planner = _Planner(opts, rdb_version, now_ms)
    planner.report = report if report is not None else ReplayReport()
    if planner.can_skim(path):
        skimmer = _Skimmer(planner, path)
        done = 0
        try:
            for u in skimmer.units():
                done = u.last
                yield u
        except _SkimAbort:
            # something the skimmer leaves to the reader: replan everything after `done`
            for u in _plan_items(planner, iter_source(path), now_ms):
                if u.number > done:
                    yield u
            return
        if skimmer.end_offset is not None:
            yield from _plan_items(planner, _resp_tail(path, skimmer.end_offset), now_ms,
                                   start=done)
        return
    yield from _plan_items(planner, iter_source(path), now_ms)


def _plan_items(planner: "_Planner", items, now_ms: int, start: int = 0) -> Iterator[Unit]:
    opts = planner.opts
    n = start
    aof_db = 0
    block: Unit | None = None  # an open MULTI block
    ttl = opts.ttl
    for tag, item in items:
        if tag == "key":
            n += 1
            yield planner.key_unit(n, item[0], item[1])
            continue
        if tag == "rdb":
            planner.file_version(item)
            continue
        if tag == "rec":
            cls = type(item)
            if cls is KeyRecord:
                n += 1
                yield planner.key_unit(n, item)
            elif cls is Function:
                n += 1
                yield planner.function_unit(n, item)
            elif cls is ResizeDb:
                planner.report.keys_expected += item.db_size
            elif cls is Aux and planner.key_filtering and item.key in (b"aof-preamble", b"aof-base") \
                    and item.value == b"1":
                raise ReplayError("--key/--not-key/--type need an RDB or JSON source: AOF "
                                  "commands cannot be filtered by key (--db can)")
            continue
        # an AOF command
        n += 1
        if planner.key_filtering:
            raise ReplayError("--key/--not-key/--type need an RDB or JSON source: AOF "
                              "commands cannot be filtered by key (--db can)")
        args = item.args
        name = args[0].lower()
        if block is not None:
            block.last = n
            if planner.dbs is not None and aof_db not in planner.dbs and \
                    name not in (b"exec", b"select"):
                continue
            if name == b"select" and len(args) == 2 and args[1].isdigit():
                aof_db = int(args[1])
                args = [args[0], b"%d" % planner.db_for(aof_db)]
                block.end_db = planner.db_for(aof_db)
            else:
                args = _ttl_args(args, ttl, now_ms)
            if args is not None:
                block.cmds.append(encode(*args))
            if name == b"exec":
                yield block
                block = None
            continue
        if name == b"select" and len(args) == 2 and args[1].isdigit():
            aof_db = int(args[1])
            yield Unit(n, n, [], J_AOF, None, None, kind="aof", outcome="applied")
            continue
        db = planner.db_for(aof_db)
        if planner.dbs is not None and aof_db not in planner.dbs and name != b"multi":
            yield Unit(n, n, [], J_AOF, db, db, kind="aof", outcome="filtered")
            continue
        if name == b"multi":
            block = Unit(n, n, [encode(*args)], J_AOF, db, db, kind="aof", barrier=False)
            continue
        args = _ttl_args(args, ttl, now_ms)
        if args is None:
            yield Unit(n, n, [], J_AOF, db, db, kind="aof", outcome="applied")
            continue
        yield Unit(n, n, [encode(*args)], J_AOF, db, db, kind="aof")
    if block is not None:
        raise ReplayError(f"the AOF ends inside MULTI (item {block.number}): not replayed")


_EXPIRE_CMDS = {b"expire": 1000, b"pexpire": 1, b"expireat": 1000, b"pexpireat": 1}


def _ttl_args(args: list, ttl: TtlPolicy, now_ms: int) -> list | None:
    """An AOF command with the TTL policy applied (None: leave the command out).

    Covers what an AOF holds: the propagated forms (PEXPIREAT, SET ... PXAT, RESTORE ...
    ABSTTL) and the relative forms older AOFs carry (EXPIRE, SET EX, SETEX, ...)."""
    if ttl.action == "keep":
        return args
    name = args[0].lower()
    shift = ttl.shift_ms
    drop = ttl.action == "drop"
    if name in _EXPIRE_CMDS and len(args) >= 3:
        if drop:
            return None
        unit = _EXPIRE_CMDS[name]
        return _shifted(args, 2, shift, unit)
    if name in (b"setex", b"psetex") and len(args) == 4:
        if drop:
            return [b"SET", args[1], args[3]]
        return _shifted(args, 2, shift, 1000 if name == b"setex" else 1)
    if name in (b"set", b"getex"):
        out = list(args)
        i = 3 if name == b"set" else 2
        while i < len(out):
            opt = out[i].lower()
            if opt in (b"ex", b"px", b"exat", b"pxat") and i + 1 < len(out):
                if drop:
                    del out[i:i + 2]
                    if name == b"getex":
                        out.insert(i, b"PERSIST")
                        i += 1
                    continue
                out = _shifted(out, i + 1, shift, 1000 if opt in (b"ex", b"exat") else 1)
                i += 2
                continue
            i += 1
        return out
    if name == b"restore" and len(args) >= 4 and args[2] != b"0":
        if drop:
            out = list(args)
            out[2] = b"0"
            return [a for a in out if a.lower() != b"absttl"]
        return _shifted(args, 2, shift, 1)
    return args


def _shifted(args: list, i: int, shift_ms: int, unit_ms: int) -> list:
    out = list(args)
    try:
        value = int(out[i])
    except ValueError:
        return out
    out[i] = b"%d" % (value + shift_ms // unit_ms)
    return out


# ---------------------------------------------------------------------------------------
# Skimming: the fast path for RDB files whose values can travel as stored

#: Keys per bulk unit (each one RESTORE; a bulk unit never outgrows one window).
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


#: "$<n>\r\n" for every n below _HDR_MAX: the skimmer's RESTOREs are built by joining
_HDR_MAX = 4096
_BULK_HEADERS = tuple(b"$%d\r\n" % n for n in range(_HDR_MAX))
#: "\r\n$<n>\r\n": the end of a SET's key and the header of a value shorter than 64
_VALUE_MIDS = tuple(b"\r\n$%d\r\n" % n for n in range(64))


class _Skimmer:
    """Walks an RDB file record by record without decoding values, turning runs of keys
    into bulk units of RESTOREs whose payloads are the stored value bytes.

    Used only when every value can travel as stored (file version <= target's, REDIS
    magic, RESTORE mode, no key/type filter, no --on-existing fail). Keys that need more
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
            runs = dbs is None            # may runs of plain strings take the tight loop?
            bulk_first = 0
            bulk_db = 0
            while True:
                if runs:
                    # Runs of keys without expiry or LRU/LFU data whose key is stored raw
                    # with a 6-bit length and whose value is one blob under 16 KB
                    # (strings, listpacks, ziplists, intsets, one-node quicklists: most
                    # keys of most files) become commands here, with nothing kept per
                    # key but the command.
                    # Anything else (or a record cut by the end of the buffer) ends the
                    # run and goes the long way below.
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
                                    append(join((set_head, hdr[b], d[q + 2:ke], value_mids[vb],
                                                 d[vs + 1:ve], set_tail)))
                                    q = ve
                                    continue
                            elif vb < 0x80:
                                ve = vs + 2 + (((vb & 0x3F) << 8) | d[vs + 1])
                                if ve > nd:
                                    break
                                if set_route and not t:
                                    append(join((set_head, hdr[b], d[q + 2:ke], b"\r\n",
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
                            append(join((plain_head, hdr[b], d[q + 2:ke], plain_mid,
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


# ---------------------------------------------------------------------------------------
# Sending

class _Stop(Exception):
    pass


@dataclass(slots=True)
class _Window:
    units: list
    spans: list               # per unit: (first reply index, count)
    n_replies: int
    conn: Connection


class _Sender:
    #: Windows of keys in flight per connection (AOF windows go one at a time): enough
    #: to keep the server busy across scheduling hiccups on a loaded machine.
    depth = 4

    def __init__(self, conns: list[Connection], opts: ReplayOptions, report: ReplayReport,
                 on_progress: Callable[[ReplayReport], None] | None) -> None:
        self.conns = conns
        self.opts = opts
        self.report = report
        self.on_progress = on_progress
        self.inflight: dict[int, deque] = {i: deque() for i in range(len(conns))}
        self.next_conn = 0
        self.failure: Failure | None = None
        self.ordered = len(conns) == 1

    # -- outcomes -----------------------------------------------------------------
    def count(self, unit: Unit, outcome: str, error: str | None = None) -> None:
        r = self.report
        r.items += unit.last - unit.number + 1
        r.last_number = max(r.last_number, unit.last)
        if unit.kind == "key":
            if outcome == "written":
                r.keys_written += 1
            elif outcome == "skipped":
                r.keys_skipped += 1
            elif outcome == "expired":
                r.keys_expired += 1
            elif outcome == "filtered":
                r.keys_filtered += 1
            else:
                r.keys_failed += 1
        elif unit.kind == "function":
            if outcome == "written":
                r.functions_written += 1
            elif outcome == "skipped":
                r.functions_skipped += 1
            else:
                r.keys_failed += 1
        else:
            if outcome in ("applied", "written"):
                r.commands_applied += unit.last - unit.number + 1
            elif outcome == "filtered":
                pass
            else:
                r.commands_failed += 1
        if outcome == "failed" and self.failure is None:
            self.failure = Failure(unit.number, unit.number, error or "failed", unit.key,
                                   unit.db)

    def judge(self, unit: Unit, replies: list) -> tuple[str, str | None]:
        errors = [r for r in replies if isinstance(r, ReplyError)]
        j = unit.judge
        on_existing = self.opts.on_existing
        if j == J_SET:
            reply = replies[0]
            if reply is None:           # SET ... NX found the key
                if on_existing == "skip":
                    return "skipped", None
                return "failed", "key exists on the target (--on-existing fail)"
            if errors:
                return "failed", str(errors[0])
            return "written", None
        if j == J_RESTORE:
            if errors:
                e = errors[0]
                if e.code == "BUSYKEY":
                    if on_existing == "skip":
                        return "skipped", None
                    return "failed", "key exists on the target (--on-existing fail)"
                return "failed", str(e)
            return "written", None
        if j in (J_TMP, J_TMP_NX):
            rename = replies[-1] if j == J_TMP else replies[-2]
            build_errors = [r for r in replies[:-1 if j == J_TMP else -2]
                            if isinstance(r, ReplyError)]
            if build_errors:
                return "failed", str(build_errors[0])
            if isinstance(rename, ReplyError):
                if "no such key" in str(rename):
                    return "expired", None   # its TTL ran out while it was being built
                return "failed", str(rename)
            if j == J_TMP_NX and rename == 0:
                if on_existing == "skip":
                    return "skipped", None
                return "failed", "key exists on the target (--on-existing fail)"
            return "written", None
        if j == J_EXPIRED:
            return ("failed", str(errors[0])) if errors else ("expired", None)
        if j == J_FUNCTION:
            if errors:
                if on_existing == "skip" and "already exists" in str(errors[0]):
                    return "skipped", None
                return "failed", str(errors[0])
            return "written", None
        # AOF command or MULTI block: an EXEC reply may hold errors of its own
        for r in replies:
            if isinstance(r, list):
                errors += [x for x in r if isinstance(x, ReplyError)]
        if errors:
            return "failed", str(errors[0])
        return "applied", None

    # -- windows --------------------------------------------------------------------
    def dispatch(self, units: list[Unit]) -> None:
        """Send one window (after settling whatever occupies the next connection)."""
        if not self.ordered and any(u.kind == "aof" for u in units):
            # AOF commands depend on their order: from here on, one connection only,
            # once everything sent over the others has been answered
            self.settle_all()
            self.ordered = True
            self.next_conn = 0
        conn_i = self.next_conn
        if not self.ordered:
            self.next_conn = (self.next_conn + 1) % len(self.conns)
        conn = self.conns[conn_i]
        queue = self.inflight[conn_i]
        keys_only = all(u.kind != "aof" for u in units)
        if not keys_only:
            self.settle_all()   # AOF commands are not idempotent: one window at a time
        while queue and (len(queue) >= self.depth or not keys_only):
            self.settle(conn_i)
        if self.failure is not None:
            raise _Stop
        # outcomes decided without the server, and a stop at a local failure
        todo = []
        for u in units:
            if u.outcome is not None and not u.cmds:
                if u.outcome == "failed":
                    self.send_units(conn_i, todo)
                    self.settle_all()
                    if self.failure is None:
                        self.count(u, "failed", u.error)
                    raise _Stop
                self.count(u, u.outcome)
                continue
            todo.append(u)
        if self.opts.on_existing == "fail" and todo:
            todo = self.precheck(conn, todo)
        self.send_units(conn_i, todo)
        if self.failure is not None:
            self.settle_all()
            raise _Stop

    def precheck(self, conn: Connection, units: list[Unit]) -> list[Unit]:
        """Cut the window before the first key that already exists on the target."""
        checks = [u for u in units if u.check_exists]
        if not checks:
            return units
        if any(self.inflight.values()):
            self.settle_all()   # a key may repeat one sent in a window still in flight
            if self.failure is not None:
                return []
        parts = []
        expected = 0
        db = conn.db
        for u in checks:
            if u.db is not None and u.db != db:
                parts.append(encode(b"SELECT", b"%d" % u.db))
                db = u.db
                expected += 1
            parts.append(encode(b"EXISTS", u.key))
            expected += 1
        if db != conn.db:
            parts.append(encode(b"SELECT", b"%d" % conn.db))
            expected += 1
        self.report.wire_commands += expected
        try:
            conn.send(b"".join(parts))
            replies = conn.collect(expected)
        except ConnectionLost as e:
            u = units[0]
            self.failure = Failure(u.number, u.number, str(e), u.key, u.db)
            return []
        answers = [r for r in replies if type(r) is int]
        exists = {id(u) for u, a in zip(checks, answers) if a == 1}
        for i, u in enumerate(units):
            if id(u) in exists:
                self.failure = Failure(u.number, u.number,
                                       "key exists on the target (--on-existing fail)",
                                       u.key, u.db)
                self.report.keys_failed += 1
                return units[:i]
        return units

    def send_units(self, conn_i: int, units: list[Unit]) -> None:
        if not units:
            return
        conn = self.conns[conn_i]
        parts = []
        spans = []
        idx = 0
        for u in units:
            if u.db is not None and u.db != conn.db:
                parts.append(encode(b"SELECT", b"%d" % u.db))
                idx += 1
                conn.db = u.db
            parts.extend(u.cmds)
            spans.append((idx, len(u.cmds)))
            idx += len(u.cmds)
            if u.end_db is not None:
                conn.db = u.end_db
        self.report.wire_commands += idx
        window = _Window(units, spans, idx, conn)
        queue = self.inflight[conn_i]
        queue.append(window)
        try:
            conn.send(b"".join(parts))
        except ConnectionLost as e:
            self.lost_connection(conn_i, e)

    def settle(self, conn_i: int) -> None:
        """Judge the oldest window in flight on connection `conn_i`."""
        queue = self.inflight[conn_i]
        window = queue[0]
        oks = all(u.judge in _OK_JUDGES for u in window.units)
        try:
            if oks:  # every reply should be +OK: check the bytes, parse only if not
                replies = window.conn.collect_ok(window.n_replies)
            else:
                replies = window.conn.collect(window.n_replies)
        except ConnectionLost as e:
            self.lost_connection(conn_i, e)
            return
        queue.popleft()
        if replies is None:
            self.all_written(window)
        else:
            self.judge_window(window, replies)

    def all_written(self, window: _Window) -> None:
        r = self.report
        n = 0
        for u in window.units:
            n += u.last - u.number + 1
        r.keys_written += n
        r.items += n
        r.last_number = max(r.last_number, window.units[-1].last)
        if self.failure is not None:
            self.failure.sent_after += sum(
                u.last - max(u.number - 1, self.failure.number) for u in window.units
                if u.last > self.failure.number)
        if self.on_progress is not None:
            self.on_progress(r)

    def settle_all(self) -> None:
        for conn_i, queue in self.inflight.items():
            while queue:
                self.settle(conn_i)

    def lost_connection(self, conn_i: int, e: ConnectionLost) -> None:
        """The connection broke: the replies that did arrive judge the windows in flight
        on it, oldest first; the first unanswered unit is where a resume starts."""
        queue = self.inflight[conn_i]
        got = e.replies
        while queue:
            window = queue.popleft()
            if len(got) >= window.n_replies:
                self.judge_window(window, got[:window.n_replies])
                got = got[window.n_replies:]
                continue
            self.lost(window, ConnectionLost(str(e), got))
            got = []
            queue.clear()

    def judge_window(self, window: _Window, replies: list) -> None:
        prev = 0
        written = 0
        last = 0
        for u, (start, count) in zip(window.units, window.spans):
            if start == prev and u.judge in _ONE_OK and replies[start] == b"OK" \
                    and self.failure is None:
                written += 1        # the common case, kept out of judge()/count()
                last = u.last
                prev = start + 1
                continue
            if self.failure is not None and u.number > self.failure.number \
                    and u.judge != J_BULK:      # judge_bulk counts its own items
                self.failure.sent_after += 1
            bad_select = [r for r in replies[prev:start] if isinstance(r, ReplyError)]
            prev = start + count
            if bad_select:   # the SELECT put in front of the unit was refused
                self.count(u, "failed", f"SELECT {u.db}: {bad_select[0]}")
                continue
            if u.judge == J_BULK:
                self.judge_bulk(u, replies[start:start + count])
                continue
            outcome, error = self.judge(u, replies[start:start + count])
            self.count(u, outcome, error)
        r = self.report
        r.keys_written += written
        r.items += written
        if last > r.last_number:
            r.last_number = last
        if self.on_progress is not None:
            self.on_progress(self.report)

    def judge_bulk(self, u: Unit, replies: list) -> None:
        """One RESTORE or SET per item; only the replies that are not +OK need a look."""
        r = self.report
        if replies.count(b"OK") == len(replies) and self.failure is None:
            r.keys_written += len(replies)
            r.items += len(replies)
            r.last_number = max(r.last_number, u.number + len(replies) - 1)
            return
        for i, reply in enumerate(replies):
            number = u.number + i
            if self.failure is not None and number > self.failure.number:
                self.failure.sent_after += 1
            r.items += 1
            r.last_number = max(r.last_number, number)
            if reply == b"OK":
                r.keys_written += 1
            elif reply is None and self.opts.on_existing == "skip":
                r.keys_skipped += 1      # SET ... NX: the key is there
            elif isinstance(reply, ReplyError) and reply.code == "BUSYKEY" \
                    and self.opts.on_existing == "skip":
                r.keys_skipped += 1
            elif isinstance(reply, ReplyError) and "Bad data format" in str(reply) \
                    and _empty_collection(u.cmds[i]):
                r.keys_filtered += 1     # an empty collection: loaders skip those too
            else:
                r.keys_failed += 1
                if self.failure is None:
                    error = str(reply) if reply is not None else "key exists on the target"
                    self.failure = Failure(number, number, error, u.item_key(i), u.db)

    def lost(self, window: _Window, e: ConnectionLost) -> None:
        got = e.replies
        for u, (start, count) in zip(window.units, window.spans):
            if start + count <= len(got):
                if u.judge == J_BULK:
                    self.judge_bulk(u, got[start:start + count])
                    continue
                outcome, error = self.judge(u, got[start:start + count])
                self.count(u, outcome, error)
                continue
            if u.judge == J_BULK and start < len(got):
                part = got[start:]
                self.judge_bulk(u, part)
                number = u.number + len(part)
                if self.failure is None or number < self.failure.resume_from:
                    self.failure = Failure(number, number, str(e), u.item_key(len(part)),
                                           u.db)
                break
            if self.failure is None or u.number < self.failure.resume_from:
                self.failure = Failure(u.number, u.number, str(e), u.key, u.db)
            break


_OK_JUDGES = frozenset((J_BULK, J_RESTORE, J_SET))
_ONE_OK = frozenset((J_RESTORE, J_SET))


def _empty_collection(restore_cmd: bytes) -> bool:
    """Is the payload of this RESTORE an empty list/set/zset/hash (stored as is)?"""
    from aofcheck.resp import iter_events
    from rdbtools.payload import parse_payload

    if not restore_cmd.startswith(b"*", 0) or b"RESTORE" not in restore_cmd[:24]:
        return False
    try:
        payload = next(iter_events(restore_cmd)).args[3]
        rtype, value, _fexp = parse_payload(payload)
    except (FormatError, StopIteration, IndexError):
        return False
    return TYPE_KIND.get(rtype) in _COLLECTIONS and not value


def _server_version(conn: Connection) -> str | None:
    reply = conn.call("INFO", "server")
    if isinstance(reply, ReplyError) and reply.code == "NOAUTH":
        from ._client import TargetError

        raise TargetError(f"{conn.target.host}:{conn.target.port} requires AUTH: give the "
                          "password in the URL (redis://[user]:password@host:port)")
    if isinstance(reply, ReplyError) or not isinstance(reply, bytes):
        return None
    return info_fields(reply).get("redis_version")


def replay(path: str, target: Target, opts: ReplayOptions | None = None, *,
           on_progress: Callable[[ReplayReport], None] | None = None) -> ReplayReport:
    """Send `path` to `target`; returns the report (its `failure` says where it stopped).

    Errors in the source itself (a corrupt record, a truncated AOF) raise `FormatError`
    after everything already sent has been judged; the report then travels on the
    exception as `e.replay_report`."""
    opts = opts or ReplayOptions()
    opts.check()
    path = str(path)
    if not os.path.exists(path):
        raise FileNotFoundError(2, "No such file or directory", path)
    kind = source_kind(path)
    f = opts.key_filter
    if kind in ("resp", "multi-part") and f is not None and (
            f.key is not None or f.not_key is not None or f.kinds is not None):
        raise ReplayError("--key/--not-key/--type need an RDB or JSON source: AOF commands "
                          "cannot be filtered by key (--db can)")
    now_ms = opts.now_ms if opts.now_ms is not None else time.time_ns() // 1_000_000
    report = ReplayReport(source=path, resumed_from=opts.resume_from)
    start = time.perf_counter()
    conns = [Connection(target, timeout=opts.timeout) for _ in range(opts.connections)]
    try:
        report.server_version = _server_version(conns[0])
        version = opts.rdb_version
        if version is None and report.server_version:
            version = rdb_version_for(report.server_version)
            if version is not None and version >= 12:
                # (the writer has always written every version up to 12)
                from rdbtools.writer import WRITE_VERSION_MAX

                version = min(version, WRITE_VERSION_MAX)
        if opts.mode == "restore" and version is None:
            raise ReplayError(f"cannot tell which RDB version {target.host}:{target.port} "
                              f"reads (redis_version {report.server_version!r}): pass "
                              "--rdb-version or --mode commands")
        if opts.mode == "auto":
            report.mode = "restore" if version is not None else "commands"
        else:
            report.mode = opts.mode
        report.rdb_version = version
        sender = _Sender(conns, opts, report, on_progress)
        try:
            _run(sender, plan(path, opts, version, now_ms, report), opts)
        except _Stop:
            sender.settle_all()   # what is still in flight ran: count it
        except FormatError as e:
            try:
                sender.settle_all()
            except _Stop:
                pass
            report.failure = sender.failure or Failure(report.last_number + 1, 0, str(e))
            report.seconds = time.perf_counter() - start
            e.replay_report = report
            raise
        report.failure = sender.failure
    finally:
        for c in conns:
            c.close()
    report.seconds = time.perf_counter() - start
    return report


def _run(sender: _Sender, units: Iterator[Unit], opts: ReplayOptions) -> None:
    window: list[Unit] = []
    n_cmds = 0
    n_bytes = 0
    resume = opts.resume_from
    limit = opts.pipeline
    for u in units:
        if u.last < resume:
            continue
        if u.number < resume:
            if u.judge != J_BULK:
                raise ReplayError(f"--resume-from {resume} falls inside a MULTI block: "
                                  f"resume from {u.number}")
            cut = resume - u.number
            u.cmds, u.number = u.cmds[cut:], resume
        if u.barrier and window:
            sender.dispatch(window)
            window, n_cmds, n_bytes = [], 0, 0
        window.append(u)
        cmds = u.cmds
        n_cmds += len(cmds)
        n_bytes += len(cmds[0]) if len(cmds) == 1 else sum(map(len, cmds))
        if n_cmds >= limit or u.barrier or n_bytes >= WINDOW_MAX_BYTES:
            sender.dispatch(window)
            window, n_cmds, n_bytes = [], 0, 0
    if window:
        sender.dispatch(window)
    sender.settle_all()
    if sender.failure is not None:
        raise _Stop
