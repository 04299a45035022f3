"""The multi-process JSON dump (rdbtools/render/parallel.py) writes exactly what the
one-process path writes, or fails with the same error, whatever the chunking."""

from __future__ import annotations

import io
import random

import pytest

from rdbtools.constants import RdbType
from rdbtools.errors import ChecksumError, FormatError, TruncatedError
from rdbtools.filters import KeyFilter
from rdbtools.reader import iter_records
from rdbtools.records import KeyRecord
from rdbtools.render import dump_records, parallel
from rdbtools.resync import find_record_start
from rdbtools.writer import write_rdb


def serial(path, fmt, key_filter=None):
    out = io.BytesIO()
    report = dump_records(iter_records(str(path)), out, fmt, key_filter=key_filter)
    return out.getvalue(), report


def split(path, fmt, *, jobs, chunk, key_filter=None):
    out = io.BytesIO()
    report = parallel.dump_parallel(str(path), out, fmt, jobs=jobs, chunk_bytes=chunk,
                                    key_filter=key_filter)
    return out.getvalue(), report


@pytest.fixture(scope="module")
def mixed_rdb(tmp_path_factory):
    """Several databases, expiries, every plain type, values bigger than a chunk, and
    string values full of bytes that parse as records (false resync points)."""
    rng = random.Random(7)
    fake = b"\x00\x01k\x01v" * 200        # 200 believable little string records
    recs = []
    for db in (0, 3, 9):
        for i in range(400):
            key = b"k:%d:%d" % (db, i)
            kind = i % 7
            exp = 1_900_000_000_000 + i if i % 5 == 0 else None
            if kind == 0:
                v = fake if i % 3 == 0 else b"v" * rng.randint(0, 90)
                recs.append(KeyRecord(db, key, RdbType.STRING, v, exp))
            elif kind == 1:
                recs.append(KeyRecord(db, key, RdbType.LIST_QUICKLIST_2,
                                      [b"e%d" % j for j in range(rng.randint(1, 40))], exp))
            elif kind == 2:
                recs.append(KeyRecord(db, key, RdbType.SET,
                                      [b"%d" % j for j in range(rng.randint(1, 30))], exp))
            elif kind == 3:
                recs.append(KeyRecord(db, key, RdbType.HASH,
                                      [(b"f%d" % j, fake[:j]) for j in range(12)], exp))
            elif kind == 4:
                recs.append(KeyRecord(db, key, RdbType.ZSET_2,
                                      [(b"m%d" % j, j * 0.5) for j in range(9)], exp))
            elif kind == 5:
                recs.append(KeyRecord(db, key, RdbType.STRING, rng.randbytes(200), exp))
            else:
                recs.append(KeyRecord(db, key, RdbType.STRING, b"\xff\xfe" + key, exp))
    recs.insert(500, KeyRecord(3, b"big", RdbType.STRING, rng.randbytes(70_000)))
    path = tmp_path_factory.mktemp("par") / "mixed.rdb"
    write_rdb(path, recs, compress=False)
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
@pytest.mark.parametrize("jobs,chunk", [(2, 1 << 12), (3, 997), (2, 1 << 16), (4, 300)])
def test_same_text_as_one_process(mixed_rdb, fmt, jobs, chunk):
    want, want_report = serial(mixed_rdb, fmt)
    got, report = split(mixed_rdb, fmt, jobs=jobs, chunk=chunk)
    assert got == want
    assert report.workers_lost == 0
    assert (report.keys, report.records) == (want_report.keys, want_report.records)


@pytest.mark.parametrize("flt", [KeyFilter.build(dbs=[3]), KeyFilter.build(types=["hash"]),
                                 KeyFilter.build(key=rb"k:9:1")])
def test_filters(mixed_rdb, flt):
    want, _ = serial(mixed_rdb, "jsonl", flt)
    got, _ = split(mixed_rdb, "jsonl", jobs=3, chunk=2000, key_filter=flt)
    assert got == want


def test_every_fixture_and_corpus_file(fixtures_dir, corpus_dir):
    files = sorted(fixtures_dir.glob("rdb/*.rdb")) + sorted(corpus_dir.rglob("*.rdb"))
    checked = 0
    for path in files:
        try:
            want, _ = serial(path, "jsonl")
        except FormatError as e:
            with pytest.raises(type(e)):
                split(path, "jsonl", jobs=2, chunk=97)
            continue
        for chunk in (61, 256):
            got, _ = split(path, "jsonl", jobs=3, chunk=chunk)
            assert got == want, (path, chunk)
        checked += 1
    assert checked > 20


