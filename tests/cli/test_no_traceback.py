"""Bad input never shows a user a traceback: every command exits non-zero with a message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ALL_TYPES = ROOT / "fixtures" / "rdb" / "all-types.rdb"


def _inputs(tmp: Path) -> dict[str, Path]:
    data = ALL_TYPES.read_bytes()
    made = {
        "missing": tmp / "missing.rdb",
        "folder": tmp / "folder",
        "empty": tmp / "empty.rdb",
        "garbage": tmp / "garbage.bin",
        "truncated": tmp / "truncated.rdb",
        "flipped": tmp / "flipped.rdb",
        "bad-aof": tmp / "bad.aof",
    }
    made["folder"].mkdir()
    made["empty"].write_bytes(b"")
    made["garbage"].write_bytes(b"\x00\xffnot a redis file\r\n" * 10)
    made["truncated"].write_bytes(data[: len(data) // 2])
    flipped = bytearray(data)
    flipped[len(flipped) // 3] ^= 0xFF
    made["flipped"].write_bytes(bytes(flipped))
    made["bad-aof"].write_bytes(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*3\r\n$3\r\nSET\r\nxx")
    return made


COMMANDS = {
    "check-rdb": ["check-rdb", "{}"],
    "digest": ["digest", "{}"],
    "dump": ["dump", "--format", "jsonl", "{}", "-o", "{out}.jsonl"],
    "convert": ["convert", "{}", "{out}.rdb"],
    "check-aof": ["check-aof", "{}"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_bad_inputs_give_a_message_not_a_traceback(command, tmp_path):
    for name, path in _inputs(tmp_path).items():
        if command == "check-aof" and name in ("truncated", "flipped", "empty", "garbage"):
            continue  # valid verdicts of its own (an empty AOF is valid, an RDB is a preamble)
        argv = [a.replace("{}", str(path)).replace("{out}", str(tmp_path / f"out-{name}"))
                for a in COMMANDS[command]]
        done = subprocess.run(
            [sys.executable, "-c", "from rdbtools.cli.main import main; main()", *argv],
            cwd=ROOT, capture_output=True, timeout=120)
        err = done.stderr.decode(errors="replace")
        assert "Traceback" not in err, (command, name, err)
        assert done.returncode != 0, (command, name, done.stdout[-500:], err)
        assert (err + done.stdout.decode(errors="replace")).strip(), (command, name)
        # a failed run leaves no output behind (no half-written file, no temp file)
        assert not list(tmp_path.glob(f"out-{name}*")), (command, name)
        assert not list(tmp_path.glob(f".out-{name}*")), (command, name)


@pytest.mark.parametrize("command", ["check-rdb", "digest", "dump", "convert"])
@pytest.mark.parametrize("name", ["truncated", "flipped"])
def test_damage_is_reported_with_the_file_name(command, name, tmp_path):
    path = _inputs(tmp_path)[name]
    argv = [a.replace("{}", str(path)).replace("{out}", str(tmp_path / "out"))
            for a in COMMANDS[command]]
    done = subprocess.run(
        [sys.executable, "-c", "from rdbtools.cli.main import main; main()", *argv],
        cwd=ROOT, capture_output=True, timeout=120)
    err = done.stderr.decode(errors="replace") + done.stdout.decode(errors="replace")
    assert done.returncode != 0
    assert str(path) in err, (command, name, err)
    assert "offset" in err, (command, name, err)
