"""Wire-level behaviour: inline commands, pipelines, malformed input, limits.

Byte-exact comparisons run against real Redis 7.0 too (interop); the sans-I/O parser
is also tested on its own, whole and split at every byte.
"""

from __future__ import annotations

import socket
import time

import pytest

from server.proto import FastRequestParser, ProtocolError, RequestParser

PARSERS = [RequestParser, FastRequestParser]

MALFORMED = [
    b"*1\r\n+PING\r\n",
    b"*abc\r\n",
    b"*1\r\n$-5\r\n",
    b"*1\r\n$abc\r\n",
    b"*1\r\n$600000000\r\n",
    b"*1\r\n$01\r\nx\r\n",
    b'SET "a b\r\n',
    b"SET 'a'b\r\n",
    b"x" * 70000,
    b"*1\r\n$" + b"1" * 70000,
    b"*3000000000\r\n",
    b"*1\r\n:1\r\n",
]

WELL_FORMED = [
    b"PING\r\n",
    b"PING\n",
    b"SET k 'a b'\r\nGET k\r\n",
    b'SET k "x\\x41\\n"\r\nGET k\r\n',
    b"\r\n\r\nPING\r\n",
    b"*0\r\n*-1\r\nPING\r\n",
    b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n",
    b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv\r\n\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
]


def exchange(port: int, payload: bytes, wait: float = 0.3,
             expect: bytes | None = None, until: bytes | None = None) -> tuple[bytes, bool]:
    """Send bytes, collect everything until the server closes or goes quiet (or, when
    `expect` is given, until that much arrived: a loaded machine may be slow)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(payload)
        s.settimeout(wait)
        data = b""
        closed = False
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                if expect is not None and len(data) < len(expect):
                    continue
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            data += chunk
            if until is not None and data.endswith(until):
                break
        return data, closed


@pytest.mark.interop
@pytest.mark.parametrize("payload", MALFORMED, ids=lambda p: repr(p[:20]))
def test_malformed_like_redis(payload, ours, real):
    expected = exchange(real.port, payload)
    got = exchange(ours.port, payload, expect=expected[0])
    assert got == expected
    assert got[1], "connection must be closed after a protocol error"


@pytest.mark.interop
@pytest.mark.parametrize("payload", WELL_FORMED, ids=lambda p: repr(p[:20]))
def test_inline_and_pipelines_like_redis(payload, ours, real):
    for srv in (real, ours):
        exchange(srv.port, b"FLUSHALL\r\n")
    # a trailing ECHO marks the end, so slow machines cannot cut a reply short
    payload += b"*2\r\n$4\r\nECHO\r\n$7\r\n__end__\r\n"
    end = b"$7\r\n__end__\r\n"
    expected = exchange(real.port, payload, expect=b"x" * 10**6, until=end)
    assert expected[0].endswith(end)
    assert exchange(ours.port, payload, expect=b"x" * 10**6, until=end) == expected


def _parse_all(chunks, cls=RequestParser):
    p = cls()
    out = []
    for c in chunks:
        p.feed(c)
        out.extend(p.commands())
    return out


@pytest.mark.parametrize("cls", PARSERS)
@pytest.mark.parametrize("data", [b"".join(WELL_FORMED), b"".join(WELL_FORMED[5:]) * 3])
def test_parser_any_split(cls, data):
    whole = _parse_all([data], cls)
    assert whole == _parse_all([data], RequestParser)
    assert whole
    for cut in range(len(data)):
        assert _parse_all([data[:cut], data[cut:]], cls) == whole
    assert _parse_all([data[i:i + 1] for i in range(len(data))], cls) == whole


@pytest.mark.parametrize("cls", PARSERS)
def test_good_requests_before_a_bad_one_are_served(cls):
    p = cls()
    p.feed(b"*1\r\n$4\r\nPING\r\n*1\r\n+PING\r\n")
    assert p.commands() == [[b"PING"]]
    with pytest.raises(ProtocolError, match="expected '\\$', got '\\+'"):
        p.commands()


@pytest.mark.parametrize("cls", PARSERS)
@pytest.mark.parametrize("payload", MALFORMED, ids=lambda p: repr(p[:20]))
def test_parser_rejects(payload, cls):
    p = cls()
    p.feed(payload)
    with pytest.raises(ProtocolError):
        p.commands()


def test_parser_big_bulk_is_not_rescanned():
    p = RequestParser()
    p.feed(b"*2\r\n$4\r\nECHO\r\n$1000000\r\n")
    assert p.commands() == []
    need = p.need
    assert need > 1000000
    for _ in range(99):
        p.feed(b"x" * 10000)
        assert p.commands() == []
    p.feed(b"x" * 10000 + b"\r\n")
    assert p.commands() == [[b"ECHO", b"x" * 1000000]]


@pytest.mark.parametrize("cls", PARSERS)
def test_unauthenticated_limits(cls):
    p = cls()
    p.authenticated = False
    p.feed(b"*11\r\n")
    with pytest.raises(ProtocolError, match="unauthenticated multibulk"):
        p.commands()
    p = cls()
    p.authenticated = False
    p.feed(b"*1\r\n$20000\r\n")
    with pytest.raises(ProtocolError, match="unauthenticated bulk"):
        p.commands()


# -- fuzzing: the hiredis fast path must agree with the strict parser on any input ------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_PIECES = st.sampled_from([
    b"*1\r\n", b"*2\r\n", b"*3\r\n", b"*0\r\n", b"*-1\r\n", b"$3\r\nSET\r\n", b"$1\r\nk\r\n",
    b"$0\r\n\r\n", b"$4\r\nPING\r\n", b"+OK\r\n", b":1\r\n", b"$-1\r\n", b"$03\r\nabc\r\n",
    b"PING\r\n", b"SET a 'b c'\r\n", b'"unbalanced\r\n', b"\r\n", b"\n", b"*", b"$", b"\r",
    b"*99999\r\n", b"$2\r\nab", b"*1\r\n$4\r\nEC", b"=7\r\ntxt:abc\r\n", b"*1\r\n*1\r\n",
    b"%1\r\n", b"~1\r\n", b",1.5\r\n", b"#t\r\n", b"_\r\n", b"*12\r\n",
])


def _run(cls, chunks):
    p = cls()
    out = []
    try:
        for ch in chunks:
            p.feed(ch)
            out.extend(p.commands())
    except ProtocolError as e:
        out.append(("error", str(e)))
    return out


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PIECES, max_size=14), st.lists(st.integers(0, 80), max_size=4))
def test_fast_and_strict_parsers_agree(pieces, cuts):
    data = b"".join(pieces)
    bounds = sorted({min(c, len(data)) for c in cuts})
    chunks, last = [], 0
    for b in bounds + [len(data)]:
        chunks.append(data[last:b])
        last = b
    assert _run(FastRequestParser, chunks) == _run(RequestParser, chunks)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_crash_the_parsers(data):
    assert _run(FastRequestParser, [data]) == _run(RequestParser, [data])


def test_garbage_does_not_hurt_the_server(ours):
    import random

    rnd = random.Random(5)
    for _ in range(30):
        junk = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 300)))
        exchange(ours.port, junk, wait=0.05)
    data, _ = exchange(ours.port, b"PING\r\n", expect=b"+PONG\r\n", until=b"+PONG\r\n")
    assert data == b"+PONG\r\n"