def _same_as_serial(path, recs, *, jobs, chunk):
    """Write `recs` to `path`; its split dump must equal the one-process dump."""
    write_rdb(path, recs)
    want, _ = serial(path, "jsonl")
    got, report = split(path, "jsonl", jobs=jobs, chunk=chunk)
    assert got == want
    assert report.workers_lost == 0
    return report


def test_workers_text_is_taken(mixed_rdb, tmp_path):
    """On ordinary data nearly every worker chunk is used; on values made of believable
    fake records some are parsed again by the parent (and the text is still right)."""
    rng = random.Random(11)
    recs = [KeyRecord(0, b"user:%d" % i, RdbType.STRING, b"%d" % rng.getrandbits(40))
            if i % 3 else
            KeyRecord(0, b"session:%d" % i, RdbType.HASH,
                      [(b"name", b"n%d" % i), (b"seen", b"%d" % rng.getrandbits(30))],
                      1_900_000_000_000 + i)
            for i in range(5000)]
    report = _same_as_serial(tmp_path / "plain.rdb", recs, jobs=2, chunk=1000)
    assert report.chunks_taken > 0.95 * (report.chunks_taken + report.chunks_redone)
    got, report = split(mixed_rdb, "jsonl", jobs=2, chunk=300)
    assert report.chunks_redone > 0 and report.chunks_taken > 0
    assert report.workers_lost == 0


def test_resync_guesses_land_on_or_just_before_records(mixed_rdb):
    data = mixed_rdb.read_bytes()
    starts = sorted(r.offset for r in iter_records(data) if r.offset > 0)
    header = next(iter(iter_records(data)))
    exact = 0
    probes = range(9, len(data), 3001)
    for at in probes:
        found = find_record_start(data, at, header)
        assert found is None or found >= at
        exact += found in starts
    assert exact > 0.2 * len(probes)


def _same_failure(path, fmt="jsonl"):
    out1 = io.BytesIO()
    with pytest.raises(FormatError) as e1:
        dump_records(iter_records(str(path)), out1, fmt)
    out2 = io.BytesIO()
    with pytest.raises(FormatError) as e2:
        parallel.dump_parallel(str(path), out2, fmt, jobs=2, chunk_bytes=777)
    a, b = e1.value, e2.value
    assert type(a) is type(b)
    assert (a.key, a.phase, a.path) == (b.key, b.phase, b.path)
    if isinstance(a, TruncatedError):
        assert a.valid_up_to == b.valid_up_to
    else:
        assert a.offset == b.offset
    x, y = out1.getvalue(), out2.getvalue()
    n = min(len(x), len(y))
    assert x[:n] == y[:n]      # what was written before the error agrees
    return b


def test_truncated_copies_fail_the_same(mixed_rdb, tmp_path):
    data = mixed_rdb.read_bytes()
    rng = random.Random(3)
    for cut in sorted(rng.sample(range(10, len(data) - 1), 12)) + [len(data) - 1]:
        p = tmp_path / f"cut-{cut}.rdb"
        p.write_bytes(data[:cut])
        assert isinstance(_same_failure(p), TruncatedError)


def test_corrupt_copies_fail_the_same(mixed_rdb, tmp_path):
    data = bytearray(mixed_rdb.read_bytes())
    starts = [r.offset for r in iter_records(bytes(data)) if type(r) is KeyRecord]
    rng = random.Random(5)
    for at in rng.sample(starts, 8):
        bad = bytearray(data)
        bad[at] = 0x63        # no such type
        p = tmp_path / f"bad-{at}.rdb"
        p.write_bytes(bytes(bad))
        _same_failure(p)


def test_checksum_mismatch(mixed_rdb, tmp_path):
    data = bytearray(mixed_rdb.read_bytes())
    data[-1] ^= 0xFF
    p = tmp_path / "crc.rdb"
    p.write_bytes(bytes(data))
    assert isinstance(_same_failure(p), ChecksumError)
    assert isinstance(_same_failure(p, "json"), ChecksumError)


def test_a_dead_worker_costs_time_not_output(mixed_rdb, monkeypatch):
    def crash(*a, **k):
        raise RuntimeError("worker bug")

    monkeypatch.setattr(parallel, "_worker", crash)
    want, _ = serial(mixed_rdb, "jsonl")
    got, report = split(mixed_rdb, "jsonl", jobs=3, chunk=1500)
    assert got == want
    assert report.workers_lost == 2 and report.chunks_taken == 0


