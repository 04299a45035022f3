"""The shipped fixtures are genuine: real Redis 7.0 loads them with the recorded digests.

Everything else in the suite trusts fixtures/*.json as ground truth, so these tests
check that truth against the real binaries rather than against our own code.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from rdbtools._crc import crc64
from tests.support.realredis import RealRedis, load_rdb_in_redis, need_binary

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
RDBS = sorted((FIXTURES / "rdb").glob("*.rdb"))
AOF_DIRS = sorted(p.parent for p in (FIXTURES / "aof").glob("*/appendonlydir"))
CORRUPT = sorted((FIXTURES / "corrupt").glob("*.rdb"))

#: Every fixture the task promises; a missing one must fail, not silently shrink RDBS.
EXPECTED_RDBS = {"all-types", "uncompressed", "no-checksum", "compressed-nodes", "expired",
                 "empty", "functions-only", "lru", "lfu"}
EXPECTED_AOFS = {"preamble", "resp-base", "timestamps"}


def sidecar(path: Path) -> dict:
    return json.loads(path.with_suffix(".json").read_text())


def unjson(v) -> bytes:
    return bytes.fromhex(v["hex"]) if isinstance(v, dict) else v.encode()


def live_keys(side: dict) -> list[dict]:
    return [k for k in side["truth"]["keys"] if not k.get("expired_at_save")]


def keyspace(srv: RealRedis) -> dict[str, int]:
    info = srv.command("INFO", "keyspace").decode()
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^db(\d+):keys=(\d+)", info, re.M)}


# ------------------------------------------------------------------ offline consistency

def test_every_promised_fixture_exists():
    assert {p.stem for p in RDBS} >= EXPECTED_RDBS
    assert {p.name for p in AOF_DIRS} >= EXPECTED_AOFS
    assert (FIXTURES / "aof" / "plain.aof").is_file()


def test_fixtures_stay_small():
    total = sum(p.stat().st_size for p in FIXTURES.rglob("*") if p.is_file()
                and p.suffix != ".py")
    assert total < 1_000_000
    for p in RDBS:
        assert p.stat().st_size <= 40 * 1024, p.name


@pytest.mark.parametrize("path", RDBS, ids=lambda p: p.name)
def test_rdb_header_footer_and_sidecar_agree(path):
    data = path.read_bytes()
    side = sidecar(path)
    assert side["file"] == path.name
    assert data[:9] == b"REDIS%04d" % side["rdb_version"] == b"REDIS0010"
    stored = int.from_bytes(data[-8:], "little")
    if side["config"].get("rdbchecksum") == "no":
        assert stored == 0
    else:
        assert stored == crc64(data[:-8])
    keys = side["truth"]["keys"]
    assert len(keys) == sum(side["dbsize"].values())
    per_db: dict[str, int] = {}
    for k in keys:
        per_db[str(k["db"])] = per_db.get(str(k["db"]), 0) + 1
    assert per_db == side["dbsize"]
    expires = sum(1 for k in keys if k["expire_ms"] is not None)
    assert expires == sum(v["expires"] for v in side["keyspace"].values())


def test_all_types_covers_the_promised_encodings():
    side = sidecar(FIXTURES / "rdb" / "all-types.rdb")
    seen = {(k["type"], k["encoding"]) for k in side["truth"]["keys"]}
    assert seen >= {("string", "int"), ("string", "embstr"), ("string", "raw"),
                    ("list", "quicklist"), ("set", "intset"), ("set", "hashtable"),
                    ("zset", "listpack"), ("zset", "skiplist"), ("hash", "listpack"),
                    ("hash", "hashtable"), ("stream", "stream")}
    assert {k["db"] for k in side["truth"]["keys"]} == {0, 1, 3, 15}
    assert len(side["truth"]["functions"]) == 2


def test_expired_fixture_records_which_keys_died():
    side = sidecar(FIXTURES / "rdb" / "expired.rdb")
    dead = [k for k in side["truth"]["keys"] if k["expired_at_save"]]
    assert dead and len(dead) == len(side["expired_keys"])
    assert all(k["expire_ms"] < side["saved_at_ms"] for k in dead)
    assert all(k["expire_ms"] is None or k["expire_ms"] > side["saved_at_ms"]
               for k in live_keys(side))
    assert side["debug_digest_after_load"] != side["debug_digest"]


def _quicklist_nodes(data: bytes, key: bytes) -> list[str]:
    """'lzf' or 'raw' per node of a QUICKLIST_2 key (6/14-bit lengths only, enough here)."""
    def length(p: int) -> tuple[int, int]:
        b = data[p]
        if b >> 6 == 0:
            return b & 0x3F, p + 1
        assert b >> 6 == 1, hex(b)
        return ((b & 0x3F) << 8) | data[p + 1], p + 2

    at = data.index(bytes([len(key)]) + key)
    assert data[at - 1] == 18  # RDB_TYPE_LIST_QUICKLIST_2
    count, p = length(at + 1 + len(key))
    kinds = []
    for _ in range(count):
        assert data[p] == 2  # packed container
        p += 1
        if data[p] == 0xC3:
            clen, p = length(p + 1)
            _, p = length(p)
            p += clen
            kinds.append("lzf")
        else:
            n, p = length(p)
            p += n
            kinds.append("raw")
    return kinds


def test_compressed_nodes_written_as_stored_in_memory():
    # rdbcompression is off there, so only nodes compressed in memory are LZF (C3) blobs.
    path = FIXTURES / "rdb" / "compressed-nodes.rdb"
    assert sidecar(path)["config"]["rdbcompression"] == "no"
    data = path.read_bytes()
    kinds = _quicklist_nodes(data, b"list:compressed")
    assert len(kinds) > 3 and kinds[0] == kinds[-1] == "raw"
    assert set(kinds[1:-1]) == {"lzf"}
    assert set(_quicklist_nodes(data, b"list:incompressible")) == {"raw"}
    assert set(_quicklist_nodes(data, b"list:tiny")) == {"raw"}


def test_all_types_multinode_list_has_three_nodes():
    assert len(_quicklist_nodes((FIXTURES / "rdb" / "all-types.rdb").read_bytes(),
                                b"list:multinode")) == 3


def test_readme_lists_every_file():
    readme = (FIXTURES / "README.md").read_text()
    for p in RDBS + [FIXTURES / "aof" / "plain.aof"]:
        assert p.name in readme, p.name
    for d in AOF_DIRS:
        assert f"aof/{d.name}/" in readme, d.name
    for p in CORRUPT:
        assert p.name in readme, p.name


# ------------------------------------------------------------------ real Redis 7.0

@pytest.mark.interop
@pytest.mark.parametrize("path", RDBS, ids=lambda p: p.name)
def test_rdb_loads_in_real_redis_with_recorded_digest(path, tmp_path):
    need_binary("redis-server")
    side = sidecar(path)
    srv = load_rdb_in_redis(path, tmp_path)
    try:
        assert srv.command("DEBUG", "DIGEST").decode() == side.get(
            "debug_digest_after_load", side["debug_digest"])
        expected_sizes = side.get("dbsize_after_load", side["dbsize"])
        assert keyspace(srv) == {db: n for db, n in expected_sizes.items() if n}
        client = None
        for db in sorted({k["db"] for k in live_keys(side)}):
            client = srv.client(db=db)
            keys = [k for k in live_keys(side) if k["db"] == db]
            got = client.execute_command("DEBUG", "DIGEST-VALUE", *[unjson(k["key"]) for k in keys])
            got = [g.decode() if isinstance(g, bytes) else g for g in got]
            assert got == [k["digest_value"] for k in keys]
            for k in keys:
                pexp = client.execute_command("PEXPIRETIME", unjson(k["key"]))
                assert (None if pexp < 0 else pexp) == k["expire_ms"], k["key"]
            client.close()
        libs = srv.command("FUNCTION", "LIST", "WITHCODE")
        codes = sorted(lib[lib.index(b"library_code") + 1].decode() for lib in libs)
        assert codes == sorted(f["library_code"] for f in side["truth"]["functions"])
    finally:
        srv.stop()


@pytest.mark.interop
@pytest.mark.parametrize("path", RDBS, ids=lambda p: p.name)
def test_redis_check_rdb_accepts(path, tmp_path):
    exe = need_binary("redis-check-rdb")
    side = sidecar(path)
    proc = subprocess.run([exe, path.name], cwd=path.parent, capture_output=True, text=True,
                          timeout=60)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "RDB looks OK" in out
    # The recorded transcript (for offline use by the checker's tests) is what 7.0 prints.
    assert proc.stdout.splitlines() == side["redis_check_rdb"]["output"]
    keys = side["truth"]["keys"]
    assert f"[info] {len(keys)} keys read" in out
    dead = sum(1 for k in keys if k.get("expired_at_save"))
    assert f"[info] {dead} already expired" in out


def _boot_aof(tmp_path: Path, files: dict[str, Path]) -> RealRedis:
    for rel, src in files.items():
        dest = tmp_path / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
    return RealRedis(tmp_path, extra=["--appendonly", "yes"]).start()


@pytest.mark.interop
@pytest.mark.parametrize("adir", AOF_DIRS, ids=lambda p: p.name)
def test_aof_dir_loads_in_real_redis(adir, tmp_path):
    need_binary("redis-server")
    side = json.loads((adir.parent / f"{adir.name}.json").read_text())
    src = adir / "appendonlydir"
    assert sorted(p.name for p in src.iterdir()) == side["files"]
    srv = _boot_aof(tmp_path, {f"appendonlydir/{p.name}": p for p in src.iterdir()})
    try:
        assert srv.command("DEBUG", "DIGEST").decode() == side["debug_digest"]
        assert keyspace(srv) == side["dbsize"]
    finally:
        srv.stop()


@pytest.mark.interop
@pytest.mark.parametrize("adir", AOF_DIRS, ids=lambda p: p.name)
def test_redis_check_aof_accepts_dir(adir, tmp_path):
    exe = need_binary("redis-check-aof")
    side = json.loads((adir.parent / f"{adir.name}.json").read_text())
    shutil.copytree(adir / "appendonlydir", tmp_path / "appendonlydir")
    proc = subprocess.run([exe, "appendonlydir/appendonly.aof.manifest"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "All AOF files and manifest are valid" in proc.stdout
    assert proc.stdout.splitlines() == side["redis_check_aof"]["output"]


@pytest.mark.interop
def test_plain_aof_loads_and_checks(tmp_path):
    need_binary("redis-server")
    exe = need_binary("redis-check-aof")
    plain = FIXTURES / "aof" / "plain.aof"
    side = json.loads((FIXTURES / "aof" / "plain.json").read_text())
    proc = subprocess.run([exe, plain.name], cwd=plain.parent, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == side["redis_check_aof"]["output"]
    srv = _boot_aof(tmp_path / "srv", {"appendonly.aof": plain})
    try:
        assert srv.command("DEBUG", "DIGEST").decode() == side["debug_digest"]
        assert keyspace(srv) == side["dbsize"]
    finally:
        srv.stop()


@pytest.mark.interop
@pytest.mark.parametrize("path", CORRUPT, ids=lambda p: p.name)
def test_corrupt_fixture_verdicts_match_real_redis(path, tmp_path):
    exe = need_binary("redis-check-rdb")
    need_binary("redis-server")
    side = sidecar(path)
    shutil.copyfile(path, tmp_path / "dump.rdb")
    proc = subprocess.run([exe, "dump.rdb"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == side["redis_check_rdb"]["rc"]
    lines = [re.sub(r"^\d+:[A-Z] \d+ \w+ \d+ [\d:.]+ [.\-*#] ", "", ln)
             for ln in proc.stdout.splitlines()]
    assert lines == side["redis_check_rdb"]["output"]
    srv = RealRedis(tmp_path / "srv")
    shutil.copyfile(path, tmp_path / "srv" / "dump.rdb")
    try:
        srv.start()
        loaded = True
        assert srv.command("DEBUG", "DIGEST").decode() == side["redis_server_load"]["debug_digest"]
    except RuntimeError:
        loaded = False
    finally:
        srv.stop()
    assert loaded == side["redis_server_load"]["loaded"]


#: Fields the server chooses at run time (clocks; skiplist node levels are random).
VOLATILE = {"saved_at_ms", "stream_consumer_seen_ms", "lru_idle_s_before_save"}


def _check_lines(doc: dict) -> list[str]:
    """redis-check-rdb transcript minus the AUX values (ctime, used-mem) and offsets."""
    return [re.sub(r"^\[offset \d+\] ", "", ln) for ln in doc["redis_check_rdb"]["output"]
            if "AUX FIELD ctime" not in ln and "AUX FIELD used-mem" not in ln]


def _stable(doc: dict) -> dict:
    doc = {k: v for k, v in doc.items() if k not in VOLATILE}
    doc["redis_check_rdb"] = _check_lines(doc)
    keys = []
    for k in doc.get("truth", {}).get("keys", []):
        k = {f: v for f, v in k.items() if f not in VOLATILE}
        if k["encoding"] == "skiplist":
            k.pop("memory_usage")
        keys.append(k)
    if "truth" in doc:
        doc["truth"] = {**doc["truth"], "keys": keys}
    return doc


@pytest.mark.interop
def test_script_reproduces_committed_fixtures(tmp_path):
    need_binary("redis-server")
    from fixtures import make_fixtures

    names = ["all-types", "compressed-nodes", "lfu", "functions-only", "empty"]
    assert make_fixtures.main(["--out", str(tmp_path), *names]) == 0
    for name in names:
        new = json.loads((tmp_path / "rdb" / f"{name}.json").read_text())
        old = sidecar(FIXTURES / "rdb" / f"{name}.rdb")
        assert _stable(new) == _stable(old), name
        assert (tmp_path / "rdb" / f"{name}.rdb").stat().st_size == \
            (FIXTURES / "rdb" / f"{name}.rdb").stat().st_size


@pytest.mark.interop
@pytest.mark.parametrize("name,field,query,slack", [
    ("lfu", "lfu_freq", "FREQ", 0),
    ("lru", "lru_idle_s_before_save", "IDLETIME", 2),
])
def test_lru_lfu_opcodes_carry_recorded_values(name, field, query, slack, tmp_path):
    need_binary("redis-server")
    path = FIXTURES / "rdb" / f"{name}.rdb"
    side = sidecar(path)
    extra = [x for k, v in side["config"].items() for x in (f"--{k}", v)]
    srv = load_rdb_in_redis(path, tmp_path, extra=extra)
    try:
        spread = set()
        for db in sorted({k["db"] for k in side["truth"]["keys"]}):
            client = srv.client(db=db)
            for k in side["truth"]["keys"]:
                if k["db"] == db:
                    got = client.execute_command("OBJECT", query, unjson(k["key"]))
                    assert abs(got - k[field]) <= slack, (k["key"], got, k[field])
                    spread.add(k[field])
            client.close()
        assert len(spread) >= 4  # the fixture really has distinct values to carry
    finally:
        srv.stop()
