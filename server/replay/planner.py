"""Planning: source items become numbered units (RESTORE, SET, plain commands under a
temporary name, FUNCTION LOAD, AOF commands). RDB files the target can read as stored
go through the skimmer instead, which falls back to this planner for what it skips."""

from __future__ import annotations

import os
import secrets
from dataclasses import replace
from typing import Iterator

from rdbtools._crc import crc64
from rdbtools._values import read_string
from rdbtools.constants import U16 as _U16, U64 as _U64, Kind
from rdbtools.errors import RdbkitError
from rdbtools.records import Aux, Function, KeyRecord, ResizeDb

from .._client import encode
from .options import ReplayError, ReplayOptions, ReplayReport
from .skim import _SkimAbort, _Skimmer
from .sources import _resp_tail, _value_span, iter_source, source_kind
from .ttl import _ttl_args
from .units import (_COLLECTIONS, _STRING_TYPE, J_AOF, J_EXPIRED, J_FUNCTION, J_NONE,
                    J_RESTORE, J_SET, J_TMP, J_TMP_NX, Unit, _bulk_header)

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
