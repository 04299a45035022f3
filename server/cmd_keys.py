"""Keyspace commands: DEL/EXISTS/TYPE/KEYS/SCAN/RENAME/COPY/MOVE/SWAPDB/..., expiry,
OBJECT, DUMP/RESTORE."""

from __future__ import annotations

import copy as _copy
import random

from ._util import glob_matcher, syntax, to_int
from .engine import SYNTAX, CommandError, command, container
from .objects import (INT64_MAX, INT64_MIN, TYPE_NAMES, RHash, RList, RSet, RStream, RZset,
                      encoding_of, from_record, to_record)
from .proto import OK, Simple, err

_NO_KEY = err("ERR no such key")
_DB_RANGE = err("ERR DB index is out of range")


@command("del", -2, "write", 1, -1, 1, "generic")
def del_(e, c, argv):
    db = c.db
    n = 0
    for k in argv[1:]:
        if db.get(k) is not None:
            db.delete(k)
            n += 1
    if n:
        e.dirty += n
    return n


@command("unlink", -2, "write fast", 1, -1, 1, "generic", since="4.0.0")
def unlink(e, c, argv):
    return del_(e, c, argv)


@command("exists", -2, "readonly fast", 1, -1, 1, "generic")
def exists(e, c, argv):
    db = c.db
    return sum(1 for k in argv[1:] if db.get(k) is not None)


@command("touch", -2, "readonly fast", 1, -1, 1, "generic", since="3.2.1")
def touch(e, c, argv):
    return exists(e, c, argv)


@command("type", 2, "readonly fast", 1, 1, 1, "generic")
def type_(e, c, argv):
    v = c.db.get(argv[1])
    return Simple(b"none" if v is None else TYPE_NAMES[type(v)])


@command("keys", 2, "readonly", 0, 0, 0, "keyspace")
def keys(e, c, argv):
    db = c.db
    match = glob_matcher(argv[1])
    now = -1 if e.loading else e.now_ms
    exp = db.expires
    return [k for k in db.data if match(k) and not (k in exp and exp[k] <= now)]


@command("scan", -2, "readonly", 0, 0, 0, "keyspace", since="2.8.0")
def scan(e, c, argv):
    cursor = _cursor(argv[1])
    pattern, count, tname = _scan_opts(argv, 2, allow_type=True)
    db = c.db
    nxt, found = db.scan_from(cursor, count)
    match = glob_matcher(pattern) if pattern is not None else None
    out = []
    for k in found:
        v = db.get(k)
        if v is None:
            continue
        if match is not None and not match(k):
            continue
        if tname is not None and TYPE_NAMES[type(v)] != tname:
            continue
        out.append(k)
    return [b"%d" % nxt, out]


def _cursor(b: bytes) -> int:
    if not b.isdigit() or len(b) > 20 or int(b) >= 1 << 64:
        raise CommandError(err("ERR invalid cursor"))
    return int(b)


def _scan_opts(argv, i, allow_type=False):
    pattern = None
    count = 10
    tname = None
    n = len(argv)
    while i < n:
        o = argv[i].lower()
        if o == b"count" and i + 1 < n:
            count = to_int(argv[i + 1])
            if count < 1:
                raise CommandError(SYNTAX)
            i += 2
        elif o == b"match" and i + 1 < n:
            pattern = argv[i + 1]
            i += 2
        elif o == b"type" and allow_type and i + 1 < n:
            tname = argv[i + 1].lower()
            i += 2
        else:
            raise CommandError(SYNTAX)
    return pattern, count, tname


@command("randomkey", 1, "readonly", 0, 0, 0, "keyspace")
def randomkey(e, c, argv):
    db = c.db
    for _ in range(100):
        if not db.data:
            return None
        i = random.randrange(len(db.order_keys))
        k = db.order_keys[i]
        if db.seqof.get(k) != db.order_seqs[i]:
            db._compact()
            continue
        if db.get(k) is not None:
            return k
    for k in list(db.data):
        if db.get(k) is not None:
            return k
    return None


@command("dbsize", 1, "readonly fast", 0, 0, 0, "keyspace")
def dbsize(e, c, argv):
    return len(c.db.data)


def _db_index(e, b: bytes):
    n = to_int(b)
    if n < 0 or n >= len(e.dbs):
        raise CommandError(_DB_RANGE)
    return n


@command("select", 2, "loading stale fast", 0, 0, 0, "connection")
def select(e, c, argv):
    n = to_int(argv[1])
    if n < 0 or n >= len(e.dbs):
        return _DB_RANGE
    c.db = e.dbs[n]
    return OK


