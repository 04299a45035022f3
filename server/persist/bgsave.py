"""SAVE / BGSAVE / save points: the RDB side of `rdb.c`'s bookkeeping.

`RdbState` holds what INFO persistence reports and what `serverCron` decides with
(changes since the last save, last save time, status of the last BGSAVE, the child).
The loop calls `poll()` each iteration to reap the child; nothing here blocks.
"""

from __future__ import annotations

import os
import time

from .fork import ForkJob, JobResult, start_job
from .snapshot import save_rdb

__all__ = ["parse_save_params", "RdbState", "BGSAVE_RETRY_DELAY"]

#: CONFIG_BGSAVE_RETRY_DELAY: after a failed BGSAVE, save points wait this long (s).
BGSAVE_RETRY_DELAY = 5


def parse_save_params(text: str) -> list[tuple[int, int]]:
    """`save "3600 1 300 100"` -> [(3600, 1), (300, 100)]; "" -> no save points."""
    parts = text.split()
    if len(parts) % 2:
        raise ValueError("Invalid save parameters")
    out = []
    for i in range(0, len(parts), 2):
        secs, changes = int(parts[i]), int(parts[i + 1])
        if secs < 1 or changes < 0:
            raise ValueError("Invalid save parameters")
        out.append((secs, changes))
    return out


class RdbState:
    """RDB persistence state of one server (the `server.rdb_*` / `server.dirty` fields)."""

    def __init__(self, engine, *, clock=time.time, log=None) -> None:
        self.engine = engine
        self.clock = clock
        self.log = log or (lambda msg, mark="*": None)
        self.lastsave = int(clock())
        self.last_bgsave_try = 0
        self.last_bgsave_ok = True
        self.last_bgsave_time_sec = -1
        self.saves = 0
        self.last_cow_size = 0
        self.dirty_before_bgsave = 0
        self.child: ForkJob | None = None
        self.scheduled = False
        self.last_load_keys_loaded = 0
        self.last_load_keys_expired = 0
        # `changes since last save` = engine.dirty - this; engine.dirty itself is never
        # touched (the engine compares it around every call to decide propagation).
        self.dirty_at_save = engine.dirty

    @property
    def changes(self) -> int:
        return max(0, self.engine.dirty - self.dirty_at_save)

    # -- config ------------------------------------------------------------------------
    @property
    def path(self) -> str:
        cfg = self.engine.config
        return os.path.join(cfg.get("dir") or os.getcwd(), cfg.get("dbfilename"))

    def save_params(self) -> list[tuple[int, int]]:
        try:
            return parse_save_params(self.engine.config.get("save"))
        except ValueError:
            return []

    def _snapshot_kw(self) -> dict:
        return {"compress": self.engine.config.get("rdbcompression") == "yes",
                "checksum": self.engine.config.get("rdbchecksum") == "yes"}

    # -- SAVE ---------------------------------------------------------------------------
    def save(self) -> bool:
        """Foreground SAVE; False (and a logged reason) on failure."""
        if self.child is not None:
            return False
        try:
            save_rdb(self.engine, self.path, **self._snapshot_kw())
        except OSError as e:
            self.log("Failed opening the temp RDB file temp-%d.rdb (in server root dir %s) "
                     "for saving: %s" % (os.getpid(), os.path.dirname(self.path), e.strerror),
                     "#")
            return False
        self.log("DB saved on disk")
        self.dirty_at_save = self.engine.dirty
        self.lastsave = int(self.clock())
        self.last_bgsave_ok = True
        self.saves += 1
        return True

    # -- BGSAVE -------------------------------------------------------------------------
    def bgsave(self) -> int:
        """Fork a child writing `temp-<pid>.rdb` then renaming it; returns its pid."""
        engine = self.engine
        path = self.path
        kw = self._snapshot_kw()
        self.dirty_before_bgsave = engine.dirty
        self.last_bgsave_try = int(self.clock())

        def work():
            st = save_rdb(engine, path, tmp=os.path.join(os.path.dirname(path),
                                                         "temp-%d.rdb" % os.getpid()), **kw)
            return {"keys": st.keys, "bytes": st.bytes}

        self.child = start_job("rdb", work)
        self.scheduled = False
        self.log("Background saving started by pid %d" % self.child.pid)
        return self.child.pid

    def poll(self) -> JobResult | None:
        """Reap a finished child (call from the loop): updates INFO state and `dirty`."""
        if self.child is None:
            return None
        r = self.child.poll()
        if r is not None:
            self._done(r)
        return r

    def wait(self, timeout: float | None = None) -> JobResult | None:
        if self.child is None:
            return None
        r = self.child.wait(timeout)
        if r is not None:
            self._done(r)
        return r

    def kill_child(self) -> None:
        """killRDBChild(): FLUSHALL and SHUTDOWN drop a running BGSAVE."""
        if self.child is None:
            return
        pid = self.child.pid
        self.child.kill()
        self.child = None
        try:
            os.unlink(os.path.join(os.path.dirname(self.path), "temp-%d.rdb" % pid))
        except OSError:
            pass
        self.last_bgsave_ok = False

    def _done(self, r: JobResult) -> None:
        self.child = None
        self.last_bgsave_time_sec = int(round(r.duration))
        self.last_cow_size = r.cow_bytes
        if r.ok:
            self.log("Background saving terminated with success")
            self.dirty_at_save = max(self.dirty_at_save, self.dirty_before_bgsave)
            self.lastsave = int(self.clock())
            self.last_bgsave_ok = True
            self.saves += 1
        else:
            if r.signal:
                self.log("Background saving terminated by signal %d" % r.signal, "#")
            else:
                self.log("Background saving error: %s" % r.report.get("error", "exit code %d"
                                                                       % r.exit_code), "#")
            self.last_bgsave_ok = False
        if r.cow_bytes:
            self.log("Fork CoW for RDB: current %d MB, peak %d MB, average %d MB"
                     % (r.cow_bytes >> 20, r.cow_bytes >> 20, r.cow_bytes >> 20))

    # -- serverCron ---------------------------------------------------------------------
    def due_save_point(self) -> tuple[int, int] | None:
        """The save point that fires now (rdbSaveBackground from serverCron), if any."""
        now = int(self.clock())
        dirty = self.changes
        for secs, changes in self.save_params():
            if (dirty >= changes and now - self.lastsave > secs
                    and (now - self.last_bgsave_try > BGSAVE_RETRY_DELAY
                         or self.last_bgsave_ok)):
                return secs, changes
        return None

    def info_fields(self, now: float | None = None) -> list[tuple[str, object]]:
        now = self.clock() if now is None else now
        running = self.child is not None
        return [
            ("rdb_changes_since_last_save", self.changes),
            ("rdb_bgsave_in_progress", int(running)),
            ("rdb_last_save_time", self.lastsave),
            ("rdb_last_bgsave_status", "ok" if self.last_bgsave_ok else "err"),
            ("rdb_last_bgsave_time_sec", self.last_bgsave_time_sec),
            ("rdb_current_bgsave_time_sec", int(now - self.child.started) if running else -1),
            ("rdb_saves", self.saves),
            ("rdb_last_cow_size", self.last_cow_size),
            ("rdb_last_load_keys_expired", self.last_load_keys_expired),
            ("rdb_last_load_keys_loaded", self.last_load_keys_loaded),
        ]
