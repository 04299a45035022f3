"""A small pipelining RESP2 client: one socket, `hiredis.Reader` for replies.

Replay and drill need exactly two things from a connection: send a batch of
already-encoded commands and get one reply per command back (error replies as values,
not exceptions, so a batch can be judged command by command), and know how many replies
arrived before a connection broke (that is where a resumed replay must start). Sending
and reading are interleaved with `select`, so a large batch never dead-locks against a
server that stops reading while its output buffer is full.
"""

from __future__ import annotations

import select
import socket
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import hiredis

from rdbtools.errors import RdbkitError

__all__ = ["Target", "parse_url", "Connection", "ReplyError", "ConnectionLost", "encode",
           "TargetError"]

#: Bytes handed to one send() call; larger batches are sent in slices.
SEND_SLICE = 1 << 20
#: Bytes asked of one recv() call.
RECV_SIZE = 1 << 18
DEFAULT_PORT = 6379


class TargetError(RdbkitError):
    """The target server cannot be used (bad URL, refused AUTH, unreachable)."""


class ConnectionLost(TargetError):
    """The connection broke; `replies` holds what arrived before it did."""

    def __init__(self, message: str, replies: list | None = None) -> None:
        super().__init__(message)
        self.replies = replies or []


class ReplyError(Exception):
    """An error reply (`-ERR ...`); returned as a value inside batches."""

    @property
    def code(self) -> str:
        text = str(self)
        return text.split(" ", 1)[0] if text else ""


@dataclass(frozen=True)
class Target:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    db: int = 0
    username: str | None = None
    password: str | None = None

    def __str__(self) -> str:
        auth = f"{self.username or ''}:***@" if self.password is not None else ""
        return f"redis://{auth}{self.host}:{self.port}/{self.db}"


def parse_url(url: str) -> Target:
    """`redis://[[user]:pass@]host[:port][/db]`; `user:pass` sends `AUTH user pass`,
    `:pass` (or a bare `pass@`) sends `AUTH pass`."""
    parts = urlsplit(url)
    if parts.scheme != "redis":
        raise TargetError(f"unsupported URL {url!r}: use redis://[user:pass@]host:port[/db]"
                          + (" (TLS is not supported)" if parts.scheme == "rediss" else ""))
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise TargetError(f"bad port in {url!r}") from None
    path = parts.path.strip("/")
    if path:
        if not path.isdigit():
            raise TargetError(f"bad database number {path!r} in {url!r}")
        db = int(path)
    else:
        db = 0
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is None and username is not None:
        # redis://secret@host: a lone userinfo is the password (what redis-cli -u does)
        username, password = None, username
    if password is not None and not username:
        username = None
    return Target(parts.hostname or "127.0.0.1", port, db, username, password)


