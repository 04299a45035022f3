"""SAVE/BGSAVE by fork, save points, INFO persistence fields (server/persist/bgsave.py)."""

from __future__ import annotations

import os
import time

import pytest

from rdbtools.digest import digest_file
from server.config import Config
from server.engine import Engine
from server.persist.bgsave import RdbState, parse_save_params
from server.persist.fork import private_dirty_bytes, start_job
from tests.server.test_persist_support import build_engine, digest, listdir, run


def _engine(tmp_path, **cfg) -> Engine:
    c = Config()
    c.set("dir", [str(tmp_path)], runtime=False)
    for k, v in cfg.items():
        c.set(k.replace("_", "-"), v.split() if k == "save" else [v], runtime=False)
    c._cache_ints()
    return build_engine(c)


class Clock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.mark.parametrize("text,want", [
    ("", []), ("3600 1 300 100 60 10000", [(3600, 1), (300, 100), (60, 10000)]),
    ("900 1", [(900, 1)])])
def test_parse_save_params(text, want):
    assert parse_save_params(text) == want


@pytest.mark.parametrize("text", ["900", "0 1", "x 1", "900 -1"])
def test_parse_save_params_rejects(text):
    with pytest.raises(ValueError):
        parse_save_params(text)


def test_save_writes_dump_and_resets_dirty(tmp_path):
    e = _engine(tmp_path)
    st = RdbState(e)
    assert e.dirty > 0
    assert st.save()
    assert listdir(tmp_path) == ["dump.rdb"]
    assert digest_file(str(tmp_path / "dump.rdb")) == digest(e)
    f = dict(st.info_fields())
    assert f["rdb_changes_since_last_save"] == 0 and f["rdb_saves"] == 1
    run(e, e.new_client(), "SET one more")
    assert dict(st.info_fields())["rdb_changes_since_last_save"] == 1
    assert f["rdb_last_bgsave_status"] == "ok"


def test_bgsave_child_writes_fork_time_snapshot_while_parent_mutates(tmp_path):
    e = _engine(tmp_path)
    before = digest(e)
    dirty_at_fork = e.dirty
    st = RdbState(e)
    pid = st.bgsave()
    assert pid > 0 and dict(st.info_fields())["rdb_bgsave_in_progress"] == 1
    c = e.new_client()
    for i in range(300):  # the parent keeps serving
        run(e, c, "SET after%d %d" % (i, i), "RPUSH l1 more")
    dirty_now = e.dirty
    r = st.wait(20)
    assert r is not None and r.ok, r
    assert digest_file(str(tmp_path / "dump.rdb")) == before != digest(e)
    assert not any(n.startswith("temp-") for n in os.listdir(tmp_path))
    f = dict(st.info_fields())
    assert f["rdb_bgsave_in_progress"] == 0 and f["rdb_last_bgsave_status"] == "ok"
    assert f["rdb_changes_since_last_save"] == dirty_now - dirty_at_fork == 600
    assert e.dirty == dirty_now  # the engine's own counter is left alone
    assert f["rdb_last_cow_size"] > 0 and f["rdb_last_bgsave_time_sec"] >= 0


def test_poll_is_non_blocking_and_reaps_once(tmp_path):
    e = _engine(tmp_path)
    st = RdbState(e)
    st.bgsave()
    t0 = time.monotonic()
    st.poll()
    assert time.monotonic() - t0 < 0.5
    results = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not results:
        r = st.poll()
        if r is not None:
            results.append(r)
        time.sleep(0.01)
    assert len(results) == 1 and results[0].ok
    assert st.poll() is None and st.child is None


def test_bgsave_failure_is_reported(tmp_path):
    e = _engine(tmp_path)
    st = RdbState(e)
    run(e, e.new_client(), "SET x 1", "SET y 2")
    e.config.values["dir"] = str(tmp_path / "gone")  # the child cannot create its temp file
    st.bgsave()
    r = st.wait(20)
    assert r is not None and not r.ok and "FileNotFoundError" in r.report["error"]
    f = dict(st.info_fields())
    assert f["rdb_last_bgsave_status"] == "err" and f["rdb_saves"] == 0
    assert f["rdb_changes_since_last_save"] == 2
    assert st.due_save_point() is None


def test_kill_child_removes_temp_and_marks_error(tmp_path):
    e = _engine(tmp_path)
    st = RdbState(e)
    st.bgsave()
    st.kill_child()
    assert st.child is None and dict(st.info_fields())["rdb_last_bgsave_status"] == "err"
    assert not any(n.startswith("temp-") for n in os.listdir(tmp_path))


def test_save_points_fire_like_server_cron(tmp_path):
    clock = Clock()
    e = _engine(tmp_path, save="900 1 300 10")
    st = RdbState(e, clock=clock)
    st.dirty_at_save = 0
    e.dirty = 5
    clock.t += 300
    assert st.due_save_point() is None          # 5 < 10 changes, 300 s not > 900 s
    clock.t += 1
    e.dirty = 10
    assert st.due_save_point() == (300, 10)
    e.dirty = 1
    assert st.due_save_point() is None
    clock.t += 600
    assert st.due_save_point() == (900, 1)
    e.dirty = 0
    assert st.due_save_point() is None


