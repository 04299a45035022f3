"""check-aof against the real redis-check-aof 7.0: same exit code, same stdout (modulo
log prefixes and stale C stack bytes), and the same bytes on disk afterwards.

Inputs: the §9.3 table of hand-made cases, and AOFs written by a real Redis 7.0 server
(plain RESP, RDB preamble, multi-part), damaged at many offsets.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from aofcheck.resp import Annotation, Command, iter_events
from tests.aofcheck.aofgen import (EXEC, MULTI, SEL, SET, normalize, run_ours,
                                   run_redis, snapshot)

pytestmark = pytest.mark.interop

TABLE = {
    "valid": SEL + SET,
    "empty": b"",
    "trunc-bulk": SEL + SET + b"*3\r\n$3\r\nset\r\n$1\r\nx\r\n$5\r\nab",
    "star-x": SEL + b"*x\r\n$3\r\nset\r\n" + SET,
    "lone-cr": SEL + b"*3\r$3\r\n" + SET,
    "hash-prefix": SEL + b"*3\r\n#3\r\n" + SET,
    "bad-crlf-after-bulk": SEL + b"*3\r\n$3\r\nsetXY$1\r\na\r\n$1\r\nb\r\n",
    "high-bytes": SEL + b"*3\r\n$3\r\nset\x80\xff$1\r\n",
    "negative-len": SEL + b"*3\r\n$-1\r\n",
    "garbage-middle": SEL + b"garbage\r\n" + SET,
    "hello": b"hello world\r\n",
    "lf-only": b"*3\n$3\nset\n$1\na\n$1\nb\n",
    "stray-crlf": SET + b"\r\n",
    "lone-star": SET + b"*",
    "argc-minus-1": b"*-1\r\n" + SET,
    "argc-0": b"*0\r\n" + SET,
    "multi-open": SEL + SET + MULTI + SET + SET,
    "multi-ok": SEL + MULTI + SET + EXEC,
    "multi-nested": SEL + MULTI + SET + MULTI + SET + EXEC,
    "exec-stray": SEL + SET + EXEC + SET,
    "multi-then-trunc": SEL + SET + MULTI + SET + b"*3\r\n$3\r\nset\r\n$1\r\nx",
    "ts": b"#TS:1000\r\n" + SEL + SET + b"#TS:2000\r\n" + SET + b"#TS:3000\r\n" + SET,
    "ts-bad": b"#TS:12a\r\n" + SET,
    "ts-garbage-after": b"#TS:1000\r\n" + SET + b"#TS:3000\r\n" + SET + b"*3\r\n$3\r\nse",
    "comment": b"#hello\r\n" + SET,
    "ts-no-newline": SET + b"#TS:1",
    "redis00": b"REDIS00",
    "eof-at-dollar": SEL + b"*3\r\n$3\r\nset\r\n",
    "eof-at-dollar-in-multi": MULTI + b"*3\r\n$3\r\nset\r\n",
    "nul-prefix": SEL + b"*3\r\n\0$3\r\n",
    "strtol-lenient": b"* 3\r\n$ 3\r\nset\r\n$+1\r\na\r\n$1\r\nb\r\n",
    "empty-count": b"*\r\n" + SET,
    "multi-nul": b"*1\r\n$7\r\nmulti\0x\r\n" + SET,
    "exec-nul": MULTI + SET + b"*1\r\n$5\r\nexec\0\r\n" + SET,
    "exec-nul-stray": SET + b"*1\r\n$5\r\nexec\0\r\n" + SET,
    "multi-annotation-eof": MULTI + SET + b"#TS:5\r\n",
    "zero-padding": SEL + SET + b"\0" * 4096,
    "long-annotation": b"#" + b"x" * 1500 + b"\r\n" + SET,
    "huge-len": SEL + b"*3\r\n$3\r\nset\r\n$99999999\r\nab\r\n",
}


def _compare(tmp_path: Path, name: str, data: bytes | None, args: list[str], *,
             stdin: bytes = b"y\n", setup=None, target: str = "F.aof") -> None:
    results = []
    for tool, runner in (("redis", run_redis), ("ours", run_ours)):
        d = tmp_path / f"{name}-{tool}"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        if setup is not None:
            setup(d)
        else:
            (d / target).write_bytes(data)
        rc, out = runner([*args, target], stdin=stdin, cwd=str(d))
        results.append((rc, normalize(out), snapshot(d)))
    (rrc, rout, rfiles), (orc, oout, ofiles) = results
    assert orc == rrc, f"{name} {args}: exit {orc} vs redis {rrc}\nredis:\n{rout}\nours:\n{oout}"
    assert oout == rout, f"{name} {args}: stdout differs"
    assert ofiles == rfiles, f"{name} {args}: bytes on disk differ"


@pytest.mark.parametrize("name", sorted(TABLE))
def test_table_check_and_fix(tmp_path, name):
    for args, stdin in (([], b""), (["--fix"], b"y\n"), (["--fix"], b"n\n"), (["--fix"], b"")):
        _compare(tmp_path, f"{name}{len(args)}{stdin!r}", TABLE[name], args, stdin=stdin)


@pytest.mark.parametrize("ts", ["500", "999", "1000", "1500", "2000", "2500", "5000", "-3", "0", "x1"])
@pytest.mark.parametrize("name", ["ts", "ts-bad", "ts-garbage-after", "ts-no-newline", "valid"])
def test_table_truncate_to_timestamp(tmp_path, name, ts):
    _compare(tmp_path, name, TABLE[name], ["--truncate-to-timestamp", ts])


# -- AOFs written by a real server ------------------------------------------------------

def _record_bounds(data: bytes, base: int = 0) -> list[tuple[int, int, object]]:
    return [(ev.offset, ev.end, ev) for ev in iter_events(data[base:], base_offset=base)]


def _offsets(data: bytes, start: int, n: int, seed: int, tail: int = 8) -> list[int]:
    """Record boundaries, offsets one either side, and random offsets in data[start:]."""
    rnd = random.Random(seed)
    picks = set()
    for off, end, _ev in _record_bounds(data, start)[-tail:]:
        picks.update({off, off + 1, off + 2, off + 5, end - 1, end - 2})
    picks.update(rnd.randrange(start, len(data)) for _ in range(n))
    return sorted(p for p in picks if start <= p < len(data))


def test_generated_files_are_valid(corpus, tmp_path):
    plain = corpus.resp_log
    events = list(iter_events(plain))
    assert any(isinstance(e, Annotation) and e.timestamp for e in events)
    assert any(isinstance(e, Command) and e.name == b"multi" for e in events)
    _compare(tmp_path, "plain", plain, [])
    _compare(tmp_path, "preamble", corpus.base_rdb + corpus.incr, [])
    _compare(tmp_path, "multi", None, [], setup=lambda d: shutil.copytree(corpus.folder, d / "x"),
             target="x/appendonlydir/appendonly.aof.manifest")


@pytest.mark.parametrize("layout", ["plain", "preamble"])
def test_single_file_truncated_everywhere(corpus, tmp_path, layout):
    data = corpus.resp_log if layout == "plain" else corpus.base_rdb + corpus.incr
    start = 0 if layout == "plain" else len(corpus.base_rdb)
    for cut in _offsets(data, start, 25, seed=len(data)):
        _compare(tmp_path, f"{layout}-cut{cut}", data[:cut], ["--fix"])
    _compare(tmp_path, f"{layout}-cut-nofix", data[:len(data) - 3], [])


@pytest.mark.parametrize("layout", ["plain", "preamble"])
def test_single_file_damaged_in_the_middle(corpus, tmp_path, layout):
    data = corpus.resp_log if layout == "plain" else corpus.base_rdb + corpus.incr
    start = 0 if layout == "plain" else len(corpus.base_rdb)
    rnd = random.Random(7)
    for at in _offsets(data, start, 8, seed=3, tail=5):
        garbage = bytes([rnd.choice(b"x*$#\r\n\0\xff")])
        _compare(tmp_path, f"{layout}-flip{at}", data[:at] + garbage + data[at + 1:], ["--fix"])
        _compare(tmp_path, f"{layout}-ins{at}", data[:at] + b"garbage\r\n" + data[at:], ["--fix"])
    # power loss: the tail is zero-filled, or zeros are appended
    _compare(tmp_path, f"{layout}-zero-tail", data[:-40] + b"\0" * 40, ["--fix"])
    _compare(tmp_path, f"{layout}-zero-pad", data + b"\0" * 8192, ["--fix"])


def test_unclosed_multi_is_cut_back_to_the_multi(corpus, tmp_path):
    data = corpus.resp_log
    multis = [ev for ev in iter_events(data) if isinstance(ev, Command) and ev.name == b"multi"]
    assert multis
    for ev in multis:
        cut = ev.end + 5
        _compare(tmp_path, f"multi{ev.offset}", data[:cut], ["--fix"])
        _compare(tmp_path, f"multi-whole{ev.offset}", data[:ev.end], ["--fix"])


def test_timestamps_from_a_real_server(corpus, tmp_path):
    data = corpus.resp_log
    stamps = sorted({ev.timestamp for ev in iter_events(data)
                     if isinstance(ev, Annotation) and ev.timestamp})
    assert stamps
    for ts in {stamps[0] - 1, stamps[0], stamps[-1] - 1, stamps[-1], stamps[-1] + 1}:
        _compare(tmp_path, f"ts{ts}", data, ["--truncate-to-timestamp", str(ts)])


def test_broken_preamble_is_refused(corpus, tmp_path):
    rdb = corpus.base_rdb
    data = rdb + corpus.incr
    for cut in (9, 20, len(rdb) // 2, len(rdb) - 9, len(rdb) - 1):
        _compare(tmp_path, f"pre-cut{cut}", data[:cut], ["--fix"])
    crc = bytearray(data)
    crc[len(rdb) - 3] ^= 0xFF
    _compare(tmp_path, "pre-crc", bytes(crc), ["--fix"])


def _multi_setup(corpus, mutate):
    def setup(d: Path) -> None:
        shutil.copytree(corpus.folder, d / "x")
        mutate(d / "x" / "appendonlydir")
    return setup


MAN = "x/appendonlydir/appendonly.aof.manifest"


def test_multi_part_last_incr_damaged(corpus, tmp_path):
    incr = corpus.incr
    for cut in _offsets(incr, 0, 6, seed=11, tail=3):
        def mutate(d, cut=cut):
            (d / "appendonly.aof.2.incr.aof").write_bytes(incr[:cut])
        for args in ([], ["--fix"]):
            _compare(tmp_path, f"mp-cut{cut}", None, args, setup=_multi_setup(corpus, mutate),
                     target=MAN)


def test_multi_part_non_last_file_is_refused(corpus, tmp_path):
    def mutate(d):
        (d / "appendonly.aof.2.incr.aof").write_bytes(corpus.incr[:-7])
        (d / "appendonly.aof.3.incr.aof").write_bytes(SEL + SET)
        with open(d / "appendonly.aof.manifest", "ab") as f:
            f.write(b"file appendonly.aof.3.incr.aof seq 3 type i\n")
    for args in ([], ["--fix"], ["--truncate-to-timestamp", "1000"]):
        _compare(tmp_path, "mp-nonlast", None, args, setup=_multi_setup(corpus, mutate), target=MAN)


def test_multi_part_base_damaged_and_missing_files(corpus, tmp_path):
    def cut_base(d):
        p = d / "appendonly.aof.2.base.rdb"
        p.write_bytes(p.read_bytes()[:-20])

    def missing(d):
        (d / "appendonly.aof.2.incr.aof").unlink()

    def empty_incr(d):
        (d / "appendonly.aof.2.incr.aof").write_bytes(b"")

    for i, mutate in enumerate((cut_base, missing, empty_incr)):
        _compare(tmp_path, f"mp-{i}", None, ["--fix"], setup=_multi_setup(corpus, mutate), target=MAN)


MANIFESTS = [
    b"file appendonly.aof.2.base.rdb seq 0 type b\n",
    b"file appendonly.aof.2.base.rdb seq 2 type b\n\n",
    b"file appendonly.aof.2.base.rdb seq 2 type b",
    b"file ../appendonly.aof.2.base.rdb seq 2 type b\n",
    b"file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.base.rdb seq 3 type b\n",
    b"file appendonly.aof.2.incr.aof seq 3 type i\nfile appendonly.aof.2.incr.aof seq 2 type i\n",
    b"file appendonly.aof.2.base.rdb seq 2 type x\n",
    b"file appendonly.aof.2.base.rdb seq 2 type b extra pair\r\n"
    b"# comment\nfile appendonly.aof.2.incr.aof seq 2 type i\n",
    b"file 'appendonly.aof.2.base.rdb' seq 2 type b\nfile \"appendonly.aof.2.incr.aof\" seq 2 type i\n",
    b"file \"unterminated seq 2 type b\n",
    b"file appendonly.aof.2.base.rdb seq 2 type b\nfile a.aof seq 1 type h\n",
    b"# only a comment\nfile x seq 1\n",
]


@pytest.mark.parametrize("idx", range(len(MANIFESTS)))
def test_manifest_errors(corpus, tmp_path, idx):
    def mutate(d):
        (d / "appendonly.aof.manifest").write_bytes(MANIFESTS[idx])
    _compare(tmp_path, f"man{idx}", None, [], setup=_multi_setup(corpus, mutate), target=MAN)


def test_usage_forms(tmp_path):
    for args in ([], ["--fix"], ["a", "b"], ["--truncate-to-timestamp", "1", "a", "b"],
                 ["--truncate-to-timestamp", "12x", "F.aof"], ["--nope", "F.aof"],
                 ["--", "F.aof"], ["--fix", "--", "F.aof"]):
        results = []
        for runner in (run_redis, run_ours):
            d = tmp_path / f"u{len(results)}"
            d.mkdir(exist_ok=True)
            (d / "F.aof").write_bytes(SEL + SET)
            rc, out = _raw(runner, args, d)
            results.append((rc, out.replace("/usr/bin/redis-check-aof", "redis-check-aof")))
        assert results[0] == results[1], args


def _raw(runner, args, d):
    # the usage line names argv[0]: call both with the whole argv, no extra target
    import subprocess

    from tests.support.realredis import need_binary

    if runner is run_redis:
        p = subprocess.run([need_binary("redis-check-aof"), *args], capture_output=True, cwd=d)
        return p.returncode, p.stdout.decode()
    from click.testing import CliRunner

    from aofcheck.cli import command
    import os
    old = os.getcwd()
    os.chdir(d)
    try:
        res = CliRunner().invoke(command, args, prog_name="redis-check-aof")
    finally:
        os.chdir(old)
    return res.exit_code, res.stdout


def test_divergence_filename_value_is_not_a_manifest(tmp_path):
    """7.0.15 takes an AOF holding a `filename` bulk for a manifest; we detect as 7.2.5."""
    data = b"*3\r\n$3\r\nset\r\n$1\r\na\r\n$8\r\nfilename\r\n"
    (tmp_path / "F.aof").write_bytes(data)
    rrc, rout = run_redis(["F.aof"], cwd=str(tmp_path))
    assert rrc == 1 and "FATAL AOF MANIFEST FILE ERROR" in rout
    orc, oout = run_ours(["F.aof"], cwd=str(tmp_path))
    assert orc == 0 and "AOF F.aof is valid" in oout


# -- shipped fixtures and the shared corpus ------------------------------------------------

def _aof_inputs(root: Path) -> list[Path]:
    """Plain/preamble single files, and manifests (their folder's files come along)."""
    manifests = sorted(root.rglob("*.manifest"))
    singles = sorted(p for p in root.rglob("*.aof") if p.parent.name != "appendonlydir")
    return singles + manifests


def _copy_case(src: Path):
    """setup() copying the file (and, for a manifest, its folder) into the run dir."""
    def setup(d: Path) -> None:
        if src.name.endswith(".manifest"):
            shutil.copytree(src.parent, d / "x")
            for p in (d / "x").rglob("*"):
                p.chmod(0o644)
        else:
            (d / "x").mkdir()
            (d / "x" / src.name).write_bytes(src.read_bytes())
    return setup


def test_fixtures_and_corpus_agree(fixtures_dir, corpus_dir, tmp_path):
    inputs = _aof_inputs(fixtures_dir / "aof") + [
        corpus_dir / "redis-tests-assets" / "rdb-preamble.aof",
        corpus_dir / "versions" / "redis-5.0.14" / "aof-preamble" / "appendonly.aof"]
    assert len(inputs) >= 5
    for i, src in enumerate(inputs):
        if not src.exists():
            continue
        _compare(tmp_path, f"fx{i}", None, ["--fix"], setup=_copy_case(src), target=f"x/{src.name}")


def test_divergence_rdb12_preamble_is_checked(corpus_dir, tmp_path):
    """7.0 refuses the RDB 12 base of a 7.4 multi-part AOF; we check it (documented)."""
    src = corpus_dir / "versions" / "redis-7.4.1" / "aof-preamble" / "appendonlydir"
    man = src / "appendonly.aof.manifest"
    if not man.exists():
        pytest.skip("7.4.1 AOF not in the corpus")
    rrc, rout = run_redis([str(man)])
    assert "RDB preamble of AOF file is not sane" in rout
    orc, oout = run_ours([str(man)])
    assert orc == 0 and oout.endswith("All AOF files and manifest are valid\n")


def test_preamble_damage_same_verdict_and_bytes(corpus, tmp_path):
    """Random damage in the RDB part: same exit code, last line and bytes as Redis (the RDB
    checker's own report lines belong to check-rdb's tests)."""
    rnd = random.Random(5)
    base = corpus.base_rdb
    for i in range(40):
        data = bytearray(base + corpus.incr)
        at = rnd.randrange(9, len(base))
        if i % 3 == 0:
            del data[at:]
        elif i % 3 == 1:
            data[at] = rnd.randrange(256)
        else:
            data[at:at] = bytes(rnd.randrange(256) for _ in range(3))
        if b"\nfile" in data:
            continue
        outs = []
        for tool, runner in (("redis", run_redis), ("ours", run_ours)):
            d = tmp_path / f"pd{i}-{tool}"
            d.mkdir()
            (d / "F.aof").write_bytes(bytes(data))
            rc, out = runner(["--fix", "F.aof"], cwd=str(d))
            outs.append((rc, normalize(out).splitlines()[-1], (d / "F.aof").read_bytes()))
        assert outs[0][0] == outs[1][0], (i, at, outs[0][1], outs[1][1])
        assert outs[0][1:] == outs[1][1:] or "RDB" in outs[0][1], (i, at)
        assert outs[0][2] == outs[1][2]


def test_manifest_mutations(fixtures_dir, tmp_path):
    """Random damage to a real manifest: same output, exit code and files as Redis."""
    src = fixtures_dir / "aof" / "resp-base" / "appendonlydir"
    man0 = (src / "appendonly.aof.manifest").read_bytes()
    rnd = random.Random(9)
    alphabet = b" \t\r\n\"'\\#filesqtypbhi0123x/"
    for i in range(60):
        man = bytearray(man0)
        for _ in range(rnd.randint(1, 3)):
            at = rnd.randrange(len(man))
            op = rnd.randrange(3)
            if op == 0:
                del man[at]
            elif op == 1:
                man[at] = rnd.choice(alphabet)
            else:
                man[at:at] = bytes([rnd.choice(alphabet)])

        def setup(d, man=bytes(man)):
            shutil.copytree(src, d / "x")
            (d / "x" / "appendonly.aof.manifest").write_bytes(man)
        _compare(tmp_path, f"mm{i}", None, ["--fix"], setup=setup, target="x/appendonly.aof.manifest")


def test_multi_part_truncate_to_timestamp(corpus, tmp_path):
    stamps = sorted({ev.timestamp for ev in iter_events(corpus.incr)
                     if isinstance(ev, Annotation) and ev.timestamp})
    assert stamps
    for ts in sorted({stamps[0] - 1, stamps[0], stamps[-1] - 1, stamps[-1]}):
        _compare(tmp_path, f"mpts{ts}", None, ["--truncate-to-timestamp", str(ts)],
                 setup=_multi_setup(corpus, lambda d: None), target=MAN)
