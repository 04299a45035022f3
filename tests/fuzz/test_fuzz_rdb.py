"""Bounded runs of the RDB fuzz target: ~20 s in the default suite, long under slow."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fuzz.fuzz_rdb import ROOT, exotic_seeds, one_input
from rdbtools.errors import FormatError

try:
    import atheris  # noqa: F401
    HAVE_ATHERIS = True
except ImportError:
    HAVE_ATHERIS = False


def _seeds() -> list[bytes]:
    seeds = [p.read_bytes() for p in sorted((ROOT / "fixtures" / "rdb").glob("*.rdb"))]
    if not seeds:
        pytest.skip("fixtures/rdb is empty")
    return seeds + exotic_seeds()


def _run_atheris(tmp_path: Path, seconds: int, strict: bool = False) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, s in enumerate(_seeds()):
        (corpus / f"seed{i}").write_bytes(s)
    art = tmp_path / "artifacts"
    art.mkdir()
    cmd = [sys.executable, "-m", "tests.fuzz.fuzz_rdb", f"-max_total_time={seconds}",
           "-timeout=10", "-rss_limit_mb=2048", "-max_len=65536",
           f"-artifact_prefix={art}/", "-print_final_stats=1", str(corpus)]
    env = dict(os.environ, RDB_FUZZ_STRICT="1" if strict else "0")
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                          timeout=seconds + 120, env=env)
    crashes = sorted(art.iterdir())
    assert proc.returncode == 0 and not crashes, (
        f"fuzzer failed (rc={proc.returncode}); artifacts: {crashes}\n{proc.stderr[-4000:]}")
    assert "Done" in proc.stderr or "stat::number_of_executed_units" in proc.stderr, proc.stderr[-2000:]


def _mutation_loop(seconds: float, seed: int) -> int:
    """Plain random mutations when atheris is absent: same property, no coverage."""
    rng = random.Random(seed)
    seeds = _seeds()
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 8)):
            op = rng.random()
            i = rng.randrange(len(data))
            if op < 0.6:
                data[i] = rng.randrange(256)
            elif op < 0.8:
                del data[i:i + rng.randint(1, 16)]
            else:
                data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 9)))
        try:
            one_input(bytes(data))
        except FormatError:
            pass
        n += 1
    return n


def test_fuzz_target_accepts_seeds_and_garbage():
    for s in _seeds():
        one_input(s)
    for junk in (b"", b"REDIS", b"REDIS0010", b"REDIS0010\xff", b"\x00" * 100, b"VALKEY080\x16"):
        one_input(junk)


def test_fuzz_bounded_ci(tmp_path):
    if HAVE_ATHERIS:
        _run_atheris(tmp_path, 20)
    else:
        assert _mutation_loop(20, 1) > 100


@pytest.mark.slow
def test_fuzz_long(tmp_path):
    seconds = int(os.environ.get("RDB_FUZZ_SECONDS", "600"))
    if HAVE_ATHERIS:
        _run_atheris(tmp_path, seconds, strict=True)
    else:
        assert _mutation_loop(seconds, 2) > 0
