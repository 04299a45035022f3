"""Hypothesis: any command history -> our AOF (rewrites anywhere, preamble on/off) and
our snapshot -> load -> the same DEBUG DIGEST as the live engine."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.engine import Engine
from server.offline import aof_digest
from server.persist.aof import AofManager
from server.persist.snapshot import load_rdb, snapshot_bytes
from tests.server.test_persist_support import digest

KEYS = st.sampled_from([b"k1", b"k2", b"k3", b"\x00bin", b"long" * 20])
VALS = st.one_of(st.integers(-10**6, 10**6).map(lambda i: str(i).encode()),
                 st.binary(max_size=80))
SCORES = st.one_of(st.integers(-100, 100).map(lambda i: str(i).encode()),
                   st.sampled_from([b"0.1", b"-0", b"inf", b"-inf", b"1e300", b"2.5"]))

COMMANDS = st.one_of(
    st.tuples(st.just(b"SET"), KEYS, VALS),
    st.tuples(st.just(b"APPEND"), KEYS, VALS),
    st.tuples(st.just(b"INCRBYFLOAT"), st.just(b"f"), st.sampled_from([b"1.5", b"-0.25"])),
    st.tuples(st.just(b"RPUSH"), KEYS, VALS, VALS),
    st.tuples(st.just(b"LPOP"), KEYS),
    st.tuples(st.just(b"SADD"), KEYS, VALS, VALS),
    st.tuples(st.just(b"SPOP"), KEYS),
    st.tuples(st.just(b"ZADD"), KEYS, SCORES, VALS),
    st.tuples(st.just(b"ZINCRBY"), KEYS, SCORES, VALS),
    st.tuples(st.just(b"HSET"), KEYS, VALS, VALS),
    st.tuples(st.just(b"HDEL"), KEYS, VALS),
    st.tuples(st.just(b"DEL"), KEYS),
    st.tuples(st.just(b"EXPIRE"), KEYS, st.sampled_from([b"100000", b"-1"])),
    st.tuples(st.just(b"PERSIST"), KEYS),
    st.tuples(st.just(b"SELECT"), st.sampled_from([b"0", b"1", b"9"])),
    st.tuples(st.just(b"XADD"), st.just(b"st"), st.just(b"*"), VALS, VALS),
    st.tuples(st.just(b"MULTI")), st.tuples(st.just(b"EXEC")),
    st.tuples(st.just(b"REWRITE")),
)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(cmds=st.lists(COMMANDS, max_size=40), preamble=st.booleans())
def test_any_history_reloads_to_the_same_digest(tmp_path_factory, cmds, preamble):
    d = tmp_path_factory.mktemp("aof")
    e = Engine()
    m = AofManager(e, str(d), fsync="no", use_rdb_preamble=preamble)
    m.start()
    c = e.new_client()
    try:
        for cmd in cmds:
            if cmd[0] == b"REWRITE":
                if c.multi is None and m.start_rewrite():
                    m.wait_rewrite(20)
                continue
            e.execute(c, list(cmd))
            if c.multi is None:
                m.flush_before_replies()
        if c.multi is not None:
            e.execute(c, [b"EXEC"])
        m.flush_before_replies()
        want = digest(e)
        assert aof_digest(str(d / "appendonlydir")) == want
        e2 = Engine()
        load_rdb(e2, snapshot_bytes(e))
        assert digest(e2) == want
    finally:
        m.close()
