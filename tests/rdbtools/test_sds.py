"""Redis's quoting and splitting, shared by manifests, redis.conf, logs and tools."""

from hypothesis import given, strategies as st

from rdbtools.sds import repr_bytes, split_args


def test_repr_matches_redis_cli_quoting():
    assert repr_bytes(b'a b"\\\n\r\t\x07\x08\x00\xff~') == (
        b'"a b\\"\\\\\\n\\r\\t\\a\\b\\x00\\xff~"')


@given(st.binary(max_size=64))
def test_repr_then_split_is_identity(data):
    # everything Redis writes with sdscatrepr, sdssplitargs reads back (NUL included,
    # since it is escaped)
    assert split_args(repr_bytes(data)) == [data]


def test_split_rules():
    assert split_args(b"file 'a b' seq 1") == [b"file", b"a b", b"seq", b"1"]
    assert split_args(b'"\\x41\\n" x') == [b"A\n", b"x"]
    assert split_args(b'"unbalanced') is None
    assert split_args(b'"glued"x') is None
    assert split_args(b"a\0b c") == [b"a"]
    assert split_args(b"   ") == []
