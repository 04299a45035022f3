"""The wiring facade (server/persist/manager.py): commands, one child at a time, cron,
SHUTDOWN/FLUSHALL/CONFIG SET hooks, the INFO persistence section."""

from __future__ import annotations

import os

from rdbtools.digest import digest_file
from server.config import Config
from server.engine import Engine
from server.offline import aof_digest
from server.persist.manager import Persistence
from tests.server.test_persist_support import build_engine, digest, run

INFO_70 = ["loading", "async_loading", "current_cow_peak", "current_cow_size",
           "current_cow_size_age", "current_fork_perc", "current_save_keys_processed",
           "current_save_keys_total", "rdb_changes_since_last_save", "rdb_bgsave_in_progress",
           "rdb_last_save_time", "rdb_last_bgsave_status", "rdb_last_bgsave_time_sec",
           "rdb_current_bgsave_time_sec", "rdb_saves", "rdb_last_cow_size",
           "rdb_last_load_keys_expired", "rdb_last_load_keys_loaded", "aof_enabled",
           "aof_rewrite_in_progress", "aof_rewrite_scheduled", "aof_last_rewrite_time_sec",
           "aof_current_rewrite_time_sec", "aof_last_bgrewrite_status", "aof_rewrites",
           "aof_rewrites_consecutive_failures", "aof_last_write_status", "aof_last_cow_size",
           "module_fork_in_progress", "module_fork_last_cow_size"]
INFO_70_AOF = ["aof_current_size", "aof_base_size", "aof_pending_rewrite",
               "aof_buffer_length", "aof_pending_bio_fsync", "aof_delayed_fsync"]


def _config(d, **kw) -> Config:
    c = Config()
    c.set("dir", [str(d)], runtime=False)
    for k, v in kw.items():
        c.set(k.replace("_", "-"), v.split() if k == "save" else [v], runtime=False)
    c._cache_ints()
    return c


def _p(tmp_path, engine=None, **kw) -> Persistence:
    if engine is None:
        engine = Engine(_config(tmp_path, **kw))
    p = Persistence(engine)
    p.boot()
    return p


def test_info_section_matches_redis_70(tmp_path):
    p = _p(tmp_path)
    assert [k for k, _ in p.info_fields()] == INFO_70
    (tmp_path / "aof").mkdir()
    p2 = _p(tmp_path / "aof", appendonly="yes")
    assert [k for k, _ in p2.info_fields()] == INFO_70 + INFO_70_AOF
    p2.shutdown(nosave=True)


def test_save_and_bgsave_commands(tmp_path):
    e = build_engine(_config(tmp_path))
    p = _p(tmp_path, e)
    assert p.cmd_save() == (True, "OK")
    assert p.cmd_bgsave() == (True, "Background saving started")
    assert p.cmd_bgsave() == (False, "ERR Background save already in progress")
    assert p.cmd_save() == (False, "ERR Background save already in progress")
    assert p.rdb.wait(20).ok
    assert digest_file(str(tmp_path / "dump.rdb")) == digest(e)
    assert dict(p.info_fields())["rdb_saves"] == 2


def test_one_child_at_a_time_and_schedule(tmp_path):
    e = build_engine(_config(tmp_path, appendonly="yes"))
    p = Persistence(e)
    p.boot()
    assert p.cmd_bgrewriteaof() == (True, "Background append only file rewriting started")
    assert p.cmd_bgrewriteaof()[0] is False
    assert p.cmd_bgsave()[1].startswith("ERR Another child process is active (AOF?)")
    assert p.cmd_bgsave(schedule=True) == (True, "Background saving scheduled")
    assert p.aof.wait_rewrite(20).ok
    p.cron()  # starts the scheduled BGSAVE
    assert p.rdb.child is not None and not p.rdb.scheduled
    assert p.cmd_bgrewriteaof() == (True, "Background append only file rewriting scheduled")
    assert p.rdb.wait(20).ok
    p.cron()
    assert p.aof.child is not None
    assert p.aof.wait_rewrite(20).ok and p.aof.rewrites == 2
    p.shutdown(nosave=True)


def test_cron_fires_save_points(tmp_path):
    clock_t = [1_700_000_000.0]
    e = Engine(_config(tmp_path, save="10 2"))
    p = Persistence(e, clock=lambda: clock_t[0])
    p.boot()
    run(e, e.new_client(), "SET a 1", "SET b 2")
    p.cron()
    assert p.rdb.child is None
    clock_t[0] += 11
    p.cron()
    assert p.rdb.child is not None
    p.rdb.wait(20)
    assert (tmp_path / "dump.rdb").exists() and p.rdb.changes == 0


