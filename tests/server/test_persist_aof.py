"""The AOF manager (server/persist/aof.py) and the RESP rewrite (rewrite.py)."""

from __future__ import annotations

import os
import shutil

import pytest

from aofcheck.manifest import parse_manifest
from aofcheck.resp import Annotation, Command, iter_events
from server.engine import Engine
from server.offline import aof_digest
from server.persist import aof as aofmod
from server.persist.aof import AOF_ON, AofManager
from server.persist.rewrite import resp_command, write_resp_base
from tests.server.test_persist_support import build_engine, digest, listdir, run
from tests.support.realredis import RealRedis


class Clock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _manager(tmp_path, engine=None, **kw) -> AofManager:
    e = engine if engine is not None else Engine()
    m = AofManager(e, str(tmp_path), **kw)
    m.start()
    return m


def _events(path):
    with open(path, "rb") as f:
        return list(iter_events(f))


def _manifest(tmp_path) -> str:
    return (tmp_path / "appendonlydir" / "appendonly.aof.manifest").read_text()


def test_resp_command_encoding():
    assert resp_command([b"SET", b"k", 12]) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n"
    assert resp_command([b"X", b""]) == b"*2\r\n$1\r\nX\r\n$0\r\n\r\n"


def test_start_creates_base_incr_and_manifest(tmp_path):
    logs = []
    m = _manager(tmp_path, log=lambda s, k="*": logs.append(s))
    try:
        assert listdir(tmp_path / "appendonlydir") == [
            "appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof", "appendonly.aof.manifest"]
        assert _manifest(tmp_path) == ("file appendonly.aof.1.base.rdb seq 1 type b\n"
                                       "file appendonly.aof.1.incr.aof seq 1 type i\n")
        assert logs == ["Creating AOF base file appendonly.aof.1.base.rdb on server start",
                        "Creating AOF incr file appendonly.aof.1.incr.aof on server start"]
        assert m.state == AOF_ON and m.feed in m.engine.prop_hooks
    finally:
        m.close()
    assert m.feed not in m.engine.prop_hooks


def test_restart_reopens_the_last_incr(tmp_path):
    m = _manager(tmp_path)
    m.close()
    logs = []
    m2 = _manager(tmp_path, log=lambda s, k="*": logs.append(s))
    m2.close()
    assert logs == ["Opening AOF incr file appendonly.aof.1.incr.aof on server start"]


def test_feed_emits_select_on_db_change_and_propagated_forms(tmp_path):
    m = _manager(tmp_path, fsync="always")
    e = m.engine
    c = e.new_client()
    run(e, c, "SET a 1", "SET k v EX 100", "SADD s x", "SPOP s", "INCRBYFLOAT f 1.5",
        "DEL nokey", "SELECT 3", "RPUSH l a", "SELECT 0", "SET b 2")
    m.flush_before_replies()
    m.close()
    cmds = [ev.args for ev in _events(tmp_path / "appendonlydir" / "appendonly.aof.1.incr.aof")]
    assert cmds[0] == [b"SELECT", b"0"]
    assert cmds[1] == [b"SET", b"a", b"1"]
    assert cmds[2][:4] == [b"SET", b"k", b"v", b"PXAT"]
    assert cmds[3:7] == [[b"SADD", b"s", b"x"], [b"SREM", b"s", b"x"],
                         [b"SET", b"f", b"1.5", b"KEEPTTL"], [b"SELECT", b"3"]]
    assert cmds[7:] == [[b"RPUSH", b"l", b"a"], [b"SELECT", b"0"], [b"SET", b"b", b"2"]]


def test_multi_exec_is_wrapped(tmp_path):
    m = _manager(tmp_path, fsync="always")
    e = m.engine
    c = e.new_client()
    run(e, c, "MULTI", "SET a 1", "SET b 2", "EXEC")
    m.flush_before_replies()
    m.close()
    cmds = [ev.args[0] for ev in _events(tmp_path / "appendonlydir" / "appendonly.aof.1.incr.aof")]
    assert cmds == [b"SELECT", b"MULTI", b"SET", b"SET", b"EXEC"]


