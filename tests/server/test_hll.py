"""HyperLogLog commands: byte-identical to Redis 7.0.

The interop half runs the same command sequences against real Redis 7.0 and
rdbkit-server (both with an AOF) and compares raw replies, then for every key GET,
DUMP, OBJECT ENCODING and DEBUG DIGEST-VALUE, the DEBUG DIGEST, and the AOF bytes the
sequence appended. The rest checks the sans-I/O pieces against slow references.
"""

from __future__ import annotations

import random

import pytest

import server.cmd_hll  # noqa: F401  (registers the commands until engine.py imports it)
from server import hll
from server.app import ServerThread
from server.engine import Engine
from server.proto import OK
from tests.support.realredis import RealRedis

from ._pair import SERVER_OPTS as _SERVER_OPTS, pair_fixture
from ._inproc import engine_with_log
from ._resp import RawClient


# -- the sans-I/O core ---------------------------------------------------------------------

def _slow_unpack(body: bytes) -> list[int]:
    bits = int.from_bytes(body, "little")
    return [(bits >> (6 * r)) & 63 for r in range(hll.REGISTERS)]


def test_dense_pack_unpack_and_max_match_bit_arithmetic():
    rng = random.Random(1)
    a = bytes(rng.randrange(64) for _ in range(hll.REGISTERS))
    b = bytes(rng.choice((0, 0, 1, 5, 63)) for _ in range(hll.REGISTERS))
    body = hll.dense_pack(a)
    assert len(body) == hll.DENSE_BODY
    assert _slow_unpack(body) == list(a)
    assert hll.dense_unpack(body) == a
    assert hll.regs_max(a, b) == bytes(map(max, a, b))
    v = bytearray(hll.MAGIC + bytes(12)) + body
    for r in (0, 1, 2, 3, 4, 5, 16382, 16383):
        assert hll.dense_get(v, r) == a[r]
        hll.dense_set(v, r, 63 - a[r])
        assert hll.dense_get(v, r) == 63 - a[r]
    want = list(a)
    for r in (0, 1, 2, 3, 4, 5, 16382, 16383):
        want[r] = 63 - a[r]
    assert _slow_unpack(bytes(v[hll.HDR:])) == want


def test_empty_hll_estimates_zero_and_histogram_counts():
    assert hll.count(hll.EMPTY) == 0
    assert hll.estimate([hll.REGISTERS] + [0] * 63) == 0
    regs = bytes([0] * 100 + [3] * (hll.REGISTERS - 100))
    hist = hll.histogram(regs)
    assert hist[0] == 100 and hist[3] == hll.REGISTERS - 100 and sum(hist) == hll.REGISTERS


@pytest.mark.parametrize("seed", range(6))
def test_sparse_editor_matches_byte_level_hllSparseSet(seed):
    """The opcode-list editor and the byte-for-byte rendition agree on every update."""
    rng = random.Random(seed)
    max_bytes = rng.choice((40, 300, 3000, 10 ** 6))
    raw = bytearray(hll.EMPTY)
    ed = hll.SparseEditor(raw)
    for _ in range(rng.choice((50, 400, 1500))):
        if rng.random() < 0.5:
            index = rng.randrange(hll.REGISTERS)
        else:  # crowd a small window so VAL runs split and merge
            index = rng.randrange(200, 240)
        count = rng.choice((1, 1, 1, 2, 2, 3, 4, 7, 32, 33))
        r1 = hll.sparse_set_bytes(raw, index, count, max_bytes)
        r2 = ed.set(index, count, max_bytes)
        assert r1 == r2
        if r1 == hll.PROMOTE:
            break
        assert ed.value() == raw
    assert hll.sparse_histogram(hll.parse_ops(raw[hll.HDR:])[0])[0] <= hll.REGISTERS


def test_parse_ops_reads_a_cut_xzero_like_redis():
    ops, cut = hll.parse_ops(b"\x7f\xfe\x40")
    assert cut and ops == [b"\x7f\xfe", b"\x40\x00"]
    assert hll.sparse_histogram(ops)[0] == hll.REGISTERS
    assert hll.parse_ops(b"\x7f\xff") == ([b"\x7f\xff"], False)


