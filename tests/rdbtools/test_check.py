"""check_rdb: redis-check-rdb 7.0's verdicts and lines, without the binary.

Expected lines come from real Redis: the fixtures' sidecars hold the transcript
redis-check-rdb 7.0.15 printed for them, and REDIS_VERDICTS below is what the same
binary (Debian 7.0.15-1~deb12u10) printed for each hand-built case of check_craft
(exit status and the reason line). test_check_redis.py re-runs the binary itself.
"""

from __future__ import annotations

import io
import json
import struct
import time
from pathlib import Path

import pytest

from rdbtools.check import CheckResult, check_rdb
from rdbtools.errors import ChecksumError, CorruptError, TruncatedError, UnsupportedError
from tests.rdbtools import check_craft as craft

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = sorted((ROOT / "fixtures" / "rdb").glob("*.rdb")) + sorted(
    (ROOT / "fixtures" / "corrupt").glob("*.rdb"))

# name -> (exit status, the line after "--- RDB ERROR DETECTED ---" or None)
REDIS_VERDICTS = {
    'bad-length-encoding': (1, '[offset 33] Internal error in RDB reading offset 0, function at rdb.c:236 -> Unknown length encoding 2 in rdbLoadLen()'),
    'bad-lzf': (1, '[offset 38] Internal error in RDB reading offset 0, function at rdb.c:413 -> Invalid LZF compressed string'),
    'lzf-zero-length': (0, None),
    'bad-string-encoding': (1, '[offset 33] Internal error in RDB reading offset 0, function at rdb.c:529 -> Unknown RDB string encoding type 4'),
    'empty-list': (1, '[offset 33] Unexpected EOF reading RDB file'),
    'dup-intset-members': (1, '[offset 37] Internal error in RDB reading offset 0, function at rdb.c:1809 -> Duplicate set members detected'),
    'dup-set-members': (1, '[offset 37] Internal error in RDB reading offset 0, function at rdb.c:1829 -> Duplicate set members detected'),
    'nan-score': (1, '[offset 43] Internal error in RDB reading offset 0, function at rdb.c:1882 -> Zset with NAN score detected'),
    'nan-text-score': (1, '[offset 36] Internal error in RDB reading offset 0, function at rdb.c:1882 -> Zset with NAN score detected'),
    'bad-text-score': (1, '[offset 39] Unexpected EOF reading RDB file'),
    'dup-zset': (1, '[offset 53] Internal error in RDB reading offset 0, function at rdb.c:1894 -> Duplicate zset fields detected'),
    'dup-hash-small': (1, '[offset 41] Internal error in RDB reading offset 0, function at rdb.c:1951 -> Hash with dup elements'),
    'dup-hash-after-convert': (1, '[offset 106] Internal error in RDB reading offset 0, function at rdb.c:2019 -> Duplicate hash fields detected'),
    'quicklist-bad-container': (1, '[offset 34] Internal error in RDB reading offset 0, function at rdb.c:2048 -> Quicklist integrity check failed.'),
    'quicklist-empty-node': (1, '[offset 35] Unexpected EOF reading RDB file'),
    'quicklist-plain-node': (0, None),
    'quicklist-bad-listpack': (1, '[offset 45] Internal error in RDB reading offset 0, function at rdb.c:2071 -> Listpack integrity check failed.'),
    'quicklist-v1-bad-ziplist': (1, '[offset 48] Internal error in RDB reading offset 0, function at rdb.c:2081 -> Ziplist integrity check failed.'),
    'quicklist-all-empty': (1, '[offset 42] Unexpected EOF reading RDB file'),
    'bad-zipmap': (1, '[offset 38] Internal error in RDB reading offset 0, function at rdb.c:2130 -> Zipmap integrity check failed.'),
    'zipmap-dup': (1, '[offset 45] Internal error in RDB reading offset 0, function at rdb.c:2154 -> Hash zipmap with dup elements, or big length (1)'),
    'zipmap-ok': (0, None),
    'bad-list-ziplist': (1, '[offset 49] Internal error in RDB reading offset 0, function at rdb.c:2189 -> List ziplist integrity check failed.'),
    'empty-list-ziplist': (1, '[offset 44] Unexpected EOF reading RDB file'),
    'bad-intset-order': (1, '[offset 45] Internal error in RDB reading offset 0, function at rdb.c:2214 -> Intset integrity check failed.'),
    'empty-intset': (1, '[offset 41] Internal error in RDB reading offset 0, function at rdb.c:2214 -> Intset integrity check failed.'),
    'bad-zset-ziplist': (1, '[offset 56] Internal error in RDB reading offset 0, function at rdb.c:2229 -> Zset ziplist integrity check failed.'),
    'odd-hash-ziplist': (1, '[offset 53] Internal error in RDB reading offset 0, function at rdb.c:2275 -> Hash ziplist integrity check failed.'),
    'ok-hash-ziplist': (0, None),
    'bad-zset-listpack': (1, '[offset 43] Internal error in RDB reading offset 0, function at rdb.c:2255 -> Zset listpack integrity check failed.'),
    'bad-hash-listpack-dup': (1, '[offset 52] Internal error in RDB reading offset 0, function at rdb.c:2301 -> Hash listpack integrity check failed.'),
    'empty-hash-listpack': (1, '[offset 40] Unexpected EOF reading RDB file'),
    'bad-listpack-backlen': (1, '[offset 46] Internal error in RDB reading offset 0, function at rdb.c:2301 -> Hash listpack integrity check failed.'),
    'stream-ok': (0, None),
    'stream-no-len': (1, '[offset 32] Internal error in RDB reading offset 0, function at rdb.c:2327 -> Stream listpacks len loading failed.'),
    'stream-no-node-key': (1, '[offset 33] Internal error in RDB reading offset 0, function at rdb.c:2338 -> Stream master ID loading failed: invalid encoding or I/O error.'),
    'stream-short-node-key': (1, '[offset 37] Internal error in RDB reading offset 0, function at rdb.c:2343 -> Stream node key entry is not the size of a stream ID'),
    'stream-no-listpack': (1, '[offset 50] Internal error in RDB reading offset 0, function at rdb.c:2355 -> Stream listpacks loading failed.'),
    'stream-bad-listpack': (1, '[offset 62] Internal error in RDB reading offset 0, function at rdb.c:2362 -> Stream listpack integrity check failed.'),
    'stream-dup-node': (1, '[offset 127] Internal error in RDB reading offset 0, function at rdb.c:2386 -> Listpack re-added with existing key'),
    'stream-short-metadata': (1, '[offset 35] Internal error in RDB reading offset 0, function at rdb.c:2424 -> Stream object metadata loading failed.'),
    'stream-length-without-nodes': (1, '[offset 41] Internal error in RDB reading offset 0, function at rdb.c:2430 -> Stream length inconsistent with rax entries'),
    'stream-no-group-count': (1, '[offset 88] Internal error in RDB reading offset 0, function at rdb.c:2438 -> Stream cgroup count loading failed.'),
    'stream-no-group-name': (1, '[offset 89] Internal error in RDB reading offset 0, function at rdb.c:2449 -> Error reading the consumer group name from Stream'),
    'stream-short-group-id': (1, '[offset 92] Internal error in RDB reading offset 0, function at rdb.c:2458 -> Stream cgroup ID loading failed.'),
    'stream-no-group-offset': (1, '[offset 93] Internal error in RDB reading offset 0, function at rdb.c:2469 -> Stream cgroup offset loading failed.'),
    'stream-dup-group': (1, '[offset 101] Internal error in RDB reading offset 0, function at rdb.c:2480 -> Duplicated consumer group name g'),
    'stream-no-pel-size': (1, '[offset 94] Internal error in RDB reading offset 0, function at rdb.c:2495 -> Stream PEL size loading failed.'),
    'stream-short-pel-id': (1, '[offset 95] Internal error in RDB reading offset 0, function at rdb.c:2502 -> Stream PEL ID loading failed.'),
    'stream-short-nack': (1, '[offset 111] Internal error in RDB reading offset 0, function at rdb.c:2510 -> Stream PEL NACK loading failed.'),
    'stream-dup-pel': (1, '[offset 145] Internal error in RDB reading offset 0, function at rdb.c:2516 -> Duplicated global PEL entry loading stream consumer group'),
    'stream-no-consumer-count': (1, '[offset 95] Internal error in RDB reading offset 0, function at rdb.c:2527 -> Stream consumers num loading failed.'),
    'stream-no-consumer-name': (1, '[offset 96] Internal error in RDB reading offset 0, function at rdb.c:2534 -> Error reading the consumer name from Stream group.'),
    'stream-dup-consumer': (1, '[offset 109] Internal error in RDB reading offset 0, function at rdb.c:2543 -> Duplicate stream consumer detected.'),
    'stream-short-seen-time': (1, '[offset 98] Internal error in RDB reading offset 0, function at rdb.c:2549 -> Stream short read reading seen time.'),
    'stream-no-consumer-pel': (1, '[offset 106] Internal error in RDB reading offset 0, function at rdb.c:2558 -> Stream consumer PEL num loading failed.'),
    'stream-short-consumer-pel-id': (1, '[offset 132] Internal error in RDB reading offset 0, function at rdb.c:2566 -> Stream short read reading PEL streamID.'),
    'stream-consumer-pel-unknown': (1, '[offset 123] Internal error in RDB reading offset 0, function at rdb.c:2573 -> Consumer entry not found in group global PEL'),
    'stream-consumer-pel-dup': (1, '[offset 164] Internal error in RDB reading offset 0, function at rdb.c:2583 -> Stream consumer PEL entry already has a consumer assigned'),
    'stream-pel-without-consumer': (1, '[offset 132] Internal error in RDB reading offset 0, function at rdb.c:2611 -> Stream CG PEL entry without consumer'),
    'stream-with-group-ok': (0, None),
    'module-no-id': (1, '[offset 32] Internal error in RDB reading offset 0, function at rdb.c:2622 -> Short read module id'),
    'module-type-6': (1, "[offset 41] Internal error in RDB reading offset 0, function at rdb.c:2636 -> The RDB file contains module data I can't load: no matching module type 'ReJSON-RL'"),
    'module-ok': (0, None),
    'module-short-int': (1, '[offset 42] Internal error in RDB reading offset 0, function at rdb.c:1540 -> Error reading integer from module ReJSON-RL value'),
    'module-short-string': (1, '[offset 43] Internal error in RDB reading offset 0, function at rdb.c:1546 -> Error reading string from module ReJSON-RL value'),
    'module-short-float': (1, '[offset 42] Internal error in RDB reading offset 0, function at rdb.c:1553 -> Error reading float from module ReJSON-RL value'),
    'module-short-double': (1, '[offset 42] Internal error in RDB reading offset 0, function at rdb.c:1559 -> Error reading double from module ReJSON-RL value'),
    'module-aux-bad-when': (1, '[offset 39] bad when_opcode'),
    'module-aux-ok': (0, None),
    'function-truncated': (1, '[offset 29] Failed loading library, Failed loading library payload'),
    'function-rc-truncated': (1, '[offset 37] Failed loading library, Failed loading library description'),
    'function-rc-ok': (0, None),
    'invalid-type': (1, '[offset 30] Invalid object type: 8'),
    'slot-info-in-7.0': (1, '[offset 28] Invalid object type: 244'),
    'type-20-in-7.0': (1, '[offset 30] Invalid object type: 20'),
    'expire-seconds': (0, None),
    'idle-freq': (0, None),
    'key-with-nul': (1, '[offset 35] Unexpected EOF reading RDB file'),
    'aux-with-nul': (0, None),
    'version-1': (0, None),
    'version-4-no-crc': (0, None),
    'bad-version-text': (1, "[offset 9] Can't handle RDB format version 0"),
    'zero-crc': (0, None),
    'int-key-and-aux': (0, None),
}


