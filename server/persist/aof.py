"""The AOF manager: Redis 7 multi-part AOF in `dir/appenddirname`.

Writes arrive through `feed(dbid, argv)` (an `Engine.prop_hooks` entry) and collect in
a buffer; the loop calls `flush_before_replies()` once per iteration, before any reply
of that iteration is sent, so every acknowledged write is at least in the kernel.
`appendfsync always` adds one fdatasync there for all clients of the iteration (group
commit); `everysec` hands fsync to a background thread once a second and, while that
fsync runs, postpones writes for at most 2 s (`aof_delayed_fsync` counts the times it
gave up waiting); `no` leaves syncing to the kernel.

BGREWRITEAOF follows 7.0: open a new INCR and persist the manifest *before* forking,
the child writes the new BASE (RDB with `aof-base`=1, or commands), and on success the
parent renames it in, marks the old base and incr files history, persists the manifest
and deletes the history files. Every manifest write is temp -> fsync -> rename ->
fsync dir.
"""

from __future__ import annotations

import os
import threading
import time

from aofcheck.manifest import BASE, HISTORY, INCR, AofInfo, Manifest, format_line, parse_manifest

from ._durable import ChunkedWriter, fdatasync, write_all, write_durably
from .fork import ForkJob, JobResult, start_job
from .rewrite import resp_command, write_resp_base
from .snapshot import write_snapshot

__all__ = ["AofManager", "AOF_OFF", "AOF_ON", "AOF_WAIT_REWRITE", "DELAYED_FSYNC_MAX"]

AOF_OFF, AOF_ON, AOF_WAIT_REWRITE = "off", "on", "wait-rewrite"
#: Seconds a write may wait for a running background fsync (everysec) before going ahead.
DELAYED_FSYNC_MAX = 2.0
#: Auto-rewrite back-off after 3 consecutive failures: 1, 2, 4 ... 60 minutes.
_BACKOFF_MAX_MIN = 60


def _nolog(msg: str, mark: str = "*") -> None:
    pass


