"""Stream commands: XADD/XRANGE/XREVRANGE/XLEN/XDEL/XTRIM/XSETID, consumer groups,
XREAD/XREADGROUP, XACK, XPENDING, XCLAIM/XAUTOCLAIM, XINFO."""

from __future__ import annotations

import bisect

from ._util import to_int
from .blocking import BLOCK
from .engine import SYNTAX, WRONGTYPE, CommandError, command, container
from .objects import RStream, StreamConsumer, StreamGroup
from .proto import NULL_ARRAY, OK, Map, err

#: XGROUP on a missing key (without MKSTREAM), worded as Redis 7.0
_NO_KEY = err("ERR The XGROUP subcommand requires the key to exist. Note that for "
              "CREATE you may want to use the MKSTREAM option to create an empty "
              "stream automatically.")

MAX_ID = ((1 << 64) - 1, (1 << 64) - 1)
_BAD_ID = err("ERR Invalid stream ID specified as stream command argument")
_INVALID = -1  # entries_read unknown


def get_stream(db, key):
    v = db.get(key)
    if v is not None and type(v) is not RStream:
        raise CommandError(WRONGTYPE)
    return v


def fmt_id(i) -> bytes:
    return b"%d-%d" % i


def parse_id(b: bytes, missing_seq: int = 0, *, strict=False, allow_excl=False):
    """`ms-seq` / `ms` / `-` / `+` (and `(id` when allow_excl) -> ((ms, seq), exclusive)."""
    excl = False
    if allow_excl and b[:1] == b"(":
        excl = True
        b = b[1:]
    if not strict:
        if b == b"-":
            if excl:
                raise CommandError(_BAD_ID)
            return (0, 0), False
        if b == b"+":
            if excl:
                raise CommandError(_BAD_ID)
            return MAX_ID, False
    ms, dash, seq = b.partition(b"-")
    try:
        if not ms.isdigit() or (dash and not seq.isdigit()):
            raise ValueError
        m = int(ms)
        s = int(seq) if dash else missing_seq
        if m >= 1 << 64 or s >= 1 << 64:
            raise ValueError
    except ValueError:
        raise CommandError(_BAD_ID) from None
    return (m, s), excl


def _incr_id(i):
    ms, seq = i
    if seq == (1 << 64) - 1:
        if ms == (1 << 64) - 1:
            return None
        return (ms + 1, 0)
    return (ms, seq + 1)


def _decr_id(i):
    ms, seq = i
    if seq == 0:
        if ms == 0:
            return None
        return (ms - 1, (1 << 64) - 1)
    return (ms, seq - 1)


def entry_reply(s, i):
    return [fmt_id(i), list(s.entries[i])]


def range_ids(s, start, end, count=None, rev=False):
    ids = s.ids
    lo = bisect.bisect_left(ids, start)
    hi = bisect.bisect_right(ids, end)
    if lo >= hi:
        return []
    if rev:
        a = lo if count is None else max(lo, hi - count)
        return ids[a:hi][::-1]
    return ids[lo:hi if count is None else min(hi, lo + count)]


# -- trimming -------------------------------------------------------------------------------

def _parse_trim(argv, i, allow_nomk=False):
    """[NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] -> dict, next index."""
    opts = {"nomk": False, "strategy": None, "approx": False, "threshold": None, "limit": None}
    n = len(argv)
    while i < n:
        o = argv[i].lower()
        if o == b"nomkstream" and allow_nomk:
            opts["nomk"] = True
            i += 1
        elif o in (b"maxlen", b"minid") and i + 1 < n:
            opts["strategy"] = o
            i += 1
            if argv[i] in (b"=", b"~"):
                opts["approx"] = argv[i] == b"~"
                i += 1
            if i >= n:
                raise CommandError(SYNTAX)
            if o == b"maxlen":
                v = to_int(argv[i])
                if v < 0:
                    raise CommandError(err("ERR The MAXLEN argument must be >= 0."))
                opts["threshold"] = v
            else:
                opts["threshold"] = parse_id(argv[i], strict=True)[0]
            i += 1
        elif o == b"limit" and i + 1 < n:
            v = to_int(argv[i + 1])
            if v < 0:
                raise CommandError(err("ERR The LIMIT argument must be >= 0."))
            opts["limit"] = v
            i += 2
        else:
            break
    if opts["limit"] is not None and not opts["approx"]:
        raise CommandError(err("ERR syntax error, LIMIT cannot be used without the special "
                               "~ option"))
    return opts, i


