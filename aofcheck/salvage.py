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

from .check import _next_boundary, _strict_annotation, _strict_command

__all__ = ["plan_salvage", "salvage_file"]

_COPY_CHUNK = 1 << 20


def plan_salvage(m, start: int, size: int) -> tuple[list[tuple[int, int]], list[dict], int]:
    """(kept ranges, removed ranges with reasons, kept command count) for m[start:size]."""
    items: list[list] = []          # [kind, offset, end, verb, keep, reason]
    p = start
    while p < size:
        c = m[p]
        if c == 0x2A:
            got = _strict_command(m, p, size)
            if got is not None:
                items.append(["cmd", p, got[0], got[1], True, None])
                p = got[0]
                continue
        elif c == 0x23:
            end = _strict_annotation(m, p, size)
            if end is not None:
                items.append(["ann", p, end, None, True, None])
                p = end
                continue
        nxt = _next_boundary(m, p + 1, size)
        items.append(["bad", p, nxt, None, False, "damaged bytes (not a well-formed record)"])
        p = nxt
    _repair_transactions(items)
    kept: list[tuple[int, int]] = []
    removed: list[dict] = []
    ncmd = 0
    for kind, off, end, _verb, keep, reason in items:
        if keep:
            ncmd += kind == "cmd"
            if kept and kept[-1][1] == off:
                kept[-1] = (kept[-1][0], end)
            else:
                kept.append((off, end))
        else:
            if removed and removed[-1]["end"] == off and removed[-1]["reason"] == reason:
                removed[-1]["end"] = end
            else:
                removed.append({"offset": off, "end": end, "reason": reason})
    for r in removed:
        r["length"] = r["end"] - r["offset"]
    return kept, removed, ncmd


def _repair_transactions(items: list[list]) -> None:
    open_at: int | None = None          # index of the open MULTI
    damaged = False

    def drop(a: int, b: int, reason: str) -> None:
        for it in items[a:b]:
            it[4] = False
            it[5] = it[5] if it[0] == "bad" else reason

    for i, it in enumerate(items):
        kind, verb = it[0], it[3]
        if kind == "bad":
            if open_at is not None:
                damaged = True
            continue
        if kind != "cmd":
            continue
        if verb == b"multi":
            if open_at is not None:
                drop(open_at, i, "transaction interrupted by another MULTI")
            open_at, damaged = i, False
        elif verb == b"exec":
            if open_at is None:
                drop(i, i + 1, "EXEC without MULTI")
            else:
                if damaged:
                    drop(open_at, i + 1, "transaction containing damage")
                open_at, damaged = None, False
    if open_at is not None:
        drop(open_at, len(items), "MULTI without EXEC")


def salvage_file(path: str, m, size: int, start: int, *, note=lambda text: None) -> dict:
    """Rewrite `path` as its preamble (m[:start]) plus the sound records; return the report."""
    kept, removed, ncmd = plan_salvage(m, start, size)
    stamp = int(time.time() * 1000)
    orig = f"{path}.orig-{stamp}"
    try:
        os.link(path, orig)
    except OSError:
        shutil.copy2(path, orig)
        with open(orig, "rb") as f:
            os.fsync(f.fileno())
    fsync_dir(os.path.dirname(os.path.abspath(path)))
    with atomic_output(path, compress=False) as out:
        for a, b in ([(0, start)] if start else []) + kept:
            for c in range(a, b, _COPY_CHUNK):
                out.write(m[c:min(b, c + _COPY_CHUNK)])
    new_size = start + sum(b - a for a, b in kept)
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