def test_before_sleep_writes_the_aof(tmp_path):
    e = Engine(_config(tmp_path, appendonly="yes", appendfsync="always"))
    p = _p(tmp_path, e)
    run(e, e.new_client(), "SET a 1")
    p.before_sleep()
    assert aof_digest(str(tmp_path / "appendonlydir")) == digest(e)
    p.shutdown(nosave=True)


def test_shutdown_saves_when_save_points_are_set(tmp_path):
    e = Engine(_config(tmp_path, save="3600 1"))
    p = _p(tmp_path, e)
    run(e, e.new_client(), "SET a 1")
    assert p.shutdown()
    assert digest_file(str(tmp_path / "dump.rdb")) == digest(e)


def test_shutdown_nosave_and_no_save_points(tmp_path):
    e = Engine(_config(tmp_path, save=""))
    p = _p(tmp_path, e)
    run(e, e.new_client(), "SET a 1")
    assert p.shutdown()
    assert not (tmp_path / "dump.rdb").exists()
    assert p.shutdown(save=True) and (tmp_path / "dump.rdb").exists()
    os.unlink(tmp_path / "dump.rdb")
    e.config.values["save"] = "1 1"
    assert p.shutdown(nosave=True) and not (tmp_path / "dump.rdb").exists()


def test_shutdown_refuses_when_the_save_fails_unless_forced(tmp_path):
    e = Engine(_config(tmp_path, save="1 1"))
    p = _p(tmp_path, e)
    e.config.values["dir"] = str(tmp_path / "gone")
    assert p.shutdown() is False
    assert p.shutdown(force=True) is True


def test_flushall_kills_bgsave_and_saves(tmp_path):
    e = build_engine(_config(tmp_path, save="3600 1"))
    p = _p(tmp_path, e)
    p.cmd_bgsave()
    run(e, e.new_client(), "FLUSHALL")
    p.after_flushall()
    assert p.rdb.child is None
    assert digest_file(str(tmp_path / "dump.rdb")) == "0" * 40
    assert not [n for n in os.listdir(tmp_path) if n.startswith("temp-")]


def test_config_set_appendonly_live(tmp_path):
    e = build_engine(_config(tmp_path))
    p = _p(tmp_path, e)
    e.config.values["appendonly"] = "yes"
    assert p.config_changed("appendonly") == (True, "OK")
    run(e, e.new_client(), "SET during 1")
    p.before_sleep()
    assert p.aof.wait_rewrite(20).ok
    run(e, e.new_client(), "SET after 1")
    p.before_sleep()
    assert aof_digest(str(tmp_path / "appendonlydir")) == digest(e)
    e.config.values["appendonly"] = "no"
    p.config_changed("appendonly")
    assert p.aof.state == "off" and dict(p.info_fields())["aof_enabled"] == 0
    run(e, e.new_client(), "SET not_logged 1")
    p.before_sleep()
    assert aof_digest(str(tmp_path / "appendonlydir")) != digest(e)


def test_config_set_appendfsync_live(tmp_path):
    e = Engine(_config(tmp_path, appendonly="yes"))
    p = _p(tmp_path, e)
    e.config.values["appendfsync"] = "always"
    p.config_changed("appendfsync")
    assert p.aof.fsync_policy == "always"
    p.shutdown(nosave=True)


def test_boot_reports_load_counts(tmp_path):
    src = build_engine(streams=False)
    from server.persist.snapshot import save_rdb

    save_rdb(src, str(tmp_path / "dump.rdb"))
    p = _p(tmp_path)
    f = dict(p.info_fields())
    assert f["rdb_last_load_keys_loaded"] == sum(len(db.data) for db in src.dbs)
    assert f["loading"] == 0 and f["rdb_changes_since_last_save"] == 0


