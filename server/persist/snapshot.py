"""Engine keyspace <-> RDB, through rdbtools' writer and reader.

The server's own bridge (`server.objects.to_record` / `from_record`) does the value
conversion, so a snapshot and DEBUG DIGEST can never disagree about what a value is.
Saving streams the file key by key (a fork child must not build a second copy of the
dataset); loading applies Redis 7.0's master rules: keys already expired are dropped
unless the RDB is an AOF preamble/base, duplicate keys and out-of-range databases are
fatal, module values cannot be held.
"""

from __future__ import annotations

import gc
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from rdbtools.constants import Kind, RdbType
from rdbtools.errors import CorruptError, FormatError, UnsupportedError
from rdbtools import fileio
from rdbtools.parser import RdbParser
from rdbtools.reader import iter_records
from rdbtools.records import Aux, End, Function, Header, KeyRecord, ModuleAux
from rdbtools.writer import RdbWriter

from ..objects import from_record, to_record
from ._durable import ChunkedWriter, replace_durably

__all__ = ["LoadStats", "SaveStats", "iter_key_records", "write_snapshot", "snapshot_bytes",
           "save_rdb", "load_rdb", "loading", "SERVER_VERSION"]

#: What `redis-ver` says in our files: the server imitates 7.0.15 (RDB 10).
SERVER_VERSION = "7.0.15"
RDB_VERSION = 10

# The record type only tells the writer the kind; it picks the real encoding itself.
_TYPE_FOR_KIND = {Kind.STRING: RdbType.STRING, Kind.LIST: RdbType.LIST_QUICKLIST_2,
                  Kind.SET: RdbType.SET, Kind.ZSET: RdbType.ZSET_LISTPACK,
                  Kind.HASH: RdbType.HASH, Kind.STREAM: RdbType.STREAM_LISTPACKS_3}
_COLLECTIONS = (Kind.LIST, Kind.SET, Kind.ZSET, Kind.HASH)
#: Report loading progress at least every 1024 keys or this many bytes (big values).
_PROGRESS_BYTES = 1 << 20


@dataclass
class SaveStats:
    keys: int = 0
    expires: int = 0
    bytes: int = 0
    functions: int = 0


@dataclass
class LoadStats:
    keys_loaded: int = 0
    keys_expired: int = 0
    end_offset: int = 0          # byte after the CRC: where an AOF's RESP tail starts
    version: int | None = None
    aux: dict[bytes, bytes] = field(default_factory=dict)
    functions: int = 0
    empty_skipped: int = 0


def iter_key_records(engine):
    """Every key as a KeyRecord, db by db (expired-but-unreclaimed keys included, as
    rdbSave writes them: the loader decides)."""
    for db in engine.dbs:
        expires = db.expires
        for key, v in db.data.items():
            kind, value, fexp = to_record(v)
            yield KeyRecord(db.id, key, _TYPE_FOR_KIND[kind], value, expires.get(key),
                            None, None, fexp)


def write_snapshot(engine, out, *, aof_base: bool = False, compress: bool = True,
                   checksum: bool = True, ctime: int | None = None,
                   used_mem: int = 0) -> SaveStats:
    """Write the whole dataset as an RDB 10 to `out` (anything with `write(bytes)`)."""
    w = RdbWriter(RDB_VERSION, compress=compress, checksum=checksum)
    st = SaveStats()
    write = out.write
    write(w.header())
    write(w.aux("redis-ver", SERVER_VERSION))
    write(w.aux("redis-bits", "64"))
    write(w.aux("ctime", str(int(time.time()) if ctime is None else ctime)))
    write(w.aux("used-mem", str(used_mem)))
    write(w.aux("aof-base", "1" if aof_base else "0"))
    for code in engine.functions.values():
        write(w.function(code))
        st.functions += 1
    for db in engine.dbs:
        if not db.data:
            continue
        write(w.select_db(db.id))
        write(w.resize_db(len(db.data), len(db.expires)))
        expires = db.expires
        for key, v in db.data.items():
            kind, value, fexp = to_record(v)
            if kind in _COLLECTIONS and not value:
                continue  # Redis never holds empty collections; loaders reject them
            when = expires.get(key)
            write(w.key(KeyRecord(db.id, key, _TYPE_FOR_KIND[kind], value, when, None, None,
                                  fexp)))
            st.keys += 1
            if when is not None:
                st.expires += 1
    write(w.end())
    st.bytes = w.nbytes + 8
    return st


def snapshot_bytes(engine, **kw) -> bytes:
    parts: list[bytes] = []

    class _Collect:
        write = parts.append

    write_snapshot(engine, _Collect, **kw)
    return b"".join(parts)


