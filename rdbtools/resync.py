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
#: Windows a guess is tried in, with the records that must fit before a window's end: a
#: small one first (most wrong guesses fail within a few bytes, and copying it is
#: cheap), the big one only when the small cannot tell.
TRIAL_WINDOWS = ((1 << 10, 16), (1 << 16, 4))
#: How far past the wanted offset to look before giving up.
SEARCH_BYTES = 1 << 20

_YES, _NO, _MAYBE = 1, 0, 2


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


def _trial(buf, at: int, header, size: int, need: int) -> int:
    """Does `buf` parse as a believable run of records from `at`, judging from a
    window of `size` bytes (copied: a wrong guess that reads as a huge value costs
    nothing)? _MAYBE when the window is too small to tell."""
    window = bytes(buf[at:at + size])
    parser = RdbParser.over(window, header=header, verify_checksum=False)
    n = 0
    try:
        while n < TRIAL_RECORDS:
            recs = parser.next_events()
            if not recs:
                return _YES if parser.done and n > 0 else _NO
            for rec in recs:
                if rec.__class__ is End:
                    # an EOF record is only believable where the file ends
                    return _YES if at + rec.end == len(buf) else _NO
                if not _believable(rec):
                    return _NO
            n += len(recs)
    except TruncatedError:
        # the window ends inside a record: fine once enough records came before it
        if n >= need:
            return _YES
        return _MAYBE if at + size < len(buf) else _NO
    except FormatError:
        return _NO
    return _YES


def find_record_start(buf, start: int, header, limit: int | None = None,
                      give_up=None) -> int | None:
    """The first offset in [start, limit) from which `buf` (the whole file) parses as a
    believable run of records; None if there is none within `SEARCH_BYTES`, or once
    `give_up()` (asked every few hundred guesses) says the answer is no longer wanted."""
    end = min(len(buf), start + SEARCH_BYTES if limit is None else limit)
    readers = VALKEY_VALUE_READERS if header.magic == MAGIC_VALKEY else VALUE_READERS
    starters = frozenset(readers) | frozenset(int(op) for op in Opcode)
    small, big = TRIAL_WINDOWS
    tries = 0
    for at in range(start, end):
        # cheap first test: a value type or an opcode a record can begin with
        if buf[at] not in starters:
            continue
        verdict = _trial(buf, at, header, *small)
        if verdict == _MAYBE:
            verdict = _trial(buf, at, header, *big)
        if verdict == _YES:
            return at
        tries += 1
        if give_up is not None and tries % 256 == 0 and give_up():
            return None
    return None
