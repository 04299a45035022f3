"""RESP on the wire, sans-I/O: a request parser with Redis's limits and error texts,
and reply encoding for RESP2 and RESP3.

Replies are plain Python values so the engine never thinks about the protocol:
bytes/bytearray -> bulk, int -> integer, None -> null, list/tuple -> array,
`Simple` -> +status, `Error` -> -error, `Map` -> map (flat array in RESP2),
`RSetReply` -> set (array in RESP2), float -> double (bulk in RESP2), `Raw` -> as is.
"""

from __future__ import annotations

from .config import SplitError, split_args

#: Redis's PROTO_INLINE_MAX_SIZE: the longest inline line or `*<n>`/`$<n>` header.
INLINE_MAX = 64 * 1024
#: Before AUTH, Redis refuses large requests outright.
UNAUTH_MAX_ARGS = 10
UNAUTH_MAX_BULK = 16384
#: Redis's INT_MAX bound on a multibulk count.
MAX_MULTIBULK = 1024 * 1024 * 1024


class ProtocolError(Exception):
    """Malformed request: reply `-ERR <message>` and close the connection."""


class Simple(bytes):
    __slots__ = ()


class Error(bytes):
    """An error reply; the text includes its code (`ERR ...`, `WRONGTYPE ...`)."""

    __slots__ = ()


class Raw(bytes):
    """Pre-encoded reply bytes (the same for RESP2 and RESP3)."""

    __slots__ = ()


class Map(list):
    """Pairs [(k, v), ...]: a RESP3 map, a flat array in RESP2."""

    __slots__ = ()


class RSetReply(list):
    __slots__ = ()


class Push(list):
    __slots__ = ()


class Replies(list):
    """Several consecutive replies to one command (SUBSCRIBE ch1 ch2 ...)."""

    __slots__ = ()


class Verbatim(bytes):
    """RESP3 verbatim text (txt), a bulk string in RESP2."""

    __slots__ = ()


class NullArray:
    """`*-1` in RESP2 (EXEC aborted, BLPOP timeout), `_` in RESP3."""

    __slots__ = ()


NULL_ARRAY = NullArray()


def err(text: str) -> Error:
    return Error(text.encode("utf-8", "surrogateescape"))


OK = Raw(b"+OK\r\n")
QUEUED = Raw(b"+QUEUED\r\n")
PONG = Raw(b"+PONG\r\n")


class RequestParser:
    """Feed bytes, take complete argv lists; raises ProtocolError with Redis's text.

    `need` remembers how many buffered bytes the next request needs at least, so a big
    bulk arriving in many reads is scanned once, not once per read.
    """

    __slots__ = ("buf", "pos", "max_bulk", "authenticated", "need", "error")

    def __init__(self, max_bulk: int = 512 * 1024 * 1024) -> None:
        self.buf = bytearray()
        self.pos = 0
        self.max_bulk = max_bulk
        self.authenticated = True
        self.need = 0
        self.error: ProtocolError | None = None

    def feed(self, data: bytes) -> None:
        if self.pos:
            del self.buf[:self.pos]
            self.need -= self.pos
            self.pos = 0
        self.buf += data

    def pending(self) -> int:
        return len(self.buf) - self.pos

    def commands(self) -> list[list[bytes]]:
        """Every complete request in the buffer (maybe none).

        Requests before a malformed one are returned first; the ProtocolError comes
        on the next call, so they are served before the connection is dropped.
        """
        if self.error is not None:
            raise self.error
        out: list[list[bytes]] = []
        try:
            self._parse(out)
        except ProtocolError as e:
            if not out:
                raise
            self.error = e
        return out

    def _parse(self, out: list) -> None:
        n = len(self.buf)
        if n < self.need:
            return
        self.need = 0
        buf = bytes(self.buf) if n - self.pos < 1 << 20 else self.buf
        pos = self.pos
        find = buf.find
        max_bulk = self.max_bulk
        try:
            while pos < n:
                if buf[pos] == 42:  # '*'
                    nl = find(b"\r\n", pos)
                    if nl < 0:
                        if n - pos > INLINE_MAX:
                            raise ProtocolError("Protocol error: too big mbulk count string")
                        break
                    s = buf[pos + 1:nl]
                    if s.isdigit() and (s[0] != 48 or len(s) == 1) and len(s) < 11:
                        count = int(s)
                    else:
                        count = _int_or(buf, pos + 1, nl)
                        if count is None:
                            raise ProtocolError("Protocol error: invalid multibulk length")
                    if count > MAX_MULTIBULK:
                        raise ProtocolError("Protocol error: invalid multibulk length")
                    if not self.authenticated and count > UNAUTH_MAX_ARGS:
                        raise ProtocolError("Protocol error: unauthenticated multibulk length")
                    p = nl + 2
                    if count <= 0:
                        pos = p
                        continue
                    argv = []
                    append = argv.append
                    for _ in range(count):
                        nl = find(b"\r\n", p)
                        if nl < 0:
                            if n - p > INLINE_MAX:
                                raise ProtocolError("Protocol error: too big bulk count string")
                            break
                        if buf[p] != 36:  # '$'
                            raise ProtocolError(
                                "Protocol error: expected '$', got '%s'" % chr(buf[p]))
                        s = buf[p + 1:nl]
                        if not s.isdigit() or (s[0] == 48 and len(s) > 1) or len(s) > 19:
                            raise ProtocolError("Protocol error: invalid bulk length")
                        size = int(s)
                        if size > max_bulk:
                            raise ProtocolError("Protocol error: invalid bulk length")
                        if not self.authenticated and size > UNAUTH_MAX_BULK:
                            raise ProtocolError("Protocol error: unauthenticated bulk length")
                        end = nl + 2 + size
                        if end + 2 > n:
                            self.need = end + 2
                            break
                        append(bytes(buf[nl + 2:end]) if buf is self.buf else buf[nl + 2:end])
                        p = end + 2
                    else:
                        out.append(argv)
                        pos = p
                        continue
                    break
                else:
                    nl = find(b"\n", pos)
                    if nl < 0:
                        if n - pos > INLINE_MAX:
                            raise ProtocolError("Protocol error: too big inline request")
                        break
                    line = bytes(buf[pos:nl])
                    pos = nl + 1
                    if line.endswith(b"\r"):
                        line = line[:-1]
                    try:
                        argv = split_args(line)
                    except SplitError:
                        raise ProtocolError("Protocol error: unbalanced quotes in request")
                    if argv:
                        out.append(argv)
        finally:
            self.pos = pos


