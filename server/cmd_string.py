"""String commands: SET family, GET family, INCR family, APPEND, ranges, bits."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction

from ._util import (check_int64, fmt_float_human, is_string, range_indices, syntax, to_int)
from .engine import NOT_INT, SYNTAX, WRONGTYPE, CommandError, command
from .objects import INT64_MAX, canonical_int
from .proto import OK, err

MAX_STRING = 512 * 1024 * 1024
_INVALID_EXPIRE = "ERR invalid expire time in '%s' command"


def get_str(db, key):
    v = db.get(key)
    if v is None:
        return None
    t = type(v)
    if t is not bytes and t is not bytearray:
        raise CommandError(WRONGTYPE)
    return v


def abs_expire(e, unit: bytes, raw: bytes, cmdname: str) -> int:
    n = to_int(raw)
    if n <= 0 or (unit in (b"ex", b"exat") and n > INT64_MAX // 1000):
        raise CommandError(err(_INVALID_EXPIRE % cmdname))
    ms = n * 1000 if unit in (b"ex", b"exat") else n
    if unit in (b"ex", b"px"):
        if ms > INT64_MAX - e.now_ms:
            raise CommandError(err(_INVALID_EXPIRE % cmdname))
        ms += e.now_ms
    return ms


@command("get", 2, "readonly fast", 1, 1, 1, "string")
def get(e, c, argv):
    v = c.db.get(argv[1])
    if v is None:
        e.stats["keyspace_misses"] += 1
        return None
    t = type(v)
    if t is not bytes and t is not bytearray:
        raise CommandError(WRONGTYPE)
    e.stats["keyspace_hits"] += 1
    return v


@command("set", -3, "write denyoom", 1, 1, 1, "string")
def set_(e, c, argv):
    db = c.db
    key = argv[1]
    if len(argv) == 3:
        db.set(key, argv[2])
        e.dirty += 1
        return OK
    nx = xx = get = keepttl = False
    unit = None
    when = None
    i = 3
    n = len(argv)
    while i < n:
        o = argv[i].lower()
        if o == b"nx" and not xx:
            nx = True
        elif o == b"xx" and not nx:
            xx = True
        elif o == b"get":
            get = True
        elif o == b"keepttl" and unit is None:
            keepttl = True
        elif o in (b"ex", b"px", b"exat", b"pxat") and unit is None and not keepttl \
                and i + 1 < n:
            unit = o
            i += 1
            when = argv[i]
        else:
            return SYNTAX
        i += 1
    if unit is not None:
        when = abs_expire(e, unit, when, "set")
    old = db.get(key)
    if get and old is not None and not is_string(old):
        return WRONGTYPE
    if (nx and old is not None) or (xx and old is None):
        return old if get else None
    db.set(key, argv[2], keep_ttl=keepttl)
    e.dirty += 1
    if when is not None:
        db.expires[key] = when
        rewritten = [b"SET", key, argv[2], b"PXAT", b"%d" % when]
        if nx:
            rewritten.append(b"NX")
        if xx:
            rewritten.append(b"XX")
        e.rewrite(rewritten)
    elif get:
        e.rewrite([a for a in argv if a.lower() != b"get"])
    if get:
        return old
    return OK


@command("setnx", 3, "write denyoom fast", 1, 1, 1, "string")
def setnx(e, c, argv):
    if c.db.get(argv[1]) is not None:
        return 0
    c.db.set(argv[1], argv[2])
    e.dirty += 1
    return 1


def _setex(e, c, argv, unit):
    when = abs_expire(e, unit, argv[2], argv[0].decode().lower())
    c.db.set(argv[1], argv[3])
    c.db.expires[argv[1]] = when
    e.dirty += 1
    e.rewrite([b"SET", argv[1], argv[3], b"PXAT", b"%d" % when])
    return OK


@command("setex", 4, "write denyoom", 1, 1, 1, "string")
def setex(e, c, argv):
    return _setex(e, c, argv, b"ex")


@command("psetex", 4, "write denyoom", 1, 1, 1, "string")
def psetex(e, c, argv):
    return _setex(e, c, argv, b"px")


@command("mget", -2, "readonly fast", 1, -1, 1, "string")
def mget(e, c, argv):
    db = c.db
    out = []
    for k in argv[1:]:
        v = db.get(k)
        out.append(v if v is not None and is_string(v) else None)
    return out


@command("mset", -3, "write denyoom", 1, -1, 2, "string")
def mset(e, c, argv):
    if len(argv) % 2 == 0:
        return err("ERR wrong number of arguments for 'mset' command")
    db = c.db
    for i in range(1, len(argv), 2):
        db.set(argv[i], argv[i + 1])
    e.dirty += 1
    return OK


@command("msetnx", -3, "write denyoom", 1, -1, 2, "string")
def msetnx(e, c, argv):
    if len(argv) % 2 == 0:
        return err("ERR wrong number of arguments for 'msetnx' command")
    db = c.db
    for i in range(1, len(argv), 2):
        if db.get(argv[i]) is not None:
            return 0
    for i in range(1, len(argv), 2):
        db.set(argv[i], argv[i + 1])
    e.dirty += 1
    return 1


@command("getset", 3, "write denyoom fast", 1, 1, 1, "string")
def getset(e, c, argv):
    old = get_str(c.db, argv[1])
    c.db.set(argv[1], argv[2])
    e.dirty += 1
    e.rewrite([b"SET", argv[1], argv[2]])   # as Redis propagates it
    return old


@command("getdel", 2, "write fast", 1, 1, 1, "string")
def getdel(e, c, argv):
    old = get_str(c.db, argv[1])
    if old is not None:
        c.db.delete(argv[1])
        e.dirty += 1
        e.rewrite([b"DEL", argv[1]])   # as Redis propagates it
    return old


@command("getex", -2, "write fast", 1, 1, 1, "string")
def getex(e, c, argv):
    unit = None
    persist = False
    raw = None
    i, n = 2, len(argv)
    while i < n:
        o = argv[i].lower()
        if o in (b"ex", b"px", b"exat", b"pxat") and unit is None and not persist and i + 1 < n:
            unit = o
            raw = argv[i + 1]
            i += 1
        elif o == b"persist" and unit is None:
            persist = True
        else:
            return SYNTAX
        i += 1
    when = abs_expire(e, unit, raw, "getex") if unit is not None else None
    db = c.db
    v = get_str(db, argv[1])
    if v is None:
        return None
    if when is not None:
        if when <= e.now_ms and not e.loading:
            db.delete(argv[1])
            e.dirty += 1
            e.rewrite([b"DEL", argv[1]])
        else:
            db.expires[argv[1]] = when
            e.dirty += 1
            e.rewrite([b"PEXPIREAT", argv[1], b"%d" % when])
    elif persist and argv[1] in db.expires:
        del db.expires[argv[1]]
        e.dirty += 1
        e.rewrite([b"PERSIST", argv[1]])
    return v


def _incr(e, c, key, by):
    db = c.db
    v = get_str(db, key)
    if v is None:
        cur = 0
    else:
        cur = canonical_int(bytes(v)) if type(v) is bytearray else canonical_int(v)
        if cur is None:
            raise CommandError(NOT_INT)
    new = check_int64(cur + by)
    db.set(key, b"%d" % new, keep_ttl=True)
    e.dirty += 1
    return new


@command("incr", 2, "write denyoom fast", 1, 1, 1, "string")
def incr(e, c, argv):
    return _incr(e, c, argv[1], 1)


@command("decr", 2, "write denyoom fast", 1, 1, 1, "string")
def decr(e, c, argv):
    return _incr(e, c, argv[1], -1)


@command("incrby", 3, "write denyoom fast", 1, 1, 1, "string")
def incrby(e, c, argv):
    return _incr(e, c, argv[1], to_int(argv[2]))


@command("decrby", 3, "write denyoom fast", 1, 1, 1, "string")
def decrby(e, c, argv):
    by = to_int(argv[2])
    if by == -(1 << 63):
        return err("ERR decrement would overflow")
    return _incr(e, c, argv[1], -by)


def parse_long_double(b: bytes) -> Decimal | None:
    """strtold as Redis uses it for INCRBYFLOAT/HINCRBYFLOAT: no spaces, no NaN/inf."""
    if not b or b[:1].isspace() or b[-1:].isspace() or len(b) > 5000:
        return None
    try:
        d = Decimal(b.decode("ascii"))
    except (InvalidOperation, UnicodeDecodeError, ValueError):
        return None
    if d.is_nan() or b"_" in b:
        return None
    return d


_LD_MAX = Fraction(2 ** 64 - 1) * Fraction(2) ** (16383 - 63)  # x87 long double max


def _to_long_double(x: Fraction) -> Fraction:
    """Round exactly to the x87 80-bit long double (64-bit mantissa, half-even)."""
    if x == 0:
        return x
    neg = x < 0
    a = -x if neg else x
    e = a.numerator.bit_length() - a.denominator.bit_length() - 64
    while a >= Fraction(2) ** (e + 64):
        e += 1
    while a < Fraction(2) ** (e + 63):
        e -= 1
    m = a / Fraction(2) ** e
    q, r = divmod(m.numerator, m.denominator)
    if 2 * r > m.denominator or (2 * r == m.denominator and q & 1):
        q += 1
    out = q * Fraction(2) ** e
    return -out if neg else out


_LD_TINY = Fraction(2) ** -16445  # smallest subnormal: below it strtold underflows


def _ld_parse(b) -> Fraction | None:
    """strtold as string2ld() accepts it: overflow and underflow are not valid floats."""
    d = parse_long_double(bytes(b))
    if d is None:
        return None
    if d.is_infinite():
        return d  # type: ignore[return-value]
    if d and (abs(d.adjusted()) > 5000):
        return None
    x = Fraction(d)
    if x and abs(x) < _LD_TINY / 2:
        return None
    v = _to_long_double(x)
    if abs(v) > _LD_MAX:
        return None
    return v


def _big_str(n: int) -> str:
    """str() of a non-negative int of any size (Python caps str(int) at 4300 digits)."""
    if n < 10 ** 4000:
        return str(n)
    parts = []
    while n:
        n, r = divmod(n, 10 ** 1000)
        parts.append(str(r).rjust(1000, "0"))
    return "".join(reversed(parts)).lstrip("0") or "0"


def _ld_format(x: Fraction) -> bytes:
    """`%.17Lf` with trailing zeros (and a bare '.') removed, as Redis's ld2string."""
    q = round(x * 10 ** 17)  # Fraction rounding is half-even, like glibc on exact values
    neg = q < 0
    digits = _big_str(-q if neg else q).rjust(18, "0")
    text = digits[:-17] + "." + digits[-17:]
    text = text.rstrip("0").rstrip(".")
    if neg and text != "0":
        text = "-" + text
    return text.encode()


