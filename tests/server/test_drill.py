"""rdbkit drill: digest arithmetic, expectations, and drills with real Redis 7.0 and
rdbkit-server on every fixture, on compressed copies and on altered backups."""

from __future__ import annotations

import json
import socket
import tempfile
from pathlib import Path

import pytest

from rdbtools.digest import DatasetDigest, digest_file
from rdbtools.reader import iter_records
from rdbtools.records import KeyRecord
from server.drill import (DrillError, _combine, drill, parse_expectation, split_digests)
from tests.support.realredis import need_binary

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
RDB_FIXTURES = sorted((FIXTURES / "rdb").glob("*.rdb"))
AOF_FIXTURES = ["preamble", "resp-base", "timestamps", "plain.aof"]


def _sidecar_digest(name: str) -> str:
    side = FIXTURES / "aof" / (name.removesuffix(".aof") + ".json")
    return json.loads(side.read_text())["debug_digest"]


# -- arithmetic and expectations ---------------------------------------------------------

def _per_db(path) -> dict[int, str]:
    per: dict[int, DatasetDigest] = {}
    for r in iter_records(path):
        if type(r) is KeyRecord:
            per.setdefault(r.db, DatasetDigest()).add_record(r)
    return {db: d.hexdigest() for db, d in per.items()}


def test_combine_per_db_digests_gives_the_dataset_digest():
    path = FIXTURES / "rdb" / "all-types.rdb"
    per = _per_db(path)
    assert len(per) == 4
    assert _combine(per) == digest_file(path, keep_expired=True)


def test_split_inverts_the_chain():
    """Prefix digests (what flushing dbs from the top shows) split back into per-db ones."""
    path = FIXTURES / "rdb" / "all-types.rdb"
    per = _per_db(path)
    dbs = sorted(per)
    chain = [(db, _combine({d: per[d] for d in dbs[:i + 1]})) for i, db in enumerate(dbs)]
    assert split_digests(chain) == per


def test_parse_expectation(tmp_path):
    hexd = "ab" * 20
    assert parse_expectation(hexd.upper()).digest == hexd
    f = tmp_path / "digest.txt"
    f.write_text(f"{hexd}  backup.rdb\n")
    assert parse_expectation(str(f)).digest == hexd
    j = tmp_path / "drill.json"
    j.write_text(json.dumps({"digest": {"server": hexd, "reference": None},
                             "dbs": [{"db": 3, "keys": {"server": 2},
                                      "digest": {"server": "cd" * 20}}]}))
    exp = parse_expectation(str(j))
    assert exp.digest == hexd and exp.dbs == {3: {"digest": "cd" * 20, "keys": 2}}
    for bad in ("12ab", str(tmp_path / "missing"), str(tmp_path)):
        with pytest.raises(DrillError):
            parse_expectation(bad)
    junk = tmp_path / "junk.txt"
    junk.write_text("not a digest\n")
    with pytest.raises(DrillError):
        parse_expectation(str(junk))


def test_missing_server_binary_is_a_setup_error():
    with pytest.raises(DrillError, match="not found"):
        drill(str(RDB_FIXTURES[0]), server="/nonexistent/redis-server")


# -- real Redis 7.0 ----------------------------------------------------------------------

@pytest.fixture
def redis_server():
    return need_binary("redis-server")


@pytest.mark.interop
@pytest.mark.parametrize("path", RDB_FIXTURES, ids=lambda p: p.name)
def test_drill_passes_on_every_rdb_fixture(redis_server, path):
    report = drill(str(path), server=redis_server)
    assert report.ok, report.problems
    assert report.server_digest == report.reference_digest == digest_file(path)
    assert "offline digest" in report.reference
    assert sum(r.server_keys for r in report.dbs) == sum(
        json.loads(path.with_suffix(".json").read_text()).get("dbsize_after_load", {}).values()
        or json.loads(path.with_suffix(".json").read_text())["dbsize"].values())


@pytest.mark.interop
@pytest.mark.parametrize("name", AOF_FIXTURES)
def test_drill_passes_on_every_aof_fixture(redis_server, name):
    path = FIXTURES / "aof" / name
    report = drill(str(path), server=redis_server)
    assert report.ok, report.problems
    assert "second throwaway" in report.reference
    assert report.server_digest == _sidecar_digest(name)
    report = drill(str(path), server=redis_server,
                   expect=parse_expectation(_sidecar_digest(name)))
    assert report.ok and "expected digest" in report.reference


