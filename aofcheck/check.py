"""check-aof: redis-check-aof 7.0's verdicts, messages and truncations, plus safe extras.

`check_aof()` walks a plain, RDB-preamble or multi-part AOF the way
`redis-check-aof.c` does (its `fgets`/`strtol`/`fread` quirks included, because the
offsets, `ok_up_to_line` and the bytes left on disk after `--fix` must match), and
reports through callbacks: the library never prints, prompts or exits.

Speed: well-formed commands (`*<digits>\\r\\n` + `$<digits>\\r\\n<bytes>\\r\\n`, on which
the C tool and a plain parser necessarily agree) are consumed by a tight scan over an
mmap of the file; the faithful emulation only runs for the record where something is
unusual, so the output is the C tool's while the cost stays near `bytes.find`'s.

Beyond Redis: before anything is cut the removed bytes go to `<file>.cut-<offset>`
(fsynced); valid commands found after the damage are counted and located
(`Damage.after`), and `salvage` keeps them (see `salvage.py`).
"""

from __future__ import annotations

import errno as _errno
import mmap
import os
from dataclasses import dataclass, field
from typing import Callable

from rdbtools.fileio import fsync_dir

from . import layout as _layout
from .errors import ManifestError
from .manifest import parse_manifest

__all__ = ["check_aof", "CheckOptions", "AofReport", "FileReport", "Damage", "ValidRun",
           "scan_valid_records", "LONG_MAX"]

LONG_MAX = 2**63 - 1
LONG_MIN = -(2**63)
_SPACE = b" \t\n\v\f\r"
_DIGITS = b"0123456789"
#: `readLong`'s fgets buffer, and the annotation one (AOF_ANNOTATION_LINE_MAX_LEN).
_LONG_BUF = 128
_ANNOT_BUF = 1024
#: Longest digit string the fast scan trusts (any value fits a C long).
_FAST_DIGITS = 18
#: Bytes the fast scan searches for a header's CRLF (prefix + up to 17 digits + CRLF).
_FAST_WINDOW = 20
#: How often the fast scan gives checked pages back (see `_release`).
_RELEASE_EVERY = 16 << 20

# Per-file outcomes, as checkSingleAof's return values.
OK, EMPTY, TRUNCATED, TS_TRUNCATED, SALVAGED = "valid", "empty", "truncated", "timestamp-truncated", "salvaged"