def float_add(cur_raw, incr_raw: bytes):
    """Long double addition rendered as Redis renders it; CommandError on bad input."""
    inc = _ld_parse(incr_raw)
    if inc is None:
        raise CommandError(err("ERR value is not a valid float"))
    if cur_raw is None:
        cur = Fraction(0)
    else:
        cur = _ld_parse(cur_raw)
        if cur is None:
            raise CommandError(err("ERR value is not a valid float"))
    if isinstance(cur, Decimal) or isinstance(inc, Decimal):  # an infinity
        raise CommandError(err("ERR increment would produce NaN or Infinity"))
    total = _to_long_double(cur + inc)
    if abs(total) > _LD_MAX:
        raise CommandError(err("ERR increment would produce NaN or Infinity"))
    return _ld_format(total)


@command("incrbyfloat", 3, "write denyoom fast", 1, 1, 1, "string")
def incrbyfloat(e, c, argv):
    db = c.db
    v = get_str(db, argv[1])
    new = float_add(v, argv[2])
    db.set(argv[1], new, keep_ttl=True)
    e.dirty += 1
    e.rewrite([b"SET", argv[1], new, b"KEEPTTL"])
    return new


@command("append", 3, "write denyoom fast", 1, 1, 1, "string")
def append(e, c, argv):
    db = c.db
    v = get_str(db, argv[1])
    if v is None:
        db.set(argv[1], argv[2])
        e.dirty += 1
        return len(argv[2])
    if len(v) + len(argv[2]) > e.config.proto_max_bulk_len:
        return err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
    if type(v) is bytes:
        v = bytearray(v)
        db.data[argv[1]] = v
    v += argv[2]
    db.touch(argv[1]) if db.watched else None
    e.dirty += 1
    return len(v)


