"""--salvage: damaged records go, every other command stays, and real Redis 7.0 loads it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from aofcheck.resp import Command, iter_events
from tests.aofcheck.aofgen import run_ours, run_redis
from tests.support.realredis import RealRedis

pytestmark = pytest.mark.interop


def _digest_of(aof: bytes, workdir: Path) -> tuple[bytes, int]:
    """Boot real Redis from `aof` as an old-style appendonly.aof; (DEBUG DIGEST, DBSIZE)."""
    workdir.mkdir(parents=True)
    (workdir / "appendonly.aof").write_bytes(aof)
    with RealRedis(workdir, extra=["--appendonly", "yes", "--aof-load-truncated", "no"]) as srv:
        return srv.command("DEBUG", "DIGEST"), srv.command("DBSIZE")


def _records(data: bytes, start: int):
    return [ev for ev in iter_events(data[start:], base_offset=start)]


def _without(data: bytes, start: int, drop: set[int]) -> bytes:
    """The file with the records starting at the offsets in `drop` left out."""
    out = [data[:start]]
    for ev in _records(data, start):
        if ev.offset not in drop:
            out.append(data[ev.offset:ev.end])
    return b"".join(out)


def _damage(data: bytes, ev) -> bytes:
    """Overwrite the first `$` of the record: not a record any more, same length."""
    at = data.index(b"$", ev.offset)
    return data[:at] + b"?" + data[at + 1:]


def _salvage(tmp_path: Path, data: bytes, name: str = "F.aof") -> tuple[bytes, dict]:
    work = tmp_path / "salvage"
    work.mkdir()
    (work / name).write_bytes(data)
    (work / name).chmod(0o640)
    rc, out = run_ours(["--salvage", "--yes", name], cwd=str(work))
    assert rc == 0, out
    assert "Successfully salvaged AOF" in out
    reports = list(work.glob(f"{name}.salvage-*.json"))
    origs = list(work.glob(f"{name}.orig-*"))
    assert len(reports) == 1 and len(origs) == 1
    assert origs[0].read_bytes() == data          # the original is kept untouched
    rrc, rout = run_redis([name], cwd=str(work))  # and redis-check-aof accepts the result
    assert rrc == 0, rout
    assert (work / name).stat().st_mode & 0o777 == 0o640  # the server can still open it
    return (work / name).read_bytes(), json.loads(reports[0].read_text())


def _pick(cmds, *, in_multi: bool, index: int = 1):
    chosen = [c for c in cmds if c.in_multi == in_multi and c.name not in (b"multi", b"exec")]
    return chosen[len(chosen) // 2 + index]


@pytest.mark.parametrize("layout", ["plain", "preamble"])
def test_salvage_keeps_every_undamaged_command(corpus, tmp_path, layout):
    if layout == "plain":
        data, start = corpus.resp_log, 0
    else:
        data, start = corpus.base_rdb + corpus.incr, len(corpus.base_rdb)
    cmds = [e for e in _records(data, start) if isinstance(e, Command)]
    victim = _pick(cmds, in_multi=False)
    damaged = _damage(data, victim)
    salvaged, report = _salvage(tmp_path, damaged)
    assert report["removed"][0]["offset"] == victim.offset
    expected = _without(data, start, {victim.offset})
    assert salvaged == expected
    got = _digest_of(salvaged, tmp_path / "load-salvaged")
    want = _digest_of(expected, tmp_path / "load-expected")
    assert got == want
    # and redis-check-aof --fix would have lost more: everything after the damage
    fixed_dir = tmp_path / "fix"
    fixed_dir.mkdir()
    (fixed_dir / "F.aof").write_bytes(damaged)
    assert run_redis(["--fix", "F.aof"], cwd=str(fixed_dir))[0] == 0
    assert len((fixed_dir / "F.aof").read_bytes()) <= victim.offset


def test_salvage_drops_a_damaged_transaction_whole(corpus, tmp_path):
    data = corpus.resp_log
    evs = _records(data, 0)
    cmds = [e for e in evs if isinstance(e, Command)]
    victim = next(c for c in cmds if c.in_multi and c.name not in (b"multi", b"exec"))
    i = cmds.index(victim)
    begin = max(j for j in range(i + 1) if cmds[j].name == b"multi")
    end = min(j for j in range(i, len(cmds)) if cmds[j].name == b"exec")
    txn = {c.offset for c in cmds[begin:end + 1]}
    inside = {e.offset for e in evs if cmds[begin].offset <= e.offset <= cmds[end].offset}
    salvaged, report = _salvage(tmp_path, _damage(data, victim))
    assert salvaged == _without(data, 0, txn | inside)
    assert any("transaction" in r["reason"] for r in report["removed"])
    _digest_of(salvaged, tmp_path / "load")  # loads


def test_salvage_garbage_zero_padding_and_unclosed_multi(corpus, tmp_path):
    data = corpus.resp_log
    cmds = [e for e in _records(data, 0) if isinstance(e, Command)]
    mid = _pick(cmds, in_multi=False, index=0)
    multi = next(c for c in cmds if c.name == b"multi")
    damaged = data[:mid.offset] + b"garbage\r\n" + data[mid.offset:] + b"\0" * 100
    damaged += data[multi.offset:multi.end] + data[mid.offset:mid.end]  # MULTI never closed
    salvaged, report = _salvage(tmp_path, damaged)
    assert salvaged == data
    reasons = {r["reason"] for r in report["removed"]}
    assert "MULTI without EXEC" in reasons
    assert report["removed_bytes"] == len(damaged) - len(data)


def test_salvage_multi_part_folder(corpus, tmp_path):
    folder = tmp_path / "x"
    shutil.copytree(corpus.folder, folder)
    incr = folder / "appendonlydir" / "appendonly.aof.2.incr.aof"
    data = incr.read_bytes()
    cmds = [e for e in _records(data, 0) if isinstance(e, Command)]
    victim = _pick(cmds, in_multi=False)
    incr.write_bytes(_damage(data, victim))
    rc, out = run_ours(["--salvage", "--yes", str(folder)])
    assert rc == 0, out
    assert incr.read_bytes() == _without(data, 0, {victim.offset})
    assert run_redis([str(folder / "appendonlydir" / "appendonly.aof.manifest")])[0] == 0


def test_salvage_refuses_without_confirmation(corpus, tmp_path):
    data = corpus.resp_log
    (tmp_path / "F.aof").write_bytes(data[:100] + b"garbage\r\n" + data[100:])
    rc, out = run_ours(["--salvage", "F.aof"], stdin=b"n\n", cwd=str(tmp_path))
    assert rc == 1 and out.endswith("Continue? [y/N]: Aborting...\n")
    assert (tmp_path / "F.aof").read_bytes() == data[:100] + b"garbage\r\n" + data[100:]


def test_salvage_non_last_incr_keeps_later_files(corpus, tmp_path):
    """--fix must refuse a damaged non-last file; --salvage can repair it in place."""
    folder = tmp_path / "x"
    shutil.copytree(corpus.folder, folder)
    d = folder / "appendonlydir"
    incr = d / "appendonly.aof.2.incr.aof"
    data = incr.read_bytes()
    victim = _pick([e for e in _records(data, 0) if isinstance(e, Command)], in_multi=False)
    incr.write_bytes(_damage(data, victim))
    last = b"*3\r\n$3\r\nset\r\n$4\r\nlate\r\n$1\r\n1\r\n"
    (d / "appendonly.aof.3.incr.aof").write_bytes(last)
    with open(d / "appendonly.aof.manifest", "ab") as f:
        f.write(b"file appendonly.aof.3.incr.aof seq 3 type i\n")
    man = str(d / "appendonly.aof.manifest")
    assert run_ours(["--fix", "--yes", man])[0] == 1
    rc, out = run_ours(["--salvage", "--yes", man])
    assert rc == 0, out
    assert incr.read_bytes() == _without(data, 0, {victim.offset})
    assert (d / "appendonly.aof.3.incr.aof").read_bytes() == last
    assert run_redis([man])[0] == 0


def test_salvage_then_go_on_with_the_next_file(corpus, tmp_path):
    folder = tmp_path / "x"
    shutil.copytree(corpus.folder, folder)
    d = folder / "appendonlydir"
    bad = b"*2\r\n$3\r\nDEL\r\n$1\r\nq\r\n" + b"*3\r\n$3\r\nset\r\n$1\r\nk\r\n$1\r\nv\r\n"
    (d / "appendonly.aof.2.incr.aof").write_bytes(b"*2\r\n$3\r\nDEL\r\n?1\r\nq\r\n" + bad)
    (d / "appendonly.aof.3.incr.aof").write_bytes(bad)
    with open(d / "appendonly.aof.manifest", "ab") as f:
        f.write(b"file appendonly.aof.3.incr.aof seq 3 type i\n")
    rc, out = run_ours(["--salvage", "--yes", str(folder)])
    assert rc == 0, out
    assert out.count("Successfully salvaged AOF") == 1
    assert out.count("0x") == 1  # the error line of file 2 is not repeated for file 3
    assert "INCR AOF appendonly.aof.3.incr.aof is valid" in out
    assert (d / "appendonly.aof.2.incr.aof").read_bytes() == bad
    assert (d / "appendonly.aof.3.incr.aof").read_bytes() == bad
    assert run_redis([str(d / "appendonly.aof.manifest")])[0] == 0
