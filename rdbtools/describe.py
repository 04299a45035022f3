"""Names and renderings the Redis tools print, so rdbkit's output can match theirs.

`redis-check-rdb` names types from a fixed table (7.0's stops at type 18; later
releases extended it), prints keys and AUX values as C strings (cut at the first NUL)
and formats every progress line into a 1024-byte buffer. `redis-cli` quotes binary
keys with `sdscatrepr()`. These small rules live here so checkers and renderers agree.
"""

from __future__ import annotations

from .constants import CHECK_RDB_TYPE_NAMES

__all__ = [
    "check_rdb_type_name", "DOING_NAMES", "cstr", "clip_message", "redis_quote",
    "module_type_name",
]

#: `rdb_check_doing_string[]`: what the checker was doing when it failed.
DOING_NAMES = (
    "start", "read-type", "read-expire", "read-key", "read-object-value", "check-sum",
    "read-len", "read-aux", "read-module-aux", "read-functions",
)

#: Redis 7.4's table, used for files 7.0 cannot read (it renamed 6 and added 19-25).
_TYPE_NAMES_74 = (
    "string", "list-linked", "set-hashtable", "zset-v1", "hash-hashtable", "zset-v2",
    "module-pre-release", "module-value", "", "hash-zipmap", "list-ziplist", "set-intset",
    "zset-ziplist", "hash-ziplist", "quicklist", "stream", "hash-listpack",
    "zset-listpack", "quicklist-v2", "stream-v2", "set-listpack", "stream-v3",
    "hash-hashtable-md-pre-release", "hash-listpack-md-pre-release", "hash-hashtable-md",
    "hash-listpack-md",
)
_VALKEY_NAMES = {22: "hash-2"}

#: `vsnprintf(msg, 1024, ...)`: longer progress and error messages are cut.
MESSAGE_MAX = 1023


def check_rdb_type_name(rtype: int, *, redis70: bool = True, valkey: bool = False) -> str:
    """The name in `Reading type N (<name>)`; 'unknown' past the table, like Redis."""
    if valkey and rtype in _VALKEY_NAMES:
        return _VALKEY_NAMES[rtype]
    table = CHECK_RDB_TYPE_NAMES if redis70 else _TYPE_NAMES_74
    if 0 <= rtype < len(table):
        return table[rtype]
    if not redis70 and rtype == 26:
        return "stream-v4"
    return "unknown"


def cstr(data: bytes) -> bytes:
    """What `printf("%s")` shows of a buffer: everything before the first NUL."""
    cut = data.find(b"\0")
    return data if cut < 0 else data[:cut]


def clip_message(data: bytes) -> bytes:
    return data[:MESSAGE_MAX]


def text(data: bytes) -> str:
    """Bytes to str without loss: invalid UTF-8 survives as surrogates (write back
    with errors='surrogateescape' to get the original bytes)."""
    return data.decode("utf-8", "surrogateescape")



def redis_quote(data: bytes) -> str:
    """A string as `redis-cli` shows it without --raw (`sdscatrepr()`)."""
    from .sds import repr_bytes

    return repr_bytes(data).decode("ascii")


def module_type_name(module_id: int) -> str:
    """The 9-character module type name encoded in the top 54 bits of a module id."""
    from .records import module_name

    return module_name(module_id)