def test_hostile_long_sparse_body_is_handled_in_bounded_memory():
    import tracemalloc

    e = Engine()
    c = e.new_client()
    body = b"\x00" * 8_000_000  # 8M ZERO:1 opcodes: corrupt, but PFADD still edits it
    e.execute(c, [b"SET", b"h", b"HYLL\x01" + bytes(10) + b"\x80" + body])
    tracemalloc.start()
    try:
        assert e.execute(c, [b"PFCOUNT", b"h"]) == b"INVALIDOBJ Corrupted HLL object detected"
        assert e.execute(c, [b"PFMERGE", b"d", b"h"]).startswith(b"INVALIDOBJ")
        assert e.execute(c, [b"PFADD", b"h", b"a", b"b"]) == 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 6 * len(body)
    v = e.execute(c, [b"GET", b"h"])
    assert len(v) == 16 + len(body) and v[16:] != body


def test_sparse_max_bytes_directive_from_a_config_file():
    from server.config import Config, apply_text

    def encoding_after_adds(conf: bytes):
        cfg = Config()
        apply_text(cfg, conf, source="redis.conf")
        e = Engine(cfg)
        c = e.new_client()
        e.execute(c, [b"PFADD", b"h", *(b"e%d" % i for i in range(30))])
        v = e.execute(c, [b"GET", b"h"])
        return e.execute(c, [b"PFDEBUG", b"ENCODING", b"h"]), len(v), \
            e.execute(c, [b"CONFIG", b"GET", b"hll-sparse-max-bytes"])

    enc, size, got = encoding_after_adds(b"")
    assert enc == b"sparse" and got == [(b"hll-sparse-max-bytes", b"3000")]
    enc, dsize, got = encoding_after_adds(b"hll-sparse-max-bytes %d\n" % (size - 1))
    assert enc == b"dense" and dsize == hll.DENSE_SIZE
    assert got == [(b"hll-sparse-max-bytes", b"%d" % (size - 1))]
    assert encoding_after_adds(b"hll-sparse-max-bytes %d\n" % size)[0] == b"sparse"


def test_engine_in_process_basics():
    e, c, prop, x = engine_with_log()

    assert x("PFADD", "h") == 1
    assert bytes(x("GET", "h")) == hll.EMPTY[:15] + b"\x80" + b"\x7f\xff"
    assert x("PFADD", "h") == 0
    assert x("PFADD", "h", "a", "b", "c") == 1
    assert x("PFCOUNT", "h") == 3
    assert x("PFCOUNT", "h") == 3  # cached: not propagated again
    assert prop == [[b"PFADD", b"h"], [b"PFADD", b"h", b"a", b"b", b"c"], [b"PFCOUNT", b"h"]]
    assert x("PFSELFTEST") == OK


# -- against real Redis ----------------------------------------------------------------------

_RESET = ("CONFIG", "SET", "hll-sparse-max-bytes", "3000")


pair = pair_fixture("hll")


def _els(prefix: str, n: int, start: int = 0):
    return [f"{prefix}{i}" for i in range(start, start + n)]


@pytest.mark.interop
def test_small_adds_count_cache_and_debug(pair):
    pair.reset(_RESET)
    pair.run([
        ("PFADD", "h"), ("GET", "h"), ("PFADD", "h"), ("PFCOUNT", "h"),
        ("PFADD", "h", "a", "b", "c", "a"), ("PFDEBUG", "DECODE", "h"),
        ("PFDEBUG", "ENCODING", "h"), ("PFCOUNT", "h"), ("PFCOUNT", "h"), ("GET", "h"),
        ("PFADD", "h", "a"), ("PFADD", "h", "d"), ("PFCOUNT", "h"),
        ("PFADD", "h", *_els("x", 60)), ("PFDEBUG", "DECODE", "h"), ("PFCOUNT", "h"),
        ("PFCOUNT", "nokey"), ("PFCOUNT", "nokey", "nokey2"), ("PFCOUNT", "h", "nokey"),
        ("pfadd", "lower", "1"), ("pfcount", "lower"), ("PFADD", "", ""), ("PFCOUNT", ""),
        ("SET", "copy", "x"), ("DEL", "copy"),
    ])
    # a copy of an HLL made with SET is an embstr until an HLL command unshares it
    h = pair.run([("GET", "h")], compare_state=False)[0]
    pair.run([("SET", "copy", h), ("OBJECT", "ENCODING", "copy"), ("PFCOUNT", "copy"),
              ("OBJECT", "ENCODING", "copy"), ("SET", "copy2", h), ("PFADD", "copy2"),
              ("OBJECT", "ENCODING", "copy2"), ("SET", "ttl", h, "PXAT", "4102444800000"),
              ("PFADD", "ttl", "zz"), ("PFCOUNT", "ttl"), ("PEXPIRETIME", "ttl")])


