"""Hostile AOFs: huge declared lengths, nested look-alike records, long lines."""

from __future__ import annotations

import time

from aofcheck.check import CheckOptions, check_aof

PING = b"*1\r\n$4\r\nPING\r\n"


def _run(path, **kw):
    lines = []
    opts = CheckOptions(out=lambda t, end="\n": lines.append(t), confirm=lambda: "y", **kw)
    t = time.monotonic()
    rep = check_aof(str(path), opts)
    return rep, lines, time.monotonic() - t


def test_nested_lookalike_records_do_not_go_quadratic(tmp_path):
    # after the damage, every payload line is a `*20000` that parses for a long time
    data = PING + b"garbage\r\n" + b"$6\r\n*20000\r\n" * 20000 + PING
    path = tmp_path / "F.aof"
    path.write_bytes(data)
    rep, lines, took = _run(path)
    assert rep.exit_code == 1 and took < 20
    rep, lines, took = _run(path, salvage=True)
    assert rep.exit_code == 0 and took < 20
    assert path.read_bytes().startswith(PING)


def test_huge_declared_lengths_allocate_nothing(tmp_path):
    path = tmp_path / "F.aof"
    path.write_bytes(PING + b"*1\r\n$9223372036854775800\r\nab\r\n")
    rep, lines, _ = _run(path)
    assert rep.exit_code == 1
    assert lines[1].endswith("Expected to read 9223372036854775802 bytes, got 4 bytes")
    assert rep.files[0].ok_up_to == len(PING)


def test_long_lines_are_bounded(tmp_path):
    path = tmp_path / "F.aof"
    path.write_bytes(PING + b"*" + b"1" * 5_000_000)
    rep, lines, took = _run(path)
    assert rep.exit_code == 1 and took < 20
    assert rep.files[0].ok_up_to == len(PING)
