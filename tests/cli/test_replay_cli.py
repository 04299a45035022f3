"""`rdbkit replay` command line: summary, failure message with --resume-from, options."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from rdbtools.digest import digest_file
from server.cli_replay import command
from tests.support.realredis import RealRedis

ROOT = Path(__file__).resolve().parents[2]
ALL_TYPES = ROOT / "fixtures" / "rdb" / "all-types.rdb"


def invoke(*args):
    return CliRunner().invoke(command, [str(a) for a in args], prog_name="rdbkit replay")


@pytest.fixture(scope="module")
def redis7(tmp_path_factory):
    with RealRedis(tmp_path_factory.mktemp("replay-cli")) as srv:
        yield srv


@pytest.fixture
def srv(redis7):
    redis7.command("FLUSHALL")
    redis7.command("FUNCTION", "FLUSH")
    return redis7


def url(srv) -> str:
    return f"redis://127.0.0.1:{srv.port}/0"


@pytest.mark.interop
def test_summary_and_digest(srv):
    res = invoke(ALL_TYPES, "--url", url(srv), "--mode", "commands")
    assert res.exit_code == 0, res.output
    assert "written 73, skipped 0, failed 0" in res.stdout  # 71 keys + 2 functions
    assert "mode commands" in res.stdout
    assert srv.command("DEBUG", "DIGEST").decode() == digest_file(ALL_TYPES)


@pytest.mark.interop
def test_json_summary(srv):
    res = invoke(ALL_TYPES, "--url", url(srv), "--json", "--db", "3")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["ok"] and report["mode"] == "restore" and report["rdb_version"] == 10
    assert report["keys_written"] == 3 and report["keys_filtered"] == 68


@pytest.mark.interop
def test_failure_message_and_resume(srv):
    srv.command("SET", "str:int8", "in the way")
    res = invoke(ALL_TYPES, "--url", url(srv), "--on-existing", "fail", "--pipeline", "4")
    assert res.exit_code == 1
    assert "key exists on the target" in res.stderr
    assert "'str:int8'" in res.stderr
    n = int(res.stderr.split("--resume-from")[1].split()[0])
    srv.command("DEL", "str:int8")
    res = invoke(ALL_TYPES, "--url", url(srv), "--on-existing", "fail", "--resume-from", n)
    assert res.exit_code == 0, res.output
    assert srv.command("DEBUG", "DIGEST").decode() == digest_file(ALL_TYPES)


@pytest.mark.interop
def test_ttl_drop_option(srv):
    res = invoke(ALL_TYPES, "--url", url(srv), "--ttl", "drop", "--key", "^ttl:")
    assert res.exit_code == 0, res.output
    cli = srv.client()
    keys = cli.keys("ttl:*")
    assert keys and all(cli.pttl(k) == -1 for k in keys)
    cli.close()


@pytest.mark.parametrize("args, text", [
    (["--ttl", "later"], "bad TTL policy"),
    (["--mode", "fast"], "fast"),
    (["--pipeline", "0"], "0"),
])
def test_usage_errors(args, text):
    res = invoke(ALL_TYPES, "--url", "redis://127.0.0.1:1", *args)
    assert res.exit_code == 2 and text in res.output


def test_unreachable_target_is_a_clean_error():
    res = invoke(ALL_TYPES, "--url", "redis://127.0.0.1:1/0")
    assert res.exit_code == 1
    assert "cannot connect" in res.stderr and "Traceback" not in res.output


def test_bad_url_is_a_clean_error():
    res = invoke(ALL_TYPES, "--url", "http://127.0.0.1:1")
    assert res.exit_code == 1 and "redis://" in res.stderr


@pytest.mark.interop
def test_rdbkit_group_subprocess(srv):
    """One real process through the `rdbkit` group."""
    code = "import sys; from rdbtools.cli.main import main; sys.argv[0] = 'rdbkit'; main()"
    proc = subprocess.run([sys.executable, "-c", code, "replay", str(ALL_TYPES), "--url",
                           url(srv), "--no-progress"], capture_output=True, cwd=ROOT,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert b"written 73" in proc.stdout
    assert srv.command("DEBUG", "DIGEST").decode() == digest_file(ALL_TYPES)
