"""`--salvage`: drop only the damaged bytes of an AOF, keep every sound command after them.

redis-check-aof can only truncate, losing everything after the first bad byte.  Here
the RESP tail is re-read record by record; a stretch that is not a well-formed record is
skipped up to the next line start where a record parses again.  Transactions are kept
whole or not at all: a MULTI block containing damage, a MULTI never closed, or an EXEC
without MULTI is dropped entirely, since replaying half a transaction would be worse than
losing it.  The result is accepted by redis-check-aof and loads in Redis 7.0.

Safety: the original stays on disk as a hard link `<file>.orig-<unix-ms>` (a copy if
links are impossible); the salvaged file is written beside it, fsynced and renamed
over the original, then the folder is fsynced.  A JSON report of every removed byte
range goes to `<file>.salvage-<unix-ms>.json`.
"""

from __future__ import annotations

import json
import os
import shutil
import time

from rdbtools.fileio import atomic_output, fsync_dir

from .check import ResyncBudget, _next_boundary, _strict_annotation, _strict_command

__all__ = ["plan_salvage", "salvage_file"]

_COPY_CHUNK = 1 << 20


def plan_salvage(m, start: int, size: int, keep=None) -> tuple[list[tuple[int, int]], list[dict], int]:
    """Decide what stays of m[start:size]: (kept ranges, removed ranges, kept commands).

    Streams: only the records of an open transaction are held back.  With `keep`, kept
    ranges are handed to it as soon as they are final instead of being collected.
    """
    kept: list[tuple[int, int]] = []
    removed: list[dict] = []
    counts = [0]
    run = [None, None]                    # the kept range being extended

    def emit(off: int, end: int, is_cmd: bool) -> None:
        counts[0] += is_cmd
        if run[1] == off:
            run[1] = end
            return
        flush()
        run[0], run[1] = off, end

    def flush() -> None:
        if run[0] is not None:
            if keep is None:
                kept.append((run[0], run[1]))
            else:
                keep(run[0], run[1])
        run[0] = run[1] = None

    def drop(off: int, end: int, reason: str) -> None:
        if removed and removed[-1]["end"] == off and removed[-1]["reason"] == reason:
            removed[-1]["end"] = end
        else:
            removed.append({"offset": off, "end": end, "reason": reason})

    txn: list[tuple] | None = None        # records of the open MULTI: (off, end, is_cmd, bad)
    damaged = False

    def drop_txn(reason: str) -> None:
        for off, end, _is_cmd, bad in txn:
            drop(off, end, bad or reason)

    budget = ResyncBudget(size - start)
    p = start
    while p < size:
        rec = None
        c = m[p]
        if c == 0x2A:
            end, first = _strict_command(m, p, size)
            if end is not None:
                rec = (p, end, first)
            else:
                budget.charge(first)
        elif c == 0x23:
            end = _strict_annotation(m, p, size)
            if end is not None:
                rec = (p, end, None)
        if rec is None:
            # resynchronise at the next possible record start (or give up on the rest
            # when a crafted file has used up the budget)
            nxt = size if budget.spent else _next_boundary(m, p + 1, size)
            if txn is not None:
                txn.append((p, nxt, False, _DAMAGED))
                damaged = True
            else:
                drop(p, nxt, _DAMAGED)
            p = nxt
            continue
        off, end, verb = rec
        is_cmd = m[off] == 0x2A
        p = end
        if verb == b"multi":
            if txn is not None:
                drop_txn("transaction interrupted by another MULTI")
            txn, damaged = [(off, end, True, None)], False
        elif verb == b"exec":
            if txn is None:
                drop(off, end, "EXEC without MULTI")
            else:
                txn.append((off, end, True, None))
                if damaged:
                    drop_txn("transaction containing damage")
                else:
                    for t_off, t_end, t_cmd, _bad in txn:
                        emit(t_off, t_end, t_cmd)
                txn, damaged = None, False
        elif txn is not None:
            txn.append((off, end, is_cmd, None))
        else:
            emit(off, end, is_cmd)
    if txn is not None:
        drop_txn("MULTI without EXEC")
    flush()
    for r in removed:
        r["length"] = r["end"] - r["offset"]
    return kept, removed, counts[0]


_DAMAGED = "damaged bytes (not a well-formed record)"


def salvage_file(path: str, m, size: int, start: int, *, note=lambda text: None) -> dict:
    """Rewrite `path` as its preamble (m[:start]) plus the sound records; return the report."""
    stamp = int(time.time() * 1000)
    orig = f"{path}.orig-{stamp}"
    try:
        os.link(path, orig)
    except OSError:
        shutil.copy2(path, orig)
        with open(orig, "rb") as f:
            os.fsync(f.fileno())
    fsync_dir(os.path.dirname(os.path.abspath(path)))
    written = [0]
    st = os.stat(path)
    with atomic_output(path, compress=False) as out:
        # the server must still be able to open it: same mode and, when allowed, owner
        os.fchmod(out.fileno(), st.st_mode & 0o7777)
        try:
            os.fchown(out.fileno(), st.st_uid, st.st_gid)
        except OSError:
            pass
        def keep(a: int, b: int) -> None:
            for c in range(a, b, _COPY_CHUNK):
                out.write(m[c:min(b, c + _COPY_CHUNK)])
            written[0] += b - a

        if start:
            keep(0, start)
        _kept, removed, ncmd = plan_salvage(m, start, size, keep=keep)
    new_size = written[0]
    report = {
        "file": path, "original_size": size, "new_size": new_size,
        "original_kept_as": orig, "kept_commands": ncmd,
        "removed_bytes": sum(r["length"] for r in removed), "removed": removed,
    }
    report_path = f"{path}.salvage-{stamp}.json"
    with atomic_output(report_path, compress=False) as f:
        f.write(json.dumps(report, indent=2).encode() + b"\n")
    report["report_file"] = report_path
    note(f"check-aof: salvaged {path}: removed {report['removed_bytes']} bytes in "
         f"{len(removed)} range(s), kept {ncmd} command(s); original kept as {orig}; "
         f"report in {report_path}")
    for r in removed:
        note(f"check-aof:   removed [{r['offset']}, {r['end']}) {r['length']} bytes: {r['reason']}")
    return report
