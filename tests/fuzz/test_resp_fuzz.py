"""Fuzzing the AOF side: the RESP reader and check-aof, seeded from real AOF bytes.

Default run (fast, hypothesis): only FormatError subclasses escape the reader; the
checker's canonical-command fast path never changes a verdict, an offset or a line
count; and on mutated logs check-aof agrees with the real redis-check-aof (exit code,
stdout, bytes after --fix).  `-m slow`: the same properties under atheris when it is
installed, with many more inputs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aofcheck import check as _check
from aofcheck.check import CheckOptions, check_aof
from aofcheck.errors import AofError
from aofcheck.resp import DONE, NEED_DATA, RespParser
from rdbtools.errors import FormatError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "aof"


def _seeds() -> list[bytes]:
    seeds = [b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\nb\r\n",
             b"#TS:1000\r\n*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nincr\r\n$1\r\nc\r\n*1\r\n$4\r\nEXEC\r\n"]
    for p in sorted(FIXTURES.rglob("*.aof")):
        if p.name.endswith(".base.aof") or p.name.endswith(".incr.aof") or p.suffix == ".aof":
            seeds.append(p.read_bytes()[:3000])
    return seeds


SEEDS = _seeds()
ALPHABET = b"*$#\r\n0123456789-+ \0xMULTIEXECmultiexec\xff"


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.integers(0, 3))
        at = draw(st.integers(0, len(data)))
        if op == 0:
            del data[at:]
        elif op == 1 and at < len(data):
            data[at] = draw(st.sampled_from(ALPHABET))
        elif op == 2:
            data[at:at] = draw(st.binary(max_size=8)) or b"\0"
        elif op == 3:
            data[at:at] = bytes(draw(st.lists(st.sampled_from(ALPHABET), max_size=8)))
    return bytes(data)


def _parse_all(data: bytes, step: int) -> None:
    p = RespParser()
    for i in range(0, len(data), step):
        p.feed(data[i:i + step])
        while p.next_event() is not NEED_DATA:
            pass
    p.feed_eof()
    while p.next_event() is not DONE:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(mutated(), st.binary(max_size=300)), st.integers(1, 64))
def test_reader_raises_only_format_errors(data, step):
    try:
        _parse_all(data, step)
    except FormatError as e:
        assert isinstance(e, AofError)
        assert e.offset is not None and 0 <= e.offset <= len(data)


def _run(path: str, fast: bool, **kw):
    lines: list[str] = []
    old = _check._Checker.fast
    _check._Checker.fast = fast
    try:
        opts = CheckOptions(out=lambda t, end="\n": lines.append(t + end),
                            confirm=lambda: "n", **kw)
        rep = check_aof(path, opts)
    finally:
        _check._Checker.fast = old
    return rep.exit_code, "".join(lines), [(f.ok_up_to, f.ok_up_to_line, f.diff) for f in rep.files]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(data=mutated())
def test_fast_path_changes_nothing(tmp_path, data):
    path = tmp_path / "F.aof"
    path.write_bytes(data)
    assert _run(str(path), True) == _run(str(path), False)
    assert path.read_bytes() == data


@pytest.mark.interop
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=mutated())
def test_mutated_logs_agree_with_redis_check_aof(tmp_path, data):
    from tests.aofcheck.aofgen import normalize, run_ours, run_redis

    if b"\nfile" in data or data.startswith(b"file") or data.startswith(b"REDIS"):
        return  # 7.0.15's manifest misdetection: a documented divergence
    results = []
    for i, runner in enumerate((run_redis, run_ours)):
        d = tmp_path / f"t{i}"
        d.mkdir(exist_ok=True)
        (d / "F.aof").write_bytes(data)
        for name in os.listdir(d):
            if name != "F.aof":
                os.unlink(d / name)
        rc, out = runner(["--fix", "F.aof"], stdin=b"y\n", cwd=str(d))
        results.append((rc, normalize(out), (d / "F.aof").read_bytes()))
    assert results[0] == results[1]


@pytest.mark.slow
def test_atheris_reader_and_checker(tmp_path):
    """libFuzzer exits the process when done, so it runs in a child (see main())."""
    pytest.importorskip("atheris")
    import subprocess

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root))
    p = subprocess.run([sys.executable, __file__, "-runs=20000", f"-artifact_prefix={tmp_path}/"],
                       cwd=tmp_path, env=env, capture_output=True, timeout=3600)
    assert p.returncode == 0, p.stderr.decode(errors="replace")[-3000:]


def main(argv: list[str]) -> None:
    """atheris harness: the reader raises only FormatError, the fast path changes nothing."""
    import tempfile

    import atheris

    path = Path(tempfile.mkdtemp()) / "F.aof"

    def one(data: bytes) -> None:
        try:
            _parse_all(data, 7)
        except FormatError:
            pass
        path.write_bytes(data)
        assert _run(str(path), True) == _run(str(path), False)

    for seed in SEEDS:
        one(seed)
    atheris.Setup([sys.argv[0], *argv], lambda data: one(bytes(data)))
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv[1:])