@pytest.mark.interop
def test_promotion_to_dense_at_default_and_small_threshold(pair):
    pair.reset(_RESET)
    cmds = []
    for i in range(0, 2600, 100):  # the sparse form grows past 3000 bytes, then dense
        cmds += [("PFADD", "big", *_els("e", 100, i)), ("PFDEBUG", "ENCODING", "big"),
                 ("STRLEN", "big")]
    cmds += [("PFCOUNT", "big"), ("PFADD", "big", *_els("e", 2000, 5000)), ("PFCOUNT", "big")]
    replies = pair.run(cmds)
    assert "dense" in replies and "sparse" in replies
    limit = ("CONFIG", "SET", "hll-sparse-max-bytes")
    pair.run([(*limit, "60"), ("CONFIG", "GET", "hll-sparse-max-bytes")]
             + [("PFADD", "small", e) for e in _els("s", 40)]
             + [("PFDEBUG", "ENCODING", "small"), ("PFCOUNT", "small"), (*limit, "0"),
                ("PFADD", "zero", "a"), ("PFADD", "zero2"), ("PFADD", "zero2", "b"),
                ("PFDEBUG", "ENCODING", "zero"), ("PFDEBUG", "ENCODING", "zero2"),
                (*limit, "3000")])
    pair.run([("PFADD", "t", *_els("t", 30)), ("PFDEBUG", "TODENSE", "t"),
              ("PFDEBUG", "TODENSE", "t"), ("PFDEBUG", "ENCODING", "t"),
              ("PFADD", "g", *_els("g", 30)), ("PFDEBUG", "GETREG", "g"),
              ("PFDEBUG", "GETREG", "g"), ("PFCOUNT", "g"), ("PFDEBUG", "DECODE", "g")])


@pytest.mark.interop
def test_merge_and_union(pair):
    pair.reset(_RESET)
    pair.run([
        ("PFADD", "s1", *_els("a", 50)), ("PFADD", "s2", *_els("a", 80, 30)),
        ("PFADD", "d1", *_els("b", 4000)), ("PFADD", "d2", *_els("a", 3000, 20)),
        ("PFCOUNT", "s1", "s2"), ("PFCOUNT", "s1", "d1"), ("PFCOUNT", "d1", "d2", "s1", "nope"),
        ("PFMERGE", "m1", "s1", "s2"), ("PFDEBUG", "ENCODING", "m1"), ("PFCOUNT", "m1"),
        ("PFMERGE", "m2", "s1", "d1"), ("PFDEBUG", "ENCODING", "m2"), ("PFCOUNT", "m2"),
        ("PFMERGE", "s2", "d2"), ("PFDEBUG", "ENCODING", "s2"), ("PFCOUNT", "s2"),
        ("PFMERGE", "s1", "s1"), ("PFCOUNT", "s1"), ("PFMERGE", "empty"), ("GET", "empty"),
        ("PFMERGE", "m3", "nope1", "nope2"), ("PFCOUNT", "m3"),
        ("PFADD", "b1", *_els("q", 1200)), ("PFADD", "b2", *_els("w", 1200)),
        ("PFMERGE", "m4", "b1", "b2"), ("PFDEBUG", "ENCODING", "m4"), ("PFCOUNT", "m4"),
        ("CONFIG", "SET", "hll-sparse-max-bytes", "200"), ("PFMERGE", "m5", "b1"),
        ("PFDEBUG", "ENCODING", "m5"), ("PFCOUNT", "m5"),
        ("MULTI",), ("PFADD", "tx", "a"), ("PFCOUNT", "tx"), ("PFCOUNT", "tx"), ("EXEC",),
    ])


_HDR_SPARSE = b"HYLL\x01\x00\x00\x00" + bytes(7) + b"\x80"
_HDR_CACHED = b"HYLL\x01\x00\x00\x00" + (1234).to_bytes(8, "little")


