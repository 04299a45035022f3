"""The one home of RDB format constants: type bytes, opcodes, string encodings, limits.

Facts follow Redis's `src/rdb.h`; where Redis and Valkey disagree on a number, both
meanings are named and the reader decides from the magic (`REDIS` vs `VALKEY`).
"""

from __future__ import annotations

import enum
import struct

# Header: 9 bytes, "REDIS%04d" or, for Valkey >= 9.0, "VALKEY%03d".
MAGIC_REDIS = b"REDIS"
MAGIC_VALKEY = b"VALKEY"
MAGIC_LEN = 9

RDB_VERSION_MIN = 1
#: Highest Redis RDB version the reader understands (8.6 writes 13).
RDB_VERSION_MAX = 13
#: Valkey's own numbering starts at 80 (Valkey 9.0 writes "VALKEY080").
VALKEY_RDB_VERSION_MIN = 80
VALKEY_RDB_VERSION_MAX = 81
#: What Redis 7.0 writes and loads; the writer's default.
RDB_VERSION_DEFAULT_WRITE = 10
#: Versions below this have no CRC64 footer.
RDB_VERSION_CHECKSUM = 5


class RdbType(enum.IntEnum):
    """Value type bytes (Redis numbering; Valkey's 22/23 are `VALKEY_*` below)."""

    STRING = 0
    LIST = 1
    SET = 2
    ZSET = 3
    HASH = 4
    ZSET_2 = 5
    MODULE_PRE_GA = 6
    MODULE_2 = 7
    HASH_ZIPMAP = 9
    LIST_ZIPLIST = 10
    SET_INTSET = 11
    ZSET_ZIPLIST = 12
    HASH_ZIPLIST = 13
    LIST_QUICKLIST = 14
    STREAM_LISTPACKS = 15
    HASH_LISTPACK = 16
    ZSET_LISTPACK = 17
    LIST_QUICKLIST_2 = 18
    STREAM_LISTPACKS_2 = 19
    SET_LISTPACK = 20
    STREAM_LISTPACKS_3 = 21
    HASH_METADATA_PRE_GA = 22
    HASH_LISTPACK_EX_PRE_GA = 23
    HASH_METADATA = 24
    HASH_LISTPACK_EX = 25
    STREAM_LISTPACKS_4 = 26


#: Valkey >= 9.0 reuses 22 for a hash-table hash with per-field expiry.
VALKEY_TYPE_HASH_2 = 22


class Opcode(enum.IntEnum):
    """Bytes read where a type byte is expected."""

    KEY_META = 243  # Redis 8.6; Valkey 9 uses 243 for SLOT_IMPORT
    SLOT_INFO = 244
    FUNCTION2 = 245
    FUNCTION_PRE_GA = 246
    MODULE_AUX = 247
    IDLE = 248
    FREQ = 249
    AUX = 250
    RESIZEDB = 251
    EXPIRETIME_MS = 252
    EXPIRETIME = 253
    SELECTDB = 254
    EOF = 255


VALKEY_OPCODE_SLOT_IMPORT = 243


class Kind(enum.IntEnum):
    """Logical value kinds, numbered as DEBUG DIGEST numbers them (`OBJ_*`)."""

    STRING = 0
    LIST = 1
    SET = 2
    ZSET = 3
    HASH = 4
    MODULE = 5
    STREAM = 6

    @property
    def label(self) -> str:
        return self.name.lower()


# Length encoding: the top two bits of the first byte.
#   00xxxxxx                  6-bit length
#   01xxxxxx xxxxxxxx         14-bit length, big-endian
#   10000000 + 4 bytes        32-bit length, big-endian
#   10000001 + 8 bytes        64-bit length, big-endian
#   11xxxxxx                  special string encoding in the low 6 bits
LEN_6BIT = 0
LEN_14BIT = 1
LEN_32BIT = 0x80
LEN_64BIT = 0x81
LEN_ENCVAL = 3


class Enc(enum.IntEnum):
    """Special string encodings (`11xxxxxx`, low six bits)."""

    INT8 = 0
    INT16 = 1
    INT32 = 2
    LZF = 3


class QuicklistContainer(enum.IntEnum):
    PLAIN = 1
    PACKED = 2


class ModuleOpcode(enum.IntEnum):
    EOF = 0
    SINT = 1
    UINT = 2
    FLOAT = 3
    DOUBLE = 4
    STRING = 5


# String-double markers (type 3 zset scores).
DOUBLE_NAN = 253
DOUBLE_POS_INF = 254
DOUBLE_NEG_INF = 255

# Stream entry flags inside node listpacks.
STREAM_ITEM_FLAG_NONE = 0
STREAM_ITEM_FLAG_DELETED = 1
STREAM_ITEM_FLAG_SAMEFIELDS = 2
#: entries-read "unknown" is stored as the 64-bit length 2**64-1.
STREAM_ENTRIES_READ_UNKNOWN = -1

#: Module type ids: 9 characters of 6 bits, then a 10-bit encoding version.
MODULE_CHARSET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

# Named structs for fixed-width fields.
U8 = struct.Struct("<B")
I8 = struct.Struct("<b")
I16 = struct.Struct("<h")
U16 = struct.Struct("<H")
I32 = struct.Struct("<i")
U32 = struct.Struct("<I")
I64 = struct.Struct("<q")
U64 = struct.Struct("<Q")
U32_BE = struct.Struct(">I")
U64_BE = struct.Struct(">Q")
F32 = struct.Struct("<f")
F64 = struct.Struct("<d")
STREAM_ID = struct.Struct(">QQ")

