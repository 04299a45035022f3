"""Boot loading (server/persist/load.py): AOF cases of formats.md §10, dump.rdb, and a
differential run of the same damaged AOFs through real Redis 7.0."""

from __future__ import annotations

import os
import time

import pytest

from aofcheck.errors import ManifestError
from rdbtools.errors import FormatError, TruncatedError
from rdbtools.records import KeyRecord
from rdbtools.constants import RdbType
from rdbtools.writer import write_rdb
from server.config import Config
from server.engine import Engine
from server.persist.load import AofLoadError, LoadProgress, boot
from server.persist.snapshot import save_rdb, snapshot_bytes
from tests.server.test_persist_support import FUTURE_MS, build_engine, digest, listdir, run
from tests.support.realredis import RealRedis

SEL = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"
SET = b"*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\nb\r\n"
SET_C = b"*3\r\n$3\r\nset\r\n$1\r\nc\r\n$1\r\nd\r\n"
MULTI = b"*1\r\n$5\r\nMULTI\r\n"
PARTIAL = b"*3\r\n$3\r\nset\r\n$1\r\nx"
INCR1 = "appendonly.aof.1.incr.aof"
MANIFEST1 = b"file appendonly.aof.1.incr.aof seq 1 type i\n"


def _config(d, **kw) -> Config:
    c = Config()
    c.set("dir", [str(d)], runtime=False)
    for k, v in kw.items():
        c.set(k.replace("_", "-"), [v], runtime=False)
    c._cache_ints()
    return c


def _aofdir(d, files: dict[str, bytes], manifest: bytes = MANIFEST1):
    a = d / "appendonlydir"
    a.mkdir(parents=True)
    (a / "appendonly.aof.manifest").write_bytes(manifest)
    for name, data in files.items():
        (a / name).write_bytes(data)
    return a


def _boot(d, **cfg):
    logs = []
    e = Engine(_config(d, appendonly="yes", **cfg))
    res = boot(e, log=lambda m, k="*": logs.append((k, m)))
    if res.aof is not None:
        res.aof.close()
    return e, res, logs


def _ab_digest() -> str:
    e = Engine()
    run(e, e.new_client(), "SET a b")
    return digest(e)


def test_valid_incr_loads_and_logs_like_redis(tmp_path):
    _aofdir(tmp_path, {INCR1: SEL + SET})
    e, res, logs = _boot(tmp_path)
    assert digest(e) == _ab_digest() and res.source == "aof"
    msgs = [m for _, m in logs]
    assert msgs[0].startswith("DB loaded from incr file appendonly.aof.1.incr.aof: ")
    assert msgs[1].startswith("DB loaded from append only file: ")
    assert "Opening AOF incr file appendonly.aof.1.incr.aof on server start" in msgs
    # Redis 7.0 also creates no base here: the manifest only had an incr
    assert listdir(tmp_path / "appendonlydir") == [INCR1, "appendonly.aof.manifest"]


def test_truncated_last_command_is_cut_on_disk(tmp_path):
    a = _aofdir(tmp_path, {INCR1: SEL + SET + PARTIAL})
    e, _, logs = _boot(tmp_path)
    assert digest(e) == _ab_digest()
    assert (a / INCR1).stat().st_size == 50
    assert logs[:3] == [
        ("#", "!!! Warning: short read while loading the AOF file appendonly.aof.1.incr.aof!!!"),
        ("#", "!!! Truncating the AOF appendonly.aof.1.incr.aof at offset 50 !!!"),
        ("#", "AOF appendonly.aof.1.incr.aof loaded anyway because aof-load-truncated is enabled")]


def test_truncated_with_load_truncated_no_refuses(tmp_path):
    a = _aofdir(tmp_path, {INCR1: SEL + SET + PARTIAL})
    with pytest.raises(AofLoadError) as ei:
        _boot(tmp_path, aof_load_truncated="no")
    assert str(ei.value.reason).startswith(
        "Unexpected end of file reading the append only file appendonly.aof.1.incr.aof. You "
        "can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix "
        "<filename.manifest>.")
    assert ei.value.offset == 50
    assert (a / INCR1).stat().st_size == 50 + len(PARTIAL)