class _Exit(Exception):
    """exit(code) in the C tool: stop checking, the CLI exits with `code`."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class CheckOptions:
    fix: bool = False
    truncate_to_timestamp: int = 0       # 0 = off, exactly as redis-check-aof
    salvage: bool = False
    keep_cut: bool = True                # write `<file>.cut-<offset>` before truncating
    #: Called after the `Continue? [y/N]: ` prompt; returns the answer line or None (EOF).
    confirm: Callable[[], str | None] = lambda: None
    #: Redis-identical output lines (stdout); `end=""` for the prompt.
    out: Callable[..., None] = lambda text, end="\n": None
    #: Our own additions (warnings, cut files): kept apart so stdout stays Redis'.
    note: Callable[[str], None] = lambda text: None


@dataclass
class Damage:
    """Where checking stopped, and the valid commands the C tool would throw away."""

    offset: int                           # first byte not accepted (record start)
    message: str | None                   # the `0x...: ...` text, or the format-error line
    dropped_commands: int = 0             # complete commands between ok_up_to and offset
    after: "ValidRun | None" = None       # valid commands past it

    def as_dict(self) -> dict:
        a = self.after
        return {"offset": self.offset, "message": self.message,
                "dropped_commands_before_damage": self.dropped_commands,
                "valid_commands_after_damage": a.count if a else 0,
                "valid_after_first": a.first if a else None,
                "valid_after_last": a.last if a else None,
                "valid_after_offsets": list(a.sample) if a else [],
                "valid_after_scan_partial": a.partial if a else False}


@dataclass
class ValidRun:
    """Well-formed commands found in a stretch: how many, where (a bounded sample)."""

    count: int = 0
    first: int | None = None
    last: int | None = None
    sample: list[int] = field(default_factory=list)
    partial: bool = False                 # the resync budget ran out before the end

    SAMPLE_MAX = 1000

    def add(self, offset: int) -> None:
        if self.first is None:
            self.first = offset
        self.last = offset
        self.count += 1
        if len(self.sample) < self.SAMPLE_MAX:
            self.sample.append(offset)


@dataclass
class FileReport:
    name: str
    path: str
    role: str                             # "aof", "base", "incr"
    format: str                           # "resp" or "rdb-preamble"
    size: int = 0
    ok_up_to: int = 0
    ok_up_to_line: int = 0
    diff: int = 0
    status: str = OK                      # valid/empty/truncated/timestamp-truncated/
    #                                       salvaged/not-valid/refused/aborted
    commands: int = 0
    preamble_end: int | None = None
    damage: Damage | None = None
    cut_file: str | None = None
    salvage: dict | None = None

    def as_dict(self) -> dict:
        d = {k: getattr(self, k) for k in ("name", "path", "role", "format", "size", "ok_up_to",
                                           "ok_up_to_line", "diff", "status", "commands",
                                           "preamble_end", "cut_file", "salvage")}
        d["damage"] = self.damage.as_dict() if self.damage else None
        return d


@dataclass
class AofReport:
    path: str
    layout: str | None = None
    exit_code: int = 0
    files: list[FileReport] = field(default_factory=list)
    manifest_error: dict | None = None

    def as_dict(self) -> dict:
        return {"path": self.path, "layout": self.layout, "exit_code": self.exit_code,
                "ok": self.exit_code == 0, "manifest_error": self.manifest_error,
                "files": [f.as_dict() for f in self.files]}


def _signed_hex(b: int) -> str:
    """`%02x` of a (signed) char, as the C tool prints it."""
    return f"{b | 0xFFFFFF00:08x}" if b >= 0x80 else f"{b:02x}"


def _strtol(buf: bytes, i: int) -> tuple[int, int, bool]:
    """C strtol(base 10) over a NUL-terminated buffer: (value, end index, overflowed)."""
    start = i
    n = len(buf)
    while i < n and buf[i] in _SPACE:
        i += 1
    neg = False
    if i < n and buf[i] in b"+-":
        neg = buf[i] == 0x2D
        i += 1
    j = i
    while j < n and buf[j] in _DIGITS:
        j += 1
    if j == i:
        return 0, start, False
    v = int(buf[i:j])
    if neg:
        v = -v
    if v > LONG_MAX:
        return LONG_MAX, j, True
    if v < LONG_MIN:
        return LONG_MIN, j, True
    return v, j, False


def _cstr(b: bytes) -> bytes:
    nul = b.find(b"\0")
    return b if nul < 0 else b[:nul]


def _show(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


class _Checker:
    """The state redis-check-aof keeps in globals: line counter, error text, epos."""

    #: Tests turn the canonical-command scan off to prove it changes nothing.
    fast = True

    def __init__(self, opts: CheckOptions) -> None:
        self.o = opts
        self.line = 1
        self.error = ""
        self.epos = 0
        # fgets leaves stale bytes past the NUL; two call sites, two stack buffers.
        self._stale = {0x2A: bytearray(_LONG_BUF + 2), 0x24: bytearray(_LONG_BUF + 2)}

    # -- output helpers -------------------------------------------------------------
    def out(self, text: str, end: str = "\n") -> None:
        self.o.out(text, end=end)

    def set_error(self, msg: str) -> None:
        msg = msg[:1023]
        self.error = f"0x{self.epos:16x}: {msg}"[:1043]

    # -- the per-file check -------------------------------------------------------------
    def check_single(self, name: str, path: str, last_file: bool, preamble: bool,
                     role: str, reports: list) -> FileReport:
        o = self.o
        rep = FileReport(name, path, role, "rdb-preamble" if preamble else "resp")
        reports.append(rep)  # before anything can stop the run, for the JSON report
        writable = o.fix or o.truncate_to_timestamp or o.salvage
        try:
            fd = os.open(path, os.O_RDWR if writable else os.O_RDONLY)
        except OSError as e:
            self.out(f"Cannot open file {path}: {os.strerror(e.errno or _errno.EIO)}, aborting...")
            raise _Exit(1) from e
        try:
            size = os.fstat(fd).st_size
            rep.size = size
            if size == 0:
                rep.status = EMPTY
                return rep
            with mmap.mmap(fd, size, access=mmap.ACCESS_READ) as m:
                if hasattr(m, "madvise") and hasattr(mmap, "MADV_SEQUENTIAL"):
                    m.madvise(mmap.MADV_SEQUENTIAL)
                start = 0
                if preamble:
                    start = self._preamble(path, name, fd)
                    rep.preamble_end = start
                return self._walk(m, fd, size, start, name, path, last_file, rep)
        finally:
            os.close(fd)

    def _preamble(self, path: str, name: str, fd: int) -> int:
        ok, end = run_rdb_check(path, name, self.out)
        if not ok:
            self.out("RDB preamble of AOF file is not sane, aborting.")
            raise _Exit(1)
        self.out("RDB preamble is OK, proceeding with AOF tail...")
        return end

    def _walk(self, m, fd: int, size: int, p: int, name: str, path: str, last_file: bool,
              rep: FileReport) -> FileReport:
        o = self.o
        multi = 0
        pos = p
        eof = False
        cmds = 0                 # complete commands accepted in this file
        cmds_at_pos = 0          # ... when `pos` was last set
        stop = None              # where a bad record starts (for the extras)
        while True:
            if not multi:
                pos = p
                cmds_at_pos = cmds
            if self.fast and p < size and m[p] == 0x2A:
                p, multi, pos, cmds, cmds_at_pos = self._fast(m, size, p, multi, pos, cmds, cmds_at_pos)
                if not multi:
                    pos = p
                    cmds_at_pos = cmds
            if p >= size:
                eof = True
                break
            c = m[p]
            if c == 0x23:  # '#'
                res = self._annotation(m, size, p, path, last_file)
                if res is None:
                    rep.status = TS_TRUNCATED
                    rep.ok_up_to = self.epos
                    self._cut(fd, m, size, self.epos, path, rep, annotation=True)
                    return rep
                p = res
            elif c == 0x2A:
                stop = p
                res, multi, eof = self._resp(m, size, p, path, multi)
                if res is None:
                    break
                cmds += 1
                p = res
                stop = None
            else:
                stop = p
                self.out(f"AOF {name} format error")
                rep.damage = Damage(p, f"AOF {name} format error")
                break
        if eof and multi and not self.error:
            self.set_error("Reached EOF before reading EXEC for MULTI")
        if self.error:
            self.out(self.error)
            rep.damage = Damage(stop if stop is not None else size, self.error)
        if rep.damage is None and pos < size:
            rep.damage = Damage(stop if stop is not None else size, None)
        diff = size - pos
        rep.ok_up_to, rep.ok_up_to_line, rep.diff = pos, self.line, diff
        rep.commands = cmds_at_pos
        if rep.damage is not None:
            rep.damage.dropped_commands = cmds - cmds_at_pos
            if rep.damage.offset < size:
                rep.damage.after = scan_valid_records(m, rep.damage.offset + 1, size)
        if diff == 0 and o.truncate_to_timestamp:
            self.out(f"Truncate nothing in AOF {name} to timestamp {o.truncate_to_timestamp}")
            rep.status = OK
            return rep
        self.out(f"AOF analyzed: filename={name}, size={size}, ok_up_to={pos}, "
                 f"ok_up_to_line={self.line}, diff={diff}")
        if diff > 0:
            self._warn_damage(rep, name)
            if o.salvage:
                from .salvage import salvage_file

                if not self._ask(f"This will rewrite the AOF {name} keeping every valid command "
                                 f"and dropping only the damaged bytes"):
                    rep.status = "aborted"
                    raise _Exit(1)
                rep.salvage = salvage_file(path, m, size, rep.preamble_end or 0, note=o.note)
                rep.status = SALVAGED
                self.error = ""  # the C tool never goes on after an error; we do
                self.out(f"Successfully salvaged AOF {name}")
                return rep
            if o.fix:
                if not last_file:
                    self.out(f"Failed to truncate AOF {name} because it is not the last file")
                    rep.status = "refused"
                    raise _Exit(1)
                if not self._ask(f"This will shrink the AOF {name} from {size} bytes, with {diff} "
                                 f"bytes, to {pos} bytes"):
                    rep.status = "aborted"
                    raise _Exit(1)
                if not self._cut(fd, m, size, pos, path, rep):
                    self.out(f"Failed to truncate AOF {name}")
                    raise _Exit(1)
                rep.status = TRUNCATED
                return rep
            self.out(f"AOF {name} is not valid. Use the --fix option to try fixing it.")
            rep.status = "not-valid"
            raise _Exit(1)
        return rep

    def _ask(self, question: str) -> bool:
        self.out(question)
        self.out("Continue? [y/N]: ", end="")
        answer = self.o.confirm()
        if not answer or answer[:1] not in ("y", "Y"):
            self.out("Aborting...")
            return False
        return True

    def _warn_damage(self, rep: FileReport, name: str) -> None:
        d = rep.damage
        if d is None:
            return
        after = d.after.count if d.after else 0
        dropped = d.dropped_commands + after
        self.o.note(f"check-aof: cutting {name} at {rep.ok_up_to} would drop {rep.diff} bytes "
                    f"holding {dropped} complete command(s)")
        if after:
            first, last = d.after.first, d.after.last
            self.o.note(f"check-aof: WARNING: {after} valid command(s) follow the damage "
                        f"at offset {d.offset} (first at offset {first}, last at offset {last}); "
                        f"--fix would lose them, --salvage keeps them")

    def _cut(self, fd: int, m, size: int, at: int, path: str, rep: FileReport,
             annotation: bool = False) -> bool:
        """Keep the bytes past `at` beside the file (fsynced), then ftruncate like Redis."""
        if self.o.keep_cut:
            try:
                rep.cut_file = save_cut(path, m, at, size)
            except OSError as e:
                self.o.note(f"check-aof: cannot save the bytes to be cut ({e.strerror}); "
                            f"nothing was truncated")
                if annotation:
                    self.out(f"Failed to truncate AOF {path} to timestamp {self.o.truncate_to_timestamp}")
                    raise _Exit(1) from e
                return False
            self.o.note(f"check-aof: {size - at} bytes removed from {path} were saved to {rep.cut_file}")
        try:
            os.ftruncate(fd, at)
            os.fsync(fd)
        except OSError:
            if annotation:
                self.out(f"Failed to truncate AOF {path} to timestamp {self.o.truncate_to_timestamp}")
                raise _Exit(1)
            return False
        return True

    # -- fast path ------------------------------------------------------------------
    def _fast(self, m, size, p, multi, pos, cmds, cmds_at_pos):
        """Consume canonical commands; stop (without consuming) at anything else.

        Only whole commands are committed, so bailing out anywhere (an IndexError past
        the end included) leaves the faithful emulation to redo that one record.
        """
        find = m.find
        crlf = b"\r\n"
        line = self.line
        last = -1                         # start of the last command consumed
        mark = p + _RELEASE_EVERY
        try:
            while m[p] == 0x2A:
                e = find(crlf, p, p + _FAST_WINDOW)
                if e < 0:
                    break
                s = m[p + 1:e]
                if not s.isdigit():
                    break
                argc = int(s)
                # first argument apart: MULTI/EXEC tracking needs it
                q = e + 2
                if argc <= 0 or m[q] != 0x24:
                    break
                e = find(crlf, q, q + _FAST_WINDOW)
                if e < 0:
                    break
                s = m[q + 1:e]
                if not s.isdigit():
                    break
                n = int(s)
                body = e + 2
                q = body + n
                if m[q:q + 2] != crlf:
                    break
                if n >= 5 and (m[body + 4] == 0 or (n > 5 and m[body + 5] == 0)):
                    break  # "exec\0..." / "multi\0...": the emulation decides
                verb = m[body:q].lower() if n == 4 or n == 5 else None
                q += 2
                for _ in range(argc - 1):
                    if m[q] != 0x24:
                        break
                    e = find(crlf, q, q + _FAST_WINDOW)
                    if e < 0:
                        break
                    s = m[q + 1:e]
                    if not s.isdigit():
                        break
                    q = e + 2 + int(s)
                    if m[q:q + 2] != crlf:
                        break
                    q += 2
                else:
                    if verb is not None:
                        if verb == b"multi":
                            if multi:
                                break
                            multi = 1
                        elif verb == b"exec":
                            if multi != 1:
                                break
                            multi = 0
                    line += 1 + 2 * argc
                    last = p
                    p = q
                    cmds += 1
                    if p > mark:
                        _release(m, p)
                        mark = p + _RELEASE_EVERY
                    if not multi:
                        pos = p
                        cmds_at_pos = cmds
                    continue
                break
        except IndexError:
            pass
        self.line = line
        if last >= 0:
            self._after_fast(m, last)
        return p, multi, pos, cmds, cmds_at_pos

    def _after_fast(self, m, start):
        """Set epos and the stale fgets buffers as the C tool would have left them after
        reading the command at `start` (only its last argument matters)."""
        e = m.find(b"\r\n", start)
        argc = int(m[start + 1:e])
        q = e + 2
        n = 0
        for _ in range(argc):
            e = m.find(b"\r\n", q)
            n = int(m[q + 1:e])
            self.epos = e + 2
            q = e + 4 + n
        for prefix, value in ((0x24, n), (0x2A, argc)):
            fake = b"%c%d\r\n\0" % (prefix, value)
            self._stale[prefix][:len(fake)] = fake

    # -- faithful emulation ------------------------------------------------------------
    def _fgets(self, m, size, p, bufsize):
        nl = m.find(b"\n", p, p + bufsize - 1)
        end = nl + 1 if nl >= 0 else min(p + bufsize - 1, size)
        return m[p:end], end

    def _read_long(self, m, size, p, prefix):
        """readLong(): (ok, value, next offset, hit_eof_without_data)."""
        self.epos = p
        if p >= size:
            return False, 0, p, True
        line, end = self._fgets(m, size, p, _LONG_BUF)
        stale = self._stale[prefix]
        cbuf = line + b"\0" + bytes(stale[len(line) + 1:])
        stale[:] = cbuf[:len(stale)]
        if cbuf[0] != prefix:
            got = chr(cbuf[0]) if cbuf[0] < 0x80 else _show(cbuf[:1])
            msg = f"Expected prefix '{chr(prefix)}', got: '{got}'"
            if cbuf[0] == 0:
                msg = msg[:msg.index("\0")]  # %c of NUL ends the C string there
            self.set_error(msg)
            return False, 0, end, False
        value, eptr, _ = _strtol(_cstr(cbuf[1:]) , 0)
        eptr += 1
        if cbuf[eptr:eptr + 2] != b"\r\n":
            b0, b1 = cbuf[eptr], cbuf[eptr + 1] if eptr + 1 < len(cbuf) else 0
            self.set_error(f"Expected \\r\\n, got: {_signed_hex(b0)}{_signed_hex(b1)}")
            return False, 0, end, False
        self.line += 1
        return True, value, end, False

    def _resp(self, m, size, p, path, multi):
        """processRESP(): (next offset or None on failure, multi, eof-without-message)."""
        ok, argc, p, eof = self._read_long(m, size, p, 0x2A)
        if not ok:
            return None, multi, eof
        for i in range(argc):
            ok, n, p, eof = self._read_long(m, size, p, 0x24)
            if not ok:
                return None, multi, eof
            if n < 0 or n > LONG_MAX - 2:
                self.set_error(f"Expected to read string of {n} bytes, which is not in the suitable range")
                return None, multi, False
            want = n + 2
            self.epos = p
            have = size - p
            if have < want:
                self.set_error(f"Expected to read {want} bytes, got {have} bytes")
                return None, multi, False
            tail = m[p + want - 2:p + want]
            if tail != b"\r\n":
                self.set_error(f"Expected \\r\\n, got: {_signed_hex(tail[0])}{_signed_hex(tail[1])}")
                return None, multi, False
            self.line += 1
            if i == 0:
                word = _cstr(m[p:p + min(n, 6)]).lower()
                if word == b"multi":
                    multi += 1
                    if multi - 1:
                        self.set_error(f"Unexpected MULTI in AOF {path}")
                        return None, multi, False
                elif word == b"exec":
                    multi -= 1
                    if multi:
                        self.set_error(f"Unexpected EXEC in AOF {path}")
                        return None, multi, False
            p += want
        return p, multi, False

    def _annotation(self, m, size, p, path, last_file):
        """processAnnotations(): next offset, or None once truncated to the timestamp."""
        self.epos = p
        line, end = self._fgets(m, size, p, _ANNOT_BUF)
        ts_limit = self.o.truncate_to_timestamp
        if ts_limit and line.startswith(b"#TS:"):
            ts, eptr, overflow = _strtol(_cstr(line) + b"\0", 4)
            if overflow or (_cstr(line) + b"\0")[eptr] != 0x0D:
                self.out("Invalid timestamp annotation")
                raise _Exit(1)
            if ts <= ts_limit:
                return end
            if p == 0:
                self.out(f"AOF {path} has nothing before timestamp {ts_limit}, aborting...")
                raise _Exit(1)
            if not last_file:
                self.out(f"Failed to truncate AOF {path} to timestamp {ts_limit} to offset {p} "
                         "because it is not the last file.")
                self.out("If you insist, please delete all files after this file according to the "
                         "manifest file and delete the corresponding records in manifest file "
                         "manually. Then re-run redis-check-aof.")
                raise _Exit(1)
            return None
        return end


def _release(m, upto: int) -> None:
    """Drop already-checked pages from our resident set (they stay in the page cache
    and fault back in from the file if read again), so RSS stays flat on huge logs."""
    end = (upto - (1 << 20)) // mmap.PAGESIZE * mmap.PAGESIZE
    if end > 0 and hasattr(m, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
        try:
            m.madvise(mmap.MADV_DONTNEED, 0, end)
        except (OSError, ValueError):
            pass


def save_cut(path: str, m, at: int, size: int) -> str:
    """Write m[at:size] to `<path>.cut-<at>` (a fresh name), fsync it and the folder."""
    base = f"{path}.cut-{at}"
    target = base
    k = 0
    while True:
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            break
        except FileExistsError:
            k += 1
            target = f"{base}.{k}"
    try:
        view = memoryview(m)[at:size]
        try:
            done = 0
            while done < len(view):
                done += os.write(fd, view[done:done + (1 << 20)])
        finally:
            view.release()
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        try:
            os.unlink(target)
        except OSError:
            pass
        raise
    os.close(fd)
    fsync_dir(os.path.dirname(os.path.abspath(target)))
    return target


def run_rdb_check(path: str, name: str, out) -> tuple[bool, int]:
    """Check the RDB at the start of `path` with rdbtools' redis-check-rdb twin; (ok,
    offset after its CRC).  Its report lines go to `out`, as redis-check-aof prints
    redis-check-rdb's."""
    from rdbtools.check import check_rdb

    with open(path, "rb") as f:
        res = check_rdb(f, name=name, out=lambda text: out(text))
    if getattr(res, "terminated", False):
        # the C checker exits from inside the RDB loader (after "Terminating server
        # after rdb file reading failure."): redis-check-aof prints nothing more
        raise _Exit(1)
    return bool(res.ok), int(res.end_offset or 0)


