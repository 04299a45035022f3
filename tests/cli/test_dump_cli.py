"""`rdb-dump` / `rdbkit dump` through click's CliRunner, plus subprocess smoke tests."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from rdbtools.cli.dump import command
from rdbtools.cli.main import main as rdbkit

from tests.rdbtools.test_render_helpers import state_after_pipe, state_of_rdb


@pytest.fixture
def all_types(fixtures_dir):
    return str(fixtures_dir / "rdb" / "all-types.rdb")


def run(*args, input=None):
    return CliRunner().invoke(command, list(args), input=input)


def test_json_is_default_and_valid(all_types):
    r = run(all_types)
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout_bytes)
    assert doc[0]["record"] == "header" and doc[-1]["record"] == "end"


def test_jsonl_with_filters(all_types):
    r = run(all_types, "-f", "jsonl", "--db", "0", "--type", "zset", "--key", "^zset:",
            "--not-key", "geo")
    assert r.exit_code == 0, r.stderr
    keys = [json.loads(line) for line in r.stdout_bytes.splitlines()]
    keys = [k for k in keys if "record" not in k]
    assert keys and all(k["type"] == "zset" and k["db"] == 0 for k in keys)
    assert all(k["key"].startswith("zset:") and "geo" not in k["key"] for k in keys)


def test_skip_expired_against_now_ms(fixtures_dir):
    path = str(fixtures_dir / "rdb" / "expired.rdb")
    all_keys = run(path, "-f", "keys").stdout_bytes.splitlines()
    live = run(path, "-f", "keys", "--skip-expired").stdout_bytes.splitlines()
    assert len(live) < len(all_keys)
    assert run(path, "-f", "keys", "--skip-expired", "--now-ms", "0").stdout_bytes.splitlines() \
        == all_keys


def test_memory_csv_largest(all_types):
    r = run(all_types, "-f", "memory", "--largest", "4")
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0][0] == "database" and len(rows) == 5


def test_output_file_and_lz4(all_types, tmp_path):
    out = tmp_path / "d.jsonl.lz4"
    r = run(all_types, "-f", "jsonl", "-o", str(out))
    assert r.exit_code == 0 and r.stdout == ""
    import lz4.frame

    lines = lz4.frame.decompress(out.read_bytes()).splitlines()
    assert json.loads(lines[-1])["record"] == "end"
    # And it reads back through the same command.
    r = run(str(out), "-f", "keys")
    assert r.exit_code == 0 and len(r.stdout_bytes.splitlines()) == len(lines) - 4


def test_parse_error_midway_exits_nonzero_and_keeps_no_file(all_types, tmp_path):
    data = open(all_types, "rb").read()
    cut = tmp_path / "cut.rdb"
    cut.write_bytes(data[: len(data) // 2])
    r = run(str(cut), "-f", "jsonl")
    assert r.exit_code == 1
    assert "offset" in r.stderr and "Traceback" not in r.stderr + r.stdout
    r = run(str(cut), "-o", str(tmp_path / "x.json"))
    assert r.exit_code == 1 and not (tmp_path / "x.json").exists()


def test_usage_errors(all_types):
    assert run(all_types, "--key", "(").exit_code == 2
    assert run(all_types, "-f", "yaml").exit_code == 2
    r = run("/nonexistent/file.rdb")
    assert r.exit_code == 1 and "No such file" in r.stderr


def test_rdbkit_group_has_dump(all_types):
    r = CliRunner().invoke(rdbkit, ["dump", all_types, "-f", "keys"])
    assert r.exit_code == 0 and r.stdout


def test_rdb_dump_script_smoke(all_types):
    p = subprocess.run([sys.executable, "-c", "from rdbtools.cli.dump import main; main()",
                        all_types, "-f", "keys", "--db", "15"], capture_output=True)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([sys.executable, "-c", "from rdbtools.cli.dump import main; main()",
                        "--help"], capture_output=True)
    assert b"rdb-dump" in p.stdout


def test_epipe_is_quiet(fixtures_dir):
    p = subprocess.run(f"{sys.executable} -c 'from rdbtools.cli.dump import main; main()' "
                       f"{fixtures_dir / 'rdb' / 'all-types.rdb'} -f jsonl | head -c 10",
                       shell=True, capture_output=True)
    assert b"Traceback" not in p.stderr


@pytest.mark.interop
def test_resp_into_redis_cli_pipe(all_types, tmp_path):
    r = run(all_types, "-f", "resp")
    assert r.exit_code == 0
    got, _ = state_after_pipe(r.stdout_bytes, tmp_path / "pipe", stream_times=False)
    want = state_of_rdb(__import__("pathlib").Path(all_types), tmp_path / "orig",
                        stream_times=False)
    assert got == want


def test_progress_bar_only_on_a_terminal(all_types, monkeypatch):
    from rdbtools.cli import dump as dump_cli

    with dump_cli.progress(all_types, True) as cb:
        assert cb is None  # stderr is not a terminal under pytest
    monkeypatch.setattr(dump_cli.sys.stderr, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(dump_cli, "PROGRESS_MIN_BYTES", 0)
    with dump_cli.progress(all_types, False) as cb:
        assert cb is None  # --no-progress
    from rdbtools.reader import iter_records

    with dump_cli.progress(all_types, True) as cb:
        assert cb is not None
        for rec in iter_records(all_types):
            cb(rec)


def test_memory_config_option(fixtures_dir):
    path = str(fixtures_dir / "rdb" / "compressed-nodes.rdb")
    default = run(path, "-f", "memory", "--type", "list")
    tuned = run(path, "-f", "memory", "--type", "list", "--memory-config", "list-compress-depth=1",
                "--memory-config", "list-max-ziplist-size=16")
    assert default.exit_code == tuned.exit_code == 0
    size = lambda r: sum(int(row[3]) for row in list(csv.reader(io.StringIO(r.stdout)))[1:])
    assert size(tuned) < size(default)
    assert run(path, "-f", "memory", "--memory-config", "nope=1").exit_code == 2
    assert run(path, "-f", "memory", "--memory-config", "list-compress-depth").exit_code == 2