def _trim(s, opts, node_max) -> int:
    strategy = opts["strategy"]
    if strategy is None:
        return 0
    ids = s.ids
    if strategy == b"maxlen":
        excess = len(ids) - opts["threshold"]
    else:
        excess = bisect.bisect_left(ids, opts["threshold"])
    if excess <= 0:
        return 0
    if opts["approx"]:
        # Redis only drops whole nodes when approximating
        limit = opts["limit"] if opts["limit"] is not None else node_max * 100
        excess = min(excess // node_max * node_max, (limit // node_max) * node_max
                     if limit else excess)
        if excess <= 0:
            return 0
    gone = ids[:excess]
    del ids[:excess]
    for i in gone:
        del s.entries[i]
    return len(gone)


# -- basic commands -----------------------------------------------------------------------

@command("xadd", -5, "write denyoom fast", 1, 1, 1, "stream", since="5.0.0")
def xadd(e, c, argv):
    opts, i = _parse_trim(argv, 2, allow_nomk=True)
    if i >= len(argv):
        return SYNTAX
    raw = argv[i]
    fields = argv[i + 1:]
    if not fields or len(fields) % 2:
        return err("ERR wrong number of arguments for 'xadd' command")
    auto_seq = False
    if raw == b"*":
        new_id = None
    elif raw.endswith(b"-*"):
        ms = raw[:-2]
        if not ms.isdigit() or int(ms) >= 1 << 64:
            return _BAD_ID
        new_id = (int(ms), 0)
        auto_seq = True
    else:
        new_id, _ = parse_id(raw, strict=True)
        if new_id == (0, 0):
            return err("ERR The ID specified in XADD must be greater than 0-0")
    db = c.db
    s = get_stream(db, argv[1])
    if s is None:
        if opts["nomk"]:
            return None
        s = RStream()
        created = True
    else:
        created = False
    last = s.last_id
    if new_id is None:
        now = e.now_ms
        if now > last[0]:
            new_id = (now, 0)
        else:
            new_id = _incr_id(last)
            if new_id is None:
                return err("ERR The stream has exhausted the last possible ID, unable to add "
                           "more items")
    elif auto_seq:
        if new_id[0] < last[0]:
            return err("ERR The ID specified in XADD is equal or smaller than the target "
                       "stream top item")
        if new_id[0] == last[0]:
            if last[1] == (1 << 64) - 1:
                return err("ERR The ID specified in XADD is equal or smaller than the target "
                           "stream top item")
            new_id = (last[0], last[1] + 1)
    elif new_id <= last:
        return err("ERR The ID specified in XADD is equal or smaller than the target stream "
                   "top item")
    if created:
        db.add(argv[1], s)
    elif db.watched:
        db.touch(argv[1])
    s.ids.append(new_id)
    s.entries[new_id] = list(fields)
    s.last_id = new_id
    s.added += 1
    _trim(s, opts, e.config.stream_node_max_entries)
    e.dirty += 1
    idb = fmt_id(new_id)
    if raw != idb:
        e.rewrite([*argv[:i], idb, *fields])
    return idb


@command("xlen", 2, "readonly fast", 1, 1, 1, "stream", since="5.0.0")
def xlen(e, c, argv):
    s = get_stream(c.db, argv[1])
    return 0 if s is None else len(s.ids)


def _xrange(e, c, argv, rev):
    a, b = (argv[3], argv[2]) if rev else (argv[2], argv[3])
    start, sx = parse_id(a, 0, allow_excl=True)
    end, ex = parse_id(b, (1 << 64) - 1, allow_excl=True)
    if sx:
        start = _incr_id(start)
        if start is None:
            return err("ERR invalid start ID for the interval")
    if ex:
        end = _decr_id(end)
        if end is None:
            return err("ERR invalid end ID for the interval")
    count = None
    if len(argv) > 4:
        if len(argv) != 6 or argv[4].lower() != b"count":
            return SYNTAX
        count = to_int(argv[5])
        if count < 0:
            count = 0
    s = get_stream(c.db, argv[1])
    if s is None or count == 0:
        return []
    return [entry_reply(s, i) for i in range_ids(s, start, end, count, rev)]


@command("xrange", -4, "readonly", 1, 1, 1, "stream", since="5.0.0")
def xrange(e, c, argv):
    return _xrange(e, c, argv, False)


@command("xrevrange", -4, "readonly", 1, 1, 1, "stream", since="5.0.0")
def xrevrange(e, c, argv):
    return _xrange(e, c, argv, True)