@pytest.mark.interop
def test_errors_and_corrupt_hlls(pair):
    pair.reset(_RESET)
    bad = {
        "short": b"HYLL\x01",
        "magic": b"HYLX" + _HDR_SPARSE[4:] + b"\x7f\xff",
        "enc2": b"HYLL\x02" + _HDR_SPARSE[5:] + b"\x7f\xff",
        "denselen": b"HYLL\x00" + _HDR_SPARSE[5:] + bytes(100),
        "under": _HDR_SPARSE + b"\x7f\xfe",
        "over": _HDR_SPARSE + b"\x7f\xff\x00",
        "valtail": _HDR_SPARSE + b"\x7f\xff\x84\x80",
        "cut": _HDR_SPARSE + b"\x7f\xfe\x40",
        "cutlong": _HDR_SPARSE + b"\x70\x00\x4f",
        "cutover": _HDR_SPARSE + b"\x7f\xff\x40",
        "zeroxz": _HDR_SPARSE + b"\x00\x7f\xff",
        "xzxz": _HDR_SPARSE + b"\x7f\xff\x7f\xff",
        "valexact": _HDR_SPARSE + b"\x7f\xfd\x81",
        "val1tail": _HDR_SPARSE + b"\x7f\xff\x80",
        "long": _HDR_SPARSE + b"\x00" * 40000,
        "longval": _HDR_SPARSE + b"\x7f\xff" + b"\x80\x84" * 20000,
        "bodyless": _HDR_SPARSE,
        "cached": _HDR_CACHED + b"\x7f\xfe",
        "spare": b"HYLL\x01\x07\x08\x09" + bytes(7) + b"\x80" + b"\x7f\xff",
    }
    cmds = [("SET", k, v) for k, v in bad.items()]
    cmds += [("LPUSH", "list", "x"), ("SET", "int", "12345"), ("SET", "str", "hello")]
    for k in [*bad, "list", "int", "str"]:
        cmds += [("PFCOUNT", k), ("PFCOUNT", k, "nokey"), ("PFMERGE", "dst", k),
                 ("PFMERGE", k, "nokey"), ("PFDEBUG", "DECODE", k), ("PFDEBUG", "ENCODING", k),
                 ("PFADD", k, *_els("z", 20)), ("PFDEBUG", "GETREG", k),
                 ("PFDEBUG", "TODENSE", k), ("PFCOUNT", k)]
    cmds += [("PFDEBUG", "GETREG", "nokey"), ("PFADD", "ok", "a"), ("PFDEBUG", "FOO", "ok"),
             ("PFDEBUG", "foo\nbar", "ok"), ("PFDEBUG", "GETREG"), ("PFADD",), ("PFCOUNT",),
             ("PFMERGE",), ("PFSELFTEST", "x"), ("PFDEBUG", "DECODE", "ok", "x"),
             ("PFSELFTEST",)]
    pair.run(cmds)


@pytest.mark.interop
def test_random_element_sets(pair):
    rng = random.Random(20261121)
    pair.reset(_RESET)
    for _ in range(5):
        cmds = [("CONFIG", "SET", "hll-sparse-max-bytes", str(rng.choice((100, 700, 3000))))]
        keys = [f"k{i}" for i in range(4)]
        for _ in range(12):
            k = rng.choice(keys)
            n = rng.choice((1, 3, 20, 150, 600))
            els = [rng.randbytes(rng.randrange(0, 24)) for _ in range(n)]
            els += rng.sample(els, min(3, len(els)))  # repeats change nothing
            cmds.append(("PFADD", k, *els))
            if rng.random() < 0.4:
                cmds.append(("PFCOUNT", k))
            if rng.random() < 0.2:
                cmds.append(("PFMERGE", rng.choice(keys + ["dst"]), *rng.sample(keys, 2)))
        cmds += [("PFCOUNT", *keys), ("PFDEBUG", "ENCODING", keys[0])]
        cmds += [("PFCOUNT", k) for k in keys]
        pair.run(cmds)


@pytest.mark.interop
def test_reload_restore_and_watch(pair):
    pair.reset(_RESET)
    pair.run([("PFADD", "sp", *_els("a", 5)), ("PFADD", "de", *_els("b", 3000)),
              ("PFADD", "mid", *_els("c", 300))])
    dumps = [pair.clients[0].call("DUMP", k) for k in ("sp", "de")]  # Redis's payloads
    # loaded back, short HLLs are embstr until an HLL command unshares them
    pair.run([("DEBUG", "RELOAD"), ("OBJECT", "ENCODING", "sp"), ("OBJECT", "ENCODING", "mid"),
              ("PFCOUNT", "sp", "de"), ("OBJECT", "ENCODING", "sp"), ("PFCOUNT", "sp"),
              ("OBJECT", "ENCODING", "sp"), ("PFADD", "mid", "x"), ("OBJECT", "ENCODING", "mid"),
              ("RESTORE", "sp2", "0", dumps[0]), ("RESTORE", "de2", "0", dumps[1]),
              ("PFCOUNT", "sp2"), ("PFCOUNT", "de2"), ("PFCOUNT", "de2", "sp2", "mid")])
    # PFCOUNT's cache write and PFMERGE touch watched keys; PFDEBUG's conversion does not
    pair.run([("PFADD", "w", "a"),
              ("WATCH", "w"), ("PFCOUNT", "w"), ("MULTI",), ("PING",), ("EXEC",),
              ("WATCH", "w"), ("PFCOUNT", "w"), ("MULTI",), ("PING",), ("EXEC",),
              ("WATCH", "w"), ("PFDEBUG", "TODENSE", "w"), ("MULTI",), ("PING",), ("EXEC",),
              ("WATCH", "w"), ("PFADD", "w", "a"), ("MULTI",), ("PING",), ("EXEC",),
              ("WATCH", "w"), ("PFMERGE", "w"), ("MULTI",), ("PING",), ("EXEC",),
              ("WATCH", "w"), ("PFADD", "w", "new"), ("MULTI",), ("PING",), ("EXEC",)])