def _flush_mode(argv):
    if len(argv) > 2:
        raise CommandError(SYNTAX)
    if len(argv) == 2 and argv[1].lower() not in (b"async", b"sync"):
        raise CommandError(SYNTAX)


@command("flushdb", -1, "write", 0, 0, 0, "keyspace")
def flushdb(e, c, argv):
    _flush_mode(argv)
    c.db.touch_all()
    c.db.clear()
    e.dirty += 1
    return OK


@command("flushall", -1, "write", 0, 0, 0, "keyspace")
def flushall(e, c, argv):
    _flush_mode(argv)
    e.flush_all()
    e.dirty += 1
    if e.persist is not None:
        e.persist.after_flushall()  # Redis 7.0 flushAllDataAndResetRDB()
    return OK


@command("swapdb", 3, "write fast", 0, 0, 0, "keyspace", since="4.0.0")
def swapdb(e, c, argv):
    from .objects import canonical_int

    a = canonical_int(argv[1])
    if a is None:
        return err("ERR invalid first DB index")
    b = canonical_int(argv[2])
    if b is None:
        return err("ERR invalid second DB index")
    if not (0 <= a < len(e.dbs) and 0 <= b < len(e.dbs)):
        return _DB_RANGE
    if a != b:
        da, db_ = e.dbs[a], e.dbs[b]
        da.touch_all(db_)
        db_.touch_all(da)
        for f in ("data", "expires", "seqof", "order_keys", "order_seqs", "next_seq"):
            x, y = getattr(da, f), getattr(db_, f)
            setattr(da, f, y)
            setattr(db_, f, x)
    e.dirty += 1
    return OK


def _rename(e, c, argv, nx):
    db = c.db
    src, dst = argv[1], argv[2]
    v = db.get(src)
    if v is None:
        return _NO_KEY
    if src == dst:
        return 0 if nx else OK
    if db.get(dst) is not None:
        if nx:
            return 0
        db.delete(dst)
    when = db.expires.get(src)
    db.delete(src)
    db.add(dst, v)
    if when is not None:
        db.expires[dst] = when
    e.dirty += 1
    return 1 if nx else OK


@command("rename", 3, "write", 1, 2, 1, "generic")
def rename(e, c, argv):
    return _rename(e, c, argv, False)


@command("renamenx", 3, "write fast", 1, 2, 1, "generic")
def renamenx(e, c, argv):
    return _rename(e, c, argv, True)


def clone(v):
    t = type(v)
    if t is bytes:
        return v
    if t is bytearray:
        return bytearray(v)
    if t is RList:
        return RList(v)
    if t is RHash:
        h = RHash(v)
        h.lp = v.lp
        h.fexp = dict(v.fexp) if v.fexp else None
        return h
    if t is RSet:
        s = RSet(v)
        s.intset = v.intset
        return s
    if t is RZset:
        z = RZset()
        z.d = dict(v.d)
        z.sl = list(v.sl)
        z.lp = v.lp
        return z
    return _copy.deepcopy(v)


@command("copy", -3, "write denyoom", 1, 2, 1, "generic", since="6.2.0")
def copy(e, c, argv):
    src_db = c.db
    dst_db = c.db
    replace = False
    i = 3
    while i < len(argv):
        o = argv[i].lower()
        if o == b"replace":
            replace = True
        elif o == b"db" and i + 1 < len(argv):
            n = to_int(argv[i + 1])
            if n < 0 or n >= len(e.dbs):
                return _DB_RANGE
            dst_db = e.dbs[n]
            i += 1
        else:
            return SYNTAX
        i += 1
    src, dst = argv[1], argv[2]
    if src_db is dst_db and src == dst:
        return err("ERR source and destination objects are the same")
    v = src_db.get(src)
    if v is None:
        return 0
    if dst_db.get(dst) is not None:
        if not replace:
            return 0
        dst_db.delete(dst)
    dst_db.add(dst, clone(v))
    when = src_db.expires.get(src)
    if when is not None:
        dst_db.expires[dst] = when
    e.dirty += 1
    return 1


@command("move", 3, "write fast", 1, 1, 1, "keyspace")
def move(e, c, argv):
    n = to_int(argv[2])
    if n < 0 or n >= len(e.dbs):
        return _DB_RANGE
    src = c.db
    dst = e.dbs[n]
    if src is dst:
        return err("ERR source and destination objects are the same")
    v = src.get(argv[1])
    if v is None or dst.get(argv[1]) is not None:
        return 0
    when = src.expires.get(argv[1])
    src.delete(argv[1])
    dst.add(argv[1], v)
    if when is not None:
        dst.expires[argv[1]] = when
    e.dirty += 1
    return 1


# -- expiry ---------------------------------------------------------------------------