@command("xdel", -3, "write fast", 1, 1, 1, "stream", since="5.0.0")
def xdel(e, c, argv):
    ids = [parse_id(x, strict=True)[0] for x in argv[2:]]
    db = c.db
    s = get_stream(db, argv[1])
    if s is None:
        return 0
    n = 0
    for i in ids:
        if i in s.entries:
            del s.entries[i]
            s.ids.remove(i)
            if i > s.max_deleted:
                s.max_deleted = i
            n += 1
    if n:
        if db.watched:
            db.touch(argv[1])
        e.dirty += n
    return n


@command("xtrim", -4, "write", 1, 1, 1, "stream", since="5.0.0")
def xtrim(e, c, argv):
    opts, i = _parse_trim(argv, 2)
    if opts["strategy"] is None or i != len(argv):
        return SYNTAX
    db = c.db
    s = get_stream(db, argv[1])
    if s is None:
        return 0
    n = _trim(s, opts, e.config.stream_node_max_entries)
    if n:
        if db.watched:
            db.touch(argv[1])
        e.dirty += n
    return n


@command("xsetid", -3, "write denyoom fast", 1, 1, 1, "stream", since="5.0.0")
def xsetid(e, c, argv):
    new_id, _ = parse_id(argv[2], strict=True)
    added = maxdel = None
    i = 3
    while i < len(argv):
        o = argv[i].lower()
        if o == b"entriesadded" and i + 1 < len(argv):
            added = to_int(argv[i + 1])
            if added < 0:
                return err("ERR entries_added must be positive")
        elif o == b"maxdeletedid" and i + 1 < len(argv):
            maxdel = parse_id(argv[i + 1], strict=True)[0]
            if new_id < maxdel:
                return err("ERR The ID specified in XSETID is smaller than the provided "
                           "max_deleted_entry_id")
        else:
            return SYNTAX
        i += 2
    db = c.db
    s = get_stream(db, argv[1])
    if s is None:
        return err("ERR no such key")
    if added is not None and len(s.ids) > added:
        return err("ERR The entries_added specified in XSETID is smaller than the target "
                   "stream length")
    if s.ids and new_id < s.ids[-1]:
        return err("ERR The ID specified in XSETID is smaller than the target stream top "
                   "item")
    s.last_id = new_id
    if added is not None:
        s.added = added
    if maxdel is not None:
        s.max_deleted = maxdel
    e.dirty += 1
    return OK


# -- consumer groups ----------------------------------------------------------------------

container("xgroup", "stream", "5.0.0")


def _group(s, key, name, cmd):
    g = s.groups.get(name) if s is not None else None
    if g is None:
        raise CommandError(err("NOGROUP No such key '%s' or consumer group '%s' in %s "
                               "command" % (key.decode("utf-8", "replace"),
                                            name.decode("utf-8", "replace"), cmd)))
    return g


def _group_id(s, raw):
    if raw == b"$":
        return s.last_id if s is not None else (0, 0)
    return parse_id(raw, strict=True)[0]


def _entries_read_opt(argv, i):
    if i < len(argv):
        if len(argv) == i + 2 and argv[i].lower() == b"entriesread":
            n = to_int(argv[i + 1])
            if n < -1:
                raise CommandError(err("ERR value for ENTRIESREAD must be positive or -1"))
            return n
        raise CommandError(SYNTAX)
    return _INVALID


@command("xgroup|create", -5, "write denyoom", 2, 2, 1, "stream", since="5.0.0")
def xgroup_create(e, c, argv):
    mk = False
    rest = list(argv[5:])
    if rest and rest[0].lower() == b"mkstream":
        mk = True
        rest = rest[1:]
    entries_read = _entries_read_opt([None] * 5 + rest, 5)
    db = c.db
    s = get_stream(db, argv[2])
    if s is None and not mk:
        return _NO_KEY
    gid = _group_id(s, argv[4])
    if s is None:
        s = RStream()
        db.add(argv[2], s)
    if argv[3] in s.groups:
        return err("BUSYGROUP Consumer Group name already exists")
    s.groups[argv[3]] = StreamGroup(gid, entries_read)
    if db.watched:
        db.touch(argv[2])
    e.dirty += 1
    return OK


@command("xgroup|setid", -5, "write", 2, 2, 1, "stream", since="5.0.0")
def xgroup_setid(e, c, argv):
    entries_read = _entries_read_opt(argv, 5)
    s = get_stream(c.db, argv[2])
    if s is None:
        return _NO_KEY
    g = _group(s, argv[2], argv[3], "XGROUP")
    g.last_id = _group_id(s, argv[4])
    g.entries_read = entries_read
    e.dirty += 1
    return OK