def test_loading_tick_runs_while_loading(tmp_path):
    src = Engine()
    c = src.new_client()
    for i in range(3000):
        run(src, c, ["SET", "k%d" % i, "v" * 1000])
    from server.persist.snapshot import save_rdb

    save_rdb(src, str(tmp_path / "dump.rdb"), compress=False)
    seen = []
    e = Engine(_config(tmp_path))
    p = Persistence(e, tick=lambda: seen.append(dict(p.info_fields())))
    p.progress.TICK_BYTES = 1 << 20
    p.boot()
    assert seen and all(s["loading"] == 1 for s in seen)
    assert "loading_loaded_perc" in seen[-1] and seen[-1]["loading_total_bytes"] > 3_000_000
    assert dict(p.info_fields())["loading"] == 0


def test_attach_follows_config_set(tmp_path):
    e = Engine(_config(tmp_path, appendonly="yes"))
    p = _p(tmp_path, e)
    p.attach()
    c = e.new_client()
    run(e, c, "CONFIG SET appendfsync no")
    assert p.aof.fsync_policy == "no"
    run(e, c, "CONFIG SET appendonly no")
    assert p.aof.state == "off"


def test_refused_shutdown_keeps_the_aof_going(tmp_path):
    e = Engine(_config(tmp_path, appendonly="yes", save="1 1", appendfsync="always"))
    p = _p(tmp_path, e)
    e.config.values["dir"] = str(tmp_path / "gone")  # the final SAVE fails
    assert p.shutdown() is False and not p.done
    e.config.values["dir"] = str(tmp_path)
    run(e, e.new_client(), "SET still 1")
    p.before_sleep()
    assert aof_digest(str(tmp_path / "appendonlydir")) == digest(e)
    assert p.shutdown() and p.done and p.aof.state == "off"


def test_current_cow_of_a_running_child(tmp_path):
    import time as _time

    from server.persist.fork import start_job

    p = _p(tmp_path)
    hold = []

    def slow():
        hold.append(bytearray(8 << 20))  # 8 MB of fresh, private pages
        _time.sleep(0.5)
        return {}

    p.rdb.child = start_job("rdb", slow)
    _time.sleep(0.2)
    f = dict(p.info_fields())
    assert f["current_cow_size"] >= 8 << 20 and f["current_cow_peak"] >= f["current_cow_size"]
    p.rdb.wait(10)
    f = dict(p.info_fields())
    assert f["current_cow_size"] == 0 and f["rdb_last_cow_size"] >= 8 << 20


def test_appendonly_yes_during_bgsave_is_scheduled(tmp_path):
    e = build_engine(_config(tmp_path))
    p = _p(tmp_path, e)
    assert p.cmd_bgsave()[0]
    e.config.values["appendonly"] = "yes"
    assert p.config_changed("appendonly") == (True, "OK")
    assert p.rdb.child is not None  # not killed: the AOF rewrite waits for it
    assert p.aof.state == "wait-rewrite" and p.aof.rewrite_scheduled
    run(e, e.new_client(), "SET while_waiting 1")  # the coming snapshot includes it
    assert p.aof.buf_len == 0
    p.rdb.wait(20)
    p.cron()
    assert p.aof.child is not None
    run(e, e.new_client(), "SET during_rewrite 1")
    p.before_sleep()
    assert p.aof.wait_rewrite(20).ok and p.aof.state == "on"
    run(e, e.new_client(), "SET after 1")
    p.before_sleep()
    assert aof_digest(str(tmp_path / "appendonlydir")) == digest(e)
    p.shutdown(nosave=True)


def test_appendonly_yes_restarts_an_aof_off_rewrite(tmp_path):
    e = build_engine(_config(tmp_path))
    p = _p(tmp_path, e)
    assert p.cmd_bgrewriteaof()[0]
    e.config.values["appendonly"] = "yes"
    assert p.config_changed("appendonly") == (True, "OK")
    run(e, e.new_client(), "SET during 1")
    p.before_sleep()
    assert p.aof.wait_rewrite(20).ok and p.aof.state == "on"
    assert aof_digest(str(tmp_path / "appendonlydir")) == digest(e)
    p.shutdown(nosave=True)


def test_debug_reload_and_loadaof(tmp_path):
    e = build_engine(_config(tmp_path, appendonly="yes", appendfsync="always"))
    p = Persistence(e)
    p.boot()
    c = e.new_client()
    run(e, c, "SET x 1", "RPUSH l2 y")
    p.before_sleep()
    want = digest(e)
    assert p.debug_reload() == (True, "OK") and digest(e) == want
    assert e.functions  # functions come back from the dump too
    assert p.debug_loadaof() == (True, "OK") and digest(e) == want
    p.shutdown(nosave=True)
