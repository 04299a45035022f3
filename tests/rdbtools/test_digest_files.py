"""digest_file on real files: corpus sidecars, fixtures, the Redis test assets, and
(interop) DEBUG DIGEST of a real Redis 7.0 that loaded the same file."""

from __future__ import annotations

import json
import math
import shutil
import struct
from pathlib import Path

import pytest

from rdbtools.constants import RdbType
from rdbtools.digest import LoadRules, ZERO_DIGEST, digest_file, iter_key_digests
from tests.rdbtools import check_craft as craft
from tests.support.realredis import load_rdb_in_redis, need_binary

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_RDBS = sorted((ROOT / "fixtures" / "rdb").glob("*.rdb"))
VERSIONS = ["redis-2.4.18", "redis-3.2.13", "redis-5.0.14", "redis-7.2.6", "redis-7.4.1",
            "valkey-8.0.1"]


def _json_key(key: bytes):
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError:
        return {"hex": key.hex()}


def _rules(sidecar: dict) -> LoadRules:
    cfg = sidecar.get("config", {})
    return LoadRules(
        zset_max_listpack_entries=int(cfg.get("zset-max-ziplist-entries", 128)),
        zset_max_listpack_value=int(cfg.get("zset-max-ziplist-value", 64)))


def _check_against_sidecar(path: Path, sidecar: dict) -> None:
    # The writing server still held logically expired keys when it took the digest.
    rules = _rules(sidecar)
    assert digest_file(path, keep_expired=True, rules=rules) == sidecar["debug_digest"]
    truth = {(k["db"], json.dumps(k["key"])): k.get("digest_value")
             for k in sidecar["truth"]["keys"]}
    seen = 0
    for rec, value_digest in iter_key_digests(path, keep_expired=True, rules=rules):
        expected = truth[(rec.db, json.dumps(_json_key(rec.key)))]
        if expected is not None:  # 2.4 had no DEBUG DIGEST-VALUE
            assert value_digest.hex() == expected, (rec.db, rec.key)
            seen += 1
    assert seen == sum(1 for v in truth.values() if v is not None)


@pytest.mark.parametrize("version", VERSIONS)
def test_corpus_versions_match_the_writing_server(corpus_dir, version):
    path = corpus_dir / "versions" / version / "dump.rdb"
    sidecar = json.loads((corpus_dir / "versions" / version / "dump.rdb.json").read_text())
    _check_against_sidecar(path, sidecar)


@pytest.mark.parametrize("path", FIXTURE_RDBS, ids=[p.name for p in FIXTURE_RDBS])
def test_fixtures_match_their_sidecars(path):
    sidecar = json.loads(path.with_suffix(".json").read_text())
    _check_against_sidecar(path, sidecar)
    after = sidecar.get("debug_digest_after_load")
    if after:
        assert digest_file(path) == after
        assert digest_file(path) != sidecar["debug_digest"]


# formats.md §7.5: Redis's own test assets loaded into 7.0.15.
ASSETS = {
    "encodings.rdb": "b7324c5e2d3a7618126155c2bf9e40c794649565",
    "hash-zipmap.rdb": "3ca39ed0cb3b979b5b125ae0d1e54f2c40b7c5e6",
    "hash-ziplist.rdb": "3ca39ed0cb3b979b5b125ae0d1e54f2c40b7c5e6",
    "list-quicklist.rdb": "3d77c75a5b6cc5319b4ecf6e95101ed07ddd139e",
    "zset-ziplist.rdb": "fa1ca919dcef4dea3e3e609298a9e329d3bb7c61",
    "scriptbackup.rdb": ZERO_DIGEST,
    "corrupt_empty_keys.rdb": ZERO_DIGEST,
}


@pytest.mark.parametrize("name,expected", sorted(ASSETS.items()))
def test_redis_test_assets(corpus_dir, name, expected):
    assert digest_file(corpus_dir / "redis-tests-assets" / name) == expected


