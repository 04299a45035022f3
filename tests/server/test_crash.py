"""SIGKILL the running rdbkit-server under a write load; every acknowledged write survives.

Each round: a server with `appendonly yes` holds a preloaded dataset (so a BGSAVE or
BGREWRITEAOF child runs long enough to be caught); writer threads each append 1, 2, 3,
... to their own list with RPUSH, one command per round trip, noting when each reply
came; at a seeded random moment (optionally just after starting BGSAVE or BGREWRITEAOF)
the server's whole process group gets SIGKILL. Restarted on the same directory it must
boot, and each writer's list must be exactly 1..m (no holes, no reordering, nothing
never sent) where:

* appendfsync always: m >= the last acknowledged number (every acked write is there);
* appendfsync everysec: every write acknowledged more than 2 s + MARGIN before the kill
  is there. Redis's promise: the write(2) to the AOF may be postponed while a background
  fsync is running, for at most 2 s, while replies still go out; after that it is done
  regardless. (A process kill keeps what reached the page cache, so this bounds the loss
  from the server's own buffering; losing the page cache needs a machine crash.)

The truncated-tail test cuts the last incr file in the middle of its last command: with
`aof-load-truncated no` the server refuses to start, with `yes` it cuts the file and
boots holding everything but that command.
"""

from __future__ import annotations

import random
import threading
import time
import zlib
from pathlib import Path

import pytest
import redis

from aofcheck.manifest import parse_manifest
from aofcheck.resp import Command, iter_events
from tests.server.test_crash_support import OurServer, info

WRITERS = 3
PRELOAD = 60_000  # keys: a BGSAVE/BGREWRITEAOF child then runs for a good fraction of a second
EVERYSEC_WINDOW = 2.0
MARGIN = 0.5


class Writer(threading.Thread):
    """RPUSH log:<n> 1, 2, 3, ... until the connection dies; records ack times."""

    def __init__(self, port: int, n: int) -> None:
        super().__init__(daemon=True)
        self.port, self.n = port, n
        self.acked: list[float] = []  # acked[i-1] = monotonic time the reply to i came
        self.sent = 0
        self.stop_flag = False

    def run(self) -> None:
        cli = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10, retry=None)
        try:
            while not self.stop_flag:
                self.sent += 1
                cli.execute_command("RPUSH", f"log:{self.n}", self.sent)
                self.acked.append(time.monotonic())
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            pass
        finally:
            try:
                cli.close()
            except Exception:
                pass


def _preload(srv: OurServer, n: int) -> None:
    cli = srv.client()
    val = b"v" * 64
    for start in range(0, n, 5000):
        cli.mset({f"pre:{i}": val for i in range(start, min(n, start + 5000))})
    cli.close()


def _start(d: Path, policy: str, preamble: str = "yes", truncated: str = "yes") -> OurServer:
    return OurServer(d, extra=["--appendonly", "yes", "--appendfsync", policy,
                               "--aof-use-rdb-preamble", preamble,
                               "--aof-load-truncated", truncated]).start()


def _logs(srv: OurServer) -> dict[int, list[int]]:
    cli = srv.client()
    out = {n: [int(x) for x in cli.lrange(f"log:{n}", 0, -1)] for n in range(WRITERS)}
    cli.close()
    return out


def crash_round(d: Path, seed: int, policy: str, event: str, early: bool = False) -> dict:
    """One load + kill + restart; returns what happened (the checks are the caller's)."""
    rng = random.Random(seed)
    srv = _start(d, policy, preamble=rng.choice(("yes", "no")))
    try:
        _preload(srv, PRELOAD)
        writers = [Writer(srv.port, n) for n in range(WRITERS)]
        for w in writers:
            w.start()
        time.sleep(rng.uniform(0.2, 0.6))
        child_running = False
        if event != "load":
            srv.command(event)
            # the child runs ~0.3 s here; an early kill in some rounds makes sure the
            # test catches it alive even on a faster machine
            time.sleep(rng.uniform(0.0, 0.05 if early else 0.4))
            fields = info(srv)
            child_running = (fields["rdb_bgsave_in_progress"] == "1"
                             or fields["aof_rewrite_in_progress"] == "1")
        kill_at = time.monotonic()
        srv.crash()
    except BaseException:
        srv.stop()
        raise
    for w in writers:
        w.stop_flag = True
        w.join(15)
        assert not w.is_alive()
    acked = {w.n: list(w.acked) for w in writers}
    sent = {w.n: w.sent for w in writers}
    srv = _start(d, policy)
    try:
        got = _logs(srv)
        assert srv.client().dbsize() == PRELOAD + WRITERS
    finally:
        srv.stop()
    return {"acked": acked, "sent": sent, "got": got, "kill_at": kill_at,
            "child_running": child_running}