def run(source, name="x.rdb", **kw) -> tuple[CheckResult, list[str]]:
    lines: list[str] = []
    result = check_rdb(source, name=name, out=lines.append, **kw)
    return result, lines


def reason_line(lines):
    for i, line in enumerate(lines):
        if line == "--- RDB ERROR DETECTED ---":
            return lines[i + 1]
    return None


@pytest.mark.parametrize("name", sorted(REDIS_VERDICTS))
def test_crafted_cases_match_redis(name):
    status, reason = REDIS_VERDICTS[name]
    result, lines = run(craft.CASES[name], strict=True)
    assert (0 if result.ok else 1) == status
    assert reason_line(lines) == reason
    assert lines[0] == "[offset 0] Checking RDB file x.rdb"
    if result.ok:
        assert lines[-4].endswith("\\o/ RDB looks OK! \\o/")
    else:
        if result.terminated:
            assert lines.pop().endswith("# Terminating server after rdb file reading failure.")
        assert lines[-3:] == [f"[info] {result.keys} keys read",
                              f"[info] {result.expires} expires",
                              f"[info] {result.already_expired} already expired"]


def _sidecar_transcript(path: Path):
    sidecar = json.loads(path.with_suffix(".json").read_text())
    return sidecar.get("redis_check_rdb") or sidecar.get("redis_7_0_15", {}).get(
        "redis_check_rdb")


