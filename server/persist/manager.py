"""One object the server wires in: boot, the persistence commands, INFO, cron hooks.

The network loop calls `before_sleep()` after processing a batch of requests and before
sending their replies (the AOF write/fsync), and `cron()` from its periodic timer (reap
children, save points, scheduled and automatic rewrites). Command handlers call the
`cmd_*` methods, which return `(ok, message)`: the message is the status text on
success and the error text (with its `ERR` prefix) otherwise, worded as Redis 7.0.
Only one child (BGSAVE or BGREWRITEAOF) runs at a time, as in Redis.
"""

from __future__ import annotations

import time

from .aof import AOF_OFF, AofManager
from .bgsave import RdbState
from .load import LoadProgress, boot

__all__ = ["Persistence"]


class Persistence:
    def __init__(self, engine, *, log=None, clock=time.time, tick=None) -> None:
        self.engine = engine
        self.log = log or (lambda msg, mark="*": None)
        self.clock = clock
        self.rdb = RdbState(engine, clock=clock, log=self.log)
        self.aof = AofManager.from_config(engine, log=self.log)
        self.aof.clock = clock
        self.progress = LoadProgress(tick)
        self.boot_result = None
        self.done = False  # shutdown() ran (SHUTDOWN command or signal): do not repeat
        self._cow = (0, 0, 0.0)  # (child pid, peak bytes, time of the last reading)

    # -- start ------------------------------------------------------------------------
    def boot(self):
        """loadDataFromDisk() + AOF start; raises AofLoadError/FormatError to refuse."""
        res = boot(self.engine, log=self.log, progress=self.progress, start_aof=False)
        if self.engine.config.get("appendonly") == "yes":
            self.aof.start()
        self.rdb.last_load_keys_loaded = self.progress.keys_loaded
        self.rdb.last_load_keys_expired = self.progress.keys_expired
        self.rdb.dirty_at_save = self.engine.dirty
        res.aof = self.aof if self.aof.state != AOF_OFF else None
        self.boot_result = res
        return res

    def attach(self) -> None:
        """Follow CONFIG SET through `Config.listeners` (after boot: file directives at
        startup must not trigger a rewrite)."""
        def on_change(name: str) -> None:
            ok, msg = self.config_changed(name)
            if not ok:
                self.log(msg, "#")

        self.engine.config.listeners.append(on_change)

    @property
    def loading(self) -> bool:
        return self.progress.active

    def child_running(self) -> bool:
        return self.rdb.child is not None or self.aof.child is not None

    # -- commands ---------------------------------------------------------------------
    def cmd_save(self) -> tuple[bool, str]:
        if self.rdb.child is not None:
            return False, "ERR Background save already in progress"
        return (True, "OK") if self.rdb.save() else (False, "ERR")

    def cmd_bgsave(self, schedule: bool = False) -> tuple[bool, str]:
        if self.rdb.child is not None:
            return False, "ERR Background save already in progress"
        if self.child_running():
            if schedule:
                self.rdb.scheduled = True
                return True, "Background saving scheduled"
            return False, ("ERR Another child process is active (AOF?): can't BGSAVE right "
                           "now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever "
                           "possible.")
        try:
            self.rdb.bgsave()
        except OSError as e:
            self.log("Can't save in background: fork: %s" % e.strerror, "#")
            return False, "ERR Background save failed: %s" % e.strerror
        return True, "Background saving started"

    def cmd_bgrewriteaof(self) -> tuple[bool, str]:
        if self.aof.child is not None:
            return False, "ERR Background append only file rewriting already in progress"
        if self.child_running():
            self.aof.rewrite_scheduled = True
            return True, "Background append only file rewriting scheduled"
        if not self.aof.start_rewrite():
            return False, ("ERR Can't execute an AOF background rewriting. Please check the "
                           "server logs for more information.")
        return True, "Background append only file rewriting started"

    def lastsave(self) -> int:
        return self.rdb.lastsave

    def _empty(self) -> None:
        for db in self.engine.dbs:
            db.touch_all()
            db.clear()
        self.engine.functions.clear()

    def debug_reload(self) -> tuple[bool, str]:
        """DEBUG RELOAD: SAVE, empty the dataset, load the dump back."""
        from .snapshot import load_rdb

        ok, msg = self.cmd_save()
        if not ok:
            return False, "ERR Error trying to save the DB"
        self._empty()
        load_rdb(self.engine, self.rdb.path, path=self.rdb.path)
        self.log("DB reloaded by DEBUG RELOAD")
        return True, "OK"

    def debug_loadaof(self) -> tuple[bool, str]:
        """DEBUG LOADAOF: flush the AOF, empty the dataset, replay the AOF files."""
        from .load import load_aof_dir

        if self.aof.state == AOF_OFF:
            return True, "OK"  # Redis: nothing to load, dataset kept
        self.aof.flush_before_replies(force=True)
        self.aof.fsync_now()
        self._empty()
        cfg = self.engine.config
        load_aof_dir(self.engine, self.aof.dirpath, self.aof.filename, self.aof.dirname,
                     load_truncated=cfg.get("aof-load-truncated") == "yes", log=self.log)
        self.log("Append Only File loaded by DEBUG LOADAOF")
        return True, "OK"

    # -- loop hooks -------------------------------------------------------------------
    def before_sleep(self) -> None:
        """Before replies leave: AOF buffer written (and fsynced for `always`)."""
        if self.aof.state != AOF_OFF:
            self.aof.flush_before_replies()

    def cron(self) -> None:
        self.rdb.poll()
        self.aof.poll()
        if not self.child_running():
            if self.rdb.scheduled:
                self.cmd_bgsave()
            elif self.aof.rewrite_scheduled:
                self.aof.start_rewrite()
            else:
                due = self.rdb.due_save_point()
                if due is not None:
                    self.log("%d changes in %d seconds. Saving..." % (due[1], due[0]))
                    self.cmd_bgsave()
                elif self.aof.auto_rewrite_due():
                    self.log("Starting automatic rewriting of AOF on %d%% growth"
                             % (self.aof.current_size * 100 // (self.aof.rewrite_base_size or 1)
                                - 100))
                    self.aof.start_rewrite()
        if self.aof.state != AOF_OFF:
            self.aof.flush_before_replies()  # a write postponed by a slow fsync

    # -- events from other commands ---------------------------------------------------
    def after_flushall(self) -> None:
        """flushAllDataAndResetRDB(): drop a running BGSAVE, SAVE if save points are set."""
        self.rdb.kill_child()
        if self.rdb.save_params():
            self.rdb.save()

    def shutdown(self, *, save: bool = False, nosave: bool = False,
                 force: bool = False) -> bool:
        """prepareForShutdown(): False means refuse (reply "-ERR Errors trying to SHUTDOWN").

        Also the SIGTERM/SIGINT path: with no flags, save when save points are set.
        """
        self.rdb.kill_child()
        if self.aof.state != AOF_OFF:
            self.aof.flush_before_replies(force=True)
            self.aof.fsync_now()
        if not nosave and (save or self.rdb.save_params()):
            self.log("Saving the final RDB snapshot before exiting.")
            if not self.rdb.save():
                self.log("Error trying to save the DB, can't exit.", "#")
                if not force:
                    return False
        if self.aof.state != AOF_OFF or self.aof.child is not None:
            self.aof.disable()  # kills a rewrite child, closes the incr
        self.done = True
        return True

    def config_changed(self, name: str) -> tuple[bool, str]:
        """CONFIG SET hook for the live persistence settings."""
        cfg = self.engine.config
        if name == "appendonly":
            if cfg.get("appendonly") == "yes" and self.aof.state == AOF_OFF:
                if not self.aof.enable_at_runtime(defer=self.rdb.child is not None):
                    return False, "ERR Unable to turn on AOF. Check server logs."
            elif cfg.get("appendonly") == "no" and self.aof.state != AOF_OFF:
                self.aof.disable()
        elif name == "appendfsync":
            self.aof.set_fsync_policy(cfg.get("appendfsync"))
        elif name == "aof-timestamp-enabled":
            self.aof.timestamps = cfg.get("aof-timestamp-enabled") == "yes"
        elif name == "aof-use-rdb-preamble":
            self.aof.use_rdb_preamble = cfg.get("aof-use-rdb-preamble") == "yes"
        elif name == "auto-aof-rewrite-percentage":
            self.aof.rewrite_perc = int(cfg.get(name))
        elif name == "auto-aof-rewrite-min-size":
            self.aof.rewrite_min_size = int(cfg.get(name))
        elif name == "aof-disable-auto-gc":
            self.aof.disable_auto_gc = cfg.get(name) == "yes"
            if not self.aof.disable_auto_gc and self.aof.child is None:
                self.aof.delete_history()
        return True, "OK"

    # -- INFO -------------------------------------------------------------------------
    def _current_cow(self, now: float) -> tuple[int, int, int]:
        """COW of the running child, read from its /proc entry (Redis's child reports
        it through a pipe; the parent can read it directly here)."""
        from .fork import private_dirty_bytes

        job = self.rdb.child or self.aof.child
        if job is None:
            self._cow = (0, 0, 0.0)
            return 0, 0, 0
        size = private_dirty_bytes(job.pid)
        pid, peak, _ = self._cow
        peak = max(size, peak if pid == job.pid else 0)
        self._cow = (job.pid, peak, now)
        return size, peak, 0

    def info_fields(self) -> list[tuple[str, object]]:
        """The whole `# Persistence` section, fields named and ordered as 7.0 does."""
        now = self.clock()
        size, peak, age = self._current_cow(now)
        out = [("loading", int(self.progress.active)), ("async_loading", 0),
               ("current_cow_peak", peak), ("current_cow_size", size),
               ("current_cow_size_age", age), ("current_fork_perc", "0.00"),
               ("current_save_keys_processed", 0), ("current_save_keys_total", 0)]
        out += self.rdb.info_fields(now)
        out += self.aof.info_fields(now)
        out += self.progress.info_fields()
        return out