def test_failed_bgsave_delays_save_points(tmp_path):
    clock = Clock()
    e = _engine(tmp_path, save="1 1")
    st = RdbState(e, clock=clock)
    st.dirty_at_save = 0
    e.dirty = 3
    clock.t += 10
    st.last_bgsave_ok = False
    st.last_bgsave_try = int(clock.t) - 2
    assert st.due_save_point() is None          # retry delay (5 s) not over
    clock.t += 4
    assert st.due_save_point() == (1, 1)


def test_no_save_points_when_save_is_empty(tmp_path):
    clock = Clock()
    e = _engine(tmp_path, save="")
    st = RdbState(e, clock=clock)
    st.dirty_at_save = 0
    e.dirty = 10**6
    clock.t += 10**6
    assert st.due_save_point() is None


def test_child_exception_and_cow_measure():
    job = start_job("test", lambda: 1 / 0)
    r = job.wait(10)
    assert not r.ok and r.exit_code == 1 and "ZeroDivisionError" in r.report["error"]
    assert private_dirty_bytes() > 0


def test_gc_is_unfrozen_in_the_parent():
    import gc

    job = start_job("test", lambda: {"x": 1})
    assert gc.get_freeze_count() == 0
    r = job.wait(10)
    assert r.ok and r.report["x"] == 1


def test_info_field_names_and_order(tmp_path):
    st = RdbState(_engine(tmp_path))
    assert [k for k, _ in st.info_fields()] == [
        "rdb_changes_since_last_save", "rdb_bgsave_in_progress", "rdb_last_save_time",
        "rdb_last_bgsave_status", "rdb_last_bgsave_time_sec", "rdb_current_bgsave_time_sec",
        "rdb_saves", "rdb_last_cow_size", "rdb_last_load_keys_expired",
        "rdb_last_load_keys_loaded"]


@pytest.mark.interop
def test_real_redis_loads_the_bgsave_output(tmp_path):
    from tests.support.realredis import load_rdb_in_redis

    e = _engine(tmp_path)
    st = RdbState(e)
    st.bgsave()
    assert st.wait(20).ok
    srv = load_rdb_in_redis(tmp_path / "dump.rdb", tmp_path / "real")
    try:
        assert srv.command("DEBUG", "DIGEST").decode() == digest(e)
    finally:
        srv.stop()


def test_bgsave_from_a_non_main_thread(tmp_path):
    """The server thread in tests (ServerThread) forks from a daemon thread."""
    import threading

    e = _engine(tmp_path)
    st = RdbState(e)
    out = []
    t = threading.Thread(target=lambda: out.append((st.bgsave(), st.wait(20))))
    t.start()
    t.join(30)
    assert out and out[0][1].ok
    assert digest_file(str(tmp_path / "dump.rdb")) == digest(e)


def _cow_engine(n: int) -> Engine:
    from server.objects import RHash

    e = Engine()
    db = e.dbs[0]
    for i in range(n):
        db.add(b"key:%d" % i, b"value-%d" % i)
    for i in range(n // 10):
        h = RHash()
        h[b"f1"] = b"v%d" % i
        h[b"f2"] = b"w"
        db.add(b"h:%d" % i, h)
    return e


def test_bgsave_cow_is_measured_and_bounded(tmp_path):
    """Walking the dataset (refcount writes) is the floor a CPython child cannot go
    under; the reported COW must be at least of that order and never a full copy of the
    parent (docs/persistence.md). The exact ratio depends on how fragmented the process
    heap is (a long test session adds a lot), so it is only printed by the bench."""
    e = _cow_engine(60_000)

    def touch():
        for db in e.dbs:
            for k, v in db.data.items():
                pass
        return {}

    floor = start_job("touch", touch).wait(30).cow_bytes
    st = RdbState(e)
    e.config.values["dir"] = str(tmp_path)
    st.bgsave()
    cow = st.wait(30).cow_bytes
    parent = private_dirty_bytes()
    assert floor > 1 << 20  # the walk really dirtied pages
    assert floor * 0.8 <= cow < parent, (cow, floor, parent)


@pytest.mark.bench
def test_report_cow_numbers(tmp_path, capsys):
    e = _cow_engine(300_000)

    def touch():
        for db in e.dbs:
            for k, v in db.data.items():
                pass
        return {}

    st = RdbState(e)
    e.config.values["dir"] = str(tmp_path)
    t0 = time.monotonic()
    st.bgsave()
    cow = st.wait(120).cow_bytes
    took = time.monotonic() - t0
    floor = start_job("touch", touch).wait(60).cow_bytes
    with capsys.disabled():
        print("\nparent private %.1f MB, walk-only COW %.1f MB, BGSAVE COW %.1f MB, %.2f s"
              % (private_dirty_bytes() / 2**20, floor / 2**20, cow / 2**20, took))
