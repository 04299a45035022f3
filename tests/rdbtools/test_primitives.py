from rdbtools._crc import crc64
from rdbtools._lzf import compress, decompress
from rdbtools.errors import CorruptError, FormatError, TruncatedError

import pytest


def test_crc64_check_value():
    assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA


def test_crc64_incremental_equals_whole():
    data = bytes(range(256)) * 7
    crc = 0
    for i in range(0, len(data), 13):
        crc = crc64(data[i:i + 13], crc)
    assert crc == crc64(data)


def test_lzf_matches_redis_rule():
    # formats.md 5.1: 20 x 'a' stays raw, 21 x 'a' compresses to these bytes.
    assert compress(b"a" * 20) is None
    assert compress(b"a" * 21) == bytes.fromhex("016161e00a00")
    assert compress(bytes(range(21))) is None
    assert decompress(bytes.fromhex("016161e00a00"), 21) == b"a" * 21


def test_lzf_bomb_refused_before_allocation():
    with pytest.raises(CorruptError, match="absurd"):
        decompress(b"\x00a", 1 << 31, offset=10)


def test_error_message_names_offset_phase_and_key():
    e = FormatError("bad ziplist end byte", 1234, phase="read-object-value", key=b"foo",
                    type="hash-ziplist")
    assert str(e) == ("offset 1234 (0x4d2): bad ziplist end byte while read-object-value "
                      "key='foo' type=hash-ziplist")
    t = TruncatedError(offset=5, valid_up_to=3)
    assert isinstance(t, FormatError) and t.valid_up_to == 3
