"""Guessing where a record starts in the middle of an RDB file.

An RDB has no index and no sync markers, so a reader that wants to start mid-file can
only try offsets until one parses as a believable run of records. A guess can be wrong
(value bytes can look like records); callers must confirm it, e.g. by checking that the
record before it really ends there (`rdbtools.render.parallel` does).
"""

from __future__ import annotations

from ._values import VALKEY_VALUE_READERS, VALUE_READERS
from .constants import MAGIC_VALKEY, Opcode
from .errors import FormatError, TruncatedError
from .parser import RdbParser
from .records import Aux, End, KeyRecord, SelectDb

#: Records a guess must parse in a row before it is believed...
TRIAL_RECORDS = 64
#: ...or, when records are big, at least this many filling this many bytes.
TRIAL_MIN_RECORDS = 4
TRIAL_BYTES = 1 << 16
#: How far past the wanted offset to look before giving up.
SEARCH_BYTES = 1 << 20


def _believable(rec) -> bool:
    cls = rec.__class__
    if cls is KeyRecord:
        return len(rec.key) > 0
    if cls is SelectDb:
        return rec.db < 1 << 16
    if cls is Aux:   # AUX names are short lowercase words: redis-ver, aof-base...
        name = rec.key.replace(b"-", b"")
        return 0 < len(name) < 64 and name.isascii() and name.isalnum()
    return True


def _trial(buf, at: int, header) -> bool:
    """Does `buf` parse as a believable run of records from `at`? Only a window of
    `TRIAL_BYTES` is looked at, so a wrong guess that reads as a huge value costs
    nothing."""
    window = bytes(buf[at:at + TRIAL_BYTES])
    parser = RdbParser.over(window, header=header, verify_checksum=False)
    n = 0
    try:
        while n < TRIAL_RECORDS:
            recs = parser.next_events()
            if not recs:
                return parser.done and n > 0
            for rec in recs:
                if rec.__class__ is End:
                    # an EOF record is only believable where the file ends
                    return at + rec.end == len(buf)
                if not _believable(rec):
                    return False
            n += len(recs)
    except TruncatedError:
        # the window ends inside a record: fine once enough records came before it
        return n >= TRIAL_MIN_RECORDS
    except FormatError:
        return False
    return True


def find_record_start(buf, start: int, header, limit: int | None = None) -> int | None:
    """The first offset in [start, limit) from which `buf` (the whole file) parses as a
    believable run of records; None if there is none within `SEARCH_BYTES`."""
    end = min(len(buf), start + SEARCH_BYTES if limit is None else limit)
    readers = VALKEY_VALUE_READERS if header.magic == MAGIC_VALKEY else VALUE_READERS
    starters = frozenset(readers) | frozenset(int(op) for op in Opcode)
    for at in range(start, end):
        # cheap first test: a value type or an opcode a record can begin with
        if buf[at] in starters and _trial(buf, at, header):
            return at
    return None
