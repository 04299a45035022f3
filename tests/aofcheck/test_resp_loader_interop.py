"""RespTruncated.redis_valid_up_to is where real Redis 7.0 truncates a damaged last file."""

from __future__ import annotations

from pathlib import Path

import pytest

from aofcheck.errors import RespTruncated
from aofcheck.resp import DONE, NEED_DATA, RespParser
from tests.aofcheck.aofgen import MULTI, SEL, SET
from tests.support.realredis import RealRedis

pytestmark = pytest.mark.interop

SETC = b"*3\r\n$3\r\nset\r\n$1\r\nc\r\n$1\r\nd\r\n"
PART = b"*3\r\n$3\r\nset\r\n$1\r\nx"
CASES = {
    "partial": SEL + SET + PART,
    "partial-in-multi": SEL + SET + MULTI + SETC + PART,
    "annotation-then-partial": SEL + SET + b"#TS:5\r\n" + PART,
    "annotation-then-open-multi": SEL + SET + b"#TS:5\r\n" + MULTI + SETC,
    "open-multi-first": MULTI + SETC,
}


def _parser_cut(data: bytes, base: int = 0) -> int:
    p = RespParser(base_offset=base, check_crlf=False)
    p.feed(data[base:])
    p.feed_eof()
    try:
        while p.next_event() not in (DONE, NEED_DATA):
            pass
    except RespTruncated as e:
        return e.redis_valid_up_to
    raise AssertionError("not truncated")


def _redis_cut(tmp: Path, name: str, data: bytes, kind: str = "i") -> int:
    d = tmp / "appendonlydir"
    d.mkdir(parents=True)
    (d / "appendonly.aof.manifest").write_bytes(b"file %s seq 1 type %s\n" % (name.encode(), kind.encode()))
    (d / name).write_bytes(data)
    with RealRedis(tmp, extra=["--appendonly", "yes"]):
        pass
    return (d / name).stat().st_size


@pytest.mark.parametrize("case", sorted(CASES))
def test_cut_matches_redis_loader(tmp_path, case):
    data = CASES[case]
    assert _parser_cut(data) == _redis_cut(tmp_path, "appendonly.aof.1.incr.aof", data)


def test_preamble_then_partial_redis_truncates_to_zero(tmp_path, fixtures_dir):
    rdb = (fixtures_dir / "aof" / "preamble" / "appendonlydir" / "appendonly.aof.2.base.rdb").read_bytes()
    data = rdb + PART
    assert _parser_cut(data, base=len(rdb)) == 0 == _redis_cut(tmp_path, "appendonly.aof.1.base.rdb",
                                                               data, "b")
