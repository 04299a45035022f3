"""LZF exactly when Redis uses it: near the size limit, python-lzf and Redis's bundled
liblzf disagree about what fits, so `_lzf.compress_within` replays Redis's checks.
Real Redis 7.0's DUMP is the judge."""

from __future__ import annotations

import random

import pytest

from rdbtools import _lzf
from rdbtools._values import read_len
from rdbtools.constants import Kind
from rdbtools.payload import create_payload
from tests.support.realredis import RealRedis, need_binary


def _values(rng: random.Random, count: int) -> list[bytes]:
    """Strings whose compressed size lands near n - 4: a few repeats in random bytes."""
    out = [b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80q\xa6\x84NW"]
    while len(out) < count:
        n = rng.choice([21, 22, 23, 24, 25, 30, 40, 48, 64, 100, 300, 717, 2000])
        b = bytearray(rng.randbytes(n))
        for _ in range(rng.randint(0, 4)):      # a few short repeated runs
            at = rng.randrange(0, n - 6)
            k = rng.randint(3, 12)
            src = rng.randrange(0, max(1, at))
            b[at:at + k] = b[src:src + k] if src + k <= at else bytes([b[at]]) * k
        out.append(bytes(b[:n]))
    return out


def _redis_stored(payload: bytes) -> bytes | None:
    """The LZF stream inside a DUMP payload of a string, or None if stored raw."""
    assert payload[0] == 0
    if payload[1] != 0xC3:
        return None
    clen, p = read_len(payload, 2)
    _ulen, p = read_len(payload, p)
    return payload[p:p + clen]


def test_the_replay_agrees_with_the_stream_bound():
    """Where the stream is comfortably inside the bound both say yes; past it, no."""
    rng = random.Random(4)
    for v in _values(rng, 400):
        got = _lzf.compress_within(v, len(v) - 4)
        packed = _lzf.lzf.compress(v, 2 * len(v) + 64)
        if packed is None or len(packed) > len(v) - 4:
            assert got is None
        elif len(packed) + 4 <= len(v) - 4:
            assert got == packed


@pytest.mark.interop
def test_compress_decisions_match_redis_dump(tmp_path):
    need_binary("redis-server")
    rng = random.Random(9)
    values = _values(rng, 600)
    near = 0
    with RealRedis(tmp_path) as srv:
        cli = srv.client()
        pipe = cli.pipeline(transaction=False)
        for i, v in enumerate(values):
            pipe.set(b"v%d" % i, v)
        pipe.execute()
        for i, v in enumerate(values):
            payload = cli.dump(b"v%d" % i)
            want = _redis_stored(payload)
            assert _lzf.compress(v) == want, (i, len(v), v)
            assert create_payload(Kind.STRING, v) == payload, (i, len(v), v)
            packed = _lzf.lzf.compress(v, 2 * len(v) + 64)
            near += packed is not None and len(v) - 8 <= len(packed) <= len(v) - 3
        cli.close()
    assert near >= 20   # the interesting cases were really exercised