@pytest.mark.parametrize("path", FIXTURES, ids=[f"{p.parent.name}/{p.name}" for p in FIXTURES])
def test_fixture_transcripts(path):
    recorded = _sidecar_transcript(path)
    if recorded is None or "output" not in recorded:
        pytest.skip("no recorded transcript")
    name = recorded["cmd"].split(" ", 1)[1]
    # "already expired" compares against now; the transcripts were taken at save time,
    # before any far-future expire could pass, so today's clock gives the same counts.
    result, lines = run(path, name=name, strict=True)
    expected = [line for line in recorded["output"]
                if "Terminating server" not in line]
    assert [line for line in lines if "Terminating server" not in line] == expected
    assert (0 if result.ok else 1) == recorded["rc"]


def test_terminating_line_follows_internal_errors():
    result, lines = run(craft.CASES["bad-lzf"], strict=True)
    assert result.terminated
    assert lines[-1].split(" ", 1)[0].endswith(":C")
    assert lines[-1].endswith("# Terminating server after rdb file reading failure.")
    result, lines = run(craft.CASES["invalid-type"], strict=True)
    assert not result.terminated and lines[-1] == "[info] 0 already expired"


def test_errors_are_located_and_classed():
    result, _ = run(craft.CASES["stream-dup-group"])
    err = result.error
    assert isinstance(err, CorruptError) and not isinstance(err, TruncatedError)
    assert err.key == b"k" and err.phase == "read-object-value" and err.offset == 101
    assert err.type == "unknown"  # 7.0's table stops before type 19
    data = craft.CASES["stream-ok"]
    result, lines = run(data[:40])
    assert isinstance(result.error, TruncatedError)
    assert result.error.offset == result.error.valid_up_to <= 40
    assert "[additional info] Reading key 'k'" in lines
    bad = bytearray(craft.CASES["zero-crc"])
    bad[-1] = 1
    result, _ = run(bytes(bad))
    assert isinstance(result.error, ChecksumError) and result.checksum == "mismatch"
    assert result.error.offset == len(bad)


