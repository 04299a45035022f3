"""`rdbkit convert` through CliRunner."""

from __future__ import annotations

import json

from click.testing import CliRunner

from rdbtools.cli.convert import command
from rdbtools.digest import digest_file


def run(*args):
    return CliRunner().invoke(command, [str(a) for a in args])


def test_rdb_json_rdb(fixtures_dir, tmp_path):
    src = fixtures_dir / "rdb" / "all-types.rdb"
    assert run(src, tmp_path / "a.json").exit_code == 0
    json.loads((tmp_path / "a.json").read_bytes())
    r = run(tmp_path / "a.json", tmp_path / "b.rdb")
    assert r.exit_code == 0, r.stderr
    assert digest_file(tmp_path / "b.rdb", now_ms=0) == digest_file(src, now_ms=0)


def test_to_and_stdout(fixtures_dir):
    r = run(fixtures_dir / "rdb" / "functions-only.rdb", "-", "--to", "jsonl")
    assert r.exit_code == 0
    recs = [json.loads(x) for x in r.stdout_bytes.splitlines()]
    assert [x["record"] for x in recs].count("function") >= 1


def test_missing_format_is_an_error(fixtures_dir, tmp_path):
    r = run(fixtures_dir / "rdb" / "empty.rdb", tmp_path / "out.bin")
    assert r.exit_code == 1 and "--to" in r.stderr and not (tmp_path / "out.bin").exists()


def test_lossy(corpus_dir, tmp_path):
    src = corpus_dir / "versions" / "redis-7.4.1" / "dump.rdb"
    r = run(src, tmp_path / "x.rdb")
    assert r.exit_code == 1 and "lossy" in r.stderr and not (tmp_path / "x.rdb").exists()
    r = run(src, tmp_path / "x.rdb", "--lossy")
    assert r.exit_code == 0 and "dropped:" in r.stderr


def test_downgrade_version(fixtures_dir, tmp_path):
    src = fixtures_dir / "rdb" / "uncompressed.rdb"
    r = run(src, tmp_path / "v9.rdb", "--rdb-version", "9", "--lossy")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "v9.rdb").read_bytes()[:9] == b"REDIS0009"


def test_bad_json_input_reports_offset(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"db":0,"key":"k","type":"string","value":1}\n')
    r = run(bad, tmp_path / "o.rdb")
    assert r.exit_code == 1 and "offset 0" in r.stderr and "key='k'" in r.stderr