class _FsyncThread:
    """bio's AOF fsync job: one at a time, `busy` while it runs."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._fd = -1
        self._stop = False
        self.busy = False
        self.errors = 0
        self._t = threading.Thread(target=self._run, name="aof-fsync", daemon=True)
        self._t.start()

    def submit(self, fd: int) -> None:
        with self._cv:
            self._fd = fd
            self.busy = True
            self._cv.notify()

    def _run(self) -> None:
        while True:
            with self._cv:
                while self._fd < 0 and not self._stop:
                    self._cv.wait()
                if self._stop:
                    return
                fd, self._fd = self._fd, -1
            try:
                fdatasync(fd)
            except OSError:
                self.errors += 1
            with self._cv:
                self.busy = self._fd >= 0

    def drain(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while self.busy and time.monotonic() < deadline:
            time.sleep(0.001)

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
        self._t.join(5)


class AofManager:
    def __init__(self, engine, dirpath: str, *, filename: str = "appendonly.aof",
                 dirname: str = "appendonlydir", fsync: str = "everysec",
                 use_rdb_preamble: bool = True, timestamps: bool = False,
                 rewrite_perc: int = 100, rewrite_min_size: int = 64 << 20,
                 disable_auto_gc: bool = False, log=_nolog, clock=time.time) -> None:
        self.engine = engine
        self.dirpath = dirpath
        self.filename = filename
        self.dirname = dirname
        self.fsync_policy = fsync
        self.use_rdb_preamble = use_rdb_preamble
        self.timestamps = timestamps
        self.rewrite_perc = rewrite_perc
        self.rewrite_min_size = rewrite_min_size
        self.disable_auto_gc = disable_auto_gc
        self.log = log
        self.clock = clock
        self.state = AOF_OFF
        self.manifest = Manifest()
        self.fd = -1
        self.incr_name: str | None = None
        self.buf: list[bytes] = []
        self.buf_len = 0
        self.selected_db = -1
        self.last_ts = 0
        self.current_size = 0
        self.base_size = 0
        self.rewrite_base_size = 0    # aof_rewrite_base_size: size after the last rewrite
        self.last_incr_size = 0
        self.last_fsync = clock()
        self.synced_size = 0          # incr bytes known to be fsynced (or handed to fsync)
        self.postponed_since = 0.0
        self.delayed_fsync = 0
        self.last_write_ok = True
        self.last_write_error = ""
        self.child: ForkJob | None = None
        self.child_incr: str | None = None  # the temp incr while WAIT_REWRITE
        self.rewrite_scheduled = False
        self.rewrites = 0
        self.consecutive_failures = 0
        self.last_rewrite_ok = True
        self.last_rewrite_time_sec = -1
        self.last_cow_size = 0
        self.next_auto_rewrite_after = 0.0
        self._fsyncer: _FsyncThread | None = None

    @classmethod
    def from_config(cls, engine, *, log=_nolog) -> "AofManager":
        cfg = engine.config
        return cls(engine, cfg.get("dir") or os.getcwd(),
                   filename=cfg.get("appendfilename"), dirname=cfg.get("appenddirname"),
                   fsync=cfg.get("appendfsync"),
                   use_rdb_preamble=cfg.get("aof-use-rdb-preamble") == "yes",
                   timestamps=cfg.get("aof-timestamp-enabled") == "yes",
                   rewrite_perc=int(cfg.get("auto-aof-rewrite-percentage")),
                   rewrite_min_size=int(cfg.get("auto-aof-rewrite-min-size")),
                   disable_auto_gc=cfg.get("aof-disable-auto-gc") == "yes", log=log)

    # -- paths and manifest --------------------------------------------------------------
    @property
    def aofdir(self) -> str:
        return os.path.join(self.dirpath, self.dirname)

    @property
    def manifest_path(self) -> str:
        return os.path.join(self.aofdir, self.filename + ".manifest")

    def _path(self, name: str) -> str:
        return os.path.join(self.aofdir, name)

    def _read_manifest(self) -> Manifest:
        try:
            with open(self.manifest_path, "rb") as f:
                return parse_manifest(f.read(), path=self.manifest_path)
        except FileNotFoundError:
            return Manifest()

    def persist_manifest(self) -> None:
        m = self.manifest
        lines = [format_line(i) for i in ([m.base] if m.base else [])]
        lines += [format_line(i) for i in m.history]
        lines += [format_line(i) for i in m.incrs]
        write_durably(self.manifest_path, b"".join(lines),
                      tmp=self._path("temp-" + self.filename + ".manifest"))

    def _next_incr(self) -> AofInfo:
        seq = max([i.seq for i in self.manifest.incrs + self.manifest.history
                   if i.type == INCR or i.name.endswith(b".incr.aof")] + [0]) + 1
        return AofInfo(b"%s.%d.incr.aof" % (os.fsencode(self.filename), seq), seq, INCR)

    def _next_base(self) -> AofInfo:
        m = self.manifest
        seq = max([m.base.seq if m.base else 0]
                  + [h.seq for h in m.history if b".base." in h.name]) + 1
        ext = b"rdb" if self.use_rdb_preamble else b"aof"
        return AofInfo(b"%s.%d.base.%s" % (os.fsencode(self.filename), seq, ext), seq, BASE)

    def _open_append(self, name: str) -> int:
        return os.open(self._path(name), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Server start with AOF on, after loading: make sure a base and an incr exist."""
        os.makedirs(self.aofdir, exist_ok=True)
        self.manifest = self._read_manifest()
        m = self.manifest
        if m.base is None and not m.incrs:
            base = self._next_base()
            self.log("Creating AOF base file %s on server start" % base.fsname)
            tmp = os.path.join(self.dirpath, "temp-rewriteaof-%d.aof" % os.getpid())
            try:
                self._write_base_file(tmp, fsync=True)
                os.replace(tmp, self._path(base.fsname))  # dir fsynced with the manifest
            except BaseException:
                self._unlink(tmp)
                raise
            m.base = base
        if m.incrs:
            self.incr_name = m.incrs[-1].fsname
            self.log("Opening AOF incr file %s on server start" % self.incr_name)
        else:
            inc = self._next_incr()
            self.incr_name = inc.fsname
            m.incrs.append(inc)
            self.log("Creating AOF incr file %s on server start" % self.incr_name)
        self.fd = self._open_append(self.incr_name)
        self.persist_manifest()
        self.last_incr_size = os.fstat(self.fd).st_size
        self.synced_size = self.last_incr_size
        self.base_size = self._size(m.base)
        self.current_size = self.base_size + sum(self._size(i) for i in m.incrs)
        self.rewrite_base_size = self.current_size
        self.state = AOF_ON
        self.selected_db = -1
        self._hook()

    def enable_at_runtime(self, *, defer: bool = False) -> bool:
        """CONFIG SET appendonly yes (startAppendOnly): rewrite first, writes made
        meanwhile kept in `temp-<F>.incr`. `defer=True` (another child is running):
        only schedule the rewrite; `cron()` starts it when the child is gone."""
        if self.state != AOF_OFF:
            return True
        if self.child is not None:
            # a BGREWRITEAOF started with AOF off does not collect writes: redo it
            self.log("AOF was enabled but there is already an AOF rewriting in background. "
                     "Stopping background AOF and starting a rewrite now.", "#")
            self._kill_child()
        os.makedirs(self.aofdir, exist_ok=True)
        self.manifest = self._read_manifest()
        self.state = AOF_WAIT_REWRITE
        self._hook()
        if defer:
            self.rewrite_scheduled = True
            self.log("AOF was enabled but there is already another background operation. "
                     "An AOF background was scheduled to start when possible.", "#")
            return True
        ok = self.start_rewrite()
        if not ok:
            self.state = AOF_OFF
            self._unhook()
        return ok

    def disable(self) -> None:
        """CONFIG SET appendonly no (and shutdown): flush, fsync, stop writing."""
        if self.child is not None:
            self._kill_child()
        if self.state == AOF_ON:
            self.flush_before_replies(force=True)
            if self.fd >= 0:
                try:
                    os.fsync(self.fd)
                except OSError:
                    pass
        if self._fsyncer is not None:
            self._fsyncer.drain()
            self._fsyncer.stop()
            self._fsyncer = None
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.child_incr is not None:  # switched off before the first rewrite finished
            self._unlink(self._path(self.child_incr))
            self.child_incr = None
        self._unhook()
        self.state = AOF_OFF
        self.buf, self.buf_len = [], 0

    close = disable

    def _hook(self) -> None:
        if self.feed not in self.engine.prop_hooks:
            self.engine.prop_hooks.append(self.feed)

    def _unhook(self) -> None:
        try:
            self.engine.prop_hooks.remove(self.feed)
        except ValueError:
            pass

    def _size(self, info: AofInfo | None) -> int:
        if info is None:
            return 0
        try:
            return os.path.getsize(self._path(info.fsname))
        except OSError:
            return 0

    # -- feeding and flushing --------------------------------------------------------------
    def feed(self, dbid: int, argv) -> None:
        """A propagated write (Engine.prop_hooks signature)."""
        if self.state == AOF_OFF:
            return
        if self.state == AOF_WAIT_REWRITE and self.child is None:
            return  # the rewrite still to come snapshots it
        parts = self.buf
        if self.timestamps:
            now = int(self.clock())
            if now > self.last_ts:
                self.last_ts = now
                parts.append(b"#TS:%d\r\n" % now)
                self.buf_len += len(parts[-1])
        if dbid != self.selected_db:
            sel = resp_command([b"SELECT", dbid])
            parts.append(sel)
            self.buf_len += len(sel)
            self.selected_db = dbid
        cmd = resp_command(argv)
        parts.append(cmd)
        self.buf_len += len(cmd)

    def flush_before_replies(self, force: bool = False) -> bool:
        """flushAppendOnlyFile(): write the buffer (and fsync per policy) before replies.

        Returns False when the write was postponed (everysec, fsync still running) or
        failed; the buffer is then kept for the next call.
        """
        if self.fd < 0:
            return False
        now = self.clock()
        if not self.buf:
            self._maybe_background_fsync(now)
            return True
        if self.fsync_policy == "everysec" and not force and self._fsync_busy():
            if not self.postponed_since:
                self.postponed_since = now
                return False
            if now - self.postponed_since < DELAYED_FSYNC_MAX:
                return False
            self.delayed_fsync += 1
            self.log("Asynchronous AOF fsync is taking too long (disk is busy?). Writing the "
                     "AOF buffer without waiting for fsync to complete, this may slow down "
                     "Redis.")
        self.postponed_since = 0.0
        data = b"".join(self.buf)
        try:
            write_all(self.fd, data)
        except OSError as e:
            if self.last_write_ok:
                self.log("Error writing to the AOF file: %s" % e.strerror, "#")
            self.last_write_ok = False
            self.last_write_error = e.strerror or str(e)
            return False
        if not self.last_write_ok:
            self.log("AOF write error looks solved, Redis can write again.")
        self.last_write_ok = True
        self.buf, self.buf_len = [], 0
        self.current_size += len(data)
        self.last_incr_size += len(data)
        if self.fsync_policy == "always":
            try:
                fdatasync(self.fd)
            except OSError as e:
                # Redis exits here: an acknowledged write would not be durable.
                self.log("Can't persist AOF for fsync error when the AOF fsync policy is "
                         "'always': %s. Exiting..." % e.strerror, "#")
                raise
            self.last_fsync = now
            self.synced_size = self.last_incr_size
        else:
            self._maybe_background_fsync(now)
        return True

    def fsync_now(self) -> None:
        """Synchronous fsync of the current incr (SHUTDOWN): waits for a background one."""
        if self._fsyncer is not None:
            self._fsyncer.drain()
        if self.fd >= 0:
            os.fsync(self.fd)
            self.synced_size = self.last_incr_size

    def _fsync_busy(self) -> bool:
        return self._fsyncer is not None and self._fsyncer.busy

    def _maybe_background_fsync(self, now: float) -> None:
        if (self.fsync_policy == "everysec" and self.synced_size != self.last_incr_size
                and now - self.last_fsync >= 1.0 and not self._fsync_busy()):
            if self._fsyncer is None:
                self._fsyncer = _FsyncThread()
            self._fsyncer.submit(self.fd)
            self.last_fsync = now
            self.synced_size = self.last_incr_size

    def set_fsync_policy(self, policy: str) -> None:
        """CONFIG SET appendfsync, live: switching to always syncs what is pending now."""
        if policy not in ("always", "everysec", "no"):
            raise ValueError(policy)
        self.fsync_policy = policy
        if policy == "always" and self.fd >= 0:
            self.flush_before_replies(force=True)
            if self._fsyncer is not None:
                self._fsyncer.drain()
            fdatasync(self.fd)
            self.synced_size = self.last_incr_size

    # -- rewrite ---------------------------------------------------------------------------
    def _write_base_file(self, path: str, *, fsync: bool = True) -> int:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            cw = ChunkedWriter(fd)
            if self.use_rdb_preamble:
                write_snapshot(self.engine, cw, aof_base=True)
            else:
                write_resp_base(self.engine, cw.write,
                                timestamp=int(self.clock()) if self.timestamps else None)
            cw.flush()
            if fsync:
                os.fsync(fd)
            return cw.total
        finally:
            os.close(fd)

    def start_rewrite(self) -> bool:
        """rewriteAppendOnlyFileBackground(): False if a rewrite runs or fork fails."""
        if self.child is not None:
            return False
        if self.state == AOF_ON:
            self.flush_before_replies(force=True)
            if self.fd >= 0:
                os.fsync(self.fd)
        # the new incr (or temp incr) receives every write made after the fork
        if self.state == AOF_OFF:
            # BGREWRITEAOF with appendonly no: only a new base, no incr to write to
            os.makedirs(self.aofdir, exist_ok=True)
            self.manifest = self._read_manifest()
        else:
            if self.state == AOF_WAIT_REWRITE:
                # what is buffered ran before the fork: the child's snapshot has it
                self.buf, self.buf_len = [], 0
                name = "temp-%s.incr" % self.filename
                newfd = os.open(self._path(name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                self.child_incr = name
            else:
                inc = self._next_incr()
                name = inc.fsname
                newfd = self._open_append(name)
                self.manifest.incrs.append(inc)
                self.persist_manifest()
                self.log("Creating AOF incr file %s on background rewrite" % name)
            if self.fd >= 0:
                if self._fsyncer is not None:
                    self._fsyncer.drain()  # it may be syncing the fd we close
                os.close(self.fd)
            self.fd = newfd
            self.incr_name = name
            self.last_incr_size = 0
            self.synced_size = 0
            self.selected_db = -1
        tmp = os.path.join(self.dirpath, "temp-rewriteaof-bg-%d.aof")

        def work():
            path = tmp % os.getpid()
            n = self._write_base_file(path, fsync=True)
            return {"bytes": n}

        try:
            self.child = start_job("aof", work)
        except OSError as e:
            self.log("Can't rewrite append only file in background: fork: %s" % e.strerror,
                     "#")
            self.last_rewrite_ok = False
            self.consecutive_failures += 1
            return False
        self.rewrite_scheduled = False
        self.log("Background append only file rewriting started by pid %d" % self.child.pid)
        return True

    def poll(self) -> JobResult | None:
        """Reap a finished rewrite child (call from the loop)."""
        if self.child is None:
            return None
        r = self.child.poll()
        if r is not None:
            self._rewrite_done(r)
        return r

    def wait_rewrite(self, timeout: float | None = None) -> JobResult | None:
        if self.child is None:
            return None
        r = self.child.wait(timeout)
        if r is not None:
            self._rewrite_done(r)
        return r

    def _kill_child(self) -> None:
        pid = self.child.pid
        self.child.kill()
        self.child = None
        self._unlink(os.path.join(self.dirpath, "temp-rewriteaof-bg-%d.aof" % pid))

    def _unlink(self, path: str) -> None:
        try:
            os.unlink(path)
        except OSError:
            pass

    def _rewrite_done(self, r: JobResult) -> None:
        """backgroundRewriteDoneHandler()."""
        pid = self.child.pid
        self.child = None
        self.last_rewrite_time_sec = int(round(r.duration))
        self.last_cow_size = r.cow_bytes
        tmp = os.path.join(self.dirpath, "temp-rewriteaof-bg-%d.aof" % pid)
        if not r.ok:
            self._unlink(tmp)
            self.last_rewrite_ok = False
            self.consecutive_failures += 1
            if r.signal:
                self.log("Background AOF rewrite terminated by signal %d" % r.signal, "#")
            else:
                self.log("Background AOF rewrite failed: %s"
                         % r.report.get("error", "exit code %d" % r.exit_code), "#")
            self._backoff()
            if self.state == AOF_WAIT_REWRITE:
                # AOF being switched on: try again from cron (the next child's snapshot
                # includes everything, so its temp incr starts empty again)
                self.rewrite_scheduled = True
            return
        self.log("Background AOF rewrite terminated with success")
        m = self.manifest
        base = self._next_base()
        try:
            os.replace(tmp, self._path(base.fsname))
        except OSError as e:
            self.log("Error trying to rename the temporary AOF base file %s into %s: %s"
                     % (os.path.basename(tmp), base.fsname, e.strerror), "#")
            self._unlink(tmp)
            self.last_rewrite_ok = False
            self.consecutive_failures += 1
            return
        self.log("Successfully renamed the temporary AOF base file %s into %s"
                 % (os.path.basename(tmp), base.fsname))
        newly_history = []
        if self.state == AOF_WAIT_REWRITE:
            inc = self._next_incr()
            os.replace(self._path(self.child_incr), self._path(inc.fsname))
            self.log("Successfully renamed the temporary AOF incr file %s into %s"
                     % (self.child_incr, inc.fsname))
            self.incr_name = inc.fsname
            self.child_incr = None
            newly_history = [AofInfo(i.name, i.seq, HISTORY) for i in reversed(m.incrs)]
            m.incrs = [inc]
            self.state = AOF_ON
        elif self.state == AOF_OFF:
            newly_history = [AofInfo(i.name, i.seq, HISTORY) for i in reversed(m.incrs)]
            m.incrs = []
        else:
            current = m.incrs[-1]
            newly_history = [AofInfo(i.name, i.seq, HISTORY) for i in reversed(m.incrs[:-1])]
            m.incrs = [current]
        if m.base is not None:
            newly_history.append(AofInfo(m.base.name, m.base.seq, HISTORY))
        m.base = base
        m.history = newly_history + m.history
        self.persist_manifest()
        self.base_size = self._size(base)
        self.current_size = self.base_size + self.last_incr_size
        self.rewrite_base_size = self.current_size
        self.last_rewrite_ok = True
        self.consecutive_failures = 0
        self.rewrites += 1
        self.next_auto_rewrite_after = 0.0
        if not self.disable_auto_gc:
            self.delete_history()
        self.log("Background AOF rewrite finished successfully")

    def delete_history(self) -> None:
        m = self.manifest
        if not m.history:
            return
        for h in m.history:
            self.log("Removing the history file %s in the background" % h.fsname)
            self._unlink(self._path(h.fsname))
        m.history = []
        self.persist_manifest()

    def _backoff(self) -> None:
        if self.consecutive_failures >= 3:
            minutes = min(_BACKOFF_MAX_MIN, 1 << min(self.consecutive_failures - 3, 6))
            self.next_auto_rewrite_after = self.clock() + 60 * minutes

    def auto_rewrite_due(self) -> bool:
        """serverCron's rule: growth over the size after the last rewrite."""
        if self.state != AOF_ON or self.child is not None or self.rewrite_perc <= 0:
            return False
        if self.current_size <= self.rewrite_min_size:
            return False
        if self.clock() < self.next_auto_rewrite_after:
            return False
        base = self.rewrite_base_size or 1
        growth = self.current_size * 100 // base - 100
        return growth >= self.rewrite_perc

    def cron(self) -> None:
        """Once per serverCron tick: reap, scheduled/auto rewrite, delayed flush/fsync."""
        self.poll()
        if self.child is None and (self.rewrite_scheduled or self.auto_rewrite_due()):
            if self.rewrite_scheduled or self.auto_rewrite_due():
                if not self.rewrite_scheduled:
                    self.log("Starting automatic rewriting of AOF on %d%% growth"
                             % (self.current_size * 100 // (self.rewrite_base_size or 1) - 100))
                self.start_rewrite()
        if self.state == AOF_ON:
            self.flush_before_replies()

    # -- INFO --------------------------------------------------------------------------------
    def info_fields(self, now: float | None = None) -> list[tuple[str, object]]:
        now = self.clock() if now is None else now
        running = self.child is not None
        out = [
            ("aof_enabled", int(self.state != AOF_OFF)),
            ("aof_rewrite_in_progress", int(running)),
            ("aof_rewrite_scheduled", int(self.rewrite_scheduled)),
            ("aof_last_rewrite_time_sec", self.last_rewrite_time_sec),
            ("aof_current_rewrite_time_sec", int(now - self.child.started) if running else -1),
            ("aof_last_bgrewrite_status", "ok" if self.last_rewrite_ok else "err"),
            ("aof_rewrites", self.rewrites),
            ("aof_rewrites_consecutive_failures", self.consecutive_failures),
            ("aof_last_write_status", "ok" if self.last_write_ok else "err"),
            ("aof_last_cow_size", self.last_cow_size),
            ("module_fork_in_progress", 0),
            ("module_fork_last_cow_size", 0),
        ]
        if self.state != AOF_OFF:
            out += [
                ("aof_current_size", self.current_size),
                ("aof_base_size", self.base_size),
                ("aof_pending_rewrite", int(self.rewrite_scheduled)),
                ("aof_buffer_length", self.buf_len),
                ("aof_pending_bio_fsync", int(self._fsync_busy())),
                ("aof_delayed_fsync", self.delayed_fsync),
            ]
        return out