def _expire_generic(e, c, argv, base, seconds, name):
    nx = xx = gt = lt = False
    for o in argv[3:]:
        lo = o.lower()
        if lo == b"nx":
            nx = True
        elif lo == b"xx":
            xx = True
        elif lo == b"gt":
            gt = True
        elif lo == b"lt":
            lt = True
        else:
            return err("ERR Unsupported option " + o.decode("utf-8", "replace"))
    if nx and (xx or gt or lt):
        return err("ERR NX and XX, GT or LT options at the same time are not compatible")
    if gt and lt:
        return err("ERR GT and LT options at the same time are not compatible")
    when = to_int(argv[2])
    bad = err("ERR invalid expire time in '%s' command" % name)
    if seconds:
        if when > INT64_MAX // 1000 or when < -(-INT64_MIN // 1000):
            return bad
        when *= 1000
    if when > INT64_MAX - base:
        return bad
    when += base
    db = c.db
    key = argv[1]
    if db.get(key) is None:
        return 0
    cur = db.expires.get(key, -1)
    if nx and cur != -1:
        return 0
    if xx and cur == -1:
        return 0
    if gt and (cur == -1 or when <= cur):
        return 0
    if lt and cur != -1 and when >= cur:
        return 0
    e.dirty += 1
    if when <= e.now_ms and not e.loading:
        db.delete(key)
        e.rewrite([b"DEL", key])
        return 1
    db.expires[key] = when
    if db.watched:
        db.touch(key)
    # Redis keeps PEXPIREAT as sent, renames the others, and rewrites the time only
    # when it is not already an absolute millisecond; options stay
    e.rewrite([argv[0] if name == "pexpireat" else b"PEXPIREAT", key,
               argv[2] if name == "pexpireat" else b"%d" % when, *argv[3:]])
    return 1


@command("expire", -3, "write fast", 1, 1, 1, "keyspace")
def expire(e, c, argv):
    return _expire_generic(e, c, argv, e.now_ms, True, "expire")


@command("pexpire", -3, "write fast", 1, 1, 1, "keyspace", since="2.6.0")
def pexpire(e, c, argv):
    return _expire_generic(e, c, argv, e.now_ms, False, "pexpire")


@command("expireat", -3, "write fast", 1, 1, 1, "keyspace", since="1.2.0")
def expireat(e, c, argv):
    return _expire_generic(e, c, argv, 0, True, "expireat")


@command("pexpireat", -3, "write fast", 1, 1, 1, "keyspace", since="2.6.0")
def pexpireat(e, c, argv):
    return _expire_generic(e, c, argv, 0, False, "pexpireat")


def _ttl(e, c, key, ms, absolute):
    db = c.db
    if db.get(key) is None:
        return -2
    when = db.expires.get(key)
    if when is None:
        return -1
    if absolute:
        return when if ms else (when + 500) // 1000
    left = max(0, when - e.now_ms)
    return left if ms else (left + 500) // 1000


@command("ttl", 2, "readonly fast", 1, 1, 1, "keyspace")
def ttl(e, c, argv):
    return _ttl(e, c, argv[1], False, False)


@command("pttl", 2, "readonly fast", 1, 1, 1, "keyspace", since="2.6.0")
def pttl(e, c, argv):
    return _ttl(e, c, argv[1], True, False)


@command("expiretime", 2, "readonly fast", 1, 1, 1, "keyspace", since="7.0.0")
def expiretime(e, c, argv):
    return _ttl(e, c, argv[1], False, True)


@command("pexpiretime", 2, "readonly fast", 1, 1, 1, "keyspace", since="7.0.0")
def pexpiretime(e, c, argv):
    return _ttl(e, c, argv[1], True, True)


@command("persist", 2, "write fast", 1, 1, 1, "keyspace", since="2.2.0")
def persist(e, c, argv):
    db = c.db
    if db.get(argv[1]) is None or argv[1] not in db.expires:
        return 0
    del db.expires[argv[1]]
    if db.watched:
        db.touch(argv[1])
    e.dirty += 1
    return 1


# -- OBJECT -----------------------------------------------------------------------------

container("object", "keyspace", "2.2.3")


@command("object|encoding", 3, "readonly", 2, 2, 1, "keyspace")
def object_encoding(e, c, argv):
    v = c.db.get(argv[2])
    return None if v is None else encoding_of(v)


@command("object|refcount", 3, "readonly", 2, 2, 1, "keyspace")
def object_refcount(e, c, argv):
    v = c.db.get(argv[2])
    if v is None:
        return None
    from .objects import canonical_int

    if type(v) is bytes:
        n = canonical_int(v)
        if n is not None and 0 <= n < 10000:
            return 2147483647
    return 1


