"""check-aof's command line: Redis' argument forms, prompt, --yes, --json, cut files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from aofcheck.cli import command

ROOT = Path(__file__).resolve().parents[2]
SEL = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"
SET = b"*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\nb\r\n"
TRUNC = SEL + SET + b"*3\r\n$3\r\nset\r\n$1\r\nx\r\n$5\r\nab"


def invoke(args, stdin=b"", cwd=None):
    old = os.getcwd()
    if cwd:
        os.chdir(cwd)
    try:
        return CliRunner().invoke(command, args, input=stdin, prog_name="check-aof")
    finally:
        os.chdir(old)


USAGE = "Usage: check-aof [--fix|--truncate-to-timestamp $timestamp] <file.manifest|file.aof>\n"


@pytest.mark.parametrize("args", [[], ["a", "b"], ["--truncate-to-timestamp", "1", "a", "b"],
                                  ["x", "y", "z"], ["--fix", "a", "--salvage"]])
def test_usage_on_stdout_exit_1(args):
    res = invoke(args)
    assert res.exit_code == 1
    assert res.stdout == USAGE


def test_fix_alone_is_a_file_name_like_redis():
    res = invoke(["--fix"])
    assert res.exit_code == 1
    assert res.stdout == "Cannot open file --fix: No such file or directory\n"


def test_invalid_timestamp():
    res = invoke(["--truncate-to-timestamp", "12x", "f"])
    assert (res.exit_code, res.stdout) == (1, "Invalid timestamp, aborting...\n")


def test_valid_file(tmp_path):
    (tmp_path / "F.aof").write_bytes(SEL + SET)
    res = invoke(["F.aof"], cwd=tmp_path)
    assert res.exit_code == 0
    assert res.stdout.splitlines() == [
        "Start checking Old-Style AOF",
        "AOF analyzed: filename=F.aof, size=50, ok_up_to=50, ok_up_to_line=13, diff=0",
        "AOF F.aof is valid"]


def test_fix_prompt_no_keeps_file(tmp_path):
    (tmp_path / "F.aof").write_bytes(TRUNC)
    res = invoke(["--fix", "F.aof"], stdin=b"n\n", cwd=tmp_path)
    assert res.exit_code == 1
    assert res.stdout.endswith("Continue? [y/N]: Aborting...\n")
    assert (tmp_path / "F.aof").read_bytes() == TRUNC
    assert not list(tmp_path.glob("*.cut-*"))


def test_fix_yes_keeps_cut_bytes_and_says_what_is_dropped(tmp_path):
    (tmp_path / "F.aof").write_bytes(TRUNC)
    res = invoke(["--fix", "--yes", "F.aof"], cwd=tmp_path)
    assert res.exit_code == 0, res.output
    assert "Continue? [y/N]: Successfully truncated AOF F.aof\n" in res.stdout
    assert (tmp_path / "F.aof").read_bytes() == SEL + SET
    assert (tmp_path / "F.aof.cut-50").read_bytes() == TRUNC[50:]
    assert "26 bytes" in res.stderr and "0 complete command" in res.stderr


def test_loud_warning_when_valid_commands_follow_the_damage(tmp_path):
    data = SEL + b"garbage\r\n" + SET + SET
    (tmp_path / "F.aof").write_bytes(data)
    res = invoke(["F.aof"], cwd=tmp_path)
    assert res.exit_code == 1
    assert "WARNING: 2 valid command(s) follow the damage at offset 23" in res.stderr
    assert "first at offset 32, last at offset 59" in res.stderr


def test_no_keep_cut(tmp_path):
    (tmp_path / "F.aof").write_bytes(TRUNC)
    res = invoke(["--fix", "--yes", "--no-keep-cut", "F.aof"], cwd=tmp_path)
    assert res.exit_code == 0
    assert not list(tmp_path.glob("*.cut-*"))


def test_json_report(tmp_path):
    (tmp_path / "F.aof").write_bytes(TRUNC)
    res = invoke(["--json", "F.aof"], cwd=tmp_path)
    assert res.exit_code == 1
    doc = json.loads(res.stdout)
    assert doc["ok"] is False and doc["layout"] == "resp"
    f = doc["files"][0]
    assert (f["size"], f["ok_up_to"], f["diff"], f["status"]) == (76, 50, 26, "not-valid")
    assert f["damage"]["offset"] == 50
    assert doc["lines"][-1].startswith("AOF F.aof is not valid")


def test_json_with_fix_prompts_on_stderr(tmp_path):
    (tmp_path / "F.aof").write_bytes(TRUNC)
    res = invoke(["--json", "--fix", "F.aof"], stdin=b"y\n", cwd=tmp_path)
    assert res.exit_code == 0
    assert "Continue? [y/N]: " in res.stderr
    doc = json.loads(res.stdout)
    assert doc["files"][0]["status"] == "truncated"
    assert doc["files"][0]["cut_file"].endswith("F.aof.cut-50")


def test_help():
    res = invoke(["--help"])
    assert res.exit_code == 0 and "--salvage" in res.stdout


def test_subprocess_smoke(tmp_path):
    """The real entry point: module run as a script, and the rdbkit group."""
    (tmp_path / "F.aof").write_bytes(TRUNC)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "aofcheck.cli", "--fix", "F.aof"], input=b"y\n",
                       capture_output=True, cwd=tmp_path, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    assert b"Successfully truncated AOF F.aof" in p.stdout
    assert (tmp_path / "F.aof").stat().st_size == 50
    p = subprocess.run([sys.executable, "-c", "from rdbtools.cli.main import main; main()",
                        "check-aof", "F.aof"], capture_output=True, cwd=tmp_path, env=env,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.endswith(b"AOF F.aof is valid\n")


def test_man_page_options_exist():
    """Every option the man page documents is one the command accepts."""
    import re

    text = (ROOT / "man" / "check-aof.rst").read_text()
    options = set(re.findall(r"``(--[a-z-]+)``", text))
    assert {"--fix", "--salvage", "--yes", "--json", "--no-keep-cut"} <= options
    for opt in options - {"--fix", "--truncate-to-timestamp", "--help"}:
        assert opt in command.help, opt


def test_truncate_to_timestamp_keeps_the_cut(tmp_path):
    data = b"#TS:1000\r\n" + SET + b"#TS:2000\r\n" + SET
    (tmp_path / "F.aof").write_bytes(data)
    res = invoke(["--truncate-to-timestamp", "1500", "F.aof"], cwd=tmp_path)
    assert res.exit_code == 0
    assert res.stdout.endswith("Successfully truncated AOF F.aof to timestamp 1500\n")
    cut = 10 + len(SET)
    assert (tmp_path / "F.aof").read_bytes() == data[:cut]
    assert (tmp_path / f"F.aof.cut-{cut}").read_bytes() == data[cut:]


def test_json_usage_error_still_says_why():
    res = invoke(["--json", "a", "b"])
    assert (res.exit_code, res.stdout) == (1, USAGE)