@command("xgroup|destroy", 4, "write", 2, 2, 1, "stream", since="5.0.0")
def xgroup_destroy(e, c, argv):
    s = get_stream(c.db, argv[2])
    if s is None:
        return _NO_KEY
    if s.groups.pop(argv[3], None) is None:
        return 0
    e.dirty += 1
    return 1


@command("xgroup|createconsumer", 5, "write denyoom", 2, 2, 1, "stream", since="6.2.0")
def xgroup_createconsumer(e, c, argv):
    s = get_stream(c.db, argv[2])
    if s is None:
        return _NO_KEY
    g = _group(s, argv[2], argv[3], "XGROUP")
    if argv[4] in g.consumers:
        return 0
    g.consumers[argv[4]] = StreamConsumer(e.now_ms)
    e.dirty += 1
    return 1


@command("xgroup|delconsumer", 5, "write", 2, 2, 1, "stream", since="5.0.0")
def xgroup_delconsumer(e, c, argv):
    s = get_stream(c.db, argv[2])
    if s is None:
        return _NO_KEY
    g = _group(s, argv[2], argv[3], "XGROUP")
    cons = g.consumers.pop(argv[4], None)
    if cons is None:
        return 0
    for i in cons.pel:
        g.pel.pop(i, None)
    e.dirty += 1
    return len(cons.pel)


@command("xgroup|help", 2, "loading stale", 0, 0, 0, "stream", since="5.0.0")
def xgroup_help(e, c, argv):
    from .proto import Simple

    return [Simple(x) for x in (
        b"XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        b"CREATE <key> <groupname> <id|$> [option]", b"CREATECONSUMER <key> <groupname> <consumer>",
        b"DELCONSUMER <key> <groupname> <consumername>", b"DESTROY <key> <groupname>",
        b"SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]", b"HELP")]


def _has_tombstones(s, start=None) -> bool:
    if not s.ids or s.max_deleted == (0, 0):
        return False
    if s.ids[0] > s.max_deleted:
        return False
    start = start or (0, 0)
    return start <= s.max_deleted


def _estimate_read(s, i) -> int:
    if not s.added:
        return 0
    if not s.ids and i <= s.last_id:
        return s.added
    if i == s.last_id:
        return s.added
    if i > s.last_id:
        return _INVALID
    first = s.ids[0] if s.ids else (0, 0)
    if s.max_deleted == (0, 0) or s.max_deleted < first:
        if i < first:
            return s.added - len(s.ids)
        if i == first:
            return s.added - len(s.ids) + 1
    return _INVALID


def _deliver(e, s, g, cname, ids, noack):
    cons = g.consumers.get(cname)
    now = e.now_ms
    for i in ids:
        if i > g.last_id:
            if g.entries_read != _INVALID and not _has_tombstones(s, i):
                g.entries_read += 1
            elif s.added:
                g.entries_read = _estimate_read(s, i)
            g.last_id = i
        if not noack:
            old = g.pel.get(i)
            if old is not None:
                prev = g.consumers.get(old[0])
                if prev is not None:
                    prev.pel.pop(i, None)
            g.pel[i] = [cname, now, 1]
            cons.pel[i] = None


def _parse_read(argv, group: bool):
    count = None
    block = None
    noack = False
    i = 1
    gname = cname = None
    if group:
        if len(argv) < 4 or argv[1].lower() != b"group":
            raise CommandError(SYNTAX)
        gname, cname = argv[2], argv[3]
        i = 4
    while i < len(argv):
        o = argv[i].lower()
        if o == b"count" and i + 1 < len(argv):
            count = to_int(argv[i + 1])
            if count < 0:
                count = 0
            i += 2
        elif o == b"block" and i + 1 < len(argv):
            block = to_int(argv[i + 1], err("ERR timeout is not an integer or out of range"))
            if block < 0:
                raise CommandError(err("ERR timeout is negative"))
            i += 2
        elif o == b"noack" and group:
            noack = True
            i += 1
        elif o == b"streams":
            i += 1
            break
        else:
            raise CommandError(SYNTAX)
    else:
        raise CommandError(SYNTAX)
    rest = argv[i:]
    if not rest or len(rest) % 2:
        raise CommandError(err("ERR Unbalanced '%s' list of streams: for each stream key an "
                               "ID or '$' must be specified." % ("xreadgroup" if group
                                                                 else "xread")))
    half = len(rest) // 2
    return count, block, noack, gname, cname, rest[:half], rest[half:]


