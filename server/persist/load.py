"""Boot-time loading: the AOF (multi-part, legacy single file, preamble) or `dump.rdb`.

Replay drives `Engine.execute` with one fake client per file. Plain commands come from
a quick scan of canonical `*<n>`/`$<len>` framing; from the first thing it does not
take (annotation, MULTI/EXEC, unknown command, odd header, damage, a cut tail) on,
aofcheck's exact RESP reader takes over in the server's lenient mode (bulk CRLFs are
not checked, as Redis's loader does not check them), so every verdict is its verdict. Outcomes follow Redis 7.0 (formats.md §8.4, §8.5, §10): a
truncated last command (or an open MULTI at EOF) is cut when `aof-load-truncated` is
on, and only in the last file; format errors and unknown commands refuse to start. Log
lines are worded as 7.0 words them; the offset is added on a line of its own.

One deliberate difference: with `appendonly yes`, no AOF yet and a `dump.rdb`
present, Redis 7.0 starts empty (and the first rewrite then destroys the dump's
data); we load the dump and the first BASE is written from it.
"""

from __future__ import annotations

import gc
import os
import time
from dataclasses import dataclass, field

from aofcheck.errors import AofError, RespCorrupt, RespTruncated
from aofcheck.manifest import BASE, AofInfo, Manifest, format_line, parse_manifest
from aofcheck.resp import DONE, MAX_BULK_LEN, NEED_DATA, Annotation, RespParser
from rdbtools.errors import FormatError, TruncatedError

from .snapshot import load_rdb, loading

__all__ = ["AofLoadError", "LoadProgress", "ReplayResult", "replay_file", "replay_files",
           "load_dump", "load_aof_dir", "migrate_old_aof", "boot", "BootResult",
           "is_rdb_head"]

CHUNK = 1 << 20
RDB_MAGIC = b"REDIS"
FIX_HINT = "make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>"


class AofLoadError(AofError):
    """Loading must stop and the server must not start; `lines` are what Redis logs."""

    def __init__(self, reason: str, offset: int | None = None, *, path: str | None = None,
                 lines: list[str] | None = None, phase: str | None = "load-aof") -> None:
        super().__init__(reason, offset, phase=phase, path=path)
        self.lines = lines or [reason]


def _nolog(msg: str, mark: str = "*") -> None:
    pass


class LoadProgress:
    """What INFO shows while loading (the loop may serve `-LOADING` meanwhile)."""

    #: Redis lets the loop answer clients (-LOADING) every 2 MB loaded
    TICK_BYTES = 2 << 20

    def __init__(self, tick=None) -> None:
        self.tick = tick  # callable run now and then while loading (serve -LOADING)
        self._next_tick = 0
        self.active = False
        self.start_time = 0.0
        self.total_bytes = 0
        self.loaded_bytes = 0
        self._base = 0          # bytes of files already finished
        self.keys_loaded = 0    # rdb_last_load_keys_loaded
        self.keys_expired = 0   # rdb_last_load_keys_expired

    def begin(self, total: int) -> None:
        self.active = True
        self.start_time = time.time()
        self.total_bytes = total
        self.loaded_bytes = 0
        self._base = 0
        self._next_tick = 0

    def at(self, offset_in_file: int) -> None:
        self.loaded_bytes = self._base + offset_in_file
        if self.tick is not None and self.loaded_bytes >= self._next_tick:
            self._next_tick = self.loaded_bytes + self.TICK_BYTES
            self.tick()

    def file_done(self, size: int) -> None:
        self._base += size
        self.loaded_bytes = self._base

    def end(self) -> None:
        self.active = False

    def info_fields(self) -> list[tuple[str, object]]:
        """The `loading_*` lines Redis adds to INFO persistence while loading."""
        if not self.active:
            return []
        elapsed = time.time() - self.start_time
        perc = self.loaded_bytes * 100.0 / self.total_bytes if self.total_bytes else 0.0
        if elapsed > 0 and self.loaded_bytes:
            eta = int((self.total_bytes - self.loaded_bytes) / (self.loaded_bytes / elapsed))
        else:
            eta = 1
        return [("loading_start_time", int(self.start_time)),
                ("loading_total_bytes", self.total_bytes),
                ("loading_rdb_used_mem", 0),
                ("loading_loaded_bytes", self.loaded_bytes),
                ("loading_loaded_perc", "%.2f" % perc),
                ("loading_eta_seconds", eta)]


