"""A raw RESP client for tests: replies as typed trees, so error texts and reply types
(status vs bulk, null array vs null bulk, RESP3 maps/sets/doubles) compare exactly."""

from __future__ import annotations

import socket


class Err(str):
    """An error reply's text."""


class Status(str):
    pass


class Double(float):
    pass


class RespMap(tuple):
    pass


class RespSet(tuple):
    pass


NULL_ARRAY = ("null-array",)


def encode_command(args) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = b"%d" % a
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RawClient:
    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.f = self.sock.makefile("rb")

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def call(self, *args):
        self.sock.sendall(encode_command(args))
        return self.read()

    def pipeline(self, commands):
        self.sock.sendall(b"".join(encode_command(c) for c in commands))
        return [self.read() for _ in commands]

    def read(self):
        line = self.f.readline()
        if not line:
            raise ConnectionError("closed")
        t, rest = line[:1], line[1:-2]
        if t == b"+":
            return Status(rest.decode("utf-8", "replace"))
        if t == b"-":
            return Err(rest.decode("utf-8", "replace"))
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)
            return data[:-2]
        if t == b"=":
            n = int(rest)
            data = self.f.read(n + 2)
            return data[4:-2]
        if t in (b"*", b">"):
            n = int(rest)
            if n < 0:
                return NULL_ARRAY
            return [self.read() for _ in range(n)]
        if t == b"~":
            return RespSet(self.read() for _ in range(int(rest)))
        if t == b"%":
            n = int(rest)
            return RespMap((self.read(), self.read()) for _ in range(n))
        if t == b"_":
            return None
        if t == b",":
            return Double(float(rest))
        if t == b"#":
            return rest == b"t"
        raise ValueError(f"unexpected reply line {line!r}")

    def close(self) -> None:
        try:
            self.f.close()
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
