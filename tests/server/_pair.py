"""Real Redis 7.0 and rdbkit-server side by side, both with an AOF: the same commands
to both, then replies, every key (GET, DUMP, OBJECT ENCODING, DEBUG DIGEST-VALUE), DEBUG
DIGEST and the bytes each appended to its AOF must be equal."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.app import ServerThread
from tests.support.realredis import RealRedis, need_binary

from ._resp import RawClient

AOF = Path("appendonlydir") / "appendonly.aof.1.incr.aof"
SERVER_OPTS = ["--appendonly", "yes", "--appendfsync", "no"]


class Pair:
    def __init__(self, real: RealRedis, ours: ServerThread, ours_dir: Path) -> None:
        self.real, self.ours = real, ours
        self.aofs = [real.dir / AOF, ours_dir / AOF]
        self.offsets = [p.stat().st_size if p.exists() else 0 for p in self.aofs]
        self.clients = [RawClient(real.port, timeout=60), RawClient(ours.port, timeout=60)]
        #: compare every key (GET, DUMP, encoding, DIGEST-VALUE), not only DEBUG DIGEST
        self.per_key = True

    def run(self, commands, *, compare_state: bool = True, normalize=None,
            compare_replies: bool = True):
        """Replies of both servers to the same commands; asserts they are equal."""
        replies = []
        for cl in self.clients:
            cl.call("SELECT", "0")
            replies.append(cl.pipeline(commands))
        for cmd, a, b in zip(commands, *replies):
            assert a == b or not compare_replies, f"{cmd!r}: redis={a!r} ours={b!r}"
        if compare_state:
            self.compare_state(normalize)
        return replies[0]

    def _state(self, cl):
        if not self.per_key:
            return [], cl.call("DEBUG", "DIGEST")
        keys = sorted(cl.call("KEYS", "*"))
        per_key = []
        for k in keys:
            per_key.append((k, cl.call("GET", k), cl.call("DUMP", k),
                            cl.call("OBJECT", "ENCODING", k), cl.call("DEBUG", "DIGEST-VALUE", k)))
        return per_key, cl.call("DEBUG", "DIGEST")

    def compare_state(self, normalize=None):
        """`normalize(aof_bytes)` evens out what may differ (times each server computed
        from its own clock)."""
        real, ours = (self._state(cl) for cl in self.clients)
        for a, b in zip(real[0], ours[0]):
            assert a == b, f"key {a[0]!r}: redis={a[1:]!r}\nours={b[1:]!r}"
        assert len(real[0]) == len(ours[0])
        assert real[1] == ours[1]
        new = []
        for i, p in enumerate(self.aofs):
            data = p.read_bytes()
            new.append(data[self.offsets[i]:] if normalize is None
                       else normalize(data[self.offsets[i]:]))
            self.offsets[i] = len(data)
        assert new[0] == new[1], f"AOF: redis={new[0][:2000]!r}\nours={new[1][:2000]!r}"

    def reset(self, *setup):
        """Empty both servers (then run `setup` commands); AOF comparison restarts here
        (an earlier failure left the two files at unrelated offsets)."""
        self.run([("FLUSHALL",), *setup], compare_state=False)
        self.offsets = [p.stat().st_size for p in self.aofs]

    def close(self):
        for cl in self.clients:
            cl.close()


def start_pair(base: Path, *extra: str):
    """(Pair, stop): both servers started under `base` with an AOF and `extra` options."""
    real = RealRedis(base / "real", extra=[*SERVER_OPTS, *extra])
    ours_dir = base / "ours"
    ours_dir.mkdir()
    real.start()
    ours = ServerThread("--enable-debug-command", "yes", "--dir", str(ours_dir), *SERVER_OPTS,
                        *extra)
    ours.start()
    pair = Pair(real, ours, ours_dir)

    def stop() -> None:
        pair.close()
        ours.stop()
        real.stop()

    return pair, stop


def pair_fixture(name: str, *, per_key: bool = True):
    """A module-scoped `pair` fixture: both servers, stopped after the module."""

    @pytest.fixture(scope="module")
    def pair(tmp_path_factory):
        need_binary("redis-server")
        p, stop = start_pair(tmp_path_factory.mktemp(name))
        p.per_key = per_key
        try:
            yield p
        finally:
            stop()

    return pair