# -- strict record scanning (shared with salvage) -----------------------------------------

class ResyncBudget:
    """Caps the work of failed record parses while resynchronising after damage.

    A crafted file can nest plausible commands inside payloads so that every line start
    begins a long parse that fails late (quadratic work).  Successful parses are linear
    and free; failed attempts are charged per argument header examined.  Once spent,
    resynchronisation stops.
    """

    def __init__(self, nbytes: int) -> None:
        self.left = nbytes // 2 + 100_000
        self.spent = False

    def charge(self, n: int) -> None:
        self.left -= n + 1
        if self.left < 0:
            self.spent = True


def _strict_command(m, p: int, size: int):
    """A canonical command at p: (end, first arg lowered if <= 6 bytes else b"").

    On failure: (None, number of argument headers examined), the cost of the attempt.
    """
    find = m.find
    if p >= size or m[p] != 0x2A:
        return None, 0
    e = find(b"\r\n", p + 1, p + 2 + _FAST_DIGITS)
    if e < 0:
        return None, 0
    s = m[p + 1:e]
    if not s.isdigit():
        return None, 0
    argc = int(s)
    if argc <= 0:
        return None, 0
    q = e + 2
    first = None
    for i in range(argc):
        if q >= size or m[q] != 0x24:
            return None, i
        e = find(b"\r\n", q + 1, q + 2 + _FAST_DIGITS)
        if e < 0:
            return None, i
        s = m[q + 1:e]
        if not s.isdigit():
            return None, i
        n = int(s)
        body = e + 2
        q = body + n
        if q + 2 > size or m[q:q + 2] != b"\r\n":
            return None, i
        if i == 0:
            first = m[body:body + n].lower() if n <= 6 else b""
        q += 2
    return q, first


