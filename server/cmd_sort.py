"""SORT and SORT_RO: lists, sets and sorted sets, BY/GET patterns, LIMIT, ALPHA, STORE."""

from __future__ import annotations

import functools

from ._util import to_float, to_int
from .engine import SYNTAX, WRONGTYPE, CommandError, command
from .objects import RHash, RList, RSet, RZset
from .proto import err


def _lookup(db, pattern: bytes, subst: bytes):
    """Redis's lookupKeyByPattern: `#`, `prefix*suffix`, `prefix*suffix->field`."""
    if pattern == b"#":
        return subst
    star = pattern.find(b"*")
    if star < 0:
        return None
    arrow = pattern.find(b"->", star + 1)
    field = None
    if arrow >= 0 and arrow + 2 < len(pattern):
        field = pattern[arrow + 2:]
        keypat = pattern[:arrow]
    else:
        keypat = pattern
    key = keypat[:star] + subst + keypat[star + 1:]
    v = db.get(key)
    if v is None:
        return None
    if field is not None:
        if type(v) is not RHash:
            return None
        return v.get(field)
    if type(v) is not bytes and type(v) is not bytearray:
        return None
    return bytes(v)


def _sort(e, c, argv, readonly: bool):
    db = c.db
    by = None
    gets: list[bytes] = []
    desc = alpha = False
    limit = None
    store = None
    dontsort = False
    i = 2
    n = len(argv)
    while i < n:
        o = argv[i].lower()
        left = n - i - 1
        if o == b"asc":
            desc = False
        elif o == b"desc":
            desc = True
        elif o == b"alpha":
            alpha = True
        elif o == b"limit" and left >= 2:
            limit = (to_int(argv[i + 1]), to_int(argv[i + 2]))
            i += 2
        elif o == b"store" and left >= 1 and not readonly:
            store = argv[i + 1]
            i += 1
        elif o == b"by" and left >= 1:
            by = argv[i + 1]
            if b"*" not in by:
                dontsort = True
            i += 1
        elif o == b"get" and left >= 1:
            gets.append(argv[i + 1])
            i += 1
        else:
            return SYNTAX
        i += 1
    v = db.get(argv[1])
    if v is not None and type(v) not in (RList, RSet, RZset):
        return WRONGTYPE
    if v is None:
        items: list[bytes] = []
    elif type(v) is RList:
        items = list(v)
    elif type(v) is RSet:
        items = sorted(v, key=int) if v.intset else list(v)
    else:
        items = [m for _, m in v.sl]
    if dontsort and type(v) is RSet and store is not None:
        # Redis forces ALPHA here so that the stored result is deterministic
        dontsort, alpha, by = False, True, None
    if not dontsort:
        keyed = []
        for x in items:
            w = _lookup(db, by, x) if by is not None else x
            if alpha:
                keyed.append((w, x))
            else:
                if w is None:
                    score = 0.0
                else:
                    try:
                        score = to_float(w)
                    except CommandError:
                        return err("ERR One or more scores can't be converted into double")
                keyed.append((score, x))

        def cmp(a, b):
            wa, wb = a[0], b[0]
            if alpha and by is not None:
                if wa is None or wb is None:
                    r = (wa is not None) - (wb is not None)
                else:
                    r = (wa > wb) - (wa < wb)
            else:
                r = (wa > wb) - (wa < wb)
                if r == 0 and not alpha:
                    r = (a[1] > b[1]) - (a[1] < b[1])
            return -r if desc else r

        keyed.sort(key=functools.cmp_to_key(cmp))
        items = [x for _, x in keyed]
    elif desc and type(v) is RZset:
        items.reverse()
    if limit is not None:
        start = max(0, limit[0])
        count = limit[1]
        if start >= len(items):
            items = []
        elif count < 0:
            items = items[start:]
        else:
            items = items[start:start + count]
    if gets:
        out = [_lookup(db, g, x) for x in items for g in gets]
    else:
        out = items
    if store is None:
        return out
    if db.get(store) is not None:
        db.delete(store)
    if out:
        db.add(store, RList([x if x is not None else b"" for x in out]))
    e.dirty += 1
    return len(out)


@command("sort", -2, "write denyoom", 1, 1, 1, "generic", since="1.0.0")
def sort(e, c, argv):
    return _sort(e, c, argv, False)


@command("sort_ro", -2, "readonly", 1, 1, 1, "generic", since="7.0.0")
def sort_ro(e, c, argv):
    return _sort(e, c, argv, True)