def test_damage_in_the_middle_names_file_offset_and_fix(tmp_path):
    a = _aofdir(tmp_path, {INCR1: SEL + b"garbage\r\n" + SET})
    with pytest.raises(AofLoadError) as ei:
        _boot(tmp_path)
    e = ei.value
    assert e.offset == 23 and e.path.endswith(INCR1)
    assert e.reason == ("Bad file format reading the append only file appendonly.aof.1.incr.aof: "
                        "make a backup of your AOF file, then use ./redis-check-aof --fix "
                        "<filename.manifest>")
    assert "offset 23" in str(e) and "--fix" in str(e)
    assert any("offset 23" in line for line in e.lines)
    assert (a / INCR1).stat().st_size == 23 + 9 + 27


def test_open_multi_at_eof_is_reverted(tmp_path):
    a = _aofdir(tmp_path, {INCR1: SEL + SET + MULTI + SET_C})
    e, _, logs = _boot(tmp_path)
    assert digest(e) == _ab_digest()
    assert logs[0] == ("#", "Revert incomplete MULTI/EXEC transaction in AOF file "
                            "appendonly.aof.1.incr.aof")
    assert (a / INCR1).stat().st_size == 50


def test_complete_multi_exec_applies(tmp_path):
    _aofdir(tmp_path, {INCR1: SEL + MULTI + SET + SET_C + b"*1\r\n$4\r\nEXEC\r\n"})
    e, _, _ = _boot(tmp_path)
    assert set(e.dbs[0].data) == {b"a", b"c"}


def test_unknown_command_refuses(tmp_path):
    _aofdir(tmp_path, {INCR1: SEL + b"*1\r\n$5\r\nBOGUS\r\n" + SET})
    with pytest.raises(AofLoadError, match="Unknown command 'BOGUS' reading the append only "
                                           "file appendonly.aof.1.incr.aof"):
        _boot(tmp_path)


def test_zero_argc_is_bad_format(tmp_path):
    _aofdir(tmp_path, {INCR1: SEL + b"*0\r\n" + SET})
    with pytest.raises(AofLoadError, match="Bad file format"):
        _boot(tmp_path)


@pytest.mark.parametrize("tail", [b"*", b"*3\r\n$3\r\nset\r\n$1\r\nc\r\n$1\r\nd\r"])
def test_short_tails_are_cut(tmp_path, tail):
    a = _aofdir(tmp_path, {INCR1: SEL + SET + tail})
    _boot(tmp_path)
    assert (a / INCR1).stat().st_size == 50


def test_bulk_crlf_not_checked_like_the_server(tmp_path):
    _aofdir(tmp_path, {INCR1: SEL + b"*3\r\n$3\r\nsetXY$1\r\na\r\n$1\r\nb\r\n"})
    e, _, _ = _boot(tmp_path)
    assert digest(e) == _ab_digest()


def test_truncated_non_last_file_is_fatal_after_truncating(tmp_path):
    m = MANIFEST1 + b"file appendonly.aof.2.incr.aof seq 2 type i\n"
    a = _aofdir(tmp_path, {INCR1: SEL + SET + PARTIAL, "appendonly.aof.2.incr.aof": SEL + SET_C},
                manifest=m)
    with pytest.raises(AofLoadError, match="the truncated file is not the last file"):
        _boot(tmp_path)
    assert (a / INCR1).stat().st_size == 50


def test_missing_file_in_manifest(tmp_path):
    m = MANIFEST1 + b"file appendonly.aof.2.incr.aof seq 2 type i\n"
    _aofdir(tmp_path, {INCR1: SEL + SET}, manifest=m)
    with pytest.raises(AofLoadError, match="Unable to obtain the AOF file "
                                           "appendonly.aof.2.incr.aof length. stat: No such "
                                           "file or directory"):
        _boot(tmp_path)


def test_bad_manifest_is_fatal(tmp_path):
    _aofdir(tmp_path, {}, manifest=b"file foo seq x\n")
    with pytest.raises(ManifestError, match="Invalid AOF manifest file format"):
        _boot(tmp_path)