def _strict_annotation(m, p: int, size: int):
    if p >= size or m[p] != 0x23:
        return None
    nl = m.find(b"\n", p, p + _ANNOT_BUF - 1)
    if nl < 0:
        if size - p < _ANNOT_BUF - 1:
            return size  # a last line without newline
        return None
    return nl + 1


def scan_valid_records(m, start: int, size: int) -> ValidRun:
    """Count and locate the complete, well-formed commands in m[start:size].

    Damaged stretches are skipped: a new record may begin only where `_next_boundary`
    says a real record boundary can be.
    """
    found = ValidRun()
    budget = ResyncBudget(size - start)
    p = start
    while p < size and not budget.spent:
        c = m[p]
        if c == 0x2A:
            end, first = _strict_command(m, p, size)
            if end is not None:
                found.add(p)
                p = end
                continue
            budget.charge(first)
        elif c == 0x23:
            end = _strict_annotation(m, p, size)
            if end is not None:
                p = end
                continue
        p = _next_boundary(m, p + 1, size)
    found.partial = budget.spent
    return found


def _next_boundary(m, p: int, size: int) -> int:
    """Next offset >= p where a record may start: `*`/`#` right after a line end, or a
    `*` right after a NUL (zero padding left by a power loss ends without CRLF)."""
    star = hash_ = -2
    while p < size:
        if star < p and star != -1:
            star = m.find(b"*", p)
        if hash_ < p and hash_ != -1:
            hash_ = m.find(b"#", p)
        cands = [c for c in (star, hash_) if c >= 0]
        if not cands:
            return size
        c = min(cands)
        prev = m[c - 1] if c > 0 else 0x0A
        if prev == 0x0A or (prev == 0 and m[c] == 0x2A):
            return c
        p = c + 1
    return size


