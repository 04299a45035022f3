"""The differential suite: the same scenarios against rdbkit-server and Redis 7.0."""

from __future__ import annotations

import shlex

import pytest

from ._resp import Err, RawClient
from .scenarios import SCENARIOS


TOLERANCE = 5


class Approx(int):
    """An integer equal to any other within TOLERANCE (timing-dependent replies)."""

    def __eq__(self, other):
        return isinstance(other, int) and abs(int(self) - int(other)) <= TOLERANCE

    __hash__ = int.__hash__


def _approx(reply):
    if isinstance(reply, bool) or not isinstance(reply, (int, list)):
        return reply
    if isinstance(reply, int):
        return Approx(reply)
    return [_approx(x) for x in reply]


def _normalise(reply, unordered: bool):
    if unordered and isinstance(reply, (list, tuple)):
        # nested collections (SCAN's key list) are unordered too
        return sorted((_normalise(x, True) for x in reply), key=repr)
    return reply


def run_scenario(port: int, lines: list[str]):
    out = []
    with RawClient(port) as c:
        c.call("FLUSHALL")
        c.call("FUNCTION", "FLUSH")
        for line in lines:
            mode = None
            if line[:2] in ("~ ", "? ", "= "):
                mode, line = line[0], line[2:]
            args = shlex.split(line)
            reply = c.call(*args)
            if mode == "?":
                reply = isinstance(reply, Err)
            elif mode == "=":
                reply = _approx(reply)
            out.append((line, _normalise(reply, mode == "~")))
        c.call("SELECT", "0")
        out.append(("DEBUG DIGEST", c.call("DEBUG", "DIGEST")))
    return out


@pytest.mark.interop
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_replies_as_redis(name, ours, real):
    lines = SCENARIOS[name]
    expected = run_scenario(real.port, lines)
    got = run_scenario(ours.port, lines)
    mismatches = [(e[0], e[1], g[1]) for e, g in zip(expected, got) if e != g]
    assert not mismatches, "\n".join(f"{cmd!r}: redis={r!r} ours={o!r}"
                                     for cmd, r, o in mismatches)