@command("xread", -4, "readonly blocking", 0, 0, 0, "stream", since="5.0.0")
def xread(e, c, argv):
    count, block, _, _, _, keys, raw_ids = _parse_read(argv, False)
    db = c.db
    starts = []
    for k, r in zip(keys, raw_ids):
        s = get_stream(db, k)
        if r == b"$":
            starts.append(s.last_id if s is not None else (0, 0))
        elif r == b">":
            return err("ERR The > ID can be specified only when calling XREADGROUP using the "
                       "GROUP <group> <consumer> option.")
        else:
            starts.append(parse_id(r, 0)[0])
    out = []
    for k, start in zip(keys, starts):
        s = get_stream(db, k)
        if s is None or not s.ids:
            continue
        nxt = _incr_id(start)
        if nxt is None:
            continue
        ids = range_ids(s, nxt, MAX_ID, count or None)
        if ids:
            out.append((k, [entry_reply(s, i) for i in ids]))
    if out:
        return Map(out) if c.resp == 3 else [[k, v] for k, v in out]
    if block is None or c.multi is not None or e.in_exec:
        return NULL_ARRAY
    # re-run later with the resolved ids so `$` keeps meaning "after now"
    fixed = [b"XREAD"]
    if count:
        fixed += [b"COUNT", b"%d" % count]
    fixed += [b"STREAMS", *keys, *[fmt_id(x) for x in starts]]
    return BLOCK(keys, block / 1000.0, NULL_ARRAY, rerun=fixed)


@command("xreadgroup", -7, "write blocking", 0, 0, 0, "stream", since="5.0.0")
def xreadgroup(e, c, argv):
    count, block, noack, gname, cname, keys, raw_ids = _parse_read(argv, True)
    db = c.db
    groups = []
    for k, r in zip(keys, raw_ids):
        s = get_stream(db, k)
        g = s.groups.get(gname) if s is not None else None
        if g is None:
            return err("NOGROUP No such key '%s' or consumer group '%s' in XREADGROUP with "
                       "GROUP option" % (k.decode("utf-8", "replace"),
                                         gname.decode("utf-8", "replace")))
        if r != b">":
            parse_id(r, 0)
        groups.append((s, g))
    out = []
    any_new = False
    for (s, g), k, r in zip(groups, keys, raw_ids):
        if r == b">":
            nxt = _incr_id(g.last_id)
            ids = range_ids(s, nxt, MAX_ID, count or None) if nxt is not None else []
            if ids:
                cons = _consumer(e, g, cname)
                cons.active_time = e.now_ms
                _deliver(e, s, g, cname, ids, noack)
                e.dirty += 1
                any_new = True
                out.append((k, [entry_reply(s, i) for i in ids]))
        else:
            cons = _consumer(e, g, cname)
            start = parse_id(r, 0)[0]
            pend = sorted(i for i in cons.pel if i >= start)
            if count:
                pend = pend[:count]
            items = [entry_reply(s, i) if i in s.entries else [fmt_id(i), None] for i in pend]
            out.append((k, items))
    if out or any(r != b">" for r in raw_ids):
        if any_new:
            e.rewrite(*_xclaim_props(keys, gname, groups, out, cname, noack))
        return Map(out) if c.resp == 3 else [[k, v] for k, v in out]
    if block is None or c.multi is not None or e.in_exec:
        return NULL_ARRAY
    return BLOCK(keys, block / 1000.0, NULL_ARRAY)


def _claim_prop(key, group, cname, pid, p, g):
    """An ownership change in the absolute form Redis propagates."""
    return [b"XCLAIM", key, group, cname, b"0", fmt_id(pid), b"TIME", b"%d" % p[1],
            b"RETRYCOUNT", b"%d" % p[2], b"FORCE", b"JUSTID", b"LASTID", fmt_id(g.last_id)]


def _consumer(e, g, cname):
    cons = g.consumers.get(cname)
    if cons is None:
        cons = g.consumers[cname] = StreamConsumer(e.now_ms)
        e.dirty += 1
    cons.seen_time = e.now_ms
    return cons