def check_round(r: dict, policy: str) -> None:
    for n, got in r["got"].items():
        acked, sent = r["acked"][n], r["sent"][n]
        assert got == list(range(1, len(got) + 1)), f"writer {n}: holes or reordering"
        assert len(got) <= sent, f"writer {n}: more than was sent"
        if policy == "always":
            must = len(acked)
        else:
            limit = r["kill_at"] - EVERYSEC_WINDOW - MARGIN
            must = sum(1 for t in acked if t <= limit)
        assert len(got) >= must, f"writer {n}: lost acked writes ({len(got)} < {must})"
        assert len(acked) > 0


CASES = [("always", "load"), ("always", "BGSAVE"), ("always", "BGREWRITEAOF"),
         ("everysec", "BGSAVE"), ("everysec", "BGREWRITEAOF")]


@pytest.mark.parametrize("policy,event", CASES)
def test_acked_writes_survive_sigkill(tmp_path, policy, event):
    rounds = 3
    caught = 0
    for i in range(rounds):
        r = crash_round(tmp_path / f"r{i}", seed=zlib.crc32(f"{policy}/{event}/{i}".encode()),
                        policy=policy, event=event, early=i == 0)
        check_round(r, policy)
        caught += r["child_running"]
    if event != "load":
        assert caught >= 1, "the kill never landed while the child was running"


@pytest.mark.slow
@pytest.mark.parametrize("policy,event", CASES)
def test_acked_writes_survive_sigkill_many_rounds(tmp_path, policy, event):
    for i in range(10):
        r = crash_round(tmp_path / f"r{i}", seed=1000 + i, policy=policy, event=event,
                        early=i % 3 == 0)
        check_round(r, policy)


def _last_incr(d: Path) -> Path:
    aofdir = d / "appendonlydir"
    manifest = parse_manifest((aofdir / "appendonly.aof.manifest").read_bytes())
    return aofdir / manifest.incrs[-1].fsname


def test_truncated_tail_refused_or_cut(tmp_path):
    d = tmp_path / "srv"
    r = crash_round(d, seed=7, policy="always", event="load")
    check_round(r, "always")
    incr = _last_incr(d)
    data = incr.read_bytes()
    cmds = [e for e in iter_events(data) if isinstance(e, Command)]
    last = cmds[-1]
    assert last.name == b"rpush"
    cut_writer = int(last.args[1].split(b":")[1])
    cut_value = int(last.args[2])
    rng = random.Random(7)
    cut = rng.randrange(last.offset + 1, last.end - 1)
    with open(incr, "r+b") as f:
        f.truncate(cut)

    refuse = OurServer(d, extra=["--appendonly", "yes", "--aof-load-truncated", "no"])
    refuse.start(wait=False)
    try:
        assert refuse.exit_code(60) != 0
    finally:
        refuse.stop()
    assert "Unexpected end of file reading the append only file" in refuse.log_text()
    assert incr.stat().st_size == cut  # refusing leaves the file alone

    srv = _start(d, "always", truncated="yes")
    try:
        got = _logs(srv)
    finally:
        srv.stop()
    assert "loaded anyway because aof-load-truncated is enabled" in srv.log_text()
    assert incr.stat().st_size == last.offset  # cut back to the last whole command
    for n, values in got.items():
        want = r["got"][n]
        if n == cut_writer:
            assert want[-1] == cut_value
            want = want[:-1]
        assert values == want