def test_timestamp_annotations_once_per_second(tmp_path):
    clock = Clock()
    m = _manager(tmp_path, fsync="always", timestamps=True, clock=clock)
    e = m.engine
    c = e.new_client()
    run(e, c, "SET a 1", "SET b 2")
    clock.t += 1
    run(e, c, "SET c 3")
    clock.t += 0.5
    run(e, c, "SET d 4")
    m.flush_before_replies()
    m.close()
    evs = _events(tmp_path / "appendonlydir" / "appendonly.aof.1.incr.aof")
    kinds = [("TS:%d" % (ev.timestamp - 1_700_000_000)) if isinstance(ev, Annotation)
             else ev.args[0].decode() + (ev.args[1].decode() if len(ev.args) > 1 else "")
             for ev in evs]
    assert kinds == ["TS:0", "SELECT0", "SETa", "SETb", "TS:1", "SETc", "SETd"]


def test_nothing_reaches_the_file_before_flush(tmp_path):
    m = _manager(tmp_path, fsync="always")
    c = m.engine.new_client()
    run(m.engine, c, "SET a 1")
    incr = tmp_path / "appendonlydir" / "appendonly.aof.1.incr.aof"
    assert incr.stat().st_size == 0 and m.buf_len > 0
    assert dict(m.info_fields())["aof_buffer_length"] == m.buf_len
    m.flush_before_replies()
    assert incr.stat().st_size == m.last_incr_size > 0 and m.buf_len == 0
    m.close()