def _xclaim_props(keys, gname, groups, out, cname, noack):
    """What XREADGROUP (new entries) propagates, as Redis 7.0 does: an XCLAIM per
    delivered entry, each with the group's last id as it stood right after that entry;
    with NOACK, the group's new last id instead."""
    props = []
    delivered = dict(out)
    for (s, g), k in zip(groups, keys):
        items = delivered.get(k)
        if not items:
            continue
        if noack:
            props.append([b"XGROUP", b"SETID", k, gname, fmt_id(g.last_id), b"ENTRIESREAD",
                          b"%d" % g.entries_read])
            continue
        for item in items:
            p = g.pel.get(parse_id(item[0])[0])
            if p is not None:
                props.append([b"XCLAIM", k, gname, cname, b"0", item[0], b"TIME", b"%d" % p[1],
                              b"RETRYCOUNT", b"%d" % p[2], b"FORCE", b"JUSTID", b"LASTID",
                              item[0]])
    return props


@command("xack", -4, "write fast", 1, 1, 1, "stream", since="5.0.0")
def xack(e, c, argv):
    ids = [parse_id(x, strict=True)[0] for x in argv[3:]]
    s = get_stream(c.db, argv[1])
    if s is None or argv[2] not in s.groups:
        return 0
    g = s.groups[argv[2]]
    n = 0
    for i in ids:
        p = g.pel.pop(i, None)
        if p is not None:
            cons = g.consumers.get(p[0])
            if cons is not None:
                cons.pel.pop(i, None)
            n += 1
    if n:
        e.dirty += n
    return n


@command("xpending", -3, "readonly", 1, 1, 1, "stream", since="5.0.0")
def xpending(e, c, argv):
    idle = None
    i = 3
    if len(argv) > 3:
        if argv[3].lower() == b"idle":
            if len(argv) < 5:
                return SYNTAX
            idle = to_int(argv[4])
            i = 5
        if len(argv) - i not in (3, 4):
            return SYNTAX
    s = get_stream(c.db, argv[1])
    g = _group(s, argv[1], argv[2], "XPENDING")
    if len(argv) == 3:
        if not g.pel:
            return [0, None, None, NULL_ARRAY]
        ids = sorted(g.pel)
        per = {}
        for pid in ids:
            per[g.pel[pid][0]] = per.get(g.pel[pid][0], 0) + 1
        return [len(ids), fmt_id(ids[0]), fmt_id(ids[-1]),
                [[k, b"%d" % v] for k, v in per.items()]]
    start, sx = parse_id(argv[i], 0, allow_excl=True)
    end, ex = parse_id(argv[i + 1], (1 << 64) - 1, allow_excl=True)
    if sx:
        start = _incr_id(start) or MAX_ID
    if ex:
        end = _decr_id(end) or (0, 0)
    count = to_int(argv[i + 2])
    consumer = argv[i + 3] if len(argv) - i == 4 else None
    out = []
    now = e.now_ms
    if count <= 0:
        return []
    for pid in sorted(g.pel):
        if pid < start or pid > end:
            continue
        owner, t, n = g.pel[pid]
        if consumer is not None and owner != consumer:
            continue
        if idle is not None and now - t < idle:
            continue
        out.append([fmt_id(pid), owner, now - t, n])
        if len(out) >= count:
            break
    return out


def _claim_opts(argv, i):
    opts = {"idle": None, "time": None, "retry": None, "force": False, "justid": False,
            "lastid": None}
    while i < len(argv):
        o = argv[i].lower()
        if o == b"idle" and i + 1 < len(argv):
            opts["idle"] = to_int(argv[i + 1], err("ERR Invalid IDLE option argument for "
                                                   "XCLAIM"))
            i += 2
        elif o == b"time" and i + 1 < len(argv):
            opts["time"] = to_int(argv[i + 1], err("ERR Invalid TIME option argument for "
                                                   "XCLAIM"))
            i += 2
        elif o == b"retrycount" and i + 1 < len(argv):
            opts["retry"] = to_int(argv[i + 1], err("ERR Invalid RETRYCOUNT option argument "
                                                    "for XCLAIM"))
            i += 2
        elif o == b"force":
            opts["force"] = True
            i += 1
        elif o == b"justid":
            opts["justid"] = True
            i += 1
        elif o == b"lastid" and i + 1 < len(argv):
            opts["lastid"] = parse_id(argv[i + 1], strict=True)[0]
            i += 2
        else:
            return None, i
    return opts, i