def test_eligible(mixed_rdb, tmp_path):
    assert parallel.eligible(mixed_rdb, "jsonl", 2, min_bytes=1)
    assert not parallel.eligible(mixed_rdb, "jsonl", 1, min_bytes=1)
    assert not parallel.eligible(mixed_rdb, "resp", 2, min_bytes=1)
    assert not parallel.eligible(mixed_rdb, "jsonl", 2)          # small: one process
    assert not parallel.eligible("-", "jsonl", 2, min_bytes=1)
    j = tmp_path / "x.json"
    j.write_text("[]")
    assert not parallel.eligible(j, "jsonl", 2, min_bytes=1)


def _spy_on_split_dumps(monkeypatch, *, chunk: int) -> list:
    """Any file is big enough to split; returns the list of `jobs` each split dump got."""
    monkeypatch.setattr(parallel, "MIN_BYTES", 1)
    monkeypatch.setattr(parallel, "CHUNK_BYTES", chunk)
    calls: list = []
    real = parallel.dump_parallel
    monkeypatch.setattr(parallel, "dump_parallel",
                        lambda *a, **k: calls.append(k["jobs"]) or real(*a, **k))
    return calls


def test_cli_jobs_gives_the_same_output(mixed_rdb, monkeypatch):
    from click.testing import CliRunner

    from rdbtools.cli.dump import command

    calls = _spy_on_split_dumps(monkeypatch, chunk=5000)
    runner = CliRunner()
    one = runner.invoke(command, ["--format", "jsonl", "-j", "1", str(mixed_rdb)])
    two = runner.invoke(command, ["--format", "jsonl", "-j", "2", str(mixed_rdb)])
    assert one.exit_code == 0 and two.exit_code == 0, (one.output, two.output)
    assert calls == [2]
    assert one.stdout_bytes == two.stdout_bytes


def test_convert_to_json_uses_the_workers(mixed_rdb, tmp_path, monkeypatch):
    from rdbtools.convert import convert

    calls = _spy_on_split_dumps(monkeypatch, chunk=3000)
    for jobs in (1, 3):
        report = convert(mixed_rdb, tmp_path / f"out-{jobs}.jsonl", jobs=jobs)
        assert report.keys == 1201
    assert calls == [3]
    assert (tmp_path / "out-1.jsonl").read_bytes() == (tmp_path / "out-3.jsonl").read_bytes()


def test_values_bigger_than_many_chunks(tmp_path):
    """Chunks inside one huge value hold no record: workers searching them are told to
    stop once the parent has passed them, and the text is still exact."""
    rng = random.Random(2)
    recs = []
    for i in range(3):
        recs.append(KeyRecord(0, b"blob:%d" % i, RdbType.STRING, rng.randbytes(600_000)))
        recs += [KeyRecord(0, b"k:%d:%d" % (i, j), RdbType.STRING, b"v%d" % j)
                 for j in range(2000)]
    report = _same_as_serial(tmp_path / "blobs.rdb", recs, jobs=3, chunk=20_000)
    assert report.chunks_taken > 0


def test_a_slow_worker_is_not_waited_for(mixed_rdb, monkeypatch):
    import time

    from rdbtools import resync

    real = resync.find_record_start

    def slow(*a, **k):
        time.sleep(0.2)
        return real(*a, **k)

    monkeypatch.setattr(parallel, "find_record_start", slow)
    want, _ = serial(mixed_rdb, "jsonl")
    got, report = split(mixed_rdb, "jsonl", jobs=2, chunk=20_000)
    assert got == want
    assert report.chunks_redone > 0 and report.workers_lost == 0


@pytest.mark.parametrize("files,want", [
    ({"cpu.max": "max 100000\n"}, None),
    ({"cpu.max": "150000 100000\n"}, 2),
    ({"cpu.max": "50000 100000\n"}, 1),
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ({"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 3),
    ({}, None),
])
def test_cgroup_cpu_quota(tmp_path, files, want):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert parallel._cgroup_quota(str(tmp_path)) == want


@pytest.mark.parametrize("seed", range(12))
def test_mutated_files_give_the_same_text_or_error(mixed_rdb, tmp_path, seed):
    """Random byte damage anywhere: the split dump writes what the one-process dump
    writes and fails (or not) with the same error at the same record."""
    rng = random.Random(seed)
    data = bytearray(mixed_rdb.read_bytes())
    data[-8:] = bytes(8)          # a stored CRC of 0 is not checked: damage must show
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(9, len(data))
        data[at] = rng.randrange(256)
    path = tmp_path / f"m{seed}.rdb"
    path.write_bytes(bytes(data))
    chunk = rng.choice([200, 777, 4096])
    try:
        want, _ = serial(path, "jsonl")
    except FormatError:
        _same_failure(path)
        return
    got, _ = split(path, "jsonl", jobs=rng.choice([2, 3]), chunk=chunk)
    assert got == want