# -- entry point -------------------------------------------------------------------------

def check_aof(path: str, opts: CheckOptions) -> AofReport:
    """Check (and with `opts.fix`/`truncate_to_timestamp`/`salvage`, repair) one AOF."""
    rep = AofReport(path)
    ck = _Checker(opts)
    try:
        try:
            lay = _layout.detect(path)
        except FileNotFoundError as e:
            opts.out(f"Cannot open file {path}: {os.strerror(e.errno)}")
            raise _Exit(1) from e
        except PermissionError as e:
            opts.out(f"Cannot open file {path}: {os.strerror(e.errno)}")
            raise _Exit(1) from e
        except _layout.LayoutError as e:
            opts.out(str(e))
            raise _Exit(1) from e
        rep.layout = lay.kind
        if lay.kind == _layout.MULTI_PART:
            _check_multi_part(ck, lay, rep)
        else:
            opts.out("Start checking Old-Style AOF")
            fr = ck.check_single(lay.path, lay.path, True, lay.kind == _layout.PREAMBLE, "aof",
                                 rep.files)
            _final_line(ck, fr, "AOF", lay.path)
    except _Exit as e:
        rep.exit_code = e.code
    return rep


def _final_line(ck: _Checker, fr: FileReport, prefix: str, name: str) -> None:
    o = ck.o
    if fr.status == OK:
        ck.out(f"{prefix} {name} is valid")
    elif fr.status == EMPTY:
        ck.out(f"{prefix} {name} is empty")
    elif fr.status == TS_TRUNCATED:
        ck.out(f"Successfully truncated AOF {name} to timestamp {o.truncate_to_timestamp}")
    elif fr.status == TRUNCATED:
        ck.out(f"Successfully truncated AOF {name}")


