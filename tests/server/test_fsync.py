"""The appendfsync policies, proven on the running server by tracing its system calls.

`strace -f -tt -y` records every write/sendto/fsync/fdatasync with the thread id and the
file behind each fd. With `always`, each acknowledged write's AOF write(2) is followed by
an fsync of the incr file before the reply leaves on the client's socket; with
`everysec`, the incr file is fsynced by another thread, about once a second, never by
the thread that writes it; with `no`, the incr file is never fsynced while serving.
"""

from __future__ import annotations

import os
import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path


from tests.server.test_crash_support import OurServer
from tests.support.realredis import need_binary

LINE = re.compile(r"^(\d+)\s+(\d\d):(\d\d):(\d\d\.\d+) (\w+)\((\d+)<([^>]*)>(.*)$")  # strace pads the pid
SYNCS = ("fsync", "fdatasync")
END = "end-of-window-7f3a"


@dataclass
class Call:
    tid: int
    t: float
    name: str
    path: str
    rest: str


def _parse(text: str) -> list[Call]:
    out = []
    for line in text.splitlines():
        m = LINE.match(line)
        if m:  # "<... resumed>" lines carry no fd: the unfinished half was kept
            h, mi, s = int(m[2]), int(m[3]), float(m[4])
            out.append(Call(int(m[1]), h * 3600 + mi * 60 + s, m[5], m[7], m[8]))
    return out


def _traced(tmp_path: Path, policy: str, drive) -> tuple[list[Call], str]:
    """Run the server under strace, call drive(client), return the calls up to END."""
    strace = need_binary("strace")
    trace = tmp_path / "trace"
    srv = OurServer(tmp_path / "srv", prefix=[
        strace, "-f", "-tt", "-y", "-s", "128", "-o", str(trace),
        "-e", "trace=write,sendto,sendmsg,fsync,fdatasync", "--"],
        extra=["--appendonly", "yes", "--appendfsync", policy])
    srv.start()
    try:
        cli = srv.client()
        drive(cli)
        assert cli.echo(END) == END.encode()
        cli.close()
        # SIGTERM the server itself (strace shields itself); strace then exits too,
        # flushing the trace
        pid = srv.proc.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        assert len(children) == 1
        os.kill(int(children[0]), signal.SIGTERM)
        srv.proc.wait(30)
    finally:
        srv.stop()
    calls = _parse(trace.read_text(errors="replace"))
    cut = next(i for i, c in enumerate(calls) if END in c.rest and c.path.startswith("socket:"))
    incr = [c.path for c in calls if c.path.endswith(".incr.aof")]
    assert incr, "no write to an incr file was traced"
    return calls[:cut], incr[0]


def test_always_fsyncs_between_the_aof_write_and_the_reply(tmp_path):
    n = 30

    def drive(cli):
        for i in range(n):
            assert cli.set(f"k{i}", f"val-{i}-x")

    calls, incr = _traced(tmp_path, "always", drive)
    checked = 0
    for i in range(n):
        w = next(j for j, c in enumerate(calls)
                 if c.name == "write" and c.path == incr and f"val-{i}-x" in c.rest)
        r = next(j for j in range(w + 1, len(calls))
                 if calls[j].path.startswith("socket:") and "+OK" in calls[j].rest)
        between = calls[w + 1:r]
        assert any(c.name in SYNCS and c.path == incr for c in between), \
            f"write {i}: no fsync of {incr} before its reply"
        checked += 1
    assert checked == n


def test_everysec_fsyncs_from_another_thread_about_once_a_second(tmp_path):
    window = 4.0

    def drive(cli):
        end = time.monotonic() + window
        i = 0
        while time.monotonic() < end:
            cli.set(f"k{i}", i)
            i += 1
            time.sleep(0.005)

    calls, incr = _traced(tmp_path, "everysec", drive)
    writes = [c for c in calls if c.name == "write" and c.path == incr]
    writer_tids = {c.tid for c in writes}
    assert len(writer_tids) == 1
    start, stop = writes[0].t, writes[-1].t
    syncs = [c for c in calls if c.name in SYNCS and c.path == incr and start <= c.t <= stop]
    assert syncs, "no fsync of the incr file while writing"
    assert writer_tids.isdisjoint({c.tid for c in syncs}), "fsync ran on the writing thread"
    span = stop - start
    assert span > window - 1
    assert int(span) - 1 <= len(syncs) <= int(span) + 2, (span, [c.t for c in syncs])
    gaps = [b.t - a.t for a, b in zip(syncs, syncs[1:])]
    assert all(g >= 0.7 for g in gaps), gaps


def test_no_never_fsyncs_the_aof(tmp_path):
    def drive(cli):
        for i in range(300):
            cli.set(f"k{i}", i)
        time.sleep(1.5)  # long enough for an everysec fsync to have shown up
        for i in range(300):
            cli.set(f"k{i}", i)

    calls, incr = _traced(tmp_path, "no", drive)
    writes = [j for j, c in enumerate(calls) if c.name == "write" and c.path == incr]
    assert len(writes) >= 2
    assert not [c for c in calls[writes[0]:] if c.name in SYNCS and c.path == incr]
