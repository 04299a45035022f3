"""`rdbkit check-rdb` / `check-rdb`: output, exit status, options."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from rdbtools.cli.check_rdb import command
from rdbtools.cli.main import main as rdbkit
from tests.rdbtools import check_craft as craft

ROOT = Path(__file__).resolve().parents[2]
GOOD = ROOT / "fixtures" / "rdb" / "expired.rdb"
BAD = ROOT / "fixtures" / "corrupt" / "bad-crc.rdb"


def invoke(*args, **kw):
    return CliRunner().invoke(command, [str(a) for a in args], **kw)


def test_sound_file_prints_redis_lines_and_exits_0():
    res = invoke(GOOD)
    assert res.exit_code == 0
    lines = res.stdout.splitlines()
    recorded = json.loads(GOOD.with_suffix(".json").read_text())["redis_check_rdb"]["output"]
    assert lines[1:] == recorded[1:]
    assert lines[0] == f"[offset 0] Checking RDB file {GOOD}"


def test_damaged_file_exits_1():
    res = invoke(BAD)
    assert res.exit_code == 1
    assert "[offset 4205] RDB CRC error" in res.stdout.splitlines()
    assert res.stderr == ""


def test_raw_key_bytes_reach_stdout(tmp_path):
    path = tmp_path / "k.rdb"
    path.write_bytes(craft.rdb(craft.key(1, b"\xff\xfe", b"\x00")))  # empty list
    res = invoke(path)
    assert res.exit_code == 1
    assert b"[additional info] Reading key '\xff\xfe'\n" in res.stdout_bytes


def test_several_files_with_summary():
    res = invoke("--summary", GOOD, BAD)
    assert res.exit_code == 1
    lines = res.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{GOOD}: OK, RDB 10, 13 keys")
    assert lines[1].startswith(f"{BAD}: BAD at offset 4205")
    assert invoke("--summary", GOOD, GOOD).exit_code == 0


def test_json_report():
    res = invoke("--json", BAD)
    doc = json.loads(res.stdout)
    assert res.exit_code == 1 and doc["error"]["class"] == "ChecksumError"
    res = invoke("--json", GOOD, BAD)
    docs = json.loads(res.stdout)
    assert [d["ok"] for d in docs] == [True, False]


def test_missing_file_is_like_redis(tmp_path):
    missing = tmp_path / "nope.rdb"
    res = invoke(missing)
    assert res.exit_code == 1
    assert res.stdout == f"[offset 0] Checking RDB file {missing}\n"
    assert "cannot open" in res.stderr and "Traceback" not in res.stderr


def test_strict_and_stdin(tmp_path):
    data = bytearray(GOOD.read_bytes())
    data[5:9] = b"0011"
    res = CliRunner().invoke(command, ["--strict", "-"], input=bytes(data))
    assert res.exit_code == 1
    assert "[offset 9] Can't handle RDB format version 11" in res.stdout
    res = CliRunner().invoke(command, ["-"], input=GOOD.read_bytes())
    assert res.exit_code == 0 and "[offset 0] Checking RDB file -" in res.stdout


def test_usage_error_and_group():
    assert CliRunner().invoke(command, []).exit_code == 2
    res = CliRunner().invoke(rdbkit, ["check-rdb", "--summary", str(GOOD)])
    assert res.exit_code == 0 and ": OK, RDB 10" in res.stdout


def test_alias_script_smoke():
    proc = subprocess.run([sys.executable, "-m", "rdbtools.cli.check_rdb", str(BAD)],
                          capture_output=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 1
    assert b"--- RDB ERROR DETECTED ---" in proc.stdout and proc.stderr == b""


def test_man_page_examples(tmp_path):
    """The EXAMPLES of man/check-rdb.rst, run on a fixture AOF with an RDB preamble."""
    page = (ROOT / "man" / "check-rdb.rst").read_text()
    assert "check-rdb --summary dump.rdb" in page and "check-rdb --json appendonly.aof" in page
    res = invoke("--summary", GOOD)
    assert res.exit_code == 0 and res.stdout.startswith(f"{GOOD}: OK")
    base = sorted((ROOT / "fixtures" / "aof" / "preamble" / "appendonlydir").glob("*.base.rdb"))
    assert base, "fixture AOF with an RDB preamble missing"
    aof = tmp_path / "appendonly.aof"
    tail = b"*1\r\n$4\r\nPING\r\n"
    aof.write_bytes(base[0].read_bytes() + tail)
    doc = json.loads(invoke("--json", aof).stdout)
    assert doc["ok"] and aof.read_bytes()[doc["end_offset"]:] == tail


def test_json_with_binary_key_is_valid_utf8(tmp_path):
    path = tmp_path / "k.rdb"
    path.write_bytes(craft.rdb(craft.key(1, b"\xff\xfe", b"\x00")))
    res = invoke("--json", path)
    doc = json.loads(res.stdout_bytes.decode("utf-8"))
    assert doc["error"]["key"] == {"base64": "//4="}