@command("xclaim", -6, "write fast", 1, 1, 1, "stream", since="5.0.0")
def xclaim(e, c, argv):
    min_idle = to_int(argv[4], err("ERR Invalid min-idle-time argument for XCLAIM"))
    if min_idle < 0:
        min_idle = 0
    ids = []
    i = 5
    while i < len(argv):
        try:
            ids.append(parse_id(argv[i], strict=True)[0])
        except CommandError:
            break
        i += 1
    opts, j = _claim_opts(argv, i)
    if opts is None:
        return err("ERR Unrecognized XCLAIM option '%s'" % argv[j].decode("utf-8", "replace"))
    s = get_stream(c.db, argv[1])
    g = _group(s, argv[1], argv[2], "XCLAIM")
    now = e.now_ms
    if opts["lastid"] is not None and opts["lastid"] > g.last_id:
        g.last_id = opts["lastid"]
    cname = argv[3]
    out = []
    props: list = []
    dirty_before = e.dirty
    if opts["lastid"] is not None:
        e.dirty += 1
    for pid in ids:
        p = g.pel.get(pid)
        if p is None:
            if not opts["force"] or pid not in s.entries:
                continue
            p = g.pel[pid] = [cname, now, 0]
        elif min_idle and now - p[1] < min_idle:
            continue
        if pid not in s.entries:
            prev = g.consumers.get(p[0])
            if prev is not None:
                prev.pel.pop(pid, None)
            del g.pel[pid]
            e.dirty += 1
            props.append([b"XACK", argv[1], argv[2], fmt_id(pid)])
            continue
        cons = g.consumers.get(cname)
        if cons is None:
            cons = g.consumers[cname] = StreamConsumer(now)
        prev = g.consumers.get(p[0])
        if prev is not None:
            prev.pel.pop(pid, None)
        p[0] = cname
        cons.pel[pid] = None
        cons.seen_time = cons.active_time = now
        if opts["idle"] is not None:
            p[1] = now - opts["idle"]
        elif opts["time"] is not None:
            p[1] = opts["time"]
        else:
            p[1] = now
        if opts["retry"] is not None:
            p[2] = opts["retry"]
        elif not opts["justid"]:
            p[2] += 1
        out.append(fmt_id(pid) if opts["justid"] else entry_reply(s, pid))
        e.dirty += 1
        props.append(_claim_prop(argv[1], argv[2], cname, pid, p, g))
    if props:
        e.rewrite(*props)
    elif e.dirty != dirty_before:
        e.rewrite([b"XGROUP", b"SETID", argv[1], argv[2], fmt_id(g.last_id), b"ENTRIESREAD",
                   b"%d" % g.entries_read])
    return out


@command("xautoclaim", -6, "write fast", 1, 1, 1, "stream", since="6.2.0")
def xautoclaim(e, c, argv):
    min_idle = to_int(argv[4], err("ERR Invalid min-idle-time argument for XAUTOCLAIM"))
    start, _ = parse_id(argv[5], 0)
    count = 100
    justid = False
    i = 6
    while i < len(argv):
        o = argv[i].lower()
        if o == b"count" and i + 1 < len(argv):
            count = to_int(argv[i + 1])
            if count < 1 or count > (1 << 62):
                return err("ERR COUNT must be > 0")
            i += 2
        elif o == b"justid":
            justid = True
            i += 1
        else:
            return SYNTAX
    s = get_stream(c.db, argv[1])
    g = _group(s, argv[1], argv[2], "XAUTOCLAIM")
    now = e.now_ms
    cname = argv[3]
    claimed, deleted = [], []
    props: list = []
    nxt = (0, 0)
    scanned = 0
    pend = sorted(pid for pid in g.pel if pid >= start)
    for idx, pid in enumerate(pend):
        if scanned >= count * 10 or len(claimed) >= count:
            nxt = pid
            break
        scanned += 1
        p = g.pel[pid]
        if min_idle and now - p[1] < min_idle:
            continue
        prev = g.consumers.get(p[0])
        if pid not in s.entries:
            if prev is not None:
                prev.pel.pop(pid, None)
            del g.pel[pid]
            deleted.append(fmt_id(pid))
            continue
        cons = g.consumers.get(cname)
        if cons is None:
            cons = g.consumers[cname] = StreamConsumer(now)
        if prev is not None:
            prev.pel.pop(pid, None)
        p[0] = cname
        p[1] = now
        if not justid:
            p[2] += 1
        cons.pel[pid] = None
        cons.seen_time = cons.active_time = now
        claimed.append(fmt_id(pid) if justid else entry_reply(s, pid))
        props.append(_claim_prop(argv[1], argv[2], cname, pid, p, g))
    else:
        nxt = (0, 0)
    if claimed or deleted:
        e.dirty += 1
        if deleted:
            props.append([b"XACK", argv[1], argv[2], *deleted])
        e.rewrite(*props)
    return [fmt_id(nxt), claimed, deleted]


# -- XINFO ------------------------------------------------------------------------------

container("xinfo", "stream", "5.0.0")


