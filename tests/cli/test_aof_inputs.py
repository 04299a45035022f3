"""`rdbkit digest` and `rdbkit convert` on AOFs: replayed through the server engine."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from rdbtools.cli.main import main
from tests.support.realredis import RealRedis, need_binary

AOF = Path(__file__).resolve().parents[2] / "fixtures" / "aof"
LAYOUTS = ["preamble", "resp-base", "timestamps"]


def _run(*args) -> str:
    result = CliRunner().invoke(main, list(map(str, args)))
    assert result.exit_code == 0, result.output
    return result.output.strip()


def _sidecar(name: str) -> dict:
    return json.loads((AOF / f"{name}.json").read_text())


@pytest.mark.parametrize("name", LAYOUTS)
def test_digest_of_multi_part_aof_equals_real_redis(name):
    want = _sidecar(name)["debug_digest"]
    assert _run("digest", AOF / name / "appendonlydir") == want
    manifest = next((AOF / name / "appendonlydir").glob("*.manifest"))
    assert _run("digest", manifest) == want


def test_digest_of_single_file_aof():
    assert _run("digest", AOF / "plain.aof") == _sidecar("plain")["debug_digest"]


@pytest.mark.parametrize("name", ["preamble", "resp-base"])
def test_convert_aof_to_rdb_keeps_the_digest(name, tmp_path):
    out = tmp_path / "out.rdb"
    _run("convert", AOF / name / "appendonlydir", out)
    assert _run("digest", "--keep-expired", out) == _sidecar(name)["debug_digest"]


def test_convert_aof_to_jsonl_lists_every_key(tmp_path):
    out = tmp_path / "out.jsonl"
    _run("convert", AOF / "plain.aof", out)
    keys = [r for r in map(json.loads, out.read_text().splitlines()) if "key" in r]
    assert len(keys) == sum(_sidecar("plain")["dbsize"].values())


@pytest.mark.interop
def test_truncate_to_timestamp_matches_redis_check_aof(tmp_path):
    """Point-in-time replay equals what real Redis boots after redis-check-aof cut the log."""
    checker = need_binary("redis-check-aof")
    src = AOF / "timestamps" / "appendonlydir"
    stamps = sorted({int(t) for t in re.findall(rb"#TS:(\d+)", (src / "appendonly.aof.1.incr.aof").read_bytes())})
    assert len(stamps) >= 3
    ts = stamps[1]
    ours = _run("digest", "--truncate-to-timestamp", ts, src)
    assert ours != _sidecar("timestamps")["debug_digest"]
    work = tmp_path / "redis"
    shutil.copytree(src, work / "appendonlydir")
    manifest = work / "appendonlydir" / "appendonly.aof.manifest"
    subprocess.run([checker, "--truncate-to-timestamp", str(ts), str(manifest)], check=True,
                   capture_output=True)
    srv = RealRedis(work, extra=["--appendonly", "yes"]).start()
    try:
        assert srv.command("DEBUG", "DIGEST").decode() == ours
    finally:
        srv.stop()


def test_truncate_to_timestamp_refused_for_rdb(fixtures_dir):
    result = CliRunner().invoke(main, ["convert", "--truncate-to-timestamp", "5",
                                       str(fixtures_dir / "rdb" / "empty.rdb"), "/dev/null"])
    assert result.exit_code != 0
