"""A script that runs past busy-reply-threshold: other clients get -BUSY (all but the
allow-busy commands), SCRIPT KILL / FUNCTION KILL stop it, the server serves again;
replies compared with real Redis 7.0."""

from __future__ import annotations

import threading
import time

import pytest

from server.app import ServerThread
from tests.support.realredis import RealRedis, need_binary

from ._resp import RawClient

LIB = "#!lua name=spin\nredis.register_function('spin', function() while true do end end)"


def _scenario(port: int, run_script: tuple, kills: list[tuple]):
    a, b = RawClient(port, timeout=20), RawClient(port, timeout=20)
    try:
        b.call("FUNCTION", "FLUSH")
        b.call("FUNCTION", "LOAD", LIB)
        b.call("CONFIG", "SET", "busy-reply-threshold", "100")
        out: dict = {}
        t = threading.Thread(target=lambda: out.setdefault("script", a.call(*run_script)))
        t.start()
        time.sleep(0.5)
        stats = b.call("FUNCTION", "STATS")
        running = stats[1][:-1]     # the last item is the duration so far: it varies
        got = [b.call("PING"), b.call("SET", "x", "1"), stats[0], running]
        got += [b.call(*k) for k in kills]
        t.join(15)
        got.append(b.call("PING"))
        return out.get("script"), got
    finally:
        a.close()
        b.close()


CASES = {
    "eval": (("EVAL", "local i = 0 while true do i = i + 1 end", "0"),
             [("FUNCTION", "KILL"), ("SCRIPT", "KILL")]),
    "fcall": (("FCALL", "spin", "0"), [("SCRIPT", "KILL"), ("FUNCTION", "KILL")]),
}


@pytest.mark.interop
@pytest.mark.parametrize("case", sorted(CASES))
def test_busy_script_like_redis(tmp_path, case):
    need_binary("redis-server")
    script, kills = CASES[case]
    with RealRedis(tmp_path / "real") as real:
        want = _scenario(real.port, script, kills)
    with ServerThread() as ours:
        got = _scenario(ours.port, script, kills)
    assert got == want
    assert str(got[1][0]).startswith("BUSY")


def test_shutdown_nosave_ends_a_busy_script():
    """SHUTDOWN without NOSAVE is refused while a script is busy; SHUTDOWN NOSAVE ends
    the script and the server."""
    srv = ServerThread().start()
    a, b = RawClient(srv.port, timeout=20), RawClient(srv.port, timeout=20)
    try:
        b.call("CONFIG", "SET", "busy-reply-threshold", "100")
        out: dict = {}
        t = threading.Thread(target=lambda: out.setdefault(
            "script", a.call("EVAL", "while true do end", "0")))
        t.start()
        time.sleep(0.5)
        # (the text real Redis 7.0.15 answers there)
        assert b.call("SHUTDOWN") == ("BUSY Redis is busy running a script. You can only "
                                      "call SCRIPT KILL or SHUTDOWN NOSAVE.")
        b.send_raw(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n")
        t.join(15)
        assert not t.is_alive()
        srv.thread.join(15)
        assert not srv.thread.is_alive()
    finally:
        a.close()
        b.close()
        srv.stop()
