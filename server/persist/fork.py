"""Fork-based background jobs (BGSAVE, BGREWRITEAOF): one child at a time, reaped
without blocking from the event loop.

CPython makes copy-on-write expensive: every object the child touches gets its
reference count written, so the page holding it is copied. Two things help and are
done here: `gc.freeze()` right before `fork()` (the child's collector then never walks
the parent's objects, which would dirty every GC header) and disabling the collector
in the child. The child measures what it still copied (`Private_Dirty` of
/proc/self/smaps_rollup) and sends it back through a pipe with its result.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import time
from dataclasses import dataclass

__all__ = ["ForkJob", "JobResult", "private_dirty_bytes", "start_job"]

#: The child's report is tiny; more than this on the pipe means something is wrong.
REPORT_MAX = 1 << 16


def private_dirty_bytes(pid: int | str = "self") -> int:
    """Bytes of this process's memory that are private and dirty (the COW cost)."""
    try:
        with open("/proc/%s/smaps_rollup" % pid, "rb") as f:
            data = f.read()
    except OSError:
        try:
            with open("/proc/%s/smaps" % pid, "rb") as f:
                data = f.read()
        except OSError:
            return 0
    total = 0
    for line in data.splitlines():
        if line.startswith(b"Private_Dirty:"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                total += int(parts[1]) * 1024
    return total


@dataclass
class JobResult:
    kind: str
    ok: bool
    exit_code: int
    signal: int
    cow_bytes: int
    duration: float
    report: dict


class ForkJob:
    """A running child; `poll()` returns its JobResult once, after it exited."""

    def __init__(self, kind: str, pid: int, rfd: int, started: float) -> None:
        self.kind = kind
        self.pid = pid
        self._rfd = rfd
        self.started = started
        self._buf = bytearray()
        self.result: JobResult | None = None

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self._rfd, 4096)
            except BlockingIOError:
                return
            except OSError:
                return
            if not data:
                return
            if len(self._buf) < REPORT_MAX:
                self._buf += data

    def poll(self) -> JobResult | None:
        if self.result is not None:
            return None
        self._drain()
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            pid, status = self.pid, 255 << 8
        if pid == 0:
            return None
        return self._finish(status)

    def wait(self, timeout: float | None = None) -> JobResult | None:
        """Block until the child exits (tests, SHUTDOWN); None on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            r = self.poll()
            if r is not None or self.result is not None:
                return r or self.result
            if deadline is not None and time.monotonic() > deadline:
                return None
            time.sleep(0.005)

    def kill(self) -> None:
        """Stop the child (FLUSHALL, SHUTDOWN, a new rewrite): its result is a failure."""
        if self.result is not None:
            return
        try:
            os.kill(self.pid, signal.SIGUSR1)
        except ProcessLookupError:
            pass
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            status = signal.SIGUSR1
        self._finish(status)

    def _finish(self, status: int) -> JobResult:
        self._drain()
        os.close(self._rfd)
        code = os.waitstatus_to_exitcode(status)
        sig = -code if code < 0 else 0
        try:
            report = json.loads(bytes(self._buf) or b"{}")
        except ValueError:
            report = {}
        ok = code == 0 and report.get("ok") is True
        self.result = JobResult(self.kind, ok, max(code, 0), sig, int(report.get("cow", 0)),
                                time.time() - self.started, report)
        return self.result


def start_job(kind: str, work) -> ForkJob:
    """Fork; the child runs `work()` (returns a JSON-able dict) and `os._exit`s.

    Raises OSError when fork fails (the caller reports `-ERR` like Redis does).
    """
    rfd, wfd = os.pipe()
    gc.freeze()
    try:
        pid = os.fork()
    except OSError:
        gc.unfreeze()
        os.close(rfd)
        os.close(wfd)
        raise
    if pid == 0:  # pragma: no cover - runs in the child, covered by the fork tests
        code = 1
        try:
            os.close(rfd)
            gc.disable()
            try:  # the parent's Python handlers must not run here
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGUSR1, signal.SIG_DFL)
            except ValueError:
                pass
            report = {"ok": False}
            try:
                report = dict(work() or {})
                report["ok"] = True
                code = 0
            except BaseException as e:  # noqa: BLE001 - anything must reach the parent
                report = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
            report["cow"] = private_dirty_bytes()
            data = json.dumps(report).encode()
            view = memoryview(data)
            while view:
                view = view[os.write(wfd, view):]
        finally:
            os._exit(code)
    gc.unfreeze()
    os.close(wfd)
    os.set_blocking(rfd, False)
    return ForkJob(kind, pid, rfd, time.time())