def test_truncated_rdb_base_is_fatal(tmp_path):
    base = snapshot_bytes(build_engine(streams=False), aof_base=True)
    m = b"file appendonly.aof.1.base.rdb seq 1 type b\n" + MANIFEST1
    _aofdir(tmp_path, {"appendonly.aof.1.base.rdb": base[:100], INCR1: SEL + SET}, manifest=m)
    with pytest.raises(AofLoadError) as ei:
        _boot(tmp_path)
    assert ei.value.reason == "Short read or OOM loading DB. Unrecoverable error, aborting now."
    assert isinstance(ei.value.__cause__, TruncatedError)


def test_rdb_base_keeps_expired_keys_for_the_tail(tmp_path):
    base = tmp_path / "b.rdb"
    write_rdb(base, [KeyRecord(0, b"old", RdbType.STRING, b"v", expire_ms=1000)])
    m = b"file appendonly.aof.1.base.rdb seq 1 type b\n" + MANIFEST1
    _aofdir(tmp_path, {"appendonly.aof.1.base.rdb": base.read_bytes(),
                       INCR1: SEL + b"*3\r\n$6\r\nAPPEND\r\n$3\r\nold\r\n$1\r\nx\r\n"},
            manifest=m)
    e, _, logs = _boot(tmp_path)
    # the key expired long ago but the AOF still modified it: Redis keeps it while loading
    assert e.dbs[0].data[b"old"] == b"vx"
    assert ("*", "Reading RDB base file on AOF loading...") in logs
    assert ("*", "Loading RDB produced by version 7.0.0") in logs  # written by rdbtools


def test_old_style_single_file_is_migrated(tmp_path):
    (tmp_path / "appendonly.aof").write_bytes(SEL + SET)
    e, res, logs = _boot(tmp_path)
    assert digest(e) == _ab_digest()
    assert not (tmp_path / "appendonly.aof").exists()
    assert listdir(tmp_path / "appendonlydir") == ["appendonly.aof", INCR1,
                                                     "appendonly.aof.manifest"]
    assert (tmp_path / "appendonlydir" / "appendonly.aof.manifest").read_bytes() == (
        b"file appendonly.aof seq 1 type b\n" + MANIFEST1)
    msgs = [m for _, m in logs]
    assert msgs[0] == ("Successfully migrated an old-style AOF file (appendonly.aof) into the "
                       "AOF directory (appendonlydir).")
    assert msgs[1].startswith("DB loaded from base file appendonly.aof: ")
    assert "Creating AOF incr file appendonly.aof.1.incr.aof on server start" in msgs


def test_old_style_preamble_file(tmp_path):
    src = build_engine(streams=False)
    (tmp_path / "appendonly.aof").write_bytes(snapshot_bytes(src, aof_base=True) + SEL + SET)
    e, _, logs = _boot(tmp_path)
    run(src, src.new_client(), "SET a b")
    assert digest(e) == digest(src)
    msgs = [m for _, m in logs]
    i = msgs.index("Reading RDB preamble from AOF file...")
    assert msgs[i + 1:i + 4] == ["Loading RDB produced by version 7.0.15", "RDB age 0 seconds",
                                 "RDB memory usage when created 0.00 Mb"]
    assert "RDB is base AOF" in msgs and "Reading the remaining AOF tail..." in msgs


def test_appendonly_with_only_a_dump_keeps_its_data(tmp_path):
    src = build_engine()
    save_rdb(src, str(tmp_path / "dump.rdb"))
    e, res, logs = _boot(tmp_path)
    assert res.source == "rdb-for-aof" and digest(e) == digest(src)
    assert any("Redis 7.0 would start empty here" in m for _, m in logs)
    a = tmp_path / "appendonlydir"
    assert listdir(a) == ["appendonly.aof.1.base.rdb", INCR1, "appendonly.aof.manifest"]
    # the first base carries the dump's data: a restart from the AOF alone gets it back
    os.unlink(tmp_path / "dump.rdb")
    e2, res2, _ = _boot(tmp_path)
    assert res2.source == "aof" and digest(e2) == digest(src)


def test_appendonly_with_nothing_starts_empty_and_creates_files(tmp_path):
    e, res, logs = _boot(tmp_path)
    assert res.source == "none" and digest(e) == "0" * 40
    assert [m for _, m in logs] == [
        "Creating AOF base file appendonly.aof.1.base.rdb on server start",
        "Creating AOF incr file appendonly.aof.1.incr.aof on server start"]