@dataclass
class ReplayResult:
    commands: int = 0
    truncated_at: int | None = None     # where a short read was cut (in memory or on disk)
    stopped_at_timestamp: bool = False  # --truncate-to-timestamp reached
    had_rdb: bool = False
    keys_loaded: int = 0
    keys_expired: int = 0


def is_rdb_head(head: bytes) -> bool:
    return head[:5] == RDB_MAGIC


def log_rdb_aux(st, log) -> None:
    """The notice lines 7.0 prints for an RDB's AUX fields (rdbLoadRio)."""
    aux = st.aux
    ver = aux.get(b"redis-ver")
    if ver:
        log("Loading RDB produced by version %s" % ver.decode("utf-8", "replace"))
    ctime = aux.get(b"ctime", b"")
    if ctime.lstrip(b"-").isdigit():
        age = int(time.time()) - int(ctime)
        log("RDB age %d seconds" % max(age, 0))
    mem = aux.get(b"used-mem", b"")
    if mem.isdigit():
        log("RDB memory usage when created %.2f Mb" % (int(mem) / 1024 / 1024))
    if aux.get(b"aof-preamble", b"0").strip() not in (b"", b"0"):
        log("RDB has an AOF tail")
    if aux.get(b"aof-base", b"0").strip() not in (b"", b"0"):
        log("RDB is base AOF")


def replay_file(engine, path: str, *, name: str | None = None, is_last: bool = True,
                load_truncated: bool = True, fix_on_disk: bool = True,
                stop_after_ts: int | None = None, log=_nolog,
                progress: LoadProgress | None = None, preamble_log: str = "preamble"
                ) -> ReplayResult:
    """Replay one AOF file (RDB part first if it starts with `REDIS`) into `engine`.

    `fix_on_disk=False` (offline tools) never modifies the file. `stop_after_ts` stops at
    the first `#TS:` annotation later than it (point-in-time recovery).
    """
    name = name or os.path.basename(path)
    res = ReplayResult()
    try:
        f = open(path, "rb")
    except OSError as e:
        raise AofLoadError("Fatal error: can't open the append log file %s for reading: %s"
                           % (name, e.strerror), path=path) from e
    with f:
        head = f.read(5)
        f.seek(0)
        base = 0
        if is_rdb_head(head):
            log("Reading RDB base file on AOF loading..." if preamble_log == "base"
                else "Reading RDB preamble from AOF file...")
            try:
                st = load_rdb(engine, f, aof_preamble=True, path=path,
                              progress=progress.at if progress else None)
            except FormatError as e:
                first = ("Short read or OOM loading DB. Unrecoverable error, aborting now."
                         if isinstance(e, TruncatedError) else
                         "Bad RDB part in the append only file %s, aborting now." % name)
                raise AofLoadError(first, e.offset, path=path,
                                   lines=[first, "Error reading the RDB part of %s: %s"
                                          % (name, e)]) from e
            log_rdb_aux(st, log)
            log("Done loading RDB, keys loaded: %d, keys expired: %d."
                % (st.keys_loaded, st.keys_expired))
            if preamble_log != "base":
                log("Reading the remaining AOF tail...")
            res.had_rdb = True
            res.keys_loaded, res.keys_expired = st.keys_loaded, st.keys_expired
            base = st.end_offset
            f.seek(base)
        _replay_resp(engine, f, path, name, base, res, is_last=is_last,
                     load_truncated=load_truncated, fix_on_disk=fix_on_disk,
                     stop_after_ts=stop_after_ts, log=log, progress=progress)
    return res


#: The fast path leaves anything bigger to the exact reader (its limits, its errors).
_FAST_MAX_ARGC = 1 << 20
_FAST_HEADER = 24  # `*`/`$` line: longer than this is not a short decimal length
_SLOW, _MORE = 0, 1