def _int_or(buf: bytearray, start: int, end: int) -> int | None:
    """Redis's string2ll: optional '-', digits, no leading zeros/spaces/plus."""
    s = bytes(buf[start:end])
    if not s or len(s) > 20:
        return None
    if s[0] == 45:
        if len(s) < 2 or not s[1:].isdigit() or (s[1] == 48 and len(s) > 2):
            return None
    elif not s.isdigit() or (s[0] == 48 and len(s) > 1):
        return None
    return int(s)


# -- reply encoding ---------------------------------------------------------------------

def format_double(d: float) -> bytes:
    """Redis 7.0's `%.17g` double rendering (inf/-inf/nan spelled out)."""
    if d != d:
        return b"nan"
    if d == float("inf"):
        return b"inf"
    if d == float("-inf"):
        return b"-inf"
    return b"%.17g" % d


def encode(reply, resp3: bool, out: list) -> None:
    """Append the wire form of `reply` to `out` (a list of bytes chunks)."""
    t = type(reply)
    if t is Raw:
        out.append(reply)
    elif t is bytes or t is bytearray:
        out.append(b"$%d\r\n%s\r\n" % (len(reply), reply))
    elif t is int:
        out.append(b":%d\r\n" % reply)
    elif t is Simple:
        out.append(b"+%s\r\n" % reply)
    elif t is Error:
        out.append(b"-%s\r\n" % reply)
    elif reply is None:
        out.append(b"_\r\n" if resp3 else b"$-1\r\n")
    elif t is list or t is tuple:
        out.append(b"*%d\r\n" % len(reply))
        for item in reply:
            encode(item, resp3, out)
    elif t is Map:
        if resp3:
            out.append(b"%%%d\r\n" % len(reply))
        else:
            out.append(b"*%d\r\n" % (2 * len(reply)))
        for k, v in reply:
            encode(k, resp3, out)
            encode(v, resp3, out)
    elif t is RSetReply:
        out.append(b"%c%d\r\n" % (126 if resp3 else 42, len(reply)))
        for item in reply:
            encode(item, resp3, out)
    elif t is float:
        if resp3:
            out.append(b",%s\r\n" % format_double(reply))
        else:
            s = format_double(reply)
            out.append(b"$%d\r\n%s\r\n" % (len(s), s))
    elif t is bool:
        if resp3:
            out.append(b"#t\r\n" if reply else b"#f\r\n")
        else:
            out.append(b":1\r\n" if reply else b":0\r\n")
    elif t is NullArray:
        out.append(b"_\r\n" if resp3 else b"*-1\r\n")
    elif t is Verbatim:
        if resp3:
            out.append(b"=%d\r\ntxt:%s\r\n" % (len(reply) + 4, reply))
        else:
            out.append(b"$%d\r\n%s\r\n" % (len(reply), reply))
    elif t is Push:
        out.append(b"%c%d\r\n" % (62 if resp3 else 42, len(reply)))
        for item in reply:
            encode(item, resp3, out)
    elif t is Replies:
        for item in reply:
            encode(item, resp3, out)
    elif isinstance(reply, int):
        out.append(b":%d\r\n" % reply)
    elif isinstance(reply, bytes):
        out.append(b"$%d\r\n%s\r\n" % (len(reply), reply))
    else:  # pragma: no cover - programming error
        raise TypeError(f"cannot encode reply {reply!r}")


