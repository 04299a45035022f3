"""DUMP / RESTORE payloads: `<type> <value> <rdb version u16 LE> <crc64 LE>`.

A payload is an RDB value without key, expire or magic; the CRC covers the type byte
through the version bytes. Older versions are fine for any newer loader, so
`create_payload(..., version=9)` yields something Redis 5+ can RESTORE.
"""

from __future__ import annotations

from . import constants as C
from ._crc import crc64
from .constants import RdbType
from .errors import ChecksumError, CorruptError, UnsupportedError
from .writer import DEFAULT_CONFIG, EncodingConfig, encode_value

__all__ = ["create_payload", "parse_payload", "PAYLOAD_FOOTER_SIZE"]

#: Version (2 bytes) and CRC-64 (8 bytes).
PAYLOAD_FOOTER_SIZE = 10


def create_payload(kind, value, *, version: int = C.RDB_VERSION_DEFAULT_WRITE,
                   field_expires=None, compress: bool = True,
                   config: EncodingConfig = DEFAULT_CONFIG) -> bytes:
    """What `DUMP` returns for `value` on a server writing RDB `version`."""
    rtype, body = encode_value(kind, value, version=version, compress=compress,
                               field_expires=field_expires, config=config)
    data = bytes((rtype,)) + body + C.U16.pack(version)
    return data + C.U64.pack(crc64(data))


def parse_payload(payload: bytes, *, max_version: int | None = None):
    """Check and decode a DUMP payload; returns (RdbType, value, field_expires).

    `max_version` plays the role of the restoring server's own RDB version: newer
    payloads are refused, as RESTORE refuses them.
    """
    from .reader import decode_value

    view = memoryview(payload)
    n = len(view)
    if n < PAYLOAD_FOOTER_SIZE + 1:
        raise CorruptError(f"DUMP payload of {n} bytes is too short", 0, phase="start")
    version_at = n - PAYLOAD_FOOTER_SIZE
    version = C.U16.unpack_from(view, version_at)[0]
    limit = C.RDB_VERSION_MAX if max_version is None else max_version
    if version > limit:
        raise UnsupportedError(f"DUMP payload RDB version {version} is newer than {limit}",
                               version_at, phase="start")
    stored = C.U64.unpack_from(view, version_at + 2)[0]
    actual = crc64(view[: version_at + 2])
    if stored != actual:
        raise ChecksumError(stored, actual, version_at + 2, phase="check-sum")
    try:
        rtype = RdbType(view[0])
    except ValueError:
        raise CorruptError(f"unknown RDB value type {view[0]}", 0, phase="read-type") from None
    try:
        value, field_expires = decode_value(rtype, view[1:version_at], offset_base=1)
    except CorruptError as e:
        raise e.located(type=rtype.name.lower()) from None
    return rtype, value, field_expires