def _random_sparse(rng: random.Random) -> bytes:
    """Opcodes adding up to about 16384 registers; sometimes a little off, cut or long."""
    out = bytearray()
    left = hll.REGISTERS + rng.choice((0, 0, 0, 0, -1, 1, 64, -300))
    while left > 0:
        kind = rng.random()
        if kind < 0.4:
            n = rng.randint(1, min(64, left))
            out.append(n - 1)
        elif kind < 0.6:
            n = rng.randint(1, min(16384, left))
            out += bytes((0x40 | ((n - 1) >> 8), (n - 1) & 0xFF))
        else:
            n = rng.randint(1, min(4, left))
            out.append(0x80 | (rng.randrange(32) << 2) | (n - 1))
        left -= n
    if rng.random() < 0.1:
        out.append(0x40 | rng.randrange(64))  # an XZERO missing its second byte
    return bytes(out)


@pytest.mark.interop
def test_random_crafted_sparse_strings(pair):
    """Hand-made sparse bodies (VAL runs next to each other, near-valid totals, cut
    opcodes) through every command: the edits, promotions and errors must agree."""
    rng = random.Random(7)
    pair.reset(_RESET)
    cmds = []
    for i in range(40):
        k = f"c{i}"
        cached = rng.random() < 0.2
        hdr = b"HYLL\x01\x00\x00\x00" + (rng.randrange(1 << 20).to_bytes(8, "little") if cached
                                             else bytes(7) + b"\x80")
        cmds.append(("SET", k, hdr + _random_sparse(rng)))
        if rng.random() < 0.3:
            limit = str(rng.choice((200, 400, 3000)))
            cmds.append(("CONFIG", "SET", "hll-sparse-max-bytes", limit))
        for _ in range(rng.randint(1, 4)):
            op = rng.randrange(6)
            if op < 3:
                n = rng.choice((1, 5, 40))
                cmds.append(("PFADD", k, *[rng.randbytes(4) for _ in range(n)]))
            elif op == 3:
                cmds.append(("PFCOUNT", k))
            elif op == 4:
                cmds.append(("PFMERGE", f"m{i % 3}", k))
            else:
                cmds.append(("PFCOUNT", k, f"m{i % 3}"))
        cmds += [("PFDEBUG", "DECODE", k), ("PFDEBUG", "ENCODING", k)]
    pair.run(cmds)


@pytest.mark.interop
def test_redis_aof_with_pf_commands_replays_to_the_same_data(pair, tmp_path):
    """Everything the tests above made Redis write to its AOF (PFADD, PFCOUNT's cache
    writes, PFMERGE, PFDEBUG conversions, MULTI blocks) loads into rdbkit-server as it
    loads into Redis. (Not the live data: CONFIG SET hll-sparse-max-bytes is not in the
    AOF, so a replay under the default limit can keep other encodings: Redis does that.)"""
    import shutil

    pair.run([("PFADD", "last", *_els("l", 100)), ("PFCOUNT", "last"),
              ("PFDEBUG", "TODENSE", "last"), ("PFMERGE", "last2", "last")])
    for sub in ("real", "ours"):
        shutil.copytree(pair.real.dir / "appendonlydir", tmp_path / sub / "appendonlydir")
    with RealRedis(tmp_path / "real", extra=_SERVER_OPTS) as real:
        want = [real.command("DEBUG", "DIGEST"), real.command("GET", "last"),
                real.command("DBSIZE")]
    with ServerThread("--dir", str(tmp_path / "ours"), *_SERVER_OPTS) as srv:
        with RawClient(srv.port) as cl:
            got = [cl.call("DEBUG", "DIGEST").encode(), cl.call("GET", "last"),
                   cl.call("DBSIZE")]
    assert got == want and want[2] > 0
    assert want[1] == pair.clients[0].call("GET", "last")