def to_bytes(reply, resp3: bool = False) -> bytes:
    out: list = []
    encode(reply, resp3, out)
    return b"".join(out)


class FastRequestParser(RequestParser):
    """`hiredis.Reader` on the hot path, this module's parser for everything else.

    hiredis parses the common case (multibulk requests of bulk strings) in C. Every
    request it returns is checked to be what Redis accepts (a list of bulk strings
    within the limits) and accounted at its exact wire length, so `pos` always points
    at the next unread request in our own copy of the bytes. Inline requests,
    anything hiredis dislikes, and anything it parses that Redis would refuse are
    handed to the pure-Python parser from that point, which yields Redis's exact
    behaviour and error text.
    """

    __slots__ = ("reader", "fast")

    def __init__(self, max_bulk: int = 512 * 1024 * 1024) -> None:
        super().__init__(max_bulk)
        import hiredis

        self.reader = hiredis.Reader()
        self.fast = True

    def feed(self, data: bytes) -> None:
        super().feed(data)
        if self.fast:
            self.reader.feed(data)

    def _parse(self, out: list) -> None:
        if self.fast:
            self._fast(out)
        if not self.fast:
            self.need = 0
            super()._parse(out)
            self._resume_fast()

    def _resume_fast(self) -> None:
        """Back to hiredis from the next request boundary, when it starts small."""
        import hiredis

        rest = self.buf[self.pos:]
        if rest and not _small_multibulk(rest, 0):
            return
        self.reader = hiredis.Reader()
        if rest:
            self.reader.feed(bytes(rest))
        self.fast = True

    def _fast(self, out: list) -> None:
        import hiredis

        buf = self.buf
        pos = self.pos
        n = len(buf)
        gets = self.reader.gets
        max_bulk = self.max_bulk
        authed = self.authenticated
        dig = _DIGITS
        try:
            while pos < n:
                if not (buf[pos] == 42 and pos + 2 < n and buf[pos + 2] == 13
                        and 48 < buf[pos + 1] <= 57) and not _small_multibulk(buf, pos):
                    # inline, malformed, or a huge argument count: hiredis spends time
                    # linear in a declared count, so those never reach it
                    self.fast = False
                    break
                try:
                    x = gets()
                except Exception:  # ProtocolError, or hiredis building a RESP3 map
                    self.fast = False  # with list keys (TypeError): the strict parser
                    break              # reports what Redis would
                if x is False:
                    # an incomplete request: the strict parser vets the headers seen so
                    # far (limits, lengths) and remembers how much it needs, so a big
                    # bulk is not rescanned on every read
                    self.pos = pos
                    probe: list = []
                    super()._parse(probe)
                    if probe:  # pragma: no cover - hiredis would have returned it
                        self.fast = False
                        out.extend(probe)
                    pos = self.pos
                    break
                if type(x) is not list:
                    self.fast = False
                    break
                # every element a bulk string, within the limits, at its exact wire size
                size = 3 + dig[len(x)]
                ok = True
                for a in x:
                    if type(a) is not bytes:
                        ok = False
                        break
                    la = len(a)
                    if la > max_bulk:
                        ok = False
                        break
                    size += la + 5 + (dig[la] if la < 65536 else len(str(la)))
                if not ok or (not authed and (len(x) > UNAUTH_MAX_ARGS or any(
                        len(a) > UNAUTH_MAX_BULK for a in x))):
                    self.fast = False
                    break
                if x:
                    ll = len(x[-1])
                    end = pos + size
                    if buf[end - ll - (dig[ll] if ll < 65536 else len(str(ll))) - 5] != 36 \
                            or buf[end - 2] != 13 or buf[end - 1] != 10:
                        self.fast = False
                        break
                pos += size
                if x:
                    out.append(x)
        finally:
            self.pos = pos


#: hiredis only ever sees requests declaring at most this many arguments
FAST_MAX_ARGS = 9999
#: decimal digits of small numbers, for wire-size arithmetic without str()
_DIGITS = [len(str(i)) for i in range(1 << 16)]


def _small_multibulk(buf, pos: int) -> bool:
    """Does the request at `pos` start `*<1-4 digits>` (or is its header still short)?"""
    if buf[pos] != 42:
        return False
    end = buf.find(b"\r", pos + 1, pos + 7)
    if end < 0:
        return len(buf) - pos < 7 and buf[pos + 1:].isdigit()
    digits = buf[pos + 1:end]
    return 0 < len(digits) <= 4 and digits.isdigit()
