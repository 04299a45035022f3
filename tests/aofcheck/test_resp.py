"""RespParser: whole, chunked, byte by byte, truncated at every offset, trailing bytes."""

from __future__ import annotations

import random

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from aofcheck.errors import RespCorrupt, RespTruncated
from aofcheck.resp import (DONE, NEED_DATA, Annotation, Command, RespParser,
                           txn_step)
from rdbtools.errors import FormatError, TruncatedError


def encode(args: list[bytes]) -> bytes:
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


RECORDS = [
    b"#TS:1700000000\r\n",
    [b"SELECT", b"0"],
    [b"set", b"a", b"1"],
    [b"SET", b"bin", b"\x00\r\n*3\r\n$1\r\n\xff"],
    [b"MULTI"],
    [b"incr", b"c"],
    [b"EXEC"],
    b"#note\r\n",
    [b"set", b"", b"x" * 3000],
]
LOG = [r if isinstance(r, bytes) else encode(r) for r in RECORDS]
DATA = b"".join(LOG)


def parse(chunks, *, eof=True):
    p = RespParser()
    events = []
    for c in chunks:
        p.feed(c)
        while (ev := p.next_event()) is not NEED_DATA:
            events.append(ev)
    if eof:
        p.feed_eof()
        while (ev := p.next_event()) is not DONE:
            assert ev is not NEED_DATA
            events.append(ev)
    return events


def expected():
    out, off, line = [], 0, 1
    for rec, raw in zip(RECORDS, LOG):
        end = off + len(raw)
        if isinstance(rec, bytes):
            out.append(Annotation(rec[1:-2], off, end, line))
            line += 1
        else:
            args = rec
            out.append(("cmd", args, off, end, line))
            line += 1 + 2 * len(args)
        off = end
    return out


def norm(events):
    return [e if isinstance(e, Annotation) else ("cmd", e.args, e.offset, e.end, e.line)
            for e in events]


def test_whole():
    assert norm(parse([DATA])) == expected()


def test_byte_by_byte():
    assert norm(parse([DATA[i:i + 1] for i in range(len(DATA))])) == expected()


@pytest.mark.parametrize("seed", range(5))
def test_random_chunks(seed):
    rnd = random.Random(seed)
    chunks, i = [], 0
    while i < len(DATA):
        n = rnd.randint(1, 200)
        chunks.append(DATA[i:i + n])
        i += n
    assert norm(parse(chunks)) == expected()


def test_events_carry_offsets_and_transactions():
    evs = parse([DATA])
    cmds = [e for e in evs if isinstance(e, Command)]
    for e in evs:
        assert DATA[e.offset:e.end] in LOG
    assert [c.in_multi for c in cmds] == [False, False, False, True, True, True, False]
    assert evs[0].timestamp == 1700000000
    assert cmds[2].args[2] == b"\x00\r\n*3\r\n$1\r\n\xff"


def _redis_cut_model(cut: int):
    """What Redis 7.0's loader keeps of DATA[:cut]: (truncated?, offset, reverted MULTI?)."""
    off, last_cmd, before_multi, in_multi = 0, None, None, False
    for rec, raw in zip(RECORDS, LOG):
        end = off + len(raw)
        if end > cut:
            if off < cut and not (isinstance(rec, bytes)):
                return True, last_cmd or 0, False          # partial command
            if off < cut:
                return (in_multi, before_multi or 0, True) if in_multi else (False, None, False)
            break
        if not isinstance(rec, bytes):
            verb = rec[0].lower()
            if verb == b"multi":
                before_multi, in_multi = last_cmd, True
            elif verb == b"exec":
                in_multi = False
            last_cmd = end
        off = end
    if in_multi:
        return True, before_multi or 0, True
    return False, None, False


def test_truncated_at_every_offset():
    ends = [e.end for e in parse([DATA])]
    for cut in range(len(DATA) + 1):
        truncated, where, reverted = _redis_cut_model(cut)
        p = RespParser()
        p.feed(DATA[:cut])
        p.feed_eof()
        got = []
        try:
            while (ev := p.next_event()) is not DONE:
                got.append(ev)
            assert not truncated, cut
            if cut not in ends and cut:
                # only a last annotation line may lack its newline
                assert isinstance(got[-1], Annotation) and got[-1].end == cut
        except RespTruncated as e:
            assert isinstance(e, TruncatedError)
            assert truncated, cut
            assert (e.valid_up_to, e.redis_valid_up_to, e.reverted_multi) == (where, where, reverted), cut
            assert e.valid_up_to <= cut
        # the events produced before the error are exactly the complete records
        assert all(ev.end <= cut for ev in got)


def test_truncation_before_any_command_keeps_a_preamble():
    p = RespParser(base_offset=372)
    p.feed(b"*3\r\n$3\r\nset")
    p.feed_eof()
    with pytest.raises(RespTruncated) as ei:
        p.next_event()
    assert ei.value.valid_up_to == 372        # what we keep
    assert ei.value.redis_valid_up_to == 0    # what Redis 7.0 keeps (nothing; see docstring)