def test_key_names_print_as_c_strings():
    _, lines = run(craft.CASES["key-with-nul"])
    assert "[additional info] Reading key 'a'" in lines
    _, lines = run(craft.CASES["aux-with-nul"])
    assert any(line.endswith("AUX FIELD x = 'v'") for line in lines)


def test_before_the_first_key_the_type_is_zero():
    result, lines = run(b"REDIS0010\xfa\x03ab", strict=True)  # AUX key cut short
    assert lines[-4:-3] == ["[additional info] Reading type 0 (string)"]
    assert reason_line(lines) == "[offset 11] Unexpected EOF reading RDB file"
    assert lines[lines.index("--- RDB ERROR DETECTED ---") + 2] == \
        "[additional info] While doing: read-aux"


def test_empty_and_short_inputs():
    for data in (b"", b"RED", b"REDIS00"):
        result, lines = run(data)
        assert reason_line(lines) == "[offset 0] Unexpected EOF reading RDB file"
        assert isinstance(result.error, TruncatedError)
    _, lines = run(b"RADIS0010\xff" + b"\0" * 8)
    assert reason_line(lines) == "[offset 9] Wrong signature trying to load DB from file"


def test_end_offset_in_a_longer_stream():
    """aofcheck hands over a file object at offset 0 and resumes at end_offset."""
    rdb = craft.CASES["stream-with-group-ok"]
    tail = b"*1\r\n$4\r\nPING\r\n"
    f = io.BytesIO(rdb + tail)
    result, _ = run(f)
    assert result.ok and result.end_offset == len(rdb)
    old = craft.CASES["version-4-no-crc"]  # no footer: ends right after the EOF opcode
    result, _ = run(io.BytesIO(old + tail))
    assert result.ok and result.end_offset == len(old) and result.checksum == "absent"


def test_aof_preamble_from_the_redis_assets(corpus_dir):
    path = corpus_dir / "redis-tests-assets" / "rdb-preamble.aof"
    with open(path, "rb") as f:
        result, _ = run(f)
    data = path.read_bytes()
    assert result.ok and data[result.end_offset:result.end_offset + 1] == b"*"


@pytest.mark.parametrize("version", ["redis-7.2.6", "redis-7.4.1", "valkey-8.0.1"])
def test_newer_versions_beyond_redis_70(corpus_dir, version):
    path = corpus_dir / "versions" / version / "dump.rdb"
    sidecar = json.loads((corpus_dir / "versions" / version / "dump.rdb.json").read_text())
    result, lines = run(path, now_ms=0)
    assert result.ok and not result.redis70_reads
    assert result.end_offset == sidecar["rdb_inventory"]["end_offset"]
    assert result.keys == sum(sidecar["dbsize"].values())
    assert lines[1].startswith("[offset 9] RDB format version ")
    strict, strict_lines = run(path, strict=True)
    tail = sidecar["redis_7_0_15"]["redis_check_rdb"]["output_tail"]
    assert not strict.ok and strict_lines[1:] == tail[1:]


