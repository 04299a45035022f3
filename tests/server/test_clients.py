"""rdbkit-server driven by real clients over real sockets: redis-py (pipelines,
transactions, blocking pops, RESP3), redis-cli and redis-benchmark, limits."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time

import pytest
import redis

from server.app import ServerThread
from tests.support.realredis import need_binary


@pytest.fixture
def r(ours):
    client = ours.client()
    client.flushall()
    yield client
    client.close()


def test_pipeline_and_transaction(r):
    p = r.pipeline(transaction=False)
    for i in range(500):
        p.set(f"k{i}", i)
    p.get("k499")
    assert p.execute()[-1] == b"499"
    with r.pipeline() as t:
        t.incr("n").incr("n").get("n")
        assert t.execute() == [1, 2, b"2"]
    assert r.dbsize() == 501


def test_watch_conflict_aborts(ours, r):
    other = ours.client()
    r.set("balance", 10)
    with r.pipeline() as t:
        t.watch("balance")
        other.set("balance", 20)
        t.multi()
        t.incr("balance")
        with pytest.raises(redis.WatchError):
            t.execute()
    assert r.get("balance") == b"20"


def test_watch_key_that_expires_before_exec(r):
    r.set("w", 1, px=50)
    with r.pipeline() as t:
        t.watch("w")
        time.sleep(0.1)
        t.multi()
        t.set("x", 1)
        with pytest.raises(redis.WatchError):
            t.execute()


def test_exec_abort_after_queued_error(r):
    with r.pipeline() as t:
        t.set("a", 1)
        t.execute_command("SET", "a")
        with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
            t.execute()
    assert r.get("a") is None


def test_blpop_is_served_by_a_later_push(ours, r):
    result = {}

    def waiter():
        c = ours.client()
        result["v"] = c.blpop(["q"], timeout=5)
        c.close()

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.2)
    r.rpush("q", "job")
    t.join(5)
    assert result["v"] == (b"q", b"job")
    assert r.exists("q") == 0


def test_blocking_timeout(r):
    t0 = time.monotonic()
    assert r.blpop(["nothing"], timeout=0.2) is None
    assert time.monotonic() - t0 >= 0.15


def test_xread_block_wakes_up(ours, r):
    r.xadd("s", {"a": "1"}, id="1-0")
    got = {}

    def reader():
        c = ours.client()
        got["v"] = c.xread({"s": "$"}, block=3000)
        c.close()

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.2)
    r.xadd("s", {"b": "2"}, id="2-0")
    t.join(5)
    assert got["v"] == [[b"s", [(b"2-0", {b"b": b"2"})]]]


def test_resp3_client(ours):
    c = redis.Redis(host="127.0.0.1", port=ours.port, protocol=3)
    c.flushall()
    c.hset("h", mapping={"a": "1"})
    assert c.hgetall("h") == {b"a": b"1"}
    c.zadd("z", {"m": 1.5})
    assert c.zscore("z", "m") == 1.5
    c.close()


def test_scan_returns_every_stable_key(r):
    for i in range(300):
        r.set(f"stable:{i}", 1)
    seen = set()
    cursor = 0
    step = 0
    while True:
        cursor, keys = r.scan(cursor, count=7)
        seen.update(keys)
        # churn: keys come and go during the scan
        r.set(f"temp:{step}", 1)
        r.delete(f"temp:{step - 3}")
        step += 1
        if cursor == 0:
            break
    assert {f"stable:{i}".encode() for i in range(300)} <= seen


def test_active_expiry_reclaims_without_access(ours, r):
    for i in range(50):
        r.set(f"e{i}", 1, px=20)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and ours.engine.dbs[0].data:
        time.sleep(0.05)
    assert not any(k.startswith(b"e") for k in ours.engine.dbs[0].data)
    assert r.info("stats")["expired_keys"] >= 50


def test_info_and_client_commands(r):
    r.client_setname("me")
    assert r.client_getname() == "me"
    assert any(c["name"] == "me" for c in r.client_list())
    info = r.info()
    assert info["redis_version"] == "7.0.15"
    r.set("k", 1)
    assert r.info("keyspace")["db0"]["keys"] == 1
    assert r.config_get("maxmemory*")["maxmemory"] == "0"


def test_client_kill(ours, r):
    victim = ours.client()
    victim.client_setname("victim")
    vid = victim.client_id()
    assert r.client_kill_filter(_id=vid) == 1
    time.sleep(0.2)
    assert all(c["name"] != "victim" for c in r.client_list())


def test_requirepass():
    from ._resp import RawClient

    with ServerThread("--requirepass", "s3cret") as srv:
        with RawClient(srv.port) as raw:
            assert raw.call("PING") == "NOAUTH Authentication required."
            assert raw.call("AUTH", "wrong").startswith("WRONGPASS")
            assert raw.call("AUTH", "s3cret") == "OK"
            assert raw.call("PING") == "PONG"
        c = srv.client(password="s3cret")
        assert c.ping()
        c.close()


def test_maxclients():
    with ServerThread("--maxclients", "2") as srv:
        a, b = srv.client(), srv.client()
        a.ping(), b.ping()
        with socket.create_connection(("127.0.0.1", srv.port)) as s:
            s.settimeout(5)
            assert s.recv(100) == b"-ERR max number of clients reached\r\n"


def test_query_buffer_limit_closes_client():
    with ServerThread("--client-query-buffer-limit", "1mb") as srv:
        with socket.create_connection(("127.0.0.1", srv.port)) as s:
            s.settimeout(5)
            s.sendall(b"*2\r\n$4\r\nECHO\r\n$5000000\r\n")
            try:
                for _ in range(40):
                    s.sendall(b"x" * 65536)
            except OSError:
                pass
            try:
                assert s.recv(10) == b""
            except ConnectionResetError:
                pass
        assert srv.client().ping()


def test_slow_reader_is_bounded():
    """A client that pipelines big replies and never reads cannot grow our buffers."""
    with ServerThread() as srv:
        c = srv.client()
        c.set("big", "x" * 100_000)
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        req = b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n" * 2000
        s.setblocking(False)
        try:
            s.sendall(req)
        except BlockingIOError:
            pass
        time.sleep(0.5)
        conns = [x for x in srv.server.conns.values() if x.client.name == b"" and x.obuf_len()]
        assert conns, "the reader should have pending output"
        assert max(x.obuf_len() for x in conns) < 8 * 1024 * 1024
        assert c.ping()
        s.close()


def test_output_buffer_hard_limit():
    with ServerThread("--client-output-buffer-limit", "normal 1mb 0 0") as srv:
        c = srv.client()
        c.set("big", "x" * 600_000)
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n" * 200)
        deadline = time.monotonic() + 10
        stats = srv.engine.stats
        while time.monotonic() < deadline and not stats[
                "client_output_buffer_limit_disconnections"]:
            time.sleep(0.05)
        assert c.info("stats")["client_output_buffer_limit_disconnections"] == 1
        assert len(srv.server.conns) == 1
        s.close()


def test_shutdown_stops_the_loop():
    srv = ServerThread().start()
    c = srv.client()
    c.shutdown(nosave=True)  # redis-py treats the closed connection as success
    srv.thread.join(5)
    assert not srv.thread.is_alive()


@pytest.mark.interop
def test_redis_cli_against_us(ours):
    cli = need_binary("redis-cli")
    base = [cli, "-p", str(ours.port)]
    assert subprocess.run(base + ["SET", "cli", "hello"], capture_output=True, text=True,
                          timeout=20).stdout.strip() == "OK"
    out = subprocess.run(base + ["GET", "cli"], capture_output=True, text=True, timeout=20)
    assert out.stdout.strip() == "hello"
    out = subprocess.run(base, input="RPUSH l a b\nLRANGE l 0 -1\n", capture_output=True,
                         text=True, timeout=20)
    assert out.stdout.split() == ["2", "a", "b"]


@pytest.mark.interop
def test_redis_benchmark_against_us(ours):
    bench = need_binary("redis-benchmark")
    out = subprocess.run([bench, "-p", str(ours.port), "-t", "set,get,lpush,hset,zadd",
                          "-n", "2000", "-c", "10", "-P", "4", "--csv"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    names = [line.split(",")[0].strip('"') for line in out.stdout.splitlines()[1:]]
    assert names == ["SET", "GET", "LPUSH", "HSET", "ZADD"]


def test_blocked_clients_are_served_in_blocking_order(ours, r):
    results = []

    def waiter(name, delay):
        time.sleep(delay)
        c = ours.client()
        results.append((name, c.blpop(["fifo"], timeout=5)))
        c.close()

    threads = [threading.Thread(target=waiter, args=(n, d))
               for n, d in (("second", 0.3), ("first", 0.0))]
    for t in threads:
        t.start()
    time.sleep(0.8)
    r.rpush("fifo", "x")
    time.sleep(0.3)
    r.rpush("fifo", "y")
    for t in threads:
        t.join(5)
    assert sorted(results) == [("first", (b"fifo", b"x")), ("second", (b"fifo", b"y"))]


def test_proto_max_bulk_len_applies_at_runtime(ours, r):
    r.config_set("proto-max-bulk-len", "1mb")
    try:
        with socket.create_connection(("127.0.0.1", ours.port)) as s:
            s.settimeout(5)
            s.sendall(b"*2\r\n$4\r\nECHO\r\n$2000000\r\n")
            assert s.recv(100) == b"-ERR Protocol error: invalid bulk length\r\n"
    finally:
        r.config_set("proto-max-bulk-len", "512mb")


def test_out_of_descriptors_does_not_spin():
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with ServerThread() as srv:
        c = srv.client()
        c.ping()
        held = []
        resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 2, hard))
        try:
            for _ in range(5):
                try:
                    held.append(socket.create_connection(("127.0.0.1", srv.port), timeout=1))
                except OSError:
                    break
            time.sleep(0.3)
            assert srv.thread.is_alive()
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
            for h in held:
                h.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                if c.ping():
                    break
            except redis.ConnectionError:
                time.sleep(0.1)
        assert c.ping()
