"""Replay an AOF of any layout into a fresh engine, without sockets or side effects.

Backs `rdbkit convert <appendonlydir|manifest|file.aof> out.rdb|out.json` and `rdbkit
digest <AOF>`: the same command engine and loader as the server's boot, but nothing on
disk is changed (a truncated tail is cut in memory only) and `truncate_to_timestamp`
stops at the first `#TS:` annotation later than it (point-in-time recovery, as
`redis-check-aof --truncate-to-timestamp` would cut the file).
"""

from __future__ import annotations

import os

from aofcheck.layout import MULTI_PART, detect

from .config import Config
from .engine import Engine
from .persist.load import AofLoadError, read_manifest, replay_file, replay_files

__all__ = ["replay_aof", "aof_digest", "aof_records", "engine_records", "AofLoadError"]


def _fresh_engine() -> Engine:
    cfg = Config()
    return Engine(cfg)


def replay_aof(path: str, truncate_to_timestamp: int | None = None, *,
               engine: Engine | None = None, log=None) -> Engine:
    """Load the AOF at `path` (dir, manifest, or single file) into an engine.

    Raises AofLoadError (a FormatError) for damage Redis would refuse to start with,
    ManifestError for a bad manifest, OSError/LayoutError when nothing can be found.
    A truncated last command is dropped, as the server does with aof-load-truncated.
    """
    engine = engine or _fresh_engine()
    log = log or (lambda msg, mark="*": None)
    layout = detect(os.fspath(path))
    if layout.kind == MULTI_PART:
        m = read_manifest(layout.path)
        name = os.path.basename(layout.path)
        replay_files(engine, layout.dirpath, m, fix_on_disk=False,
                     stop_after_ts=truncate_to_timestamp, log=log,
                     filename=name[:-len(".manifest")] if name.endswith(".manifest") else None)
    else:
        replay_file(engine, layout.path, fix_on_disk=False, stop_after_ts=truncate_to_timestamp,
                    log=log)
    return engine


def aof_digest(path: str, truncate_to_timestamp: int | None = None) -> str:
    """DEBUG DIGEST of the dataset the AOF describes (40 hex digits)."""
    from rdbtools.digest import DatasetDigest

    from .objects import to_record

    e = replay_aof(path, truncate_to_timestamp)
    d = DatasetDigest()
    for db in e.dbs:
        exp = db.expires
        for k, v in db.data.items():
            kind, value, fexp = to_record(v)
            d.add(db.id, k, kind, value, k in exp, field_expires=fexp)
    return d.hexdigest()


def engine_records(engine: Engine):
    """The engine's dataset as rdbtools records, in file order (Header, AUX, functions,
    per database SelectDb/ResizeDb and its keys, End): what `rdbtools.convert`'s writers
    and renderers consume, so an AOF converts to any of their formats."""
    from rdbtools.records import Aux, End, Function, Header, ResizeDb, SelectDb

    from .persist.snapshot import RDB_VERSION, SERVER_VERSION, iter_key_records

    yield Header(RDB_VERSION)
    yield Aux(b"redis-ver", SERVER_VERSION.encode())
    for code in engine.functions.values():
        yield Function(code)
    current = None
    for rec in iter_key_records(engine):
        if rec.db != current:
            current = rec.db
            db = engine.dbs[rec.db]
            yield SelectDb(rec.db)
            yield ResizeDb(len(db.data), len(db.expires))
        yield rec
    yield End(None, None)


def aof_records(path: str, truncate_to_timestamp: int | None = None):
    """Replay the AOF at `path`, then its dataset as records (see `engine_records`)."""
    return engine_records(replay_aof(path, truncate_to_timestamp))