@pytest.mark.interop
def test_drill_lz4_and_json_backups(redis_server, tmp_path):
    import lz4.frame

    from rdbtools.convert import convert

    src = FIXTURES / "rdb" / "all-types.rdb"
    lz = tmp_path / "dump.rdb.lz4"
    lz.write_bytes(lz4.frame.compress(src.read_bytes()))
    js = tmp_path / "dump.jsonl"
    convert(src, js)
    d = FIXTURES / "aof" / "preamble" / "appendonlydir"
    aof = tmp_path / "appendonly.aof.lz4"
    aof.write_bytes(lz4.frame.compress((d / "appendonly.aof.2.base.rdb").read_bytes()
                                       + (d / "appendonly.aof.2.incr.aof").read_bytes()))
    for path, want in ((lz, digest_file(src)), (js, digest_file(src)),
                       (aof, _sidecar_digest("preamble"))):
        report = drill(str(path), server=redis_server)
        assert report.ok, (path, report.problems)
        assert report.server_digest == want


@pytest.mark.interop
def test_server_stopped_and_temp_dir_removed(redis_server, tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    report = drill(str(FIXTURES / "rdb" / "uncompressed.rdb"), server=redis_server)
    assert report.ok and report.port
    assert list(scratch.iterdir()) == []
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", report.port), timeout=1).close()
    # also after a failed load
    bad = tmp_path / "bad.rdb"
    data = bytearray((FIXTURES / "rdb" / "uncompressed.rdb").read_bytes())
    data[200] ^= 0xFF
    bad.write_bytes(bytes(data))
    report = drill(str(bad), server=redis_server)
    assert not report.ok
    assert any("reader refuses" in p for p in report.problems)
    assert any("did not load" in p and "CRC" in p for p in report.problems)
    assert list(scratch.iterdir()) == []


def _alter_db3(src: Path, dst: Path) -> None:
    """Rewrite `src` with one value in db 3 changed (valid CRC: only a digest can tell)."""
    from dataclasses import replace

    from rdbtools.writer import write_rdb

    recs = []
    changed = False
    for r in iter_records(src):
        if type(r) is KeyRecord and r.db == 3 and not changed and r.kind == 0:
            r = replace(r, value=r.value + b"!")
            changed = True
        recs.append(r)
    assert changed
    write_rdb(dst, recs, version=10)


@pytest.mark.interop
def test_altered_backup_fails_naming_the_database(redis_server, tmp_path):
    src = FIXTURES / "rdb" / "all-types.rdb"
    taken = drill(str(src), server=redis_server)
    assert taken.ok
    expect_file = tmp_path / "expect.json"
    expect_file.write_text(json.dumps(taken.as_dict()))
    altered = tmp_path / "backup.rdb"
    _alter_db3(src, altered)
    report = drill(str(altered), server=redis_server, expect=parse_expectation(str(expect_file)))
    assert not report.ok
    assert report.differing_dbs == [3]
    assert any("databases that differ: 3" == p for p in report.problems)
    # the file and the server agree with each other: only the expectation catches it
    assert report.server_digest == report.reference_digest != taken.server_digest
    # a bare hex expectation fails too, and says it cannot name databases
    report = drill(str(altered), server=redis_server,
                   expect=parse_expectation(taken.server_digest))
    assert not report.ok and any("cannot be named" in p for p in report.problems)


@pytest.mark.interop
def test_altered_aof_fails_against_expectation(redis_server, tmp_path):
    import shutil

    src = FIXTURES / "aof" / "resp-base"
    taken = drill(str(src), server=redis_server)
    expect_file = tmp_path / "expect.json"
    expect_file.write_text(json.dumps(taken.as_dict()))
    work = tmp_path / "backup"
    shutil.copytree(src, work)
    incr = work / "appendonlydir" / "appendonly.aof.1.incr.aof"
    if not incr.exists():
        incr = sorted((work / "appendonlydir").glob("*.incr.aof"))[-1]
    with open(incr, "ab") as f:
        f.write(b"*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n*3\r\n$3\r\nSET\r\n$5\r\nextra\r\n$1\r\n1\r\n")
    report = drill(str(work), server=redis_server, expect=parse_expectation(str(expect_file)))
    assert not report.ok and report.differing_dbs == [2]


# -- rdbkit-server -----------------------------------------------------------------------

@pytest.mark.parametrize("path", RDB_FIXTURES, ids=lambda p: p.name)
def test_drill_passes_on_every_rdb_fixture_with_rdbkit_server(path):
    report = drill(str(path), server="rdbkit", timeout=60)
    assert report.server == "rdbkit-server"
    assert report.ok, report.problems
    assert report.server_digest == digest_file(path)


@pytest.mark.parametrize("name", AOF_FIXTURES)
def test_drill_passes_on_every_aof_fixture_with_rdbkit_server(name):
    want = _sidecar_digest(name)
    report = drill(str(FIXTURES / "aof" / name), server="rdbkit", timeout=60,
                   expect=parse_expectation(want))
    assert report.ok, report.problems
    assert report.server_digest == want


def test_drill_with_rdbkit_server_fails_on_an_altered_backup(tmp_path):
    src = FIXTURES / "rdb" / "all-types.rdb"
    altered = tmp_path / "altered.rdb"
    _alter_db3(src, altered)
    report = drill(str(altered), server="rdbkit", timeout=60,
                   expect=parse_expectation(digest_file(src)))
    assert not report.ok