def test_version_11_header_on_a_70_file():
    data = bytearray(craft.CASES["stream-with-group-ok"])
    data[5:9] = b"0011"
    data[-8:] = struct.pack("<Q", __import__("rdbtools._crc", fromlist=["crc64"]).crc64(
        bytes(data[:-8])))
    assert run(bytes(data))[0].ok
    result, lines = run(bytes(data), strict=True)
    assert reason_line(lines) == "[offset 9] Can't handle RDB format version 11"


def test_types_of_newer_versions():
    lp = craft.listpack([b"a", b"b"])
    for version, ok in ((10, False), (11, True)):
        data = craft.rdb(craft.key(20, b"s", craft.string(lp)), version=version)
        assert run(data)[0].ok is ok
    dup = craft.rdb(craft.key(20, b"s", craft.string(craft.listpack([b"a", b"a"]))), version=11)
    result, _ = run(dup)
    assert not result.ok and "Set listpack" in result.error.reason
    hfe = craft.listpack([b"f", b"v", 0, b"g", b"w", 100])
    data = craft.rdb(craft.key(25, b"h", b"\0" * 8 + craft.string(hfe)), version=12)
    assert run(data)[0].ok
    data = craft.rdb(craft.key(26, b"x", b""), version=13)
    result, _ = run(data)
    assert isinstance(result.error, UnsupportedError)


def test_hostile_lengths_do_not_allocate():
    started = time.monotonic()
    huge = craft.rdb(craft.key(0, b"k", b"\x81" + struct.pack(">Q", 1 << 62)), footer=False)
    result, lines = run(huge)
    assert reason_line(lines) == f"[offset {len(huge)}] Unexpected EOF reading RDB file"
    bomb = craft.rdb(craft.key(0, b"k", b"\xc3\x03\x81" + struct.pack(">Q", 1 << 40) + b"abc"))
    result, _ = run(bomb)
    assert not result.ok
    many = craft.rdb(craft.key(1, b"k", b"\x80\xff\xff\xff\xff"), footer=False)
    result, _ = run(many)
    assert isinstance(result.error, TruncatedError)
    assert time.monotonic() - started < 5


def test_module_value_cut_at_an_opcode_ends():
    """redis-check-rdb 7.0 loops forever here; rdbkit reports the end of input."""
    data = craft.rdb(craft.key(7, b"k", craft.MODULE_ID + b"\x02\x05"), footer=False)
    result, lines = run(data)
    assert reason_line(lines) == f"[offset {len(data)}] Unexpected EOF reading RDB file"
    assert "hangs" in result.detail


def test_sources_path_bytes_file(tmp_path):
    data = craft.CASES["stream-with-group-ok"]
    p = tmp_path / "a.rdb"
    p.write_bytes(data)
    assert run(p)[0].ok and run(str(p))[0].ok and run(data)[0].ok
    with open(p, "rb") as f:
        assert run(f)[0].ok
    result, lines = run(tmp_path / "missing.rdb", name="missing.rdb")
    assert result.open_failed and lines == ["[offset 0] Checking RDB file missing.rdb"]


def test_chunk_boundaries_do_not_matter(monkeypatch):
    from rdbtools import fileio

    data = (ROOT / "fixtures" / "rdb" / "all-types.rdb").read_bytes()
    whole, whole_lines = run(data)

    class Trickle(io.RawIOBase):
        def __init__(self, payload):
            self.buf = io.BytesIO(payload)

        def readable(self):
            return True

        def read(self, n=-1):
            return self.buf.read(min(n, 7) if n and n > 0 else 7)

    monkeypatch.setattr(fileio, "CHUNK_SIZE", 5)
    trickled, trickled_lines = run(Trickle(data))
    assert trickled_lines == whole_lines and trickled.ok
    cut = data[: len(data) // 2]
    a, la = run(cut)
    b, lb = run(Trickle(cut))
    assert la == lb and not a.ok


def test_json_report():
    result, _ = run(craft.CASES["stream-dup-group"], name="s.rdb")
    doc = json.loads(json.dumps(result.to_dict()))
    assert doc["ok"] is False and doc["error"]["offset"] == 101
    assert doc["error"]["key"] == "k" and doc["error"]["doing"] == "read-object-value"
    ok, _ = run(craft.CASES["module-aux-ok"])
    doc = ok.to_dict()
    assert doc["module_aux"] == ["ReJSON-RL"] and doc["aux"]["redis-ver"] == "7.0.15"