# Caps that keep hostile input from allocating without bound. A declared length is
# checked against what is left of the input before anything is allocated; these caps
# bound what cannot be checked that way.
#: Largest string (or decompressed LZF blob) the reader accepts: Redis's own 512 MB
#: proto-max-bulk-len is configurable, RDB strings can legitimately be larger.
MAX_STRING_BYTES = 1 << 32
#: An LZF blob may expand at most this much: one 3-byte back-reference yields at most
#: 264 bytes, so real data stays under ~88x.
MAX_LZF_RATIO = 128
#: Largest element count any collection header may declare before its bytes are seen.
MAX_DECLARED_COUNT = 1 << 40

# DEBUG DIGEST object type numbers are `Kind` values.

# Names redis-check-rdb prints for "Reading type N (<name>)" (`rdb_type_string[]`).
CHECK_RDB_TYPE_NAMES = (
    "string", "list-linked", "set-hashtable", "zset-v1", "hash-hashtable", "zset-v2",
    "module-value", "", "", "hash-zipmap", "list-ziplist", "set-intset", "zset-ziplist",
    "hash-ziplist", "quicklist", "stream", "hash-listpack", "zset-listpack",
    "quicklist-v2",
)

# OBJECT ENCODING answers for what a Redis 7.0 loader would hold (before any
# threshold conversion): used by renderers and the memory report.
TYPE_ENCODING = {
    RdbType.STRING: "raw",
    RdbType.LIST: "quicklist",
    RdbType.SET: "hashtable",
    RdbType.ZSET: "skiplist",
    RdbType.HASH: "hashtable",
    RdbType.ZSET_2: "skiplist",
    RdbType.MODULE_PRE_GA: "module",
    RdbType.MODULE_2: "module",
    RdbType.HASH_ZIPMAP: "zipmap",
    RdbType.LIST_ZIPLIST: "ziplist",
    RdbType.SET_INTSET: "intset",
    RdbType.ZSET_ZIPLIST: "ziplist",
    RdbType.HASH_ZIPLIST: "ziplist",
    RdbType.LIST_QUICKLIST: "quicklist",
    RdbType.STREAM_LISTPACKS: "stream",
    RdbType.HASH_LISTPACK: "listpack",
    RdbType.ZSET_LISTPACK: "listpack",
    RdbType.LIST_QUICKLIST_2: "quicklist",
    RdbType.STREAM_LISTPACKS_2: "stream",
    RdbType.SET_LISTPACK: "listpack",
    RdbType.STREAM_LISTPACKS_3: "stream",
    RdbType.HASH_METADATA_PRE_GA: "hashtable",
    RdbType.HASH_LISTPACK_EX_PRE_GA: "listpackex",
    RdbType.HASH_METADATA: "hashtable",
    RdbType.HASH_LISTPACK_EX: "listpackex",
    RdbType.STREAM_LISTPACKS_4: "stream",
}

TYPE_KIND = {
    RdbType.STRING: Kind.STRING,
    RdbType.LIST: Kind.LIST,
    RdbType.SET: Kind.SET,
    RdbType.ZSET: Kind.ZSET,
    RdbType.HASH: Kind.HASH,
    RdbType.ZSET_2: Kind.ZSET,
    RdbType.MODULE_PRE_GA: Kind.MODULE,
    RdbType.MODULE_2: Kind.MODULE,
    RdbType.HASH_ZIPMAP: Kind.HASH,
    RdbType.LIST_ZIPLIST: Kind.LIST,
    RdbType.SET_INTSET: Kind.SET,
    RdbType.ZSET_ZIPLIST: Kind.ZSET,
    RdbType.HASH_ZIPLIST: Kind.HASH,
    RdbType.LIST_QUICKLIST: Kind.LIST,
    RdbType.STREAM_LISTPACKS: Kind.STREAM,
    RdbType.HASH_LISTPACK: Kind.HASH,
    RdbType.ZSET_LISTPACK: Kind.ZSET,
    RdbType.LIST_QUICKLIST_2: Kind.LIST,
    RdbType.STREAM_LISTPACKS_2: Kind.STREAM,
    RdbType.SET_LISTPACK: Kind.SET,
    RdbType.STREAM_LISTPACKS_3: Kind.STREAM,
    RdbType.HASH_METADATA_PRE_GA: Kind.HASH,
    RdbType.HASH_LISTPACK_EX_PRE_GA: Kind.HASH,
    RdbType.HASH_METADATA: Kind.HASH,
    RdbType.HASH_LISTPACK_EX: Kind.HASH,
    RdbType.STREAM_LISTPACKS_4: Kind.STREAM,
}

# Redis 7.0 encoding thresholds (defaults in redis.conf).
HASH_MAX_LISTPACK_ENTRIES = 512
HASH_MAX_LISTPACK_VALUE = 64
ZSET_MAX_LISTPACK_ENTRIES = 128
ZSET_MAX_LISTPACK_VALUE = 64
SET_MAX_INTSET_ENTRIES = 512
SET_MAX_LISTPACK_ENTRIES = 128
SET_MAX_LISTPACK_VALUE = 64
LIST_MAX_LISTPACK_SIZE = -2
STREAM_NODE_MAX_BYTES = 4096
STREAM_NODE_MAX_ENTRIES = 100
#: Quicklist node byte limits for negative `list-max-listpack-size` values.
QUICKLIST_SIZE_LIMITS = {-1: 4096, -2: 8192, -3: 16384, -4: 32768, -5: 65536}
#: Elements at least this big go into a PLAIN quicklist node.
QUICKLIST_PACKED_THRESHOLD = 1 << 30
#: Hash field expire times must fit 48 bits.
HFE_EXPIRE_TIME_MAX = (1 << 48) - 1