def save_rdb(engine, path: str, *, tmp: str | None = None, **kw) -> SaveStats:
    """SAVE: `temp-<pid>.rdb` beside `path`, fsync, rename over `path`, fsync the dir."""
    if tmp is None:
        tmp = os.path.join(os.path.dirname(os.path.abspath(path)), "temp-%d.rdb" % os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        cw = ChunkedWriter(fd)
        st = write_snapshot(engine, cw, **kw)
        cw.flush()
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    os.close(fd)
    replace_durably(tmp, path)
    return st


# -- loading ------------------------------------------------------------------------------

@contextmanager
def loading(engine):
    """Mark the engine as loading for the duration: no propagation, and nothing counts
    as expired (the engine honours `loading` as Redis's keyIsExpired() and
    checkAlreadyExpired() do), so a key or hash field logged with a past
    PXAT/PEXPIREAT/HPEXPIREAT is still there for the commands after it."""
    was = engine.loading
    hooks = engine.prop_hooks
    engine.loading = True
    engine.prop_hooks = []
    # Loading creates millions of long-lived objects and no cycles: the cyclic collector
    # would rescan the growing keyspace again and again (a quarter of the boot time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield engine
    finally:
        if collecting:
            gc.enable()
        engine.loading = was
        engine.prop_hooks = hooks


def load_rdb(engine, source, *, aof_preamble: bool = False, now_ms: int | None = None,
             path: str | None = None, progress=None) -> LoadStats:
    """Load an RDB (path, bytes or binary file object) into `engine`'s keyspace.

    `aof_preamble=True` keeps expired keys (the AOF tail may still touch them, and
    Redis keeps them too). `progress(offset)` is called now and then for INFO loading_*.
    Raises the reader's FormatError subclasses, located with `path`.
    """
    if now_ms is None:
        now_ms = int(time.time() * 1000)
    st = LoadStats()
    cfg = engine.config
    dbs = engine.dbs
    ndbs = len(dbs)
    start = source.tell() if hasattr(source, "tell") else None
    keep_expired = aof_preamble
    try:
        with loading(engine):
            # Plain short string keys come from the parser as (db, key, value, expire_ms)
            # tuples: the bulk of most datasets. A run of them in one DB is inserted in
            # one go (`_add_run`); any other record ends the run first, so order and
            # the duplicate check stay exact.
            cur = -1
            keys: list = []
            values: list = []
            ekeys: list = []
            ewhen: list = []
            for batch, offset in _raw_batches(source):
                for rec in batch:
                    if type(rec) is tuple:
                        dbid, key, value, when = rec
                        if dbid != cur:
                            if keys:
                                _add_run(dbs[cur], keys, values, ekeys, ewhen, st)
                                keys, values, ekeys, ewhen = [], [], [], []
                            if dbid >= ndbs:
                                raise _OutOfRange(dbid, key)
                            cur = dbid
                        if when is not None:
                            if when < now_ms and not keep_expired:
                                st.keys_expired += 1
                                continue
                            ekeys.append(key)
                            ewhen.append(when)
                        keys.append(key)
                        values.append(value if type(value) is bytes else bytes(value))
                        continue
                    if keys:
                        _add_run(dbs[cur], keys, values, ekeys, ewhen, st)
                        keys, values, ekeys, ewhen = [], [], [], []
                    t = type(rec)
                    if t is KeyRecord:
                        _load_key(engine, rec, st, cfg, ndbs, aof_preamble, now_ms)
                    elif t is Aux:
                        st.aux[rec.key] = rec.value
                    elif t is Function:
                        _load_function(engine, rec)
                        st.functions += 1
                    elif t is ModuleAux:
                        raise UnsupportedError("module aux data for %s cannot be loaded: this "
                                               "server has no modules" % rec.module_name,
                                               rec.offset, phase="read-module-aux")
                    elif t is End:
                        st.end_offset = rec.end
                    elif t is Header:
                        st.version = rec.version
                if keys:
                    _add_run(dbs[cur], keys, values, ekeys, ewhen, st)
                    keys, values, ekeys, ewhen = [], [], [], []
                if progress is not None:
                    progress(offset)  # a batch is at most a few hundred KB of input
    except FormatError as e:
        raise e.located(path=path)
    except (_Duplicate, _OutOfRange) as e:
        # the raw path carries no offsets: find the record again (error path only)
        raise _locate(e, source, start, ndbs).located(path=path) from None
    return st


def _add_run(db, keys: list, values: list, ekeys: list, ewhen: list, st: LoadStats) -> None:
    """Insert a run of string keys into `db`; a duplicate (with the keyspace or inside
    the run) raises _Duplicate naming the first key seen twice."""
    data = db.data
    if not data.keys().isdisjoint(keys) or len(set(keys)) != len(keys):
        seen = set()
        for key in keys:
            if key in data or key in seen:
                raise _Duplicate(db.id, key)
            seen.add(key)
    add = db.add
    for key, value in zip(keys, values):
        add(key, value)
    if ekeys:
        db.expires.update(zip(ekeys, ewhen))
    st.keys_loaded += len(keys)


def _raw_batches(source):
    """(records, offset after them) batches, plain string keys as raw tuples."""
    size_hint = None
    f = None
    if isinstance(source, (str, os.PathLike)):
        if os.path.isfile(source) and not fileio.is_lz4(str(source)):
            size_hint = os.path.getsize(source)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        size_hint = len(source)
    parser = RdbParser(size_hint=size_hint)
    parser.raw_strings = True
    if size_hint is not None and not isinstance(source, (str, os.PathLike)):
        parser.feed(bytes(source))
        parser.feed_eof()
    elif isinstance(source, (str, os.PathLike)):
        f = fileio.open_input(source)
    else:
        f = source
    try:
        while True:
            recs = parser.next_events()
            if recs:
                yield recs, parser.offset
                continue
            if parser.done:
                return
            # ask for at least what is buffered: one huge value is re-parsed O(log n) times
            data = f.read(max(fileio.CHUNK_SIZE, parser.buffered)) if f is not None else b""
            if data:
                parser.feed(data)
            else:
                parser.feed_eof()
    finally:
        if f is not None and f is not source and str(source) != "-":
            f.close()


class _Duplicate(Exception):
    def __init__(self, db: int, key: bytes) -> None:
        self.db, self.key = db, key


class _OutOfRange(_Duplicate):
    pass


def _locate(e: _Duplicate, source, start, ndbs: int) -> CorruptError:
    """The located CorruptError for what the raw path found, by reading the file again."""
    if start is not None:
        source.seek(start)
    seen = False
    offset = None
    for rec in iter_records(source):
        if type(rec) is KeyRecord and rec.db == e.db and rec.key == e.key:
            offset = rec.offset
            if isinstance(e, _OutOfRange) or seen:
                break
            seen = True
    if isinstance(e, _OutOfRange):
        return _out_of_range(e.db, ndbs, offset, e.key)
    return _duplicated(e.db, offset, e.key)


def _out_of_range(db: int, ndbs: int, offset, key: bytes) -> CorruptError:
    return CorruptError("the file uses DB %d but this server has %d databases" % (db, ndbs),
                        offset, phase="read-type", key=key, db=db)


def _duplicated(db: int, offset, key: bytes) -> CorruptError:
    return CorruptError("RDB has duplicated key '%s' in DB %d"
                        % (key.decode("utf-8", "backslashreplace"), db),
                        offset, phase="read-key", key=key, db=db)


def _load_key(engine, rec: KeyRecord, st: LoadStats, cfg, ndbs: int, keep_expired: bool,
              now_ms: int) -> None:
    if rec.db >= ndbs:
        raise _out_of_range(rec.db, ndbs, rec.offset, rec.key)
    kind = rec.kind
    if kind is Kind.MODULE:
        raise UnsupportedError("module values cannot be loaded: this server has no modules",
                               rec.offset, phase="read-object-value", key=rec.key, db=rec.db)
    if kind in _COLLECTIONS and not rec.value:
        st.empty_skipped += 1  # RDB_LOAD_ERR_EMPTY_KEY: 7.0 skips these
        return
    if not keep_expired and rec.expire_ms is not None and rec.expire_ms < now_ms:
        st.keys_expired += 1  # rdbLoad on a master: expired keys are not added
        return
    fexp = rec.field_expires
    value = rec.value
    if fexp and not keep_expired:
        live = [(f, v) for f, v in value if fexp.get(f) is None or fexp[f] >= now_ms]
        if not live:
            st.keys_expired += 1
            return
        if len(live) != len(value):
            value = live
            fexp = {f: t for f, t in fexp.items() if t >= now_ms}
    db = engine.dbs[rec.db]
    if rec.key in db.data:
        raise _duplicated(rec.db, rec.offset, rec.key)
    obj = from_record(kind, value, fexp or None, cfg, rec.type)
    db.add(rec.key, obj)
    if rec.expire_ms is not None:
        db.expires[rec.key] = rec.expire_ms
    st.keys_loaded += 1


def _load_function(engine, rec: Function) -> None:
    name = rec.library_name
    if name is None:
        raise CorruptError("function library without a name", rec.offset,
                           phase="read-functions")
    if name in engine.functions:
        raise CorruptError("library '%s' already exists" % name.decode("utf-8", "replace"),
                           rec.offset, phase="read-functions")
    engine.functions[name] = rec.code