def test_always_fsyncs_once_per_flush(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(aofmod, "fdatasync", lambda fd: calls.append(fd))
    m = _manager(tmp_path, fsync="always")
    c1, c2 = m.engine.new_client(), m.engine.new_client()
    run(m.engine, c1, "SET a 1", "SET b 2")
    run(m.engine, c2, "SET c 3")
    m.flush_before_replies()
    assert len(calls) == 1  # group commit: one fdatasync for all clients of the iteration
    m.flush_before_replies()
    assert len(calls) == 1  # nothing new, no sync
    m.close()


def test_no_policy_never_fsyncs(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(aofmod, "fdatasync", lambda fd: calls.append(fd))
    clock = Clock()
    m = _manager(tmp_path, fsync="no", clock=clock)
    c = m.engine.new_client()
    for i in range(3):
        run(m.engine, c, "SET a %d" % i)
        clock.t += 5
        m.flush_before_replies()
    assert calls == []
    m.close()


class _BusyFsyncer:
    def __init__(self) -> None:
        self.busy = True
        self.submitted = 0

    def submit(self, fd):
        self.submitted += 1

    def drain(self, timeout=5.0):
        pass

    def stop(self):
        pass


def test_everysec_background_fsync_once_a_second(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(aofmod, "fdatasync", lambda fd: calls.append(fd))
    clock = Clock()
    m = _manager(tmp_path, fsync="everysec", clock=clock)
    c = m.engine.new_client()
    run(m.engine, c, "SET a 1")
    clock.t += 0.5
    m.flush_before_replies()
    assert m._fsyncer is None  # less than a second since the last fsync
    clock.t += 0.6
    run(m.engine, c, "SET a 2")
    m.flush_before_replies()
    m._fsyncer.drain()
    assert len(calls) == 1 and not m._fsync_busy()
    assert dict(m.info_fields())["aof_pending_bio_fsync"] == 0
    m.close()


def test_everysec_postpones_writes_up_to_two_seconds(tmp_path):
    clock = Clock()
    logs = []
    m = _manager(tmp_path, fsync="everysec", clock=clock, log=lambda s, k="*": logs.append(s))
    m._fsyncer = _BusyFsyncer()
    c = m.engine.new_client()
    incr = tmp_path / "appendonlydir" / "appendonly.aof.1.incr.aof"
    run(m.engine, c, "SET a 1")
    assert m.flush_before_replies() is False        # fsync running: postponed
    clock.t += 1.9
    assert m.flush_before_replies() is False and incr.stat().st_size == 0
    clock.t += 0.2
    assert m.flush_before_replies() is True         # waited 2 s: write anyway
    assert incr.stat().st_size > 0
    assert dict(m.info_fields())["aof_delayed_fsync"] == 1
    assert any("Asynchronous AOF fsync is taking too long" in s for s in logs)
    m._fsyncer.busy = False
    m.close()


def test_write_error_is_reported_and_buffer_kept(tmp_path):
    m = _manager(tmp_path, fsync="no")
    c = m.engine.new_client()
    run(m.engine, c, "SET a 1")
    real_fd = m.fd
    m.fd = os.open(os.devnull, os.O_RDONLY)  # writes fail with EBADF
    try:
        assert m.flush_before_replies() is False
        assert dict(m.info_fields())["aof_last_write_status"] == "err" and m.buf_len > 0
    finally:
        os.close(m.fd)
        m.fd = real_fd
    assert m.flush_before_replies() is True
    assert dict(m.info_fields())["aof_last_write_status"] == "ok"
    m.close()


def test_set_fsync_policy_live(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(aofmod, "fdatasync", lambda fd: calls.append(fd))
    m = _manager(tmp_path, fsync="no")
    run(m.engine, m.engine.new_client(), "SET a 1")
    m.set_fsync_policy("always")
    assert calls and m.buf_len == 0
    with pytest.raises(ValueError):
        m.set_fsync_policy("sometimes")
    m.close()


def _rewrite(m: AofManager):
    assert m.start_rewrite()
    r = m.wait_rewrite(20)
    assert r is not None and r.ok, r
    return r


@pytest.mark.parametrize("preamble", [True, False])
def test_rewrite_rotates_files_and_keeps_dataset(tmp_path, preamble):
    logs = []
    # a RESP base replays through XADD & co: only with the server's stream commands
    e = build_engine(streams=preamble or b"xadd" in Engine().commands)
    m = _manager(tmp_path, e, fsync="always", use_rdb_preamble=preamble,
                 log=lambda s, k="*": logs.append(s))
    e = m.engine
    c = e.new_client()
    run(e, c, "SET x 1", "SELECT 2", "INCR counter")
    m.flush_before_replies()
    assert m.start_rewrite()
    # the manifest already lists the new incr while the child runs
    assert "appendonly.aof.2.incr.aof seq 2 type i" in _manifest(tmp_path)
    run(e, c, "SET during 1", "SELECT 0", "DEL x")  # goes to the new incr
    m.flush_before_replies()
    assert m.wait_rewrite(20).ok
    ext = "rdb" if preamble else "aof"
    assert _manifest(tmp_path) == ("file appendonly.aof.2.base.%s seq 2 type b\n"
                                   "file appendonly.aof.2.incr.aof seq 2 type i\n" % ext)
    assert listdir(tmp_path / "appendonlydir") == [
        "appendonly.aof.2.base." + ext, "appendonly.aof.2.incr.aof", "appendonly.aof.manifest"]
    assert not [n for n in os.listdir(tmp_path) if n.startswith("temp-")]
    incr = [ev.args for ev in _events(tmp_path / "appendonlydir" / "appendonly.aof.2.incr.aof")]
    assert incr[0] == [b"SELECT", b"2"]  # a new incr always starts with SELECT
    run(e, c, "SET after 1")
    m.flush_before_replies()
    assert aof_digest(str(tmp_path / "appendonlydir")) == digest(e)
    f = dict(m.info_fields())
    assert f["aof_rewrites"] == 1 and f["aof_last_bgrewrite_status"] == "ok"
    assert f["aof_base_size"] == os.path.getsize(tmp_path / "appendonlydir" /
                                                 ("appendonly.aof.2.base." + ext))
    assert f["aof_last_cow_size"] > 0
    assert logs[2:] == [
        "Creating AOF incr file appendonly.aof.2.incr.aof on background rewrite",
        "Background append only file rewriting started by pid %d" % m_pid(logs),
        "Background AOF rewrite terminated with success",
        "Successfully renamed the temporary AOF base file temp-rewriteaof-bg-%d.aof into "
        "appendonly.aof.2.base.%s" % (m_pid(logs), ext),
        "Removing the history file appendonly.aof.1.incr.aof in the background",
        "Removing the history file appendonly.aof.1.base.%s in the background" % ext,
        "Background AOF rewrite finished successfully"]
    m.close()


def m_pid(logs) -> int:
    for s in logs:
        if s.startswith("Background append only file rewriting started by pid "):
            return int(s.rsplit(" ", 1)[1])
    raise AssertionError(logs)


def test_disable_auto_gc_keeps_history_in_redis_order(tmp_path):
    m = _manager(tmp_path, Engine(), fsync="always", disable_auto_gc=True)
    c = m.engine.new_client()
    run(m.engine, c, "SET a 1")
    _rewrite(m)
    run(m.engine, c, "SET b 1")
    _rewrite(m)
    lines = [ln.split()[1] + " " + ln.split()[-1] for ln in _manifest(tmp_path).splitlines()]
    assert lines == ["appendonly.aof.3.base.rdb b", "appendonly.aof.2.incr.aof h",
                     "appendonly.aof.2.base.rdb h", "appendonly.aof.1.incr.aof h",
                     "appendonly.aof.1.base.rdb h", "appendonly.aof.3.incr.aof i"]
    assert len(os.listdir(tmp_path / "appendonlydir")) == 7
    assert aof_digest(str(tmp_path / "appendonlydir")) == digest(m.engine)
    m.delete_history()
    assert len(os.listdir(tmp_path / "appendonlydir")) == 3
    m.close()


def test_failed_rewrite_keeps_old_base_and_new_incr(tmp_path):
    m = _manager(tmp_path, Engine(), fsync="always")
    c = m.engine.new_client()
    run(m.engine, c, "SET a 1")
    m.dirpath_real = m.dirpath
    real_write = m._write_base_file

    def boom(path, fsync=True):
        raise OSError(28, "No space left on device")

    m._write_base_file = boom
    assert m.start_rewrite()
    r = m.wait_rewrite(20)
    m._write_base_file = real_write
    assert not r.ok
    f = dict(m.info_fields())
    assert f["aof_last_bgrewrite_status"] == "err" and f["aof_rewrites_consecutive_failures"] == 1
    mf = parse_manifest(_manifest(tmp_path).encode())
    assert mf.base.fsname == "appendonly.aof.1.base.rdb"
    assert [i.fsname for i in mf.incrs] == ["appendonly.aof.1.incr.aof",
                                            "appendonly.aof.2.incr.aof"]
    run(m.engine, c, "SET b 2")
    m.flush_before_replies()
    assert aof_digest(str(tmp_path / "appendonlydir")) == digest(m.engine)
    m.close()


def test_auto_rewrite_rule(tmp_path):
    m = _manager(tmp_path, Engine(), fsync="no", rewrite_perc=100, rewrite_min_size=100)
    m.rewrite_base_size = 80
    m.current_size = 90
    assert not m.auto_rewrite_due()          # under min size
    m.current_size = 159
    assert not m.auto_rewrite_due()          # 98% growth
    m.current_size = 160
    assert m.auto_rewrite_due()              # 100% growth
    m.rewrite_perc = 0
    assert not m.auto_rewrite_due()
    m.close()


def test_cron_starts_auto_rewrite(tmp_path):
    m = _manager(tmp_path, Engine(), fsync="no", rewrite_perc=10, rewrite_min_size=1)
    c = m.engine.new_client()
    for i in range(50):
        run(m.engine, c, "SET key%d %s" % (i, "v" * 50))
    m.flush_before_replies()
    m.cron()
    assert m.child is not None
    assert m.wait_rewrite(20).ok and m.rewrites == 1
    m.close()


def test_enable_at_runtime_uses_temp_incr(tmp_path):
    e = build_engine(streams=False)
    m = AofManager(e, str(tmp_path), fsync="always")
    assert m.enable_at_runtime()
    c = e.new_client()
    run(e, c, "SET during 1")
    m.flush_before_replies()
    assert "temp-appendonly.aof.incr" in os.listdir(tmp_path / "appendonlydir")
    assert m.wait_rewrite(20).ok and m.state == AOF_ON
    assert _manifest(tmp_path) == ("file appendonly.aof.1.base.rdb seq 1 type b\n"
                                   "file appendonly.aof.1.incr.aof seq 1 type i\n")
    run(e, c, "SET after 1")
    m.flush_before_replies()
    assert aof_digest(str(tmp_path / "appendonlydir")) == digest(e)
    m.close()


def test_info_fields_names(tmp_path):
    m = _manager(tmp_path)
    names = [k for k, _ in m.info_fields()]
    assert names == [
        "aof_enabled", "aof_rewrite_in_progress", "aof_rewrite_scheduled",
        "aof_last_rewrite_time_sec", "aof_current_rewrite_time_sec",
        "aof_last_bgrewrite_status", "aof_rewrites", "aof_rewrites_consecutive_failures",
        "aof_last_write_status", "aof_last_cow_size", "module_fork_in_progress",
        "module_fork_last_cow_size", "aof_current_size", "aof_base_size",
        "aof_pending_rewrite", "aof_buffer_length", "aof_pending_bio_fsync",
        "aof_delayed_fsync"]
    m.close()
    assert "aof_current_size" not in dict(m.info_fields())


def test_resp_base_matches_redis_example():
    e = Engine()
    c = e.new_client()
    run(e, c, "SADD s 1 x 2", "SET e v", "PEXPIREAT e 4102444800000",
        "ZADD z 0.1 c 1.5 a 2 b")
    out = []
    write_resp_base(e, out.append)
    evs = list(iter_events(b"".join(out)))
    got = [ev.args for ev in evs if isinstance(ev, Command)]
    assert got[0] == [b"SELECT", b"0"]
    assert [b"SET", b"e", b"v"] in got and [b"PEXPIREAT", b"e", b"4102444800000"] in got
    assert [b"ZADD", b"z", b"0.10000000000000001", b"c", b"1.5", b"a", b"2", b"b"] in got
    sadd = next(a for a in got if a[0] == b"SADD")
    assert sorted(sadd[2:]) == [b"1", b"2", b"x"]


def test_resp_base_batches_64_items():
    e = Engine()
    c = e.new_client()
    run(e, c, "RPUSH l " + " ".join(str(i) for i in range(130)))
    out = []
    write_resp_base(e, out.append, timestamp=1234)
    evs = list(iter_events(b"".join(out)))
    assert isinstance(evs[0], Annotation) and evs[0].timestamp == 1234
    pushes = [len(ev.args) - 2 for ev in evs if isinstance(ev, Command) and ev.args[0] == b"RPUSH"]
    assert pushes == [64, 64, 2]


def _boot_real(aofdir, workdir):
    workdir.mkdir()
    shutil.copytree(aofdir, workdir / "appendonlydir")
    return RealRedis(workdir, extra=["--appendonly", "yes"])


@pytest.mark.interop
@pytest.mark.parametrize("preamble", [True, False])
def test_real_redis_boots_from_our_aof_dir(tmp_path, preamble):
    m = _manager(tmp_path / "ours", build_engine(), fsync="always", use_rdb_preamble=preamble,
                 timestamps=True)
    e = m.engine
    c = e.new_client()
    run(e, c, "SET x 1", "SELECT 2", "INCR counter", "MULTI", "SET a 1", "LPUSH q z", "EXEC")
    m.flush_before_replies()
    assert m.start_rewrite()
    run(e, c, "SET during 1", "SELECT 0", "SPOP si", "INCRBYFLOAT f1 0.5", "EXPIRE s1 1000")
    m.flush_before_replies()
    assert m.wait_rewrite(20).ok
    run(e, c, "SET after 1", "ZADD z1 7 q", "HSET h1 n v")
    m.flush_before_replies()
    m.close()
    with _boot_real(tmp_path / "ours" / "appendonlydir", tmp_path / "real") as srv:
        assert srv.command("DEBUG", "DIGEST").decode() == digest(e)
        log = srv.log_text()
        assert "DB loaded from append only file" in log


@pytest.mark.interop
def test_real_redis_boots_from_a_fresh_dir_with_only_startup_base(tmp_path):
    m = _manager(tmp_path / "ours", build_engine(streams=False), fsync="always")
    run(m.engine, m.engine.new_client(), "SET x 1")
    m.flush_before_replies()
    m.close()
    with _boot_real(tmp_path / "ours" / "appendonlydir", tmp_path / "real") as srv:
        assert srv.command("DEBUG", "DIGEST").decode() == digest(m.engine)


def test_bgrewriteaof_with_aof_off_writes_only_a_base(tmp_path):
    e = build_engine(streams=False)
    m = AofManager(e, str(tmp_path), fsync="always")
    _rewrite(m)
    assert _manifest(tmp_path) == "file appendonly.aof.1.base.rdb seq 1 type b\n"
    assert aof_digest(str(tmp_path / "appendonlydir")) == digest(e)
    assert m.state == "off" and m.feed not in e.prop_hooks


def test_failed_runtime_enable_is_retried(tmp_path):
    e = build_engine(streams=False)
    m = AofManager(e, str(tmp_path), fsync="always")
    real_write = m._write_base_file

    def boom(path, fsync=True):
        raise OSError(28, "No space left on device")

    m._write_base_file = boom
    assert m.enable_at_runtime()
    assert not m.wait_rewrite(20).ok
    assert m.state == "wait-rewrite" and m.rewrite_scheduled
    m._write_base_file = real_write
    run(e, e.new_client(), "INCR between")  # buffered, not flushed: must not apply twice
    assert m.start_rewrite() and m.wait_rewrite(20).ok and m.state == AOF_ON
    assert aof_digest(str(tmp_path / "appendonlydir")) == digest(e)
    m.close()


@pytest.mark.interop
@pytest.mark.parametrize("preamble", [True, False])
def test_real_redis_boots_our_aof_of_a_broad_workload(tmp_path, preamble):
    """Every write of a broad mix goes through our propagation (SPOP -> SREM,
    XREADGROUP -> XCLAIM, GETEX -> PEXPIREAT, SWAPDB, MULTI/EXEC ...), with a rewrite in
    the middle; real Redis 7.0 boots the result to our digest."""
    from tests.server.test_offline import _REAL_WORKLOAD

    e = Engine()
    missing = [w for w in {ln.split()[0].lower().encode() for ln in _REAL_WORKLOAD}
               if w not in e.commands]
    if missing:
        pytest.skip("engine lacks %s" % missing)
    m = _manager(tmp_path / "ours", e, fsync="always", use_rdb_preamble=preamble,
                 timestamps=True)
    c = e.new_client()
    half = len(_REAL_WORKLOAD) // 2
    for i, line in enumerate(_REAL_WORKLOAD):
        if i == half:
            assert m.start_rewrite()
        e.execute(c, line.encode().split())
        if c.multi is None:
            m.flush_before_replies()
    assert m.wait_rewrite(20).ok
    m.close()
    want = digest(e)
    assert want != "0" * 40
    with _boot_real(tmp_path / "ours" / "appendonlydir", tmp_path / "real") as srv:
        assert srv.command("DEBUG", "DIGEST").decode() == want