@command("strlen", 2, "readonly fast", 1, 1, 1, "string")
def strlen(e, c, argv):
    v = get_str(c.db, argv[1])
    return 0 if v is None else len(v)


@command("getrange", 4, "readonly", 1, 1, 1, "string")
def getrange(e, c, argv):
    start, end = to_int(argv[2]), to_int(argv[3])
    v = get_str(c.db, argv[1])
    if v is None:
        return b""
    if start < 0 and end < 0 and start > end:
        return b""
    r = range_indices(start, end, len(v))
    if r is None:
        return b""
    return bytes(v[r[0]:r[1] + 1])


@command("substr", 4, "readonly", 1, 1, 1, "string")
def substr(e, c, argv):
    return getrange(e, c, argv)


@command("setrange", 4, "write denyoom", 1, 1, 1, "string")
def setrange(e, c, argv):
    db = c.db
    off = to_int(argv[2])
    if off < 0:
        return err("ERR offset is out of range")
    val = argv[3]
    v = get_str(db, argv[1])
    if v is None:
        if not val:
            return 0
        if off + len(val) > e.config.proto_max_bulk_len:
            return err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
        v = bytearray(off) + val
        db.set(argv[1], v)
        e.dirty += 1
        return len(v)
    if not val:
        return len(v)
    if off + len(val) > e.config.proto_max_bulk_len:
        return err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
    if type(v) is bytes:
        v = bytearray(v)
        db.data[argv[1]] = v
    if len(v) < off:
        v += bytes(off - len(v))
    v[off:off + len(val)] = val
    if db.watched:
        db.touch(argv[1])
    e.dirty += 1
    return len(v)