def test_dump_is_loaded_when_aof_is_off(tmp_path):
    src = build_engine()
    save_rdb(src, str(tmp_path / "dump.rdb"))
    logs = []
    e = Engine(_config(tmp_path))
    res = boot(e, log=lambda m, k="*": logs.append(m))
    assert res.source == "rdb" and res.aof is None and digest(e) == digest(src)
    assert "Loading RDB produced by version 7.0.15" in logs
    assert not (tmp_path / "appendonlydir").exists()


def test_dump_expired_keys_dropped_at_boot(tmp_path):
    write_rdb(tmp_path / "dump.rdb", [KeyRecord(0, b"old", RdbType.STRING, b"v", expire_ms=1),
                                      KeyRecord(0, b"new", RdbType.STRING, b"v",
                                                expire_ms=FUTURE_MS)])
    e = Engine(_config(tmp_path))
    progress = LoadProgress()
    boot(e, progress=progress)
    assert set(e.dbs[0].data) == {b"new"}
    assert (progress.keys_loaded, progress.keys_expired) == (1, 1)


def test_corrupt_dump_refuses_with_the_reader_error(tmp_path):
    data = bytearray(snapshot_bytes(build_engine(streams=False)))
    data[-3] ^= 0xFF  # CRC
    (tmp_path / "dump.rdb").write_bytes(bytes(data))
    logs = []
    with pytest.raises(FormatError) as ei:
        boot(Engine(_config(tmp_path)), log=lambda m, k="*": logs.append(m))
    assert ei.value.path.endswith("dump.rdb") and ei.value.offset is not None
    (tmp_path / "dump.rdb").write_bytes(bytes(data[:200]))
    with pytest.raises(TruncatedError):
        boot(Engine(_config(tmp_path)), log=lambda m, k="*": logs.append(m))
    assert "Short read or OOM loading DB. Unrecoverable error, aborting now." in logs


def test_loading_progress_fields():
    p = LoadProgress()
    assert p.info_fields() == []
    p.begin(1000)
    p.at(250)
    f = dict(p.info_fields())
    assert f["loading_total_bytes"] == 1000 and f["loading_loaded_bytes"] == 250
    assert f["loading_loaded_perc"] == "25.00"
    p.file_done(600)
    p.at(100)
    assert dict(p.info_fields())["loading_loaded_bytes"] == 700
    p.end()
    assert p.info_fields() == []


# -- differential: the same files through real Redis 7.0 ------------------------------------

_LOAD_WARNINGS = ("!!!", "AOF ", "Revert", "Bad file format", "Unexpected end of file",
                  "Unknown command", "Fatal error", "Unable to obtain")


def _warnings(messages) -> list[str]:
    return [m for m in messages if m.startswith(_LOAD_WARNINGS)]


def _real_warnings(srv) -> list[str]:
    out = []
    for line in srv.log_text().splitlines():
        parts = line.split(" ", 6)
        if len(parts) == 7 and parts[5] == "#":
            out.append(parts[6])
    return _warnings(out)


def _real_outcome(d, extra, warnings=None):
    srv = RealRedis(d, extra=["--appendonly", "yes", *extra])
    srv.start(wait=False)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if srv.proc.poll() is not None:
                if warnings is not None:
                    warnings.extend(_real_warnings(srv))
                return False, None
            try:
                if srv.command("PING") == b"PONG":
                    if warnings is not None:
                        warnings.extend(_real_warnings(srv))
                    return True, srv.command("DEBUG", "DIGEST").decode()
            except Exception:  # noqa: BLE001 - still starting or loading
                pass
            time.sleep(0.05)
        raise AssertionError("real redis neither started nor exited")
    finally:
        srv.stop()


CASES = {
    "valid": (SEL + SET, []),
    "partial": (SEL + SET + PARTIAL, []),
    "partial-no": (SEL + SET + PARTIAL, ["--aof-load-truncated", "no"]),
    "garbage": (SEL + b"garbage\r\n" + SET, []),
    "open-multi": (SEL + SET + MULTI + SET_C, []),
    "bogus": (SEL + b"*1\r\n$5\r\nBOGUS\r\n" + SET, []),
    "star": (SEL + SET + b"*", []),
    "cr-no-lf": (SEL + SET + b"*3\r\n$3\r\nset\r\n$1\r\nc\r\n$1\r\nd\r", []),
}


