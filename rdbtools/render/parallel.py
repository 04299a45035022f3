"""JSON / JSON Lines of one big RDB file, rendered by several processes.

Parsing and rendering cost Python time per key, so a dump is CPU-bound; a second CPU
halves it. An RDB has no index, so the file is cut into fixed-size chunks and worker
`j` of `jobs` takes chunks j, j+jobs, j+2*jobs...: it guesses where a record starts
near the beginning of its chunk (`rdbtools.resync`), parses the records that start
inside the chunk, renders them into memory and reports where its first few records
started. The parent renders its own chunks straight to the output and takes each
worker's text in file order from the first record where the two parses meet: the
parent knows exactly where its last record ended, and parses on by itself until it
reaches one of the worker's record starts (a guess a few bytes off converges within a
record or two); the worker's text from that record on is what one process would have
written (lines of a database guessed wrong are corrected). A chunk where the parses do
not meet, or in which the worker met an error, is parsed by the parent itself, which
then raises that error at the record the one-process path would. So the output is byte
for byte what one process writes, or the same error after the same lines. The file
checksum is verified by the parent once the EOF record is reached.

Only for plain (uncompressed) RDB files on disk; everything else takes the one-process
path in `dump_records`.
"""

from __future__ import annotations

import gc
import mmap
import os
import select
import signal
import struct
import time
from dataclasses import dataclass, field

from .._crc import crc64
from ..constants import MAGIC_VALKEY, RDB_VERSION_CHECKSUM
from ..errors import ChecksumError, FormatError
from ..filters import KeyFilter
from ..jsonfmt import JsonWriter
from ..parser import RdbParser
from ..records import KeyRecord, SelectDb
from ..resync import find_record_start
from . import DumpReport

#: Files smaller than this are dumped by one process (forking would not pay).
MIN_BYTES = 16 << 20
#: Bytes of input per chunk: big enough that splicing and resyncing are noise, small
#: enough that a worker's rendered chunk held in memory stays a few MB.
CHUNK_BYTES = 1 << 20

# A worker's answer for one chunk: where it started and ended, database at the end and
# the one it assumed at the start, keys and records rendered, file offset and text
# position of its first SELECTDB (-1: none), text length, number of record starts
# listed, flags; then per listed record (file offset, text position, keys and records
# before it); then the text.
_MSG = struct.Struct("<10qB")
_START = struct.Struct("<4q")
_OK, _DONE, _FAILED, _SKIPPED = 1, 2, 4, 8
_Q = struct.Struct("<q")
#: Records a worker lists the starts of: how far a wrong guess may be from the truth.
_LISTED = 32
_PAGE = mmap.PAGESIZE


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity, capped by a cgroup CPU quota (a
    container limited to one CPU still sees every core of its host)."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(n, quota)) if quota else n


