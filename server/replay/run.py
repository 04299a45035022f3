"""`replay()`: connect, pick the payload version, plan, send, report."""

from __future__ import annotations

import os
import time
from typing import Callable, Iterator

from rdbtools.errors import FormatError

from .._client import Connection, Target
from .options import (WINDOW_MAX_BYTES, Failure, ReplayError, ReplayOptions, ReplayReport,
                      rdb_version_for)
from .planner import plan
from .sender import _Sender, _server_version, _Stop
from .sources import source_kind
from .units import J_BULK, Unit

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
