"""Encoders for the blobs Redis stores inside RDB strings: listpack, ziplist, intset.

Each builder produces exactly the bytes Redis's own C code would produce when the same
elements are appended one after another, so DUMP output can be compared byte for byte.
"""

from __future__ import annotations

from ._ints import canonical_int
from .intset import build_intset
from .listpack import ListpackBuilder, build_listpack, listpack_entry
from .ziplist import ZiplistBuilder, build_ziplist, ziplist_entry

__all__ = [
    "canonical_int", "build_intset", "ListpackBuilder", "build_listpack", "listpack_entry",
    "ZiplistBuilder", "build_ziplist", "ziplist_entry",
]