@pytest.mark.interop
@pytest.mark.parametrize("case", sorted(CASES))
def test_same_outcome_as_real_redis(tmp_path, case):
    content, extra = CASES[case]
    ours, real = tmp_path / "ours", tmp_path / "real"
    _aofdir(ours, {INCR1: content})
    _aofdir(real, {INCR1: content})
    cfg = dict(zip([x.lstrip("-").replace("-", "_") for x in extra[::2]], extra[1::2]))
    logs = []
    try:
        e = Engine(_config(ours, appendonly="yes", **cfg))
        res = boot(e, log=lambda m, k="*": logs.append(m))
        res.aof.close()
        got = (True, digest(e))
    except AofLoadError as exc:
        got = (False, None)
        logs.append(exc.lines[0])
    real_warnings = []
    assert got == _real_outcome(real, extra, real_warnings)
    assert _warnings(logs) == real_warnings  # same wording, same order
    assert ((ours / "appendonlydir" / INCR1).read_bytes()
            == (real / "appendonlydir" / INCR1).read_bytes())


@pytest.mark.interop
def test_real_redis_migration_matches(tmp_path):
    for d in ("ours", "real"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "appendonly.aof").write_bytes(SEL + SET)
    _boot(tmp_path / "ours")
    ok, dig = _real_outcome(tmp_path / "real", [])
    assert ok and dig == _ab_digest()
    for name in ("appendonly.aof.manifest", "appendonly.aof"):
        assert ((tmp_path / "ours" / "appendonlydir" / name).read_bytes()
                == (tmp_path / "real" / "appendonlydir" / name).read_bytes())


def test_past_expiry_times_do_not_expire_while_loading(tmp_path):
    """A key or hash field set with a past absolute time, then modified: Redis keeps it
    during the load (the first access afterwards expires it)."""
    from server.persist.rewrite import resp_command

    cmds = [[b"SELECT", b"0"], [b"SET", b"k", b"v", b"PXAT", b"1000"], [b"APPEND", b"k", b"w"],
            [b"HSET", b"h", b"f", b"1", b"g", b"2"],
            [b"HPEXPIREAT", b"h", b"1000", b"FIELDS", b"1", b"f"],
            [b"SET", b"s", b"x"], [b"PEXPIREAT", b"s", b"1000"], [b"GETEX", b"s", b"PXAT", b"2000"]]
    _aofdir(tmp_path, {INCR1: b"".join(resp_command(c) for c in cmds)})
    e, _, _ = _boot(tmp_path)
    db = e.dbs[0]
    assert db.data[b"k"] == b"vw" and db.expires[b"k"] == 1000
    assert db.data[b"h"][b"f"] == b"1" and db.data[b"h"].fexp == {b"f": 1000}
    assert db.data[b"s"] == b"x" and db.expires[b"s"] == 2000
    assert e.loading is False and e.now_ms > 10**12


@pytest.mark.interop
@pytest.mark.parametrize("files", [
    {INCR1: SEL + SET + PARTIAL, "appendonly.aof.2.incr.aof": SEL + SET_C},
    {INCR1: SEL + SET},   # the manifest also lists a missing second incr
])
def test_multi_file_outcomes_match_real_redis(tmp_path, files):
    m = MANIFEST1 + b"file appendonly.aof.2.incr.aof seq 2 type i\n"
    ours, real = tmp_path / "ours", tmp_path / "real"
    _aofdir(ours, files, manifest=m)
    _aofdir(real, files, manifest=m)
    logs = []
    with pytest.raises(AofLoadError) as ei:
        boot(Engine(_config(ours, appendonly="yes")), log=lambda msg, k="*": logs.append(msg))
    logs.append(ei.value.lines[0])
    real_warnings = []
    assert _real_outcome(real, [], real_warnings) == (False, None)
    assert real_warnings and _warnings(logs) == real_warnings
    for name in files:
        assert ((ours / "appendonlydir" / name).read_bytes()
                == (real / "appendonlydir" / name).read_bytes())