def _lag(s, g):
    if not s.added:
        return 0
    if g.entries_read != _INVALID and not _has_tombstones(s, g.last_id):
        return s.added - g.entries_read
    er = _estimate_read(s, g.last_id)
    return None if er == _INVALID else s.added - er


@command("xinfo|stream", -3, "readonly", 2, 2, 1, "stream", since="5.0.0")
def xinfo_stream(e, c, argv):
    full = len(argv) > 3 and argv[3].lower() == b"full"
    count = 10
    bad = err("ERR unknown subcommand or wrong number of arguments for '%s'. Try XINFO HELP."
              % argv[1].decode("utf-8", "replace"))
    if len(argv) > 3 and not full:
        return bad
    if len(argv) > 4:
        if len(argv) != 6 or argv[4].lower() != b"count":
            return bad
        count = to_int(argv[5])
        if count < 0:
            count = 10
    limit = None if count == 0 else count
    s = get_stream(c.db, argv[2])
    if s is None:
        return err("ERR no such key")
    head = [(b"length", len(s.ids)), (b"radix-tree-keys", max(1, (len(s.ids) + 99) // 100)
                                      if s.ids else 0),
            (b"radix-tree-nodes", 2 if s.ids else 1),
            (b"last-generated-id", fmt_id(s.last_id)),
            (b"max-deleted-entry-id", fmt_id(s.max_deleted)),
            (b"entries-added", s.added)]
    if not full:
        head.append((b"recorded-first-entry-id", fmt_id(s.ids[0] if s.ids else (0, 0))))
        head.append((b"groups", len(s.groups)))
        head.append((b"first-entry", entry_reply(s, s.ids[0]) if s.ids else None))
        head.append((b"last-entry", entry_reply(s, s.ids[-1]) if s.ids else None))
        return Map(head)
    head.append((b"recorded-first-entry-id", fmt_id(s.ids[0] if s.ids else (0, 0))))
    head.append((b"entries", [entry_reply(s, i) for i in s.ids[:limit]]))
    groups = []
    now = e.now_ms
    for name, g in s.groups.items():
        groups.append(Map([
            (b"name", name), (b"last-delivered-id", fmt_id(g.last_id)),
            (b"entries-read", None if g.entries_read == _INVALID else g.entries_read),
            (b"lag", _lag(s, g)), (b"pel-count", len(g.pel)),
            (b"pending", [[fmt_id(i), p[0], p[1], p[2]]
                          for i, p in sorted(g.pel.items())[:limit]]),
            (b"consumers", [Map([(b"name", cn), (b"seen-time", cs.seen_time),
                                 (b"active-time", cs.active_time),
                                 (b"pel-count", len(cs.pel)),
                                 (b"pending", [[fmt_id(i), g.pel[i][1], g.pel[i][2]]
                                               for i in sorted(cs.pel)[:limit]
                                               if i in g.pel])])
                            for cn, cs in g.consumers.items()]),
        ]))
    head.append((b"groups", groups))
    _ = now
    return Map(head)


@command("xinfo|groups", 3, "readonly", 2, 2, 1, "stream", since="5.0.0")
def xinfo_groups(e, c, argv):
    s = get_stream(c.db, argv[2])
    if s is None:
        return err("ERR no such key")
    return [Map([(b"name", name), (b"consumers", len(g.consumers)),
                 (b"pending", len(g.pel)), (b"last-delivered-id", fmt_id(g.last_id)),
                 (b"entries-read", None if g.entries_read == _INVALID else g.entries_read),
                 (b"lag", _lag(s, g))]) for name, g in s.groups.items()]


@command("xinfo|consumers", 4, "readonly", 2, 2, 1, "stream", since="5.0.0")
def xinfo_consumers(e, c, argv):
    s = get_stream(c.db, argv[2])
    if s is None:
        return err("ERR no such key")
    g = _group(s, argv[2], argv[3], "XINFO")
    now = e.now_ms
    return [Map([(b"name", cn), (b"pending", len(cs.pel)), (b"idle", now - cs.seen_time),
                 (b"inactive", now - cs.active_time if cs.active_time != -1 else -1)])
            for cn, cs in g.consumers.items()]


@command("xinfo|help", 2, "loading stale", 0, 0, 0, "stream", since="5.0.0")
def xinfo_help(e, c, argv):
    from .proto import Simple

    return [Simple(x) for x in (
        b"XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        b"CONSUMERS <key> <groupname>", b"GROUPS <key>", b"STREAM <key> [FULL [COUNT <count>]]",
        b"HELP")]
