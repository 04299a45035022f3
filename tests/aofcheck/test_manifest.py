"""Manifest parsing (the 7.0 server's rules), writer quoting, and layout detection."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aofcheck.errors import ManifestError
from aofcheck.layout import MULTI_PART, PREAMBLE, RESP, LayoutError, detect, is_manifest
from aofcheck.manifest import AofInfo, format_line, parse_manifest, split_args


def test_real_manifest_order_and_history():
    am = parse_manifest(b"file appendonly.aof.3.base.rdb seq 3 type b\n"
                        b"file appendonly.aof.2.incr.aof seq 2 type h\n"
                        b"file appendonly.aof.3.incr.aof seq 3 type i\n"
                        b"file appendonly.aof.4.incr.aof seq 4 type i\n")
    assert am.base.name == b"appendonly.aof.3.base.rdb"
    assert [i.name for i in am.history] == [b"appendonly.aof.2.incr.aof"]
    assert [i.seq for i in am.files_to_load()] == [3, 3, 4]


@pytest.mark.parametrize("data, reason, line", [
    (b"", "Found an empty AOF manifest", None),
    (b"file a seq 0 type b\n", "Invalid AOF manifest file format", 1),
    (b"file a seq x type b\n", "Invalid AOF manifest file format", 1),
    (b"# c\n\n", "Invalid AOF manifest file format", 2),
    (b"file a seq 1 type b", "The AOF manifest file contains too long line", None),
    (b"file a\\b seq 1 type b\n", "File can't be a path, just a filename", 1),
    (b"file a seq 1 type b\nfile c seq 2 type b\n", "Found duplicate base file information", 2),
    (b"file a seq 2 type i\nfile c seq 2 type i\n", "Found a non-monotonic sequence number", 2),
    (b"file a seq 1 type q\n", "Unknown AOF file type", 1),
    (b"file a seq 1 type\n", "Invalid AOF manifest file format", 1),
    (b"file \"a seq 1 type i\n", "Invalid AOF manifest file format", 1),
    (b"file \"a\"b seq 1 type i\n", "Invalid AOF manifest file format", 1),
    (b"#" + b"x" * 2000 + b"\nfile a seq 1 type i\n", "Invalid AOF manifest file format", 2),
])
def test_manifest_errors(data, reason, line):
    with pytest.raises(ManifestError) as ei:
        parse_manifest(data)
    assert ei.value.reason == reason
    assert ei.value.line == line


def test_manifest_accepts_crlf_comments_extra_pairs_and_quotes():
    am = parse_manifest(b"# hi\r\nfile 'my file' seq 1 type i k v\r\nFILE \"x\\x41\" SEQ 2 TYPE incr\n")
    assert [i.name for i in am.incrs] == [b"my file", b"xA"]
    assert parse_manifest(b"# only comments\n").files_to_load() == []


def test_split_args_like_sdssplitargs():
    assert split_args(b'a "b c" \'d\\\'e\' "\\n\\q"') == [b"a", b"b c", b"d'e", b"\nq"]
    assert split_args(b'"unterminated') is None
    assert split_args(b"   ") == []


names = st.binary(min_size=1, max_size=30).filter(lambda b: b"/" not in b and b"\\" not in b
                                                  and b"\0" not in b)


@settings(max_examples=200, deadline=None)
@given(names, st.integers(1, 2**40), st.sampled_from("bhi"))
def test_format_line_roundtrip(name, seq, kind):
    line = format_line(AofInfo(name, seq, kind))
    am = parse_manifest(line)
    got = (am.base and [am.base]) or am.history or am.incrs
    assert (got[0].name, got[0].seq, got[0].type) == (name, seq, kind)


def test_writer_quoting_matches_redis_example():
    assert format_line(AofInfo(b'my "file".aof.2.base.rdb', 2, "b")) == \
        b'file "my \\"file\\".aof.2.base.rdb" seq 2 type b\n'


def test_is_manifest_rule_of_7_2_5():
    assert is_manifest(b"# comment\nfile a seq 1 type i\n")
    assert not is_manifest(b"*3\r\n$3\r\nset\r\n$1\r\na\r\n$8\r\nfilename\r\n")
    assert not is_manifest(b"REDIS0010\xfa\x0afilexxxxxx")


def test_detect_layouts(tmp_path):
    (tmp_path / "a.aof").write_bytes(b"*1\r\n$4\r\nPING\r\n")
    (tmp_path / "p.aof").write_bytes(b"REDIS0010" + b"\0" * 10)
    (tmp_path / "short").write_bytes(b"REDIS00")
    d = tmp_path / "appendonlydir"
    d.mkdir()
    (d / "appendonly.aof.manifest").write_bytes(b"file x seq 1 type i\n")
    assert detect(str(tmp_path / "a.aof")).kind == RESP
    assert detect(str(tmp_path / "p.aof")).kind == PREAMBLE
    assert detect(str(tmp_path / "short")).kind == RESP
    lay = detect(str(d / "appendonly.aof.manifest"))
    assert lay.kind == MULTI_PART and lay.dirpath == str(d)
    assert detect(str(d)).path == str(d / "appendonly.aof.manifest")
    assert detect(str(tmp_path)).path == str(d / "appendonly.aof.manifest")
    (d / "other.manifest").write_bytes(b"file y seq 1 type i\n")
    with pytest.raises(LayoutError):
        detect(str(d))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(LayoutError):
        detect(str(empty))


def test_damaged_first_manifest_line_is_still_a_manifest(tmp_path):
    """7.2.5 would check this as a RESP log and --fix would truncate it to 0 bytes."""
    p = tmp_path / "appendonly.aof.manifest"
    p.write_bytes(b"fibe a.base.rdb seq 2 type b\nfile a.incr.aof seq 2 type i\n")
    assert detect(str(p)).kind == MULTI_PART
    # but a log that starts like a log is a log, whatever its values hold
    p.write_bytes(b"#TS:1\r\n*3\r\n$3\r\nset\r\n$1\r\na\r\n$8\r\nfilename\r\n")
    assert detect(str(p)).kind == RESP
    # and garbage with no `file` line anywhere is a (broken) log
    p.write_bytes(b"garbage\r\n*1\r\n$4\r\nPING\r\n")
    assert detect(str(p)).kind == RESP
    # a `file` line found only after a 1 MB block boundary
    p.write_bytes(b"x" * ((1 << 20) - 3) + b"\nfile z seq 1 type i\n")
    assert detect(str(p)).kind == MULTI_PART