def _scan_commands(buf: bytes, pos: int, out: list, known) -> tuple[int, int]:
    """Canonical `*<n>` + `$<len>` commands from buf[pos:] appended to `out`.

    Returns (pos, why): `pos` is where the first command not taken starts; `why` says
    whether it is incomplete (_MORE) or something the exact reader must judge (_SLOW:
    annotations, MULTI/EXEC, a name not in `known`, odd headers, damage). Nothing is
    judged here, so what this path accepts is exactly what RespParser(check_crlf=False)
    accepts, and every refusal keeps the exact reader's wording and offset.
    """
    n = len(buf)
    find = buf.find
    append = out.append
    while pos < n:
        if buf[pos] != 0x2A:  # '*'
            return pos, _SLOW
        nl = find(b"\r\n", pos + 1, pos + _FAST_HEADER)
        if nl < 0:
            return pos, (_SLOW if n - pos >= _FAST_HEADER else _MORE)
        digits = buf[pos + 1:nl]
        if not digits.isdigit():
            return pos, _SLOW
        argc = int(digits)
        if argc < 1 or argc > _FAST_MAX_ARGC:
            return pos, _SLOW
        q = nl + 2
        args = []
        for _ in range(argc):
            if q >= n:
                return pos, _MORE
            if buf[q] != 0x24:  # '$'
                return pos, _SLOW
            nl = find(b"\r\n", q + 1, q + _FAST_HEADER)
            if nl < 0:
                return pos, (_SLOW if n - q >= _FAST_HEADER else _MORE)
            digits = buf[q + 1:nl]
            if not digits.isdigit():
                return pos, _SLOW
            end = nl + 2 + int(digits)
            if end - nl - 2 > MAX_BULK_LEN:
                return pos, _SLOW
            if end + 2 > n:
                return pos, _MORE
            args.append(buf[nl + 2:end])
            q = end + 2  # the 2 bytes after a bulk are not checked, as the loader does
        if args[0].lower() not in known:
            return pos, _SLOW  # unknown, or MULTI/EXEC (the exact reader tracks those)
        append(args)
        pos = q
    return pos, _MORE


def _replay_fast(engine, client, f, base, res, progress) -> int | None:
    """Replay the plain part of a RESP file quickly; the offset where the exact reader
    must take over, or None when the file ended cleanly on a command boundary."""
    known = frozenset(engine.commands) - {b"multi", b"exec"}
    execute = engine.execute
    pending = b""
    offset = base  # file offset of pending[0]
    want = CHUNK
    while True:
        data = f.read(want)
        if not data:
            return None if not pending else offset  # a cut command: the exact reader says so
        buf = pending + data if pending else data
        batch: list = []
        pos, why = _scan_commands(buf, 0, batch, known)
        for argv in batch:
            execute(client, argv)
        res.commands += len(batch)
        if why == _SLOW:
            return offset + pos
        offset += pos
        pending = buf[pos:]
        # a command longer than a chunk: read geometrically more, never quadratically
        want = max(CHUNK, len(pending))
        if progress is not None:
            progress.at(offset)


def _replay_resp(engine, f, path, name, base, res, *, is_last, load_truncated, fix_on_disk,
                 stop_after_ts, log, progress) -> None:
    client = engine.new_client(addr="", fd=-1)
    client.authenticated = True
    commands = engine.commands
    execute = engine.execute
    eof = False
    try:
        with loading(engine):
            at = _replay_fast(engine, client, f, base, res, progress)
            if at is None:
                return
            f.seek(at)
            parser = RespParser(base_offset=at, check_crlf=False, path=path)
            while True:
                try:
                    ev = parser.next_event()
                except RespTruncated as e:
                    _short_read(engine, path, name, e.valid_up_to, e.reverted_multi, res,
                                is_last=is_last, load_truncated=load_truncated,
                                fix_on_disk=fix_on_disk, log=log)
                    return
                except RespCorrupt as e:
                    raise AofLoadError(
                        "Bad file format reading the append only file %s: %s" % (name, FIX_HINT),
                        e.offset, path=path,
                        lines=["Bad file format reading the append only file %s: %s"
                               % (name, FIX_HINT),
                               "AOF format error at offset %d (0x%x): %s"
                               % (e.offset, e.offset, e.reason)]) from e
                if ev is NEED_DATA:
                    if eof:
                        parser.feed_eof()
                        continue
                    data = f.read(CHUNK)
                    if data:
                        parser.feed(data)
                        if progress is not None:
                            progress.at(parser.offset)
                    else:
                        eof = True
                        parser.feed_eof()
                    continue
                if ev is DONE:
                    return
                if type(ev) is Annotation:
                    ts = ev.timestamp
                    if stop_after_ts is not None and ts is not None and ts > stop_after_ts:
                        res.stopped_at_timestamp = True
                        return
                    continue
                argv = ev.args
                if argv[0].lower() not in commands:
                    shown = argv[0].decode("utf-8", "replace")
                    raise AofLoadError(
                        "Unknown command '%s' reading the append only file %s" % (shown, name),
                        ev.offset, path=path)
                execute(client, argv)
                res.commands += 1
    finally:
        if client.multi is not None:
            engine.discard(client)
        engine.free_client(client)