def _cgroup_quota(root: str = "/sys/fs/cgroup") -> int | None:
    """CPUs a cgroup v2 (cpu.max) or v1 (cpu.cfs_quota_us) quota allows, rounded up."""
    for quota_file, period_file in (("cpu.max", None),
                                    ("cpu/cpu.cfs_quota_us", "cpu/cpu.cfs_period_us")):
        try:
            with open(os.path.join(root, quota_file)) as f:
                fields = f.read().split()
            if period_file is not None:
                with open(os.path.join(root, period_file)) as f:
                    fields.append(f.read().strip())
            quota, period = fields[0], int(fields[1])
            if quota in ("max", "-1") or period <= 0:
                return None
            return -(-int(quota) // period)
        except (OSError, ValueError, IndexError):
            continue
    return None


def default_jobs() -> int:
    return max(1, min(4, usable_cpus()))


def eligible(path, fmt: str, jobs: int, *, min_bytes: int | None = None) -> bool:
    """Can `dump_parallel` take this job (else: the one-process path)?"""
    min_bytes = MIN_BYTES if min_bytes is None else min_bytes
    if jobs < 2 or fmt not in ("json", "jsonl") or not hasattr(os, "fork"):
        return False
    path = str(path)
    if path == "-" or path.endswith(".lz4"):
        return False
    try:
        st = os.stat(path)
        with open(path, "rb") as f:
            head = f.read(9)
    except OSError:
        return False
    import stat

    return (stat.S_ISREG(st.st_mode) and st.st_size >= min_bytes
            and (head.startswith(b"REDIS") or head.startswith(b"VALKEY")))


@dataclass
class _Span:
    start: int
    end: int
    db_end: int
    db_assumed: int
    keys: int
    records: int
    select_offset: int
    select_text: int
    text_len: int
    n_starts: int
    flags: int
    starts: dict = field(default_factory=dict)   # offset -> (text pos, keys, records)
    text: bytes = b""


def _render(buf, start: int, stop: int, header, db: int, writer: JsonWriter, accepts,
            path: str | None) -> tuple[int, int, bool, int]:
    """Render the records that start in [start, stop) with `writer`.

    Returns (offset after the last record, database there, EOF record met, records)."""
    parser = RdbParser.over(buf, start, header=header if start else None, db=db, path=path,
                            verify_checksum=False)
    parser.stop_at = stop
    parser.raw_strings = accepts is None
    next_events = parser.next_events
    write_batch = writer.write_batch
    n = 0
    while True:
        recs = next_events()
        if not recs:
            if parser.done or parser.offset >= stop:
                break
            continue
        n += len(recs)
        if accepts is not None:
            recs = [r for r in recs if type(r) is not KeyRecord or accepts(r)]
        write_batch(recs)
    return parser.offset, parser.db, parser.done, n


class _Abandoned(Exception):
    """The parent has already covered the chunk a worker is on."""


def _render_listed(buf, start: int, stop: int, header, db: int, writer: JsonWriter,
                   accepts, path: str | None, text: "_Pieces", give_up) -> tuple:
    """`_render` for a worker: also lists where its first records start, with the text
    position and counts before each, and where its first SELECTDB is. Stops with
    `_Abandoned` as soon as `give_up()` says the parent no longer needs the chunk."""
    parser = RdbParser.over(buf, start, header=header, db=db, path=path,
                            verify_checksum=False)
    parser.stop_at = min(stop, start + 4096)   # the listed records come as KeyRecords
    next_events = parser.next_events
    write_batch = writer.write_batch
    starts: list = []
    select_offset = select_text = -1
    n = 0
    while True:
        if give_up():
            raise _Abandoned
        recs = next_events()
        if not recs:
            if parser.done or parser.offset >= stop:
                break
            parser.stop_at = stop
            continue
        if len(starts) < _LISTED:
            for i, rec in enumerate(recs[:_LISTED - len(starts)]):
                writer.flush()
                starts.append((rec.offset, text.size, writer.keys, n + i))
                if rec.__class__ is SelectDb and select_offset < 0:
                    select_offset, select_text = rec.offset, text.size
                if accepts is None or rec.__class__ is not KeyRecord or accepts(rec):
                    write_batch([rec])
            n += i + 1
            recs = recs[i + 1:]
            if len(starts) >= _LISTED:
                # listing done: the rest may come the fast way
                parser.stop_at = stop
                parser.raw_strings = accepts is None
            if not recs:
                continue
        if select_offset < 0 and SelectDb in map(type, recs):
            i = list(map(type, recs)).index(SelectDb)
            rest = recs[i:]
            n += i
            recs = recs[:i]
            if accepts is not None:
                recs = [r for r in recs if type(r) is not KeyRecord or accepts(r)]
            write_batch(recs)
            writer.flush()
            select_offset, select_text = rest[0].offset, text.size
            recs = rest
        n += len(recs)
        if accepts is not None:
            recs = [r for r in recs if type(r) is not KeyRecord or accepts(r)]
        write_batch(recs)
    writer.flush()
    return parser.offset, parser.db, parser.done, n, starts, select_offset, select_text


def _drop_pages(buf, start: int, end: int) -> None:
    """Let the kernel unmap pages already parsed, so RSS does not grow with the file."""
    lo = (start + _PAGE - 1) // _PAGE * _PAGE
    hi = end // _PAGE * _PAGE
    if hi > lo and hasattr(buf, "madvise"):
        try:
            buf.madvise(mmap.MADV_DONTNEED, lo, hi - lo)
        except (OSError, ValueError):
            pass


class _Pieces(list):
    """A worker's text as the pieces the writer made: no big buffer to grow and copy
    (glibc would keep the high-water mark of such buffers as RSS)."""

    size = 0

    def write(self, b: bytes) -> None:
        self.append(b)
        self.size += len(b)

    def tell(self) -> int:
        return self.size


def _worker(buf, header, path, jsonl, accepts, first: int, step: int, chunk: int,
            out, shared) -> None:
    """Render chunks first, first+step, ... and send each to the parent, in order.

    `shared` holds the parent's position: a chunk the parent has already covered (it
    met a huge record, or did the chunk itself rather than wait) is dropped at once."""
    size = len(buf)
    db = 0
    k = first

    def send(head: bytes, *rest) -> None:
        out.write(head)
        for part in rest:
            out.writelines(part)
        out.flush()

    while k * chunk < size:
        lo, hi = k * chunk, (k + 1) * chunk
        k += step

        def passed(hi=hi) -> bool:
            return _Q.unpack_from(shared, 0)[0] >= hi

        if passed():
            send(_MSG.pack(lo, lo, db, db, 0, 0, -1, -1, 0, 0, _SKIPPED))
            continue
        at = find_record_start(buf, lo, header, limit=hi, give_up=passed)
        if at is None:
            send(_MSG.pack(lo, lo, db, db, 0, 0, -1, -1, 0, 0, _SKIPPED))
            continue
        text = _Pieces()
        writer = JsonWriter.continuing(text, jsonl=jsonl)
        try:
            end, db_end, done, n, starts, sel_off, sel_text = _render_listed(
                buf, at, hi, header, db, writer, accepts, path, text, passed)
        except _Abandoned:
            send(_MSG.pack(at, at, db, db, 0, 0, -1, -1, 0, 0, _SKIPPED))
            continue
        except FormatError:
            send(_MSG.pack(at, at, db, db, 0, 0, -1, -1, 0, 0, _FAILED))
            continue
        send(_MSG.pack(at, end, db_end, db, writer.keys, n, sel_off, sel_text,
                       text.size, len(starts), _OK | (_DONE if done else 0)),
             [b"".join(_START.pack(*st) for st in starts)], text)
        del text
        _drop_pages(buf, at, end)
        if sel_off >= 0:
            db = db_end   # else our guess stands (a wrong one is corrected by the parent)
        if done:
            return


def _read_exact(fd: int, n: int) -> bytes | None:
    """n bytes from a pipe (None: it closed first). Unbuffered on purpose: the parent
    asks `select` whether the next message has begun, so nothing may sit in a buffer."""
    if n == 0:
        return b""
    out = bytearray(n)
    view = memoryview(out)
    got = 0
    while got < n:
        k = os.readv(fd, [view[got:]])
        if k == 0:
            return None
        got += k
    view.release()
    return bytes(out) if n < 4096 else out


def _read_span(fd: int) -> _Span | None:
    head = _read_exact(fd, _MSG.size)
    if head is None:
        return None
    span = _Span(*_MSG.unpack(head))
    if span.n_starts:
        table = _read_exact(fd, _START.size * span.n_starts)
        if table is None:
            return None
        span.starts = {o: (t, kb, rb) for o, t, kb, rb in _START.iter_unpack(table)}
    if span.text_len:
        text = _read_exact(fd, span.text_len)
        if text is None:
            return None
        span.text = text
    return span


def _check_crc(path: str, header, end: int) -> None:
    """The one-process reader's checksum check, done once over the file on disk."""
    if not (header.version >= RDB_VERSION_CHECKSUM or header.magic == MAGIC_VALKEY):
        return
    crc = 0
    with open(path, "rb") as f:
        left = end - 8
        while left > 0:
            piece = f.read(min(left, 1 << 20))
            if not piece:
                return
            crc = crc64(piece, crc)
            left -= len(piece)
        stored = struct.unpack("<Q", f.read(8))[0]
    if stored and stored != crc:
        raise ChecksumError(stored, crc, end, phase="check-sum", path=path)


def _meet(span: _Span, buf, pos: int, db: int, header, writer: JsonWriter, accepts,
          path, report) -> tuple[int, int, bool, int]:
    """Take a worker's text from the first of its listed records our parse reaches.

    Returns (offset, database, done, records read) after whatever was written here:
    nothing when the parses do not meet."""
    table = span.starts
    n = 0
    if pos not in table:
        ahead = [o for o in table if o > pos]
        if not ahead:
            return pos, db, False, 0
        # parse on from where we are up to the worker's next listed record
        new, db2, done, n = _render(buf, pos, min(ahead), header, db, writer, accepts, path)
        if done or new not in table:
            return new, db2, done, n
        pos, db = new, db2
    text_at, keys_before, recs_before = table[pos]
    if span.select_offset >= 0 and span.select_offset < pos:
        return pos, db, False, n   # the worker's database came from a record not ours
    if not writer.can_splice() or (span.db_assumed != db and accepts is not None):
        return pos, db, False, n
    text = span.text[text_at:]
    if span.db_assumed != db:
        # lines before the worker's first SELECTDB carry the database it guessed
        cut = len(text) if span.select_offset < 0 else span.select_text - text_at
        text = text[:cut].replace(b'{"db":%d,' % span.db_assumed, b'{"db":%d,' % db) \
            + text[cut:]
    writer.splice(text, span.keys - keys_before)
    report.chunks_taken += 1
    if span.select_offset >= 0:
        db = span.db_end
    return span.end, db, bool(span.flags & _DONE), n + span.records - recs_before


def dump_parallel(path, out, fmt: str = "jsonl", *, key_filter: KeyFilter | None = None,
                  jobs: int = 2, chunk_bytes: int | None = None,
                  on_offset=None) -> DumpReport:
    """`dump_records` for one plain RDB file, on `jobs` processes (see module doc)."""
    chunk_bytes = CHUNK_BYTES if chunk_bytes is None else chunk_bytes
    path = str(path)
    jsonl = fmt == "jsonl"
    accepts = None if key_filter is None or key_filter.is_noop else key_filter.accepts
    report = DumpReport(fmt)
    writer = JsonWriter(out, jsonl=jsonl)
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
    try:
        head = RdbParser.over(buf[:9], path=path)
        head.stop_at = 9
        header = head.next_event()
    except FormatError:
        # a file that does not even start right: the one-process path says why
        if isinstance(buf, mmap.mmap):
            buf.close()
        from . import dump_records
        from ..reader import iter_records

        return dump_records(iter_records(path), out, fmt, key_filter=key_filter)
    pids: list[int] = []
    fds: list[int] = []
    shared = mmap.mmap(-1, _Q.size)        # the parent's position, for the workers
    gc_was_on = gc.isenabled()
    gc.disable()   # records make no cycles (see dump_records)
    try:
        for j in range(1, jobs):
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:   # the worker: never returns, never runs the parent's exit code
                code = 0
                try:
                    os.close(r)
                    for other in fds:
                        os.close(other)
                    signal.signal(signal.SIGINT, signal.SIG_DFL)
                    with os.fdopen(w, "wb", buffering=1 << 16) as wf:
                        _worker(buf, header, path, jsonl, accepts, j, jobs, chunk_bytes, wf,
                                shared)
                except BaseException:
                    code = 1
                finally:
                    os._exit(code)
            os.close(w)
            pids.append(pid)
            fds.append(r)
        alive = [True] * jobs
        owed = [0] * jobs          # answers for chunks we covered without waiting
        pos, db, done, k = 0, 0, False, 0
        own_time = 0.05            # how long our last chunk took
        while not done and pos < size and k * chunk_bytes < size:
            hi = (k + 1) * chunk_bytes
            j = k % jobs
            k += 1
            _Q.pack_into(shared, 0, pos)
            if j and alive[j] and pos < hi:
                fd = fds[j - 1]
                span = None
                while owed[j] and alive[j]:    # stale answers: the worker drops these fast
                    alive[j] = _read_span(fd) is not None
                    owed[j] -= 1
                # wait about as long as a chunk takes us: a worker that is slower than
                # that (a file of huge values to resync through, a busy CPU) costs us
                # nothing more than doing the chunk ourselves
                if alive[j] and select.select([fd], [], [], 2 * own_time + 0.01)[0]:
                    span = _read_span(fd)
                    alive[j] = span is not None
                elif alive[j]:
                    owed[j] += 1
                if not alive[j]:
                    report.workers_lost += 1
                if span is not None and span.flags & _OK:
                    pos, db, done, n = _meet(span, buf, pos, db, header, writer, accepts,
                                             path, report)
                    report.records += n
            elif j and alive[j]:
                owed[j] += 1               # a record of ours already covers this chunk
            if pos < hi and not done:
                start, t0 = pos, time.perf_counter()
                pos, db, done, n = _render(buf, pos, hi, header, db, writer, accepts, path)
                report.records += n
                report.chunks_redone += j > 0
                _drop_pages(buf, start, pos)
                if j == 0:
                    own_time = time.perf_counter() - t0
            if on_offset is not None:
                on_offset(pos)
        if not done:
            # the chunks ran out before the EOF record did: the rest is parsed here
            # (it ends in that record, or the error that says why not)
            pos, db, done, n = _render(buf, pos, size + 1, header, db, writer, accepts, path)
            report.records += n
        _check_crc(path, header, pos)
        writer.close()
        report.keys = writer.keys
        return report
    finally:
        _Q.pack_into(shared, 0, 1 << 62)   # whatever the workers are on: drop it
        for fd in fds:
            os.close(fd)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
        if gc_was_on:
            gc.enable()
        shared.close()
        if isinstance(buf, mmap.mmap):
            buf.close()