def test_now_decides_what_expired():
    body = (b"\xfe\x00\xfc" + struct.pack("<q", 5000) + b"\x00" + craft.string(b"k")
            + craft.string(b"v") + b"\x00" + craft.string(b"live") + craft.string(b"x"))
    data = craft.rdb(body)
    before = digest_file(data, now_ms=4000)
    assert digest_file(data, now_ms=5000) == before  # expire == now: still loaded
    after = digest_file(data, now_ms=5001)
    assert after != before
    assert digest_file(data, now_ms=5001, keep_expired=True) == before


# ---------------------------------------------------------------- interop


def _zset2(name: bytes, members) -> bytes:
    body = craft.length(len(members))
    for m, score in members:
        body += craft.string(m) + struct.pack("<d", score)
    return b"\x05" + craft.string(name) + body


EDGE_FILES = {
    # -0.0 in a small ZSET_2: 7.0 converts to listpack where it becomes 0
    "negzero-small": craft.rdb(b"\xfe\x00" + _zset2(b"z", [(b"a", -0.0), (b"b", 1.5)])),
    # ...but stays -0 in a skiplist (129 members) or with a long member
    "negzero-skiplist": craft.rdb(b"\xfe\x00" + _zset2(
        b"z", [(b"m%d" % i, float(i)) for i in range(128)] + [(b"a", -0.0)])),
    "negzero-long-member": craft.rdb(b"\xfe\x00" + _zset2(b"z", [(b"x" * 65, -0.0)])),
    "expired-and-empty": craft.rdb(
        b"\xfe\x00\xfc" + struct.pack("<q", 1000) + b"\x00" + craft.string(b"gone")
        + craft.string(b"v") + b"\x0e" + craft.string(b"emptyql") + b"\x00"
        + b"\x00" + craft.string(b"kept") + craft.string(b"v")
        + b"\xfe\x03\x00" + craft.string(b"k3") + craft.string(b"v3")),
    "text-scores": craft.rdb(b"\xfe\x00\x03" + craft.string(b"z") + craft.length(3)
                             + craft.string(b"a") + b"\x030.1" + craft.string(b"b") + b"\xfe"
                             + craft.string(b"c") + b"\x05-2e-8"),
}


def _interop_files(corpus_dir):
    files = [(p.name, p.read_bytes()) for p in FIXTURE_RDBS]
    for name in ASSETS:
        files.append((name, (corpus_dir / "redis-tests-assets" / name).read_bytes()))
    for version in ("redis-2.4.18", "redis-3.2.13", "redis-5.0.14"):
        files.append((version, (corpus_dir / "versions" / version / "dump.rdb").read_bytes()))
    files.extend(EDGE_FILES.items())
    return files


@pytest.mark.interop
def test_digest_equals_real_redis_after_loading(corpus_dir, tmp_path):
    need_binary("redis-server")
    mismatches = []
    for i, (name, data) in enumerate(_interop_files(corpus_dir)):
        src = tmp_path / f"in-{i}.rdb"
        src.write_bytes(data)
        work = tmp_path / f"srv-{i}"
        srv = load_rdb_in_redis(src, work)
        try:
            theirs = srv.command("DEBUG", "DIGEST").decode()
        finally:
            srv.stop()
        ours = digest_file(src)
        if ours != theirs:
            mismatches.append((name, ours, theirs))
        shutil.rmtree(work, ignore_errors=True)
    assert not mismatches


def test_edge_files_digest_as_documented():
    small = digest_file(EDGE_FILES["negzero-small"])
    positive = digest_file(craft.rdb(b"\xfe\x00" + _zset2(b"z", [(b"a", 0.0), (b"b", 1.5)])))
    assert small == positive
    (rec, _), = list(iter_key_digests(EDGE_FILES["negzero-long-member"]))
    assert rec.type == RdbType.ZSET_2 and math.copysign(1, rec.value[0][1]) < 0