def _short_read(engine, path, name, valid_up_to, reverted_multi, res, *, is_last, load_truncated,
                fix_on_disk, log) -> None:
    # Redis logs the revert only when the file ends cleanly inside a MULTI; a command
    # cut short inside one keeps the complete queued commands before it.
    lines = []
    if reverted_multi:
        lines.append(("Revert incomplete MULTI/EXEC transaction in AOF file %s" % name, "#"))
    if not load_truncated:
        for m, k in lines:
            log(m, k)
        msg = ("Unexpected end of file reading the append only file %s. You can: 1) Make a "
               "backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. "
               "2) Alternatively you can set the 'aof-load-truncated' configuration option to "
               "yes and restart the server." % name)
        raise AofLoadError(msg, valid_up_to, path=path,
                           lines=[msg, "The last complete command ends at offset %d"
                                  % valid_up_to])
    lines += [("!!! Warning: short read while loading the AOF file %s!!!" % name, "#"),
              ("!!! Truncating the AOF %s at offset %d !!!" % (name, valid_up_to), "#")]
    for m, k in lines:
        log(m, k)
    if fix_on_disk:
        try:
            os.truncate(path, valid_up_to)
        except OSError as e:
            msg = "Error truncating the AOF file %s: %s" % (name, e.strerror)
            raise AofLoadError(msg, valid_up_to, path=path) from e
    log("AOF %s loaded anyway because aof-load-truncated is enabled" % name, "#")
    res.truncated_at = valid_up_to
    if not is_last:
        raise AofLoadError("Fatal error: the truncated file is not the last file",
                           valid_up_to, path=path)


def replay_files(engine, dirpath: str, manifest: Manifest, *, load_truncated: bool = True,
                 fix_on_disk: bool = True, stop_after_ts: int | None = None, log=_nolog,
                 progress: LoadProgress | None = None,
                 filename: str | None = None) -> list[ReplayResult]:
    """Base then incr files of a manifest (history ignored), as loadAppendOnlyFiles().

    `filename` is `appendfilename`: a file so named is a migrated pre-7.0 AOF, and its
    RDB part is logged as a preamble, not as a base (Redis compares the names too).
    """
    files = manifest.files_to_load()
    sizes = []
    for info in files:
        p = os.path.join(dirpath, info.fsname)
        try:
            sizes.append(os.stat(p).st_size)
        except OSError as e:
            raise AofLoadError("Unable to obtain the AOF file %s length. stat: %s"
                               % (info.fsname, e.strerror), path=p) from e
    out: list[ReplayResult] = []
    if not files or sum(sizes) == 0:
        return out
    if progress is not None:
        progress.begin(sum(sizes))
    t0 = time.time()
    for i, info in enumerate(files):
        p = os.path.join(dirpath, info.fsname)
        is_base = info.type == BASE
        r = replay_file(engine, p, name=info.fsname, is_last=i == len(files) - 1,
                        load_truncated=load_truncated, fix_on_disk=fix_on_disk,
                        stop_after_ts=stop_after_ts, log=log, progress=progress,
                        preamble_log="preamble" if info.fsname == filename else "base")
        if progress is not None:
            progress.file_done(sizes[i])
        log("DB loaded from %s file %s: %.3f seconds"
            % ("base" if is_base else "incr", info.fsname, time.time() - t0))
        out.append(r)
        if r.stopped_at_timestamp:
            break
    log("DB loaded from append only file: %.3f seconds" % (time.time() - t0))
    return out


def read_manifest(path: str) -> Manifest:
    with open(path, "rb") as f:
        data = f.read()
    return parse_manifest(data, path=path)


def migrate_old_aof(dirpath: str, filename: str, dirname: str, log=_nolog) -> bool:
    """Move a pre-7.0 single-file AOF into the AOF dir as its base (Redis's upgrade rule)."""
    from ._durable import write_durably
    from rdbtools.fileio import fsync_dir

    old = os.path.join(dirpath, filename)
    if not os.path.isfile(old):
        return False
    aofdir = os.path.join(dirpath, dirname)
    mpath = os.path.join(aofdir, filename + ".manifest")
    if os.path.isdir(aofdir) and os.path.exists(mpath):
        m = read_manifest(mpath)
        only_old_base = (m.base is not None and not m.incrs and m.base.fsname == filename
                         and not os.path.exists(os.path.join(aofdir, filename)))
        if not ((m.base is None and not m.incrs) or only_old_base):
            return False
    os.makedirs(aofdir, exist_ok=True)
    m = Manifest(base=AofInfo(os.fsencode(filename), 1, BASE))
    write_durably(mpath, format_line(m.base),
                  tmp=os.path.join(aofdir, "temp-" + filename + ".manifest"))
    os.replace(old, os.path.join(aofdir, filename))
    fsync_dir(aofdir)
    fsync_dir(dirpath)
    log("Successfully migrated an old-style AOF file (%s) into the AOF directory (%s)."
        % (filename, dirname))
    return True


