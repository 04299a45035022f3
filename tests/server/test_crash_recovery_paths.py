"""Boot-time fast paths decide nothing: the outcome equals the exact reader's.

`server.persist.load` replays plain commands through its own scanner and hands
everything unusual to aofcheck's exact `RespParser`; `snapshot.load_rdb` takes short
string keys as raw tuples. These tests replay damaged and unusual files (cut anywhere,
a byte changed, annotations, MULTI blocks, unknown commands, non-canonical headers)
both ways and require the same dataset, the same count, the same error (class,
offset, lines) and the same file left on disk.
"""

from __future__ import annotations

import random

import pytest

from rdbtools.constants import RdbType
from rdbtools.errors import CorruptError
from rdbtools.records import KeyRecord
from rdbtools.writer import RdbWriter
from server.cmd_server import dataset_digest
from server.engine import Engine
from server.persist import load
from server.persist.snapshot import load_rdb


def _cmd(*args) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def _history(rng: random.Random) -> bytes:
    parts = [_cmd("SELECT", 0)]
    for i in range(rng.randrange(5, 60)):
        r = rng.random()
        if r < 0.5:
            value = rng.randbytes(rng.randrange(0, 40))
            parts.append(_cmd("SET", f"k{rng.randrange(20)}", value))
        elif r < 0.6:
            parts.append(_cmd("RPUSH", "l", *[rng.randbytes(3) for _ in range(rng.randrange(1, 5))]))
        elif r < 0.68:
            parts.append(_cmd("MULTI") + _cmd("INCR", "n") + _cmd("SET", "t", i) + _cmd("EXEC"))
        elif r < 0.74:
            parts.append(b"#TS:%d\r\n" % (1700000000 + i))
        elif r < 0.78:
            parts.append(_cmd("SELECT", rng.randrange(3)))
        elif r < 0.8:
            parts.append(b"*3\r\n$3\r\nSET\r\n$02\r\nab\r\n$1\r\nx\r\n")  # leading zero
        elif r < 0.82:
            parts.append(b"*3\r\n$3\r\nset\r\n$1\r\nq\r\n$1\r\nvXY")  # bulk CRLF unchecked
        else:
            parts.append(_cmd("HSET", "h", f"f{i}", i))
    return b"".join(parts)


def _damage(rng: random.Random, data: bytes) -> bytes:
    r = rng.random()
    if r < 0.35:
        return data[:rng.randrange(len(data) + 1)]
    if r < 0.55:
        i = rng.randrange(len(data))
        return data[:i] + bytes([rng.randrange(256)]) + data[i + 1:]
    if r < 0.65:
        return data + _cmd("NOSUCHCMD", "x") + _cmd("SET", "a", "b")
    if r < 0.72:
        return data + b"*0\r\n"
    if r < 0.78:
        return data + _cmd("MULTI") + _cmd("SET", "m", 1)  # open MULTI at EOF
    return data


def _outcome(tmp_path, name: str, data: bytes, *, fast: bool, load_truncated: bool,
             monkeypatch):
    (tmp_path / name).mkdir()
    path = tmp_path / name / "appendonly.aof"
    path.write_bytes(data)
    if not fast:
        monkeypatch.setattr(load, "_scan_commands", lambda buf, pos, out, known: (pos, load._SLOW))
    engine = Engine()
    try:
        res = load.replay_file(engine, str(path), load_truncated=load_truncated)
        got = ("ok", res.commands, res.truncated_at)
    except load.AofLoadError as e:
        got = ("err", type(e).__name__, e.offset, tuple(getattr(e, "lines", ()) or ()))
    finally:
        monkeypatch.undo()
    return got, dataset_digest(engine), path.read_bytes()


@pytest.mark.parametrize("seed", range(120))
def test_fast_aof_replay_equals_the_exact_reader(tmp_path, monkeypatch, seed):
    rng = random.Random(seed)
    data = _damage(rng, _history(rng))
    lt = rng.random() < 0.7
    fast = _outcome(tmp_path, "fast", data, fast=True, load_truncated=lt,
                    monkeypatch=monkeypatch)
    slow = _outcome(tmp_path, "slow", data, fast=False, load_truncated=lt,
                    monkeypatch=monkeypatch)
    assert fast == slow


def test_fast_path_handles_commands_spanning_many_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(load, "CHUNK", 64)
    big = bytes(range(256)) * 40
    data = _cmd("SET", "a", big) + _cmd("SET", "b", "1") + _cmd("RPUSH", "l", big, big)
    path = tmp_path / "big.aof"
    path.write_bytes(data)
    engine = Engine()
    res = load.replay_file(engine, str(path))
    assert res.commands == 3
    assert engine.dbs[0].data[b"a"] == big


def test_fast_path_is_used(tmp_path, monkeypatch):
    """The equivalence above means nothing if the fast path never ran."""
    calls = []
    real = load._scan_commands

    def spy(buf, pos, out, known):
        r = real(buf, pos, out, known)
        calls.append(len(out))
        return r

    monkeypatch.setattr(load, "_scan_commands", spy)
    path = tmp_path / "plain.aof"
    path.write_bytes(b"".join(_cmd("SET", f"k{i}", i) for i in range(100)))
    load.replay_file(Engine(), str(path))
    assert sum(calls) == 100


def test_raw_string_path_locates_duplicates_and_bad_dbs():
    w = RdbWriter(10)
    a = KeyRecord(0, b"a", RdbType.STRING, b"1")
    dup = KeyRecord(0, b"dup", RdbType.STRING, b"v", 4102444800000)
    data = w.header() + w.select_db(0) + w.key(a)
    first = len(data)
    data += w.key(dup)
    second = len(data)
    data += w.key(dup) + w.end()
    with pytest.raises(CorruptError) as ei:
        load_rdb(Engine(), data, path="x.rdb")
    assert ei.value.offset == second and ei.value.key == b"dup" and first < second

    w = RdbWriter(10)
    data = w.header() + w.select_db(0) + w.key(a) + w.select_db(40)
    at = len(data)
    data += w.key(KeyRecord(40, b"far", RdbType.STRING, b"v")) + w.end()
    with pytest.raises(CorruptError, match="DB 40") as ei:
        load_rdb(Engine(), data, path="x.rdb")
    assert ei.value.offset == at and ei.value.key == b"far"


def test_raw_string_path_applies_expiry_rules():
    w = RdbWriter(10)
    recs = [KeyRecord(0, b"live", RdbType.STRING, b"1", 4102444800000),
            KeyRecord(0, b"dead", RdbType.STRING, b"2", 1000),
            KeyRecord(0, b"plain", RdbType.STRING, b"3")]
    data = w.header() + w.select_db(0) + b"".join(w.key(r) for r in recs) + w.end()
    e = Engine()
    st = load_rdb(e, data)
    assert set(e.dbs[0].data) == {b"live", b"plain"} and st.keys_expired == 1
    assert e.dbs[0].expires == {b"live": 4102444800000}
    e = Engine()
    st = load_rdb(e, data, aof_preamble=True)
    assert set(e.dbs[0].data) == {b"live", b"dead", b"plain"} and st.keys_loaded == 3
