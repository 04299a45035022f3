"""Decoders for the compact blobs Redis stores inside RDB strings.

Each decoder takes the whole blob (already LZF-decompressed) and returns its entries,
raising `CorruptError` with an offset relative to the blob start when the header
disagrees with the content. Integers come back as Python ints from `*_entries`
functions so callers that need numbers (scores, stream ids) avoid a text round trip.
"""

from . import intset, listpack, ziplist, zipmap

__all__ = ["intset", "listpack", "ziplist", "zipmap", "as_bytes"]


def as_bytes(items):
    """Integers become canonical decimal bytes, as Redis renders them."""
    return [b"%d" % x if x.__class__ is int else x for x in items]
