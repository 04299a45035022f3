"""Differential tests: rdbkit's check-rdb against the real redis-check-rdb 7.0.

Same exit status and the same standard output, line for line, on every fixture, on
real files from older Redis versions, on hand-built corrupt files and on damaged
copies (truncated at many offsets, bytes flipped with and without a fixed-up CRC, bad
CRC, bad magic, a version-11 header). The one line not compared verbatim is the
server-log line `<pid>:C <date> # Terminating server ...` (pid and time differ), whose
presence still must match. Divergences chosen on purpose are tested at the end.
"""

from __future__ import annotations

import random
import re
import struct
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rdbtools._crc import crc64
from rdbtools.check import check_rdb
from tests.rdbtools import check_craft as craft
from tests.support.realredis import need_binary

pytestmark = pytest.mark.interop

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = sorted((ROOT / "fixtures" / "rdb").glob("*.rdb")) + sorted(
    (ROOT / "fixtures" / "corrupt").glob("*.rdb"))
_LOG_LINE = re.compile(r"^\d+:C \d\d \w{3} \d{4} \d\d:\d\d:\d\d\.\d{3} # ")
#: redis-check-rdb 7.0 never returns on some module values cut at an opcode.
HANG_SECONDS = 10


def _mask(lines):
    return [("<log> " + line.split(" # ", 1)[1]) if _LOG_LINE.match(line) else line
            for line in lines]


def theirs(path: Path, timeout: float = HANG_SECONDS):
    try:
        proc = subprocess.run([need_binary("redis-check-rdb"), str(path)],
                              capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    return proc.returncode, _mask(proc.stdout.decode("utf-8", "surrogateescape")
                                  .split("\n")[:-1])


def ours(path: Path, *, strict: bool = True):
    lines: list[str] = []
    result = check_rdb(path, name=str(path), out=lines.append, strict=strict)
    text = "\n".join(lines)
    return (0 if result.ok else 1), _mask(text.split("\n") if lines else [])


def compare_many(paths, *, strict=True):
    """[(path, ours, theirs)] for every path where the two disagree (hangs excluded)."""
    need_binary("redis-check-rdb")
    with ThreadPoolExecutor(max_workers=4) as pool:
        real = list(pool.map(theirs, paths))
    diffs = []
    for path, expected in zip(paths, real):
        if expected is None:
            continue
        got = ours(path, strict=strict)
        if got != expected:
            diffs.append((path.name, got, expected))
    return diffs


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def _old_corpus(corpus_dir: Path):
    files = sorted((corpus_dir / "redis-tests-assets").glob("*.rdb"))
    files += sorted((corpus_dir / "redis-rdb-tools-dumps").glob("*.rdb"))
    files += [corpus_dir / "versions" / v / "dump.rdb"
              for v in ("redis-2.4.18", "redis-3.2.13", "redis-5.0.14")]
    return files


def test_whole_files(corpus_dir, tmp_path):
    paths = list(FIXTURES) + _old_corpus(corpus_dir)
    paths += [_write(tmp_path, f"{name}.rdb", data) for name, data in craft.CASES.items()]
    assert compare_many(paths) == []
    # Without --strict the verdicts are the same for every file 7.0 reads.
    assert compare_many(paths, strict=False) == []


def _damaged(data: bytes, rnd: random.Random, n: int):
    yield "bad-crc", data[:-1] + bytes([data[-1] ^ 0x55])
    yield "bad-magic", b"REDIX" + data[5:]
    yield "no-footer", data[:-8]
    for cut in sorted({rnd.randrange(len(data)) for _ in range(n)}):
        yield f"cut-{cut}", data[:cut]
    for i in range(n):
        pos = rnd.randrange(9, len(data) - 8)
        d = bytearray(data)
        d[pos] ^= 1 << rnd.randrange(8)
        if i % 4:  # mostly keep the CRC right, so the value checks are what fails
            d[-8:] = struct.pack("<Q", crc64(bytes(d[:-8])))
        yield f"flip-{pos}-{i}", bytes(d)


DAMAGE_BASES = ["fixtures/rdb/all-types.rdb", "fixtures/rdb/compressed-nodes.rdb",
                "fixtures/rdb/uncompressed.rdb", "fixtures/rdb/lfu.rdb"]


@pytest.mark.parametrize("base", DAMAGE_BASES, ids=[Path(b).name for b in DAMAGE_BASES])
def test_damaged_copies(tmp_path, base):
    data = (ROOT / base).read_bytes()
    rnd = random.Random(base)
    paths = [_write(tmp_path, f"{name}.rdb", d) for name, d in _damaged(data, rnd, 50)]
    assert compare_many(paths) == []


def test_damaged_old_versions(corpus_dir, tmp_path):
    paths = []
    for src in (corpus_dir / "versions" / "redis-5.0.14" / "dump.rdb",
                corpus_dir / "redis-tests-assets" / "encodings.rdb",
                corpus_dir / "redis-rdb-tools-dumps" / "redis_50_with_streams.rdb"):
        data = src.read_bytes()
        rnd = random.Random(src.name)
        paths += [_write(tmp_path, f"{src.stem}-{name}.rdb", d)
                  for name, d in _damaged(data, rnd, 25)]
    assert compare_many(paths) == []


def test_version_11_header(tmp_path):
    data = bytearray((ROOT / "fixtures" / "rdb" / "all-types.rdb").read_bytes())
    data[5:9] = b"0011"
    data[-8:] = struct.pack("<Q", crc64(bytes(data[:-8])))
    path = _write(tmp_path, "v11.rdb", bytes(data))
    assert compare_many([path]) == []  # --strict: refused exactly like 7.0
    # Divergence on purpose: by default rdbkit reads RDB 11 and finds this file sound.
    status, lines = ours(path, strict=False)
    assert status == 0 and theirs(path)[0] == 1
    assert lines[1] == ("[offset 9] RDB format version 11 is newer than redis-check-rdb 7.0 "
                        "reads: checking with rdbkit's rules")


def test_divergence_module_cut_at_an_opcode(tmp_path):
    data = craft.rdb(craft.key(7, b"k", craft.MODULE_ID + b"\x02\x05"), footer=False)
    path = _write(tmp_path, "module-cut.rdb", data)
    assert theirs(path, timeout=2) is None  # redis-check-rdb 7.0 loops forever
    status, lines = ours(path)
    assert status == 1 and f"[offset {len(data)}] Unexpected EOF reading RDB file" in lines


@pytest.mark.slow
@pytest.mark.parametrize("base", DAMAGE_BASES, ids=[Path(b).name for b in DAMAGE_BASES])
def test_every_cut_and_many_flips(tmp_path, base):
    """The long version: every truncation offset and 2000 bit flips per fixture."""
    data = (ROOT / base).read_bytes()
    rnd = random.Random(f"slow-{base}")
    paths = [_write(tmp_path, f"cut-{cut}.rdb", data[:cut]) for cut in range(len(data))]
    paths += [_write(tmp_path, f"{name}.rdb", d)
              for name, d in _damaged(data, rnd, 2000) if name.startswith("flip")]
    assert compare_many(paths) == []
