"""Sans-I/O reader for the RESP records of an append-only file.

An AOF record is either a command (`*<argc>\\r\\n` then `argc` times
`$<len>\\r\\n<bytes>\\r\\n`) or an annotation line starting with `#` (Redis 7 writes
`#TS:<unix>`).  The reader is fed bytes in any chunking and hands back one event at a
time, each with its absolute byte offset, its end and the record-line number where it
starts, so that a loader (the server) and the checker agree on where a log may be cut.

It is deliberately stricter than Redis' loader: lengths are plain decimal digits, a
bulk must be followed by CRLF (`check_crlf`), `*0` and negative counts are refused (the
server refuses them too).  Memory stays bounded by the largest record plus one fed
chunk: a declared bulk above `MAX_BULK_LEN` or a header line that runs on without CRLF
is rejected as soon as it is seen, not buffered.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import RespCorrupt, RespTruncated

__all__ = [
    "Annotation", "Command", "DONE", "NEED_DATA", "RespParser", "TXN_TABLE",
    "MAX_BULK_LEN", "MAX_ARGC", "ANNOTATION_LINE_MAX", "txn_step",
]

#: Redis' `proto-max-bulk-len` default: no AOF written by a stock server holds more.
MAX_BULK_LEN = 512 * 1024 * 1024
#: Largest multibulk count a Redis client may send (`INT_MAX`).
MAX_ARGC = 2**31 - 1
#: `AOF_ANNOTATION_LINE_MAX_LEN`: the loader reads `#` lines with a buffer this big, so a
#: line (with its newline) must fit in one byte less.
ANNOTATION_LINE_MAX = 1024
#: A `*`/`$` header line longer than this cannot be a length we accept (`$` + 10 digits).
_MAX_HEADER_LINE = 24
#: Compact the receive buffer once this much consumed data sits before the cursor.
_COMPACT_AT = 1 << 16


class _Sentinel:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NEED_DATA = _Sentinel("NEED_DATA")
DONE = _Sentinel("DONE")


@dataclass(frozen=True, slots=True)
class Command:
    """One logged command. `line` counts record lines (payload bytes are not lines)."""

    args: list[bytes]
    offset: int
    end: int
    line: int
    in_multi: bool = False

    @property
    def name(self) -> bytes:
        return self.args[0].lower() if self.args else b""


@dataclass(frozen=True, slots=True)
class Annotation:
    """A `#...` line; `text` excludes the `#` and the line ending."""

    text: bytes
    offset: int
    end: int
    line: int = 0

    @property
    def timestamp(self) -> int | None:
        """The unix time of a `#TS:<n>` annotation, else None."""
        if self.text.startswith(b"TS:"):
            digits = self.text[3:]
            if digits.isdigit():
                return int(digits)
        return None


# MULTI/EXEC state machine: (in_multi, verb) -> (in_multi after, complaint or None).
# Verbs other than multi/exec leave the state alone.  Redis' loader survives both
# complaints (the fake client just gets an error reply); redis-check-aof refuses them.
TXN_TABLE: dict[tuple[bool, bytes], tuple[bool, str | None]] = {
    (False, b"multi"): (True, None),
    (False, b"exec"): (False, "EXEC without MULTI"),
    (True, b"multi"): (True, "MULTI inside MULTI"),
    (True, b"exec"): (False, None),
}


def txn_step(in_multi: bool, first_arg: bytes) -> tuple[bool, str | None]:
    if len(first_arg) in (4, 5):
        hit = TXN_TABLE.get((in_multi, first_arg.lower()))
        if hit is not None:
            return hit
    return in_multi, None


class RespParser:
    """Pull parser: `feed()` bytes, `feed_eof()` at the end, then `next_event()`.

    `base_offset` is the absolute offset of the first fed byte (the end of an RDB
    preamble, for instance).  `safe_offset` is the end of the last record that is not
    inside an open MULTI.

    Truncation follows Redis 7.0's loader (`loadSingleAppendOnlyFile`), which keeps
    `valid_up_to` = the end of the last complete command (annotations after it are not
    kept, a command inside an open MULTI is) and, when the log ends cleanly inside a
    MULTI, reverts to where that MULTI began.  `RespTruncated.valid_up_to` is that
    offset; before any complete command it is `base_offset`, while Redis 7.0 uses 0 —
    and so truncates away an RDB preamble — which `redis_valid_up_to` reports.
    """

    def __init__(self, *, base_offset: int = 0, check_crlf: bool = True,
                 max_bulk_len: int = MAX_BULK_LEN, path: str | None = None) -> None:
        self._buf = bytearray()
        self._base = base_offset          # absolute offset of _buf[0]
        self._pos = 0                     # start of the record being parsed, in _buf
        self._eof = False
        self._check_crlf = check_crlf
        self._max_bulk = max_bulk_len
        self._path = path
        # progress through a partially received command
        self._argc = 0
        self._args: list[bytes] = []
        self._scan = 0                    # where the next header/bulk starts, in _buf
        self.line = 1
        self.in_multi = False
        self.safe_offset = base_offset
        self.last_command_end: int | None = None   # Redis' valid_up_to
        self.before_multi: int | None = None       # Redis' valid_before_multi

    # -- input -------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        if self._eof:
            raise RuntimeError("feed() after feed_eof()")
        if self._pos >= _COMPACT_AT and self._pos * 2 >= len(self._buf):
            del self._buf[:self._pos]
            self._base += self._pos
            self._scan -= self._pos
            self._pos = 0
        self._buf += data

    def feed_eof(self) -> None:
        self._eof = True

    @property
    def offset(self) -> int:
        """Absolute offset of the first byte not yet returned in an event."""
        return self._base + self._pos

    # -- events ------------------------------------------------------------------
    def next_event(self):
        buf = self._buf
        pos = self._pos
        if self._argc == 0:
            if pos >= len(buf):
                if not self._eof:
                    return NEED_DATA
                if self.in_multi:
                    raise self._truncated("end of file inside MULTI (no EXEC)", self._base + pos,
                                          self.before_multi, reverted_multi=True)
                return DONE
            lead = buf[pos]
            if lead == 0x23:  # '#'
                return self._annotation()
            if lead != 0x2A:  # '*'
                raise self._corrupt(f"expected '*' or '#' at the start of a record, got {bytes([lead])!r}", pos)
            got = self._header(pos, b"*")
            if got is NEED_DATA:
                return self._need(pos)
            argc, nxt = got
            if argc < 1 or argc > MAX_ARGC:
                raise self._corrupt(f"invalid argument count {argc}", pos)
            self._argc = argc
            self._args = []
            self._scan = nxt
        return self._command()

    def _command(self):
        buf = self._buf
        q = self._scan
        args = self._args
        argc = self._argc
        find = buf.find
        blen = len(buf)
        maxb = self._max_bulk
        check_crlf = self._check_crlf
        while len(args) < argc:
            # the common case inline: `$<digits>\r\n<payload>\r\n` all buffered
            if q < blen and buf[q] == 0x24:
                nl = find(b"\r\n", q + 1, q + _MAX_HEADER_LINE)
                if nl > q + 1:
                    digits = buf[q + 1:nl]
                    if digits.isdigit():
                        body = nl + 2
                        end = body + int(digits)
                        if end - body <= maxb and end + 2 <= blen and (
                                not check_crlf or buf[end:end + 2] == b"\r\n"):
                            args.append(bytes(buf[body:end]))
                            q = end + 2
                            continue
            # anything else, with its exact error or a request for more data
            got = self._header(q, b"$")
            if got is NEED_DATA:
                self._scan = q
                return self._need(q)
            n, body = got
            if n > self._max_bulk:
                raise self._corrupt(f"bulk length {n} exceeds the limit {self._max_bulk}", q)
            end = body + n
            if end + 2 > len(buf):
                self._scan = q
                return self._need(body)
            if self._check_crlf and buf[end:end + 2] != b"\r\n":
                raise self._corrupt(f"expected CRLF after a {n}-byte bulk, got {bytes(buf[end:end + 2])!r}", end)
            args.append(bytes(buf[body:end]))
            q = end + 2
        start = self._pos
        cmd_multi = self.in_multi
        self.in_multi, _ = txn_step(self.in_multi, args[0])
        cmd = Command(args, self._base + start, self._base + q, self.line,
                      cmd_multi or self.in_multi)
        first = args[0]
        if len(first) == 5 and first.lower() == b"multi":
            self.before_multi = self.last_command_end   # on every MULTI, as Redis does
        self.last_command_end = self._base + q
        self.line += 1 + 2 * len(args)
        self._pos = q
        self._argc = 0
        self._args = []
        if not self.in_multi:
            self.safe_offset = self._base + q
        return cmd

    def _annotation(self):
        buf = self._buf
        pos = self._pos
        nl = buf.find(b"\n", pos, pos + ANNOTATION_LINE_MAX - 1)
        if nl < 0:
            if len(buf) - pos >= ANNOTATION_LINE_MAX - 1:
                raise self._corrupt(f"annotation line longer than {ANNOTATION_LINE_MAX - 2} bytes", pos)
            if not self._eof:
                return NEED_DATA
            end = len(buf)  # a last line without newline is accepted by the loader
            text = bytes(buf[pos + 1:end])
        else:
            end = nl + 1
            text = bytes(buf[pos + 1:nl])
            if text.endswith(b"\r"):
                text = text[:-1]
        ev = Annotation(text, self._base + pos, self._base + end, self.line)
        self.line += 1
        self._pos = end
        if not self.in_multi:
            self.safe_offset = self._base + end
        return ev

    def _header(self, at: int, prefix: bytes):
        """Parse `<prefix><digits>\\r\\n` at `at`: (value, next index) or NEED_DATA."""
        buf = self._buf
        if at >= len(buf):
            return NEED_DATA
        if buf[at] != prefix[0]:
            raise self._corrupt(f"expected {prefix.decode()!r}, got {bytes([buf[at]])!r}", at)
        nl = buf.find(b"\r\n", at, at + _MAX_HEADER_LINE)
        if nl < 0:
            if len(buf) - at >= _MAX_HEADER_LINE:
                raise self._corrupt(f"{prefix.decode()!r} line is not a short decimal length", at)
            lf = buf.find(b"\n", at)
            if lf >= 0:
                raise self._corrupt(f"{prefix.decode()!r} line ends without CR", at)
            return NEED_DATA
        digits = bytes(buf[at + 1:nl])
        if not digits.isdigit() or not digits.isascii():
            raise self._corrupt(f"{prefix.decode()!r} line has a non-decimal length {digits!r}", at)
        return int(digits), nl + 2

    def _need(self, at: int):
        if self._eof:
            raise self._truncated("end of file inside a command", self._base + self._pos,
                                  self.last_command_end)
        return NEED_DATA

    def _truncated(self, reason: str, at: int, redis_cut: int | None, *,
                   reverted_multi: bool = False) -> RespTruncated:
        e = RespTruncated(reason, at, path=self._path,
                          valid_up_to=self._base if redis_cut is None else redis_cut)
        e.redis_valid_up_to = 0 if redis_cut is None else redis_cut
        e.reverted_multi = reverted_multi   # Redis logs "Revert incomplete MULTI/EXEC ..."
        return e

    def _corrupt(self, reason: str, at: int) -> RespCorrupt:
        return RespCorrupt(reason, self._base + at, phase="read-command", path=self._path)


def iter_events(source, *, base_offset: int = 0, chunk_size: int = 1 << 20, **kw):
    """Events from a binary file object (or bytes), streamed in `chunk_size` reads."""
    p = RespParser(base_offset=base_offset, **kw)
    if isinstance(source, (bytes, bytearray, memoryview)):
        p.feed(bytes(source))
        p.feed_eof()
        read = None
    else:
        read = source.read
    while True:
        ev = p.next_event()
        if ev is NEED_DATA:
            data = read(chunk_size) if read else b""
            if data:
                p.feed(data)
            else:
                p.feed_eof()
            continue
        if ev is DONE:
            return
        yield ev