def encode(*args) -> bytes:
    """One RESP multi-bulk command; str/int arguments are encoded as Redis would."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = b"%d" % a
        out.append(b"$%d\r\n" % len(a))
        out.append(a)
        out.append(b"\r\n")
    return b"".join(out)


class Connection:
    """One socket to a Redis-speaking server."""

    def __init__(self, target: Target, *, timeout: float = 60.0) -> None:
        self.target = target
        self.timeout = timeout
        self.db = target.db
        try:
            self.sock = socket.create_connection((target.host, target.port), timeout=timeout)
        except OSError as e:
            raise TargetError(f"cannot connect to {target.host}:{target.port}: "
                              f"{e.strerror or e}") from e
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = hiredis.Reader(replyError=ReplyError)
        self._held: list = []          # parsed replies not yet collected
        self._raw = bytearray()        # received bytes not yet parsed
        try:
            if target.password is not None:
                args = ["AUTH"] + ([target.username] if target.username else []) + [target.password]
                self.call_checked(*args, what="AUTH")
            if target.db:
                self.call_checked("SELECT", target.db, what=f"SELECT {target.db}")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def call(self, *args):
        """One command; an error reply comes back as a `ReplyError` value."""
        return self.pipeline(encode(*args), 1)[0]

    def call_checked(self, *args, what: str | None = None):
        reply = self.call(*args)
        if isinstance(reply, ReplyError):
            raise TargetError(f"{what or args[0]} failed on {self.target.host}:"
                              f"{self.target.port}: {reply}")
        return reply

    def pipeline(self, data: bytes, n_replies: int) -> list:
        """Send encoded commands and read `n_replies` replies."""
        self.send(data)
        return self.collect(n_replies)

    def send(self, data: bytes) -> None:
        """Send everything, reading replies that arrive meanwhile into a holding list
        (a server may stop reading while it cannot write). `collect()` hands them out.

        Raises `ConnectionLost` (with the replies read so far) if the socket breaks."""
        view = memoryview(data)
        sent = 0
        sock = self.sock
        try:
            while sent < len(view):
                r, w, _ = select.select([sock], [sock], [], self.timeout)
                if not r and not w:
                    raise socket.timeout("timed out")
                if w:
                    sent += sock.send(view[sent:sent + SEND_SLICE])
                if r:
                    self._recv()
        except hiredis.ProtocolError as e:
            raise self._lost(f"protocol error from the server: {e}") from e
        except OSError as e:
            raise self._lost(f"connection to {self.target.host}:{self.target.port} "
                             f"lost: {e.strerror or e}") from e

    def collect(self, n_replies: int) -> list:
        """The next `n_replies` replies, waiting for them as needed."""
        try:
            self._parse()
            while len(self._held) < n_replies:
                self._wait()
                self._parse()
        except hiredis.ProtocolError as e:
            raise self._lost(f"protocol error from the server: {e}") from e
        except OSError as e:
            raise self._lost(f"connection to {self.target.host}:{self.target.port} "
                             f"lost: {e.strerror or e}") from e
        out = self._held[:n_replies]
        del self._held[:n_replies]
        return out

    def collect_ok(self, n_replies: int) -> list | None:
        """None when the next `n_replies` replies are all `+OK` (told from the raw bytes,
        without building a million reply objects); otherwise the replies themselves."""
        if self._held or self.reader.has_data():
            return self.collect(n_replies)
        pattern = _OK * n_replies
        want = len(pattern)
        raw = self._raw
        try:
            while len(raw) < want:
                if not pattern.startswith(raw):
                    return self.collect(n_replies)
                self._wait()
        except OSError as e:
            raise self._lost(f"connection to {self.target.host}:{self.target.port} "
                             f"lost: {e.strerror or e}") from e
        if raw.startswith(pattern):
            del raw[:want]
            return None
        return self.collect(n_replies)

    def _wait(self) -> None:
        r, _, _ = select.select([self.sock], [], [], self.timeout)
        if not r:
            raise socket.timeout("timed out waiting for replies")
        self._recv()

    def _parse(self) -> None:
        if self._raw:
            self.reader.feed(bytes(self._raw))
            self._raw.clear()
        gets = self.reader.gets
        held = self._held
        while True:
            reply = gets()
            if reply is False:
                return
            held.append(reply)

    def _lost(self, message: str) -> ConnectionLost:
        try:
            self._parse()
        except hiredis.ProtocolError:
            pass
        held, self._held = self._held, []
        return ConnectionLost(message, held)

    def _recv(self) -> None:
        chunk = self.sock.recv(RECV_SIZE)
        if not chunk:
            raise ConnectionResetError(0, "closed by the server")
        self._raw += chunk


_OK = b"+OK\r\n"


def info_fields(text: bytes | str) -> dict[str, str]:
    """`INFO` text -> {field: value}."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#") or ":" not in line:
            continue
        k, v = line.split(":", 1)
        out[k.strip()] = v.strip()
    return out


def keyspace_counts(text: bytes | str) -> dict[int, int]:
    """`INFO keyspace` -> {db: keys}."""
    out = {}
    for k, v in info_fields(text).items():
        if k.startswith("db") and k[2:].isdigit():
            for part in v.split(","):
                name, _, num = part.partition("=")
                if name == "keys":
                    out[int(k[2:])] = int(num)
    return out