@command("lcs", -3, "readonly", 1, 2, 1, "string", since="7.0.0")
def lcs(e, c, argv):
    a = get_str(c.db, argv[1]) or b""
    b = get_str(c.db, argv[2]) or b""
    opts = [x.lower() for x in argv[3:]]
    if len(a) * len(b) > 25_000_000:
        return err("ERR Insufficient memory, transient memory for LCS exceeds "
                   "proto-max-bulk-len")
    la, lb = len(a), len(b)
    dp = [[0] * (lb + 1) for _ in range(la + 1)]
    for i in range(la - 1, -1, -1):
        row, nxt = dp[i], dp[i + 1]
        ai = a[i]
        for j in range(lb - 1, -1, -1):
            row[j] = nxt[j + 1] + 1 if ai == b[j] else max(nxt[j], row[j + 1])
    out = bytearray()
    i = j = 0
    while i < la and j < lb:
        if a[i] == b[j]:
            out.append(a[i])
            i += 1
            j += 1
        elif dp[i + 1][j] >= dp[i][j + 1]:
            i += 1
        else:
            j += 1
    if not opts:
        return bytes(out)
    if opts == [b"len"]:
        return len(out)
    return syntax()


# -- bits ---------------------------------------------------------------------------

@command("getbit", 3, "readonly fast", 1, 1, 1, "bitmap")
def getbit(e, c, argv):
    off = _bit_offset(argv[2])
    v = get_str(c.db, argv[1])
    if v is None or off >> 3 >= len(v):
        return 0
    return (v[off >> 3] >> (7 - (off & 7))) & 1


def _bit_offset(b):
    off = canonical_int(b)
    if off is None or off < 0 or off >= 4 * 1024 * 1024 * 1024 * 8 // 8 * 8:
        raise CommandError(err("ERR bit offset is not an integer or out of range"))
    return off


@command("setbit", 4, "write denyoom", 1, 1, 1, "bitmap")
def setbit(e, c, argv):
    off = _bit_offset(argv[2])
    if argv[3] not in (b"0", b"1"):
        return err("ERR bit is not an integer or out of range")
    if (off >> 3) + 1 > e.config.proto_max_bulk_len:
        return err("ERR bit offset is not an integer or out of range")
    db = c.db
    v = get_str(db, argv[1])
    if v is None:
        v = bytearray()
        db.set(argv[1], v)
    elif type(v) is bytes:
        v = bytearray(v)
        db.data[argv[1]] = v
    byte = off >> 3
    if len(v) <= byte:
        v += bytes(byte + 1 - len(v))
    mask = 1 << (7 - (off & 7))
    old = 1 if v[byte] & mask else 0
    if argv[3] == b"1":
        v[byte] |= mask
    else:
        v[byte] &= ~mask & 0xFF
    if db.watched:
        db.touch(argv[1])
    e.dirty += 1
    return old


@command("bitcount", -2, "readonly", 1, 1, 1, "bitmap")
def bitcount(e, c, argv):
    v = get_str(c.db, argv[1])
    if len(argv) not in (2, 4, 5):
        return SYNTAX
    if v is None:
        if len(argv) > 2:
            to_int(argv[2]), to_int(argv[3])
        return 0
    data = bytes(v)
    if len(argv) >= 4:
        start, end = to_int(argv[2]), to_int(argv[3])
        bit = False
        if len(argv) == 5:
            u = argv[4].lower()
            if u == b"bit":
                bit = True
            elif u != b"byte":
                return SYNTAX
        n = len(data) * 8 if bit else len(data)
        if start < 0:
            start = max(0, start + n)
        if end < 0:
            end = max(0, end + n)
        if end >= n:
            end = n - 1
        if start > end:
            return 0
        if bit:
            chunk = data[start >> 3:(end >> 3) + 1]
            v = int.from_bytes(chunk, "big")
            v >>= 7 - (end & 7)                       # drop bits after `end`
            v &= (1 << (end - start + 1)) - 1         # drop bits before `start`
            return v.bit_count()
        data = data[start:end + 1]
    return int.from_bytes(data, "big").bit_count() if data else 0