def _check_multi_part(ck: _Checker, lay: _layout.Layout, rep: AofReport) -> None:
    ck.out("Start checking Multi Part AOF")
    try:
        with open(lay.path, "rb") as f:
            data = f.read()
        am = parse_manifest(data, path=lay.path)
    except OSError as e:
        _server_log(ck, f"Fatal error: can't open the AOF manifest file {lay.path} for reading: "
                        f"{os.strerror(e.errno or _errno.EIO)}")
        raise _Exit(1) from e
    except ManifestError as e:
        rep.manifest_error = {"reason": e.reason, "line": e.line, "text": e.text}
        _server_log(ck, "\n*** FATAL AOF MANIFEST FILE ERROR ***\n")
        if e.text is not None:
            _server_log(ck, f"Reading the manifest file, at line {e.line}\n")
            _server_log(ck, f">>> '{e.text}'\n")
        _server_log(ck, f"{e.reason}\n")
        raise _Exit(1) from e
    files = am.files_to_load()
    total = len(files)
    for i, info in enumerate(files):
        name = info.fsname
        fpath = f"{lay.dirpath}/{name}"
        last = i + 1 == total
        if info is am.base:
            preamble = _file_is_rdb(ck, fpath)
            ck.out(f"Start to check BASE AOF ({'RDB' if preamble else 'RESP'} format).")
            fr = ck.check_single(name, fpath, last, preamble, "base", rep.files)
            prefix = "BASE AOF"
        else:
            if i == (1 if am.base else 0):
                ck.out("Start to check INCR files.")
            fr = ck.check_single(name, fpath, last, False, "incr", rep.files)
            prefix = "INCR AOF"
        _final_line(ck, fr, prefix, name)
    ck.out("All AOF files and manifest are valid")


def _file_is_rdb(ck: _Checker, path: str) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(5)
            size = os.fstat(f.fileno()).st_size
    except OSError as e:
        ck.out(f"Cannot open file {path}: {os.strerror(e.errno or _errno.EIO)}")
        raise _Exit(1) from e
    return _layout.is_rdb(head, size)


def _server_log(ck: _Checker, msg: str) -> None:
    """serverLog(LL_WARNING) as the tool prints it: `<pid>:C <date> # <msg>`."""
    import time

    now = time.time()
    stamp = time.strftime("%d %b %Y %H:%M:%S", time.localtime(now)) + f".{int(now * 1000) % 1000:03d}"
    ck.out(f"{os.getpid()}:C {stamp} # {msg}")