@command("object|idletime", 3, "readonly", 2, 2, 1, "keyspace")
def object_idletime(e, c, argv):
    v = c.db.get(argv[2])
    if v is None:
        return None
    if "lfu" in e.config.get("maxmemory-policy"):
        return err("ERR An LRU maxmemory policy is selected, access frequency not tracked. "
                   "Please note that when switching between policies at runtime LRU and LFU "
                   "data will take some time to adjust.")
    return 0


@command("object|freq", 3, "readonly", 2, 2, 1, "keyspace")
def object_freq(e, c, argv):
    v = c.db.get(argv[2])
    if v is None:
        return None
    if "lfu" not in e.config.get("maxmemory-policy"):
        return err("ERR An LFU maxmemory policy is not selected, access frequency not "
                   "tracked. Please note that when switching between policies at runtime "
                   "LRU and LFU data will take some time to adjust.")
    return 0


@command("object|help", 2, "loading stale", 0, 0, 0, "keyspace")
def object_help(e, c, argv):
    return [Simple(x) for x in (
        b"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        b"ENCODING <key>", b"    Return the kind of internal representation used in order to store the value",
        b"    associated with a <key>.", b"FREQ <key>",
        b"    Return the access frequency index of the <key>. The returned integer is",
        b"    proportional to the logarithm of the recent access frequency of the key.",
        b"IDLETIME <key>", b"    Return the idle time of the <key>, that is the approximated number of",
        b"    seconds elapsed since the last access to the key.", b"REFCOUNT <key>",
        b"    Return the number of references of the value associated with the specified",
        b"    <key>.", b"HELP", b"    Print this help.")]


# -- DUMP / RESTORE -------------------------------------------------------------------

def _payload_mod():
    try:
        from rdbtools import payload
    except ImportError:
        raise CommandError(err("ERR DUMP/RESTORE need rdbtools.payload, not available"))
    return payload


@command("dump", 2, "readonly", 1, 1, 1, "keyspace", since="2.6.0")
def dump(e, c, argv):
    v = c.db.get(argv[1])
    if v is None:
        return None
    payload = _payload_mod()
    kind, value, fexp = to_record(v)
    return payload.create_payload(kind, value, field_expires=fexp)


@command("restore", -4, "write denyoom", 1, 1, 1, "keyspace", since="2.6.0")
def restore(e, c, argv):
    replace = absttl = False
    idle = freq = None
    i = 4
    n = len(argv)
    while i < n:
        o = argv[i].lower()
        if o == b"replace":
            replace = True
        elif o == b"absttl":
            absttl = True
        elif o == b"idletime" and i + 1 < n and freq is None:
            i += 1
            idle = to_int(argv[i])
            if idle < 0:
                return err("ERR Invalid IDLETIME value, must be >= 0")
        elif o == b"freq" and i + 1 < n and idle is None:
            i += 1
            freq = to_int(argv[i])
            if freq < 0 or freq > 255:
                return err("ERR Invalid FREQ value, must be >= 0 and <= 255")
        else:
            return SYNTAX
        i += 1
    db = c.db
    key = argv[1]
    if not replace and db.get(key) is not None:
        return err("BUSYKEY Target key name already exists.")
    ttl = to_int(argv[2])
    if ttl < 0:
        return err("ERR Invalid TTL value, must be >= 0")
    payload = _payload_mod()
    from rdbtools.constants import TYPE_KIND
    from rdbtools.errors import RdbkitError

    data = argv[3]
    try:
        rtype, value, fexp = payload.parse_payload(data, max_version=10)
    except RdbkitError as ex:
        text = str(ex).lower()
        if "checksum" in text or "version" in text or len(data) < 10:
            return err("ERR DUMP payload version or checksum are wrong")
        return err("ERR Bad data format")
    except Exception:
        return err("ERR Bad data format")
    kind = TYPE_KIND.get(rtype)
    if kind is None:
        return err("ERR Bad data format")
    try:
        obj = from_record(kind, value, fexp, e.config, rtype)
    except (ValueError, TypeError):
        return err("ERR Bad data format")
    if kind != kind.STRING and kind != kind.STREAM and len(obj) == 0:
        return err("ERR Bad data format")
    when = None
    if ttl:
        when = ttl if absttl else e.now_ms + ttl
    if replace:
        if db.delete(key):
            e.dirty += 1
    if when is not None and when <= e.now_ms and not e.loading:
        e.rewrite([b"DEL", key])
        e.dirty += 1
        return OK
    db.add(key, obj)
    if when is not None:
        db.expires[key] = when
        rw = [b"RESTORE", key, b"%d" % when, data, b"ABSTTL"]
        if replace:
            rw.append(b"REPLACE")
        e.rewrite(rw)
    e.dirty += 1
    return OK