def test_trailing_garbage_is_corrupt_with_offset():
    with pytest.raises(RespCorrupt) as ei:
        parse([DATA + b"garbage\r\n"])
    assert ei.value.offset == len(DATA)
    assert "offset %d" % len(DATA) in str(ei.value)


@pytest.mark.parametrize("bad, offset", [
    (b"*0\r\n", 0), (b"*-1\r\n", 0), (b"*x\r\n", 0), (b"*3\n$3\nset\n", 0),
    (b"*1\r\n#3\r\nabc\r\n", 4), (b"*1\r\n$3\r\nabcXY", 11), (b"*1\r\n$-1\r\n", 4),
    (b"*1\r\n$" + b"9" * 30 + b"\r\n", 4), (b"*1\r\n$999999999999\r\n", 4),
    (b"#" + b"x" * 2000 + b"\r\n", 0),
])
def test_corrupt_inputs(bad, offset):
    with pytest.raises(RespCorrupt) as ei:
        parse([bad])
    assert ei.value.offset == offset
    assert isinstance(ei.value, FormatError)


def test_huge_declared_length_is_refused_before_buffering():
    p = RespParser(max_bulk_len=1000)
    p.feed(b"*1\r\n$1001\r\n")
    with pytest.raises(RespCorrupt):
        p.next_event()


def test_lenient_crlf_option_matches_the_server():
    p = RespParser(check_crlf=False)
    p.feed(b"*1\r\n$3\r\nabcXY")
    assert p.next_event().args == [b"abc"]


def test_annotation_without_newline_at_eof():
    evs = parse([encode([b"PING"]) + b"#TS:5"])
    assert isinstance(evs[-1], Annotation) and evs[-1].timestamp == 5


def test_eof_inside_multi_is_truncation():
    data = encode([b"set", b"a", b"1"]) + b"#TS:5\r\n" + encode([b"multi"]) + encode([b"set", b"b", b"2"])
    with pytest.raises(RespTruncated) as ei:
        parse([data])
    # back to the end of the last command before MULTI: the annotation goes too (as Redis)
    assert ei.value.valid_up_to == len(encode([b"set", b"a", b"1"]))
    assert ei.value.reverted_multi
    # a partial command inside MULTI: Redis keeps the complete commands of the MULTI
    with pytest.raises(RespTruncated) as ei:
        parse([data + b"*2\r\n$3"])
    assert ei.value.valid_up_to == len(data) and not ei.value.reverted_multi


def test_base_offset():
    p = RespParser(base_offset=100)
    p.feed(encode([b"PING"]))
    ev = p.next_event()
    assert (ev.offset, ev.end) == (100, 100 + len(encode([b"PING"])))


def test_txn_table():
    assert txn_step(False, b"MULTI") == (True, None)
    assert txn_step(True, b"exec") == (False, None)
    assert txn_step(True, b"multi")[1] and txn_step(False, b"Exec")[1]
    assert txn_step(True, b"set") == (True, None)


def test_memory_stays_bounded_while_streaming():
    p = RespParser()
    rec = encode([b"set", b"k", b"v" * 100])
    for _ in range(5000):
        p.feed(rec * 20)
        while p.next_event() is not NEED_DATA:
            pass
    assert len(p._buf) < (1 << 16) * 2 + len(rec) * 20


args_st = st.lists(st.binary(max_size=40), min_size=1, max_size=6)


@settings(max_examples=150, deadline=None)
@given(st.lists(args_st, min_size=1, max_size=8), st.integers(1, 50))
def test_roundtrip_any_commands_any_chunking(cmds, step):
    assume(all(c[0].lower() not in (b"multi", b"exec") for c in cmds))
    data = b"".join(encode(c) for c in cmds)
    evs = parse([data[i:i + step] for i in range(0, len(data), step)])
    assert [e.args for e in evs] == cmds
    assert evs[-1].end == len(data)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from([b"MULTI", b"exec", b"set", b"Multi", b"EXEC"]), max_size=12))
def test_txn_table_agrees_with_the_checker(tmp_path_factory, verbs):
    """The TXN_TABLE walk and the redis-check-aof emulation accept the same sequences."""
    from aofcheck.check import CheckOptions, check_aof

    state, complaint = False, None
    for v in verbs:
        state, why = txn_step(state, v)
        complaint = complaint or why
    table_ok = complaint is None and not state
    path = tmp_path_factory.mktemp("txn") / "F.aof"
    path.write_bytes(b"".join(encode([v] + ([b"k", b"v"] if v == b"set" else [])) for v in verbs))
    rep = check_aof(str(path), CheckOptions())
    assert (rep.exit_code == 0) == table_ok
