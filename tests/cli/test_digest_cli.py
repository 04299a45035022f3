"""`rdbkit digest`: one digest, several files, per-key lines, expiry options."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from rdbtools.cli.digest import command
from tests.rdbtools import check_craft as craft

ROOT = Path(__file__).resolve().parents[2]
EXPIRED = ROOT / "fixtures" / "rdb" / "expired.rdb"
SIDECAR = json.loads(EXPIRED.with_suffix(".json").read_text())
EMPTY = ROOT / "fixtures" / "rdb" / "empty.rdb"


def invoke(*args):
    return CliRunner().invoke(command, [str(a) for a in args])


def test_one_file_prints_the_digest_after_load():
    res = invoke(EXPIRED)
    assert res.exit_code == 0
    assert res.stdout == SIDECAR["debug_digest_after_load"] + "\n"


def test_keep_expired_and_now():
    assert invoke("--keep-expired", EXPIRED).stdout.strip() == SIDECAR["debug_digest"]
    saved = SIDECAR["saved_at_ms"]
    # at a time before anything expired, every key is loaded
    assert invoke("--now-ms", saved - 10_000, EXPIRED).stdout.strip() == SIDECAR["debug_digest"]


def test_several_files():
    res = invoke(EXPIRED, EMPTY)
    assert res.stdout.splitlines() == [
        f"{SIDECAR['debug_digest_after_load']}  {EXPIRED}", f"{'0' * 40}  {EMPTY}"]


def test_per_key_lines(tmp_path):
    res = invoke("--per-key", EXPIRED)
    lines = res.stdout.splitlines()
    truth = {(k["db"], k["key"]): k["digest_value"] for k in SIDECAR["truth"]["keys"]}
    live = {k for k in truth if not k[1].startswith("dead:")}
    assert len(lines) == len(live)
    for line in lines:
        db, key, value = line.split(" ")
        assert truth[(int(db), json.loads(key))] == value
    path = tmp_path / "bin.rdb"
    path.write_bytes(craft.rdb(craft.key(0, b'a b"\n\xff', craft.string(b"v"))))
    assert invoke("--per-key", path).stdout.startswith('0 "a b\\"\\n\\xff" ')


def test_bad_file_is_a_clean_error(tmp_path):
    path = tmp_path / "bad.rdb"
    path.write_bytes(b"REDIS0010\xfe")
    res = invoke(path)
    assert res.exit_code == 1 and "error:" in res.stderr and "Traceback" not in res.stderr


def test_module_smoke():
    proc = subprocess.run([sys.executable, "-m", "rdbtools.cli.digest", str(EXPIRED)],
                          capture_output=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0
    assert proc.stdout.decode().strip() == SIDECAR["debug_digest_after_load"]
