"""Pub/Sub against Redis 7.0: two connections per server, replies compared."""

from __future__ import annotations

import pytest

from ._resp import RawClient


def _flow(port: int, resp3: bool):
    out = []
    with RawClient(port) as sub, RawClient(port) as pub:
        if resp3:
            sub.call("HELLO", "3")
        sub.send_raw(b"*3\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$1\r\nb\r\n")
        out.append([sub.read(), sub.read()])
        out.append(sub.call("PSUBSCRIBE", "h*"))
        out.append(pub.call("PUBLISH", "a", "hi"))
        out.append(sub.read())
        out.append(pub.call("PUBLISH", "hello", "x"))
        out.append(sub.read())
        out.append(pub.call("PUBLISH", "nobody", "x"))
        out.append(sub.call("GET", "k"))
        out.append(sub.call("PING"))
        out.append(sorted(pub.call("PUBSUB", "CHANNELS")))
        out.append(pub.call("PUBSUB", "NUMSUB", "a", "b", "c"))
        out.append(pub.call("PUBSUB", "NUMPAT"))
        sub.send_raw(b"*1\r\n$11\r\nUNSUBSCRIBE\r\n")
        both = [sub.read(), sub.read()]  # channel order is the server's hash order
        out.append((sorted(x[1] for x in both), [x[2] for x in both]))
        out.append(sub.call("UNSUBSCRIBE"))
        out.append(sub.call("PUNSUBSCRIBE", "h*", "zz"))
        out.append(sub.call("GET", "k"))
    return out


@pytest.mark.interop
@pytest.mark.parametrize("resp3", [False, True])
def test_pubsub_like_redis(ours, real, resp3):
    assert _flow(ours.port, resp3) == _flow(real.port, resp3)


def test_redis_py_pubsub(ours):
    import time

    r = ours.client()
    p = r.pubsub()
    p.subscribe("news")
    assert p.get_message(timeout=2)["type"] == "subscribe"
    assert r.publish("news", "hello") == 1
    deadline = time.monotonic() + 5
    msg = None
    while msg is None and time.monotonic() < deadline:
        msg = p.get_message(timeout=1)
    assert msg["data"] == b"hello"
    p.close()


def _monitor_lines(port: int):
    import re

    with RawClient(port) as mon, RawClient(port) as cli:
        assert mon.call("MONITOR") == "OK"
        for cmd in (["SET", "k", "a b\n\x01\"\\"], ["GET", "k"], ["MULTI"], ["INCR", "n"],
                    ["EXEC"], ["CONFIG", "GET", "port"], ["SELECT", "2"], ["PING"],
                    ["ECHO", "end"]):
            cli.call(*cmd)
        lines = []
        while not lines or not lines[-1].endswith('"end"'):
            lines.append(str(mon.read()))
    # drop the timestamp and the client's address, which differ between servers
    return [re.sub(r"^\d+\.\d{6} \[(\d+) [^\]]+\]", r"[\1]", line) for line in lines]


@pytest.mark.interop
def test_monitor_like_redis(ours, real):
    assert _monitor_lines(ours.port) == _monitor_lines(real.port)
