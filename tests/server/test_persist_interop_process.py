"""Files written by the running rdbkit-server boot real Redis 7.0, and the reverse.

Both servers run as processes; the workload goes through redis-py; the check is DEBUG
DIGEST plus every key's type and PEXPIRETIME (the digest only sees that a TTL exists).
"""

from __future__ import annotations

import random
import shutil

import pytest

from tests.server.test_crash_support import (OurServer, digest, keyspace_state, wait_no_child)
from tests.support.realredis import RealRedis, need_binary

pytestmark = pytest.mark.interop

FAR = 4102444800000  # 2100-01-01, ms: stays in the future however long the test runs


def workload(srv, seed: int, part: int) -> None:
    """A mixed write history over two DBs: every type, TTLs, overwrites, deletes."""
    rng = random.Random(seed * 1000 + part)
    for db in (0, 3):
        c = srv.client(db=db)
        p = c.pipeline(transaction=False)
        for i in range(200):
            k = f"p{part}:{i % 60}"
            op = rng.randrange(12)
            if op == 0:
                p.set(f"s:{k}", rng.randbytes(rng.choice((3, 30, 300))))
            elif op == 1:
                p.set(f"ttl:{k}", i, pxat=FAR - rng.randrange(10**9))
            elif op == 2:
                p.rpush(f"l:{k}", *[rng.randbytes(5) for _ in range(rng.randrange(1, 9))])
            elif op == 3:
                p.hset(f"h:{k}", mapping={f"f{j}": rng.randrange(10**6)
                                          for j in range(rng.randrange(1, 8))})
            elif op == 4:
                p.sadd(f"set:{k}", *[rng.randrange(100) for _ in range(5)])
            elif op == 5:
                p.zadd(f"z:{k}", {f"m{j}": rng.random() * 100 for j in range(4)})
            elif op == 6:
                p.xadd(f"x:{k}", {"a": i, "b": rng.randbytes(4)})
            elif op == 7:
                p.incrbyfloat(f"f:{k}", 1.5)
            elif op == 8:
                p.pexpireat(f"l:{k}", FAR - i)
            elif op == 9:
                p.spop(f"set:{k}")
            elif op == 10:
                p.delete(f"s:{k}")
            else:
                p.lpop(f"l:{k}")
        p.execute()
        c.close()


def _snapshot(srv):
    """(digest, per-key state) of a server that holds the workload's data in both DBs."""
    keys = keyspace_state(srv)
    assert {db for db, _ in keys} == {0, 3}
    assert any(exp > 0 for _, exp in keys.values())
    return digest(srv), keys


def _run_history(srv, seed: int, *, aof: bool) -> None:
    workload(srv, seed, 0)
    if aof:
        srv.command("BGREWRITEAOF")
        wait_no_child(srv)
    workload(srv, seed, 1)
    if aof:
        srv.command("BGREWRITEAOF")
        workload(srv, seed, 2)  # lands partly while the child runs
        wait_no_child(srv)
    workload(srv, seed, 3)


@pytest.mark.parametrize("how", ["SAVE", "BGSAVE"])
def test_real_redis_boots_from_our_dump(tmp_path, how):
    need_binary("redis-server")
    with OurServer(tmp_path / "ours") as ours:
        _run_history(ours, 1, aof=False)
        ours.command(how)
        wait_no_child(ours)
        shutil.copyfile(tmp_path / "ours" / "dump.rdb", tmp_path / "dump.rdb")
        (tmp_path / "real").mkdir()
        shutil.copyfile(tmp_path / "dump.rdb", tmp_path / "real" / "dump.rdb")
        with RealRedis(tmp_path / "real") as real:
            assert _snapshot(ours) == _snapshot(real)


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_real_redis_boots_from_our_appendonlydir(tmp_path, preamble):
    need_binary("redis-server")
    opts = ["--appendonly", "yes", "--aof-use-rdb-preamble", preamble]
    with OurServer(tmp_path / "ours", extra=opts) as ours:
        _run_history(ours, 2, aof=True)
        want_digest, want_keys = _snapshot(ours)
        ours.crash()  # nothing is flushed at exit: the files must already hold it all
    shutil.copytree(tmp_path / "ours" / "appendonlydir", tmp_path / "real" / "appendonlydir")
    with RealRedis(tmp_path / "real", extra=opts) as real:
        assert digest(real) == want_digest
        assert keyspace_state(real) == want_keys


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_we_boot_from_real_redis_appendonlydir(tmp_path, preamble):
    need_binary("redis-server")
    opts = ["--appendonly", "yes", "--aof-use-rdb-preamble", preamble]
    with RealRedis(tmp_path / "real", extra=opts) as real:
        _run_history(real, 3, aof=True)
        want_digest, want_keys = _snapshot(real)
        real.proc.kill()
        real.proc.wait()
        real.proc = None
    shutil.copytree(tmp_path / "real" / "appendonlydir", tmp_path / "ours" / "appendonlydir")
    with OurServer(tmp_path / "ours", extra=opts) as ours:
        assert digest(ours) == want_digest
        assert keyspace_state(ours) == want_keys


def test_we_boot_from_real_redis_dump(tmp_path):
    need_binary("redis-server")
    with RealRedis(tmp_path / "real") as real:
        _run_history(real, 4, aof=False)
        real.command("BGSAVE")
        wait_no_child(real)
        want_digest, want_keys = _snapshot(real)
    (tmp_path / "ours").mkdir()
    shutil.copyfile(tmp_path / "real" / "dump.rdb", tmp_path / "ours" / "dump.rdb")
    with OurServer(tmp_path / "ours") as ours:
        assert digest(ours) == want_digest
        assert keyspace_state(ours) == want_keys


def test_our_files_survive_a_round_trip_through_both(tmp_path):
    """Ours writes an AOF, Redis boots it and rewrites it, ours boots Redis's rewrite."""
    need_binary("redis-server")
    opts = ["--appendonly", "yes", "--aof-use-rdb-preamble", "yes"]
    with OurServer(tmp_path / "a", extra=opts) as ours:
        _run_history(ours, 5, aof=True)
        want = _snapshot(ours)
        ours.crash()
    shutil.copytree(tmp_path / "a" / "appendonlydir", tmp_path / "b" / "appendonlydir")
    with RealRedis(tmp_path / "b", extra=opts) as real:
        assert (digest(real), keyspace_state(real)) == want
        real.command("BGREWRITEAOF")
        wait_no_child(real)
        workload(real, 5, 9)
        want = _snapshot(real)
    shutil.copytree(tmp_path / "b" / "appendonlydir", tmp_path / "c" / "appendonlydir")
    with OurServer(tmp_path / "c", extra=opts) as ours:
        assert (digest(ours), keyspace_state(ours)) == want
