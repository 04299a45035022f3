"""Render a stream of records: JSON, JSON Lines, RESP commands, key names, memory CSV.

`dump_records` is the library behind `rdb-dump`: it filters, renders to a binary file
object and returns a report; it never prints. Output is produced as records arrive, so
memory stays bounded whatever the input size (except `--largest`, bounded by N).
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterable

from ..filters import KeyFilter
from ..records import KeyRecord, Record

FORMATS = ("json", "jsonl", "resp", "keys", "memory")


@dataclass
class DumpReport:
    format: str
    keys: int = 0       # key records rendered
    records: int = 0    # records read (all kinds)
    chunks_taken: int = 0   # parallel dump: chunks whose text a worker rendered
    chunks_redone: int = 0  # ... and worker chunks the parent parsed again
    workers_lost: int = 0   # ... and workers that died (their chunks were redone)


def make_renderer(fmt: str, out: BinaryIO, *, resp_restore: bool = False,
                  rdb_version: int = 10, largest: int | None = None,
                  replace: bool = False, memory_config=None):
    if fmt in ("json", "jsonl"):
        from ..jsonfmt import JsonWriter

        return JsonWriter(out, jsonl=fmt == "jsonl")
    if fmt == "resp":
        from .resp import RespRenderer

        return RespRenderer(out, restore=resp_restore, rdb_version=rdb_version,
                            replace=replace)
    if fmt == "keys":
        from .keys import KeysRenderer

        return KeysRenderer(out)
    if fmt == "memory":
        from .memory import MemoryRenderer

        from .memory import DEFAULT_CONFIG

        return MemoryRenderer(out, largest=largest, config=memory_config or DEFAULT_CONFIG)
    raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")


def dump_records(records: Iterable[Record], out: BinaryIO, fmt: str = "json", *,
                 key_filter: KeyFilter | None = None, resp_restore: bool = False,
                 rdb_version: int = 10, largest: int | None = None, replace: bool = False,
                 memory_config=None,
                 on_record: Callable[[Record], None] | None = None) -> DumpReport:
    """Render `records` to `out`. An error from the source propagates after whatever
    was already written: callers that write files use `fileio.atomic_output`, so a
    failed run never leaves a truncated file behind."""
    renderer = make_renderer(fmt, out, resp_restore=resp_restore, rdb_version=rdb_version,
                             largest=largest, replace=replace, memory_config=memory_config)
    report = DumpReport(fmt)
    accepts = None if key_filter is None or key_filter.is_noop else key_filter.accepts
    write = renderer.write
    n = 0
    batches = getattr(records, "batches", None)
    write_batch = getattr(renderer, "write_batch", None)
    if batches is not None and write_batch is not None and on_record is None:
        # The batch path: whole parser batches straight into the renderer, plain
        # string keys as tuples when no filter needs to look at them. Records and
        # text make no reference cycles, so the cyclic GC (a tenth of the run time,
        # scanning live batches over and over) stays off meanwhile.
        gc_was_on = gc.isenabled()
        gc.disable()
        try:
            for batch in batches(raw_strings=accepts is None):
                n += len(batch)
                if accepts is not None:
                    batch = [r for r in batch if type(r) is not KeyRecord or accepts(r)]
                write_batch(batch)
        finally:
            if gc_was_on:
                gc.enable()
        records = ()
    for rec in records:
        n += 1
        if on_record is not None:
            on_record(rec)
        if type(rec) is KeyRecord and accepts is not None and not accepts(rec):
            continue
        write(rec)
    renderer.close()
    report.records = n
    report.keys = renderer.keys
    return report