def load_dump(engine, path: str, *, log=_nolog, progress: LoadProgress | None = None):
    """Load `dump.rdb` as a master would; errors are the reader's, located with the path."""
    size = os.path.getsize(path)
    if progress is not None:
        progress.begin(size)
    t0 = time.time()
    try:
        st = load_rdb(engine, path, path=path, progress=progress.at if progress else None)
    except FormatError as e:
        log("Short read or OOM loading DB. Unrecoverable error, aborting now."
            if isinstance(e, TruncatedError)
            else "Fatal error loading the DB: %s. Exiting." % e.reason, "#")
        raise
    log_rdb_aux(st, log)
    log("Done loading RDB, keys loaded: %d, keys expired: %d."
        % (st.keys_loaded, st.keys_expired))
    log("DB loaded from disk: %.3f seconds" % (time.time() - t0))
    if progress is not None:
        progress.keys_loaded, progress.keys_expired = st.keys_loaded, st.keys_expired
    return st


def load_aof_dir(engine, dirpath: str, filename: str, dirname: str, *,
                 load_truncated: bool = True, log=_nolog,
                 progress: LoadProgress | None = None) -> Manifest | None:
    """Upgrade, read the manifest, replay: None when there is no AOF at all."""
    migrate_old_aof(dirpath, filename, dirname, log)
    aofdir = os.path.join(dirpath, dirname)
    mpath = os.path.join(aofdir, filename + ".manifest")
    if not os.path.exists(mpath):
        return None
    m = read_manifest(mpath)
    if m.base is None and not m.incrs:
        return m
    replay_files(engine, aofdir, m, load_truncated=load_truncated, log=log,
                 progress=progress, filename=filename)
    return m


@dataclass
class BootResult:
    source: str                       # "aof", "rdb", "rdb-for-aof" or "none"
    manifest: Manifest | None = None
    aof: object = None                # the started AofManager when appendonly is on
    log: list = field(default_factory=list)


def boot(engine, *, log=_nolog, progress: LoadProgress | None = None,
         start_aof: bool = True) -> BootResult:
    """loadDataFromDisk(): the three cases of issue 6. Raises AofLoadError/FormatError
    (the caller logs and exits 1); on success with AOF on, returns the started manager."""
    cfg = engine.config
    dirpath = cfg.get("dir") or os.getcwd()
    progress = progress or LoadProgress()
    engine.loading_progress = progress
    try:
        if cfg.get("appendonly") == "yes":
            filename, dirname = cfg.get("appendfilename"), cfg.get("appenddirname")
            m = load_aof_dir(engine, dirpath, filename, dirname,
                             load_truncated=cfg.get("aof-load-truncated") == "yes", log=log,
                             progress=progress)
            source = "aof"
            if m is None or (m.base is None and not m.incrs):
                dump = os.path.join(dirpath, cfg.get("dbfilename"))
                if os.path.isfile(dump):
                    log("No AOF found but %s exists: loading it so the first AOF base keeps "
                        "its data (Redis 7.0 would start empty here)" % cfg.get("dbfilename"),
                        "#")
                    load_dump(engine, dump, log=log, progress=progress)
                    source = "rdb-for-aof"
                else:
                    source = "none"
            res = BootResult(source, m)
            if start_aof:
                from .aof import AofManager

                res.aof = AofManager.from_config(engine, log=log)
                res.aof.start()
            return res
        dump = os.path.join(dirpath, cfg.get("dbfilename"))
        if os.path.isfile(dump):
            load_dump(engine, dump, log=log, progress=progress)
            return BootResult("rdb")
        return BootResult("none")
    finally:
        progress.end()
        _settle_heap(engine)


#: Datasets at least this big are frozen out of the cyclic GC's sight after booting.
FREEZE_AFTER_KEYS = 100_000


def _settle_heap(engine) -> None:
    """Loading runs with the cyclic GC off; everything it made sits in the youngest
    generation, and the first collections after it would walk the whole keyspace
    (~0.3 s per million keys, right when clients arrive). A big dataset is moved to the
    permanent generation instead (keys are not cyclic; BGSAVE's unfreeze hands it back
    to the collector later)."""
    if sum(len(db.data) for db in engine.dbs) >= FREEZE_AFTER_KEYS:
        gc.freeze()
