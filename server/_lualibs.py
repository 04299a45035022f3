"""Libraries Redis links into its Lua that lupa lacks: `cjson` (lua-cjson 2.1 as Redis
configures it), `bit` (LuaBitOp), `cmsgpack` (lua-cmsgpack 0.4.0) and `struct`
(lua-struct, x86-64 sizes). They are Python functions called from Lua, so their errors
carry the caller's position the way C library functions' errors do (`raise_c_error`).
"""

from __future__ import annotations

import math
import re
import struct
import sys

# -- cjson.encode -----------------------------------------------------------------------

_ESCAPES = {i: b"\\u%04x" % i for i in range(32)}
_ESCAPES.update({8: b"\\b", 9: b"\\t", 10: b"\\n", 12: b"\\f", 13: b"\\r", 34: b'\\"',
                 47: b"\\/", 92: b"\\\\", 127: b"\\u007f"})
_NEEDS_ESCAPE = re.compile(rb'[\x00-\x1f"/\\\x7f]')
_MAX_DEPTH = 1000


class CjsonConfig:
    """lua-cjson's settings (one per Lua state, kept across scripts as in Redis)."""

    def __init__(self) -> None:
        self.sparse_convert, self.sparse_ratio, self.sparse_safe = 0, 2, 10
        self.encode_max_depth = self.decode_max_depth = _MAX_DEPTH
        self.precision = 14
        self.keep_buffer = 1
        self.encode_invalid = 0   # 0 off, 1 on, 2 null
        self.decode_invalid = 1


def _cfg(box) -> CjsonConfig:
    cfg = getattr(box, "cjson_cfg", None)
    if cfg is None:
        cfg = box.cjson_cfg = CjsonConfig()
    return cfg


def _json_string(s: bytes) -> bytes:
    return b'"' + _NEEDS_ESCAPE.sub(lambda m: _ESCAPES[m.group()[0]], s) + b'"'


def _lua_typename(box, v) -> str:
    if v is None:
        return "nil"
    t = type(v)
    if t is bool:
        return "boolean"
    if t in (int, float):
        return "number"
    if t is bytes:
        return "string"
    return box.lua_type(v) or "userdata"


def _deep(fn, *args, depth: int = _MAX_DEPTH):
    """Run a recursive walker with room for `depth` levels (lua-cjson's default 1000;
    past ~5000 a RecursionError ends it)."""
    need = 4 * min(depth, 5000) + 1000
    limit = sys.getrecursionlimit()
    if limit < need:
        sys.setrecursionlimit(need)
    try:
        return fn(*args)
    finally:
        if limit < need:
            sys.setrecursionlimit(limit)


def cjson_encode(box, args, cfg=None):
    if len(args) != 1:
        box.raise_c_error("bad argument #1 to 'encode' (expected 1 argument)")
    out: list[bytes] = []
    cfg = cfg or _cfg(box)
    _deep(_encode, box, args[0], 0, out, cfg, depth=cfg.encode_max_depth)
    return b"".join(out)


def _number(box, v, out, cfg) -> None:
    f = float(v)
    if math.isnan(f) or math.isinf(f):
        if cfg.encode_invalid == 0:
            box.raise_c_error("Cannot serialise number: must not be NaN or Inf")
        if cfg.encode_invalid == 2:
            out.append(b"null")
            return
        if math.isnan(f):
            out.append(b"nan")
            return
    out.append(b"%.*g" % (cfg.precision, f))


def _encode(box, v, depth: int, out: list, cfg) -> None:
    t = type(v)
    if t is bytes:
        out.append(_json_string(v))
    elif t is bool:
        out.append(b"true" if v else b"false")
    elif t is int or t is float:
        _number(box, v, out, cfg)
    elif v is None or box.isnull(v):
        out.append(b"null")
    elif box.lua_type(v) == "table":
        depth += 1
        if depth > cfg.encode_max_depth:
            box.raise_c_error("Cannot serialise, excessive nesting (%d)" % depth)
        items = list(v.items())
        n = _array_length(box, items, cfg)
        if n > 0:
            out.append(b"[")
            raw = box._rawget
            for i in range(1, n + 1):
                if i > 1:
                    out.append(b",")
                _encode(box, raw(v, i), depth, out, cfg)
            out.append(b"]")
        else:
            out.append(b"{")
            for i, (k, x) in enumerate(items):
                if i:
                    out.append(b",")
                if type(k) in (int, float) and type(k) is not bool:
                    out.append(b'"')
                    _number(box, k, out, cfg)
                    out.append(b'":')
                elif type(k) is bytes:
                    out.append(_json_string(k) + b":")
                else:
                    box.raise_c_error("Cannot serialise %s: table key must be a number or "
                                      "string" % _lua_typename(box, k))
                _encode(box, x, depth, out, cfg)
            out.append(b"}")
    else:
        box.raise_c_error("Cannot serialise %s: type not supported" % _lua_typename(box, v))


def _array_length(box, items, cfg) -> int:
    """lua-cjson's: -1 for an object, else the largest index (sparse arrays refused or
    turned into objects, as configured)."""
    top = count = 0
    for k, _ in items:
        if type(k) in (int, float) and type(k) is not bool and k and \
                math.floor(k) == k and k >= 1:
            top = max(top, int(k))
            count += 1
            continue
        return -1
    if cfg.sparse_ratio > 0 and top > count * cfg.sparse_ratio and top > cfg.sparse_safe:
        if not cfg.sparse_convert:
            box.raise_c_error("Cannot serialise table: excessively sparse array")
        return -1
    return top


# -- cjson.decode -----------------------------------------------------------------------

_TOKEN_NAMES = {"{": "T_OBJ_BEGIN", "}": "T_OBJ_END", "[": "T_ARR_BEGIN", "]": "T_ARR_END",
                ":": "T_COLON", ",": "T_COMMA", "end": "T_END"}
_STRTOD = re.compile(
    rb"[+-]?(?:0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?"
    rb"|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?"
    rb"|[nN][aA][nN](?:\([0-9A-Za-z_]*\))?)")
_SIMPLE_ESCAPES = {ord('"'): b'"', ord("\\"): b"\\", ord("/"): b"/", ord("b"): b"\b",
                   ord("t"): b"\t", ord("n"): b"\n", ord("f"): b"\f", ord("r"): b"\r"}


class _ParseError(Exception):
    pass


def _strtod(m: bytes) -> float:
    body = m.lstrip(b"+-")
    neg = m.startswith(b"-")
    low = body.lower()
    if low.startswith(b"0x"):
        v = float.fromhex(body.decode())
    elif low.startswith(b"inf"):
        v = math.inf
    elif low.startswith(b"nan"):
        v = math.nan
    else:
        v = float(body)
    return -v if neg else v


class _Decoder:
    def __init__(self, box, data: bytes, cfg) -> None:
        self.box = box
        self.data = data
        self.pos = 0
        self.depth = 0
        self.max_depth, self.invalid_ok = cfg.decode_max_depth, cfg.decode_invalid

    def error(self, expected: str, token) -> None:
        kind, index, value = token
        found = value if kind == "error" else _TOKEN_NAMES.get(kind, {
            "string": "T_STRING", "number": "T_NUMBER", "bool": "T_BOOLEAN",
            "null": "T_NULL"}.get(kind, kind))
        raise _ParseError("Expected %s but found %s at character %d"
                          % (expected, found, index + 1))

    def token(self):
        d = self.data
        n = len(d)
        p = self.pos
        while p < n and d[p] in b" \t\r\n":
            p += 1
        self.pos = p
        if p >= n:
            return ("end", p, None)
        ch = d[p:p + 1]
        if ch in b"{}[]:,":
            self.pos = p + 1
            return (ch.decode(), p, None)
        if ch == b'"':
            return self.string(p)
        if ch in b"-0123456789":
            if not self.invalid_ok and _invalid_number(d, p):
                return ("error", p, "invalid number")
            return self.number(p)
        if d.startswith(b"true", p):
            self.pos = p + 4
            return ("bool", p, True)
        if d.startswith(b"false", p):
            self.pos = p + 5
            return ("bool", p, False)
        if d.startswith(b"null", p):
            self.pos = p + 4
            return ("null", p, None)
        if ch in b"iInN+" and self.invalid_ok and _invalid_number(d, p):
            return self.number(p)
        return ("error", p, "invalid token")

    def number(self, p):
        m = _STRTOD.match(self.data, p)
        if m is None:
            return ("error", p, "invalid number")
        self.pos = m.end()
        return ("number", p, _strtod(m.group()))

    def string(self, start):
        d = self.data
        n = len(d)
        p = start + 1
        out = bytearray()
        while True:
            if p >= n:
                self.pos = p
                return ("error", p, "unexpected end of string")
            c = d[p]
            if c == 34:
                break
            if c == 92:
                e = d[p + 1] if p + 1 < n else 0
                if e == ord("u"):
                    r = _unicode_escape(d, p)
                    if r is None:
                        self.pos = p
                        return ("error", p, "invalid unicode escape code")
                    out += r[0]
                    p += r[1]
                    continue
                rep = _SIMPLE_ESCAPES.get(e)
                if rep is None:
                    self.pos = p
                    return ("error", p, "invalid escape code")
                out += rep
                p += 2
                continue
            out.append(c)
            p += 1
        self.pos = p + 1
        return ("string", start, bytes(out))

    def descend(self) -> None:
        self.depth += 1
        if self.depth > self.max_depth:
            raise _ParseError("Found too many nested data structures (%d) at character %d"
                              % (self.depth, self.pos))

    def value(self, tok):
        kind = tok[0]
        if kind in ("string", "number", "bool"):
            return tok[2]
        if kind == "null":
            return self.box.null
        if kind == "{":
            return self.obj()
        if kind == "[":
            return self.arr()
        self.error("value", tok)

    def obj(self):
        self.descend()
        t = self.box._newtable()
        tok = self.token()
        if tok[0] == "}":
            self.depth -= 1
            return t
        while True:
            if tok[0] != "string":
                self.error("object key string", tok)
            key = tok[2]
            tok = self.token()
            if tok[0] != ":":
                self.error("colon", tok)
            t[key] = self.value(self.token())
            tok = self.token()
            if tok[0] == "}":
                self.depth -= 1
                return t
            if tok[0] != ",":
                self.error("comma or object end", tok)
            tok = self.token()

    def arr(self):
        self.descend()
        t = self.box._newtable()
        tok = self.token()
        if tok[0] == "]":
            self.depth -= 1
            return t
        i = 1
        while True:
            t[i] = self.value(tok)
            i += 1
            tok = self.token()
            if tok[0] == "]":
                self.depth -= 1
                return t
            if tok[0] != ",":
                self.error("comma or array end", tok)
            tok = self.token()


def _invalid_number(d: bytes, p: int) -> bool:
    """json_is_invalid_number: '+', hex, leading zeros, inf, nan."""
    if d[p:p + 1] == b"+":
        return True
    if d[p:p + 1] == b"-":
        p += 1
    c = d[p:p + 1]
    if c == b"0":
        c2 = d[p + 1:p + 2]
        return c2 in (b"x", b"X") or (c2 != b"" and c2 in b"0123456789")
    if c != b"" and c <= b"9":
        return False
    return d[p:p + 3].lower() in (b"inf", b"nan")


def _hex4(d: bytes, p: int):
    s = d[p:p + 4]
    if len(s) != 4 or not all(ch in b"0123456789abcdefABCDEF" for ch in s):
        return None
    return int(s, 16)


def _unicode_escape(d: bytes, p: int):
    cp = _hex4(d, p + 2)
    if cp is None:
        return None
    size = 6
    if cp & 0xF800 == 0xD800:
        if cp & 0x400 or d[p + 6:p + 8] != b"\\u":
            return None
        low = _hex4(d, p + 8)
        if low is None or low & 0xFC00 != 0xDC00:
            return None
        cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000
        size = 12
    return chr(cp).encode("utf-8", "surrogatepass"), size


def cjson_decode(box, args, cfg=None):
    if len(args) != 1:
        box.raise_c_error("bad argument #1 to 'decode' (expected 1 argument)")
    s = args[0]
    if type(s) in (int, float) and type(s) is not bool:
        from .scripting import _lua_tostring_number

        s = _lua_tostring_number(s)
    if type(s) is not bytes:
        box.raise_c_error("bad argument #1 to 'decode' (string expected, got %s)"
                          % ("no value" if s is None else _lua_typename(box, s)))
    if len(s) >= 2 and (s[0] == 0 or s[1] == 0):
        box.raise_c_error("JSON parser does not support UTF-16 or UTF-32")
    nul = s.find(b"\0")
    dec = _Decoder(box, s if nul < 0 else s[:nul], cfg or _cfg(box))
    try:
        v = _deep(dec.value, dec.token(), depth=dec.max_depth)
        tok = dec.token()
        if tok[0] != "end":
            dec.error("the end", tok)
    except _ParseError as e:
        box.raise_c_error(str(e))
    return v


# -- cjson's configuration functions -------------------------------------------------------

def _cfg_args(box, args, n: int, fname: str) -> list:
    if len(args) > n:
        box.raise_c_error("bad argument #%d to '%s' (found too many arguments)" % (n + 1, fname))
    return list(args) + [None] * (n - len(args))


def _cfg_int(box, args, i: int, fname: str, cur: int, lo: int, hi: int) -> int:
    if args[i] is None:
        return cur
    v = int(box.check_number(args, i, fname))
    if not lo <= v <= hi:
        box.raise_c_error("bad argument #1 to '%s' (expected integer between %d and %d)"
                          % (fname, lo, hi))
    return v


def _cfg_enum(box, args, i: int, fname: str, cur: int, options=(b"off", b"on")) -> int:
    v = args[i]
    if v is None:
        return cur
    if type(v) is bool:
        return int(v)
    if type(v) in (int, float):
        from .scripting import _lua_tostring_number

        v = _lua_tostring_number(v)
    if type(v) is not bytes:
        box.raise_c_error("bad argument #%d to '%s' (string expected, got %s)"
                          % (i + 1, fname, _lua_typename(box, v)))
    if v not in options:
        box.raise_c_error("bad argument #%d to '%s' (invalid option '%s')"
                          % (i + 1, fname, v.decode("utf-8", "replace")))
    return options.index(v)


def _enum_reply(v: int, options=(b"off", b"on")):
    return bool(v) if v in (0, 1) else options[v]


def cjson_config(box, name: str, args, cfg=None):
    cfg = cfg or _cfg(box)
    big = (1 << 31) - 1
    if name == "encode_sparse_array":
        a = _cfg_args(box, args, 3, name)
        cfg.sparse_convert = _cfg_enum(box, a, 0, name, cfg.sparse_convert)
        cfg.sparse_ratio = _cfg_int(box, a, 1, name, cfg.sparse_ratio, 0, big)
        cfg.sparse_safe = _cfg_int(box, a, 2, name, cfg.sparse_safe, 0, big)
        return bool(cfg.sparse_convert), cfg.sparse_ratio, cfg.sparse_safe
    a = _cfg_args(box, args, 1, name)
    if name == "encode_max_depth":
        cfg.encode_max_depth = _cfg_int(box, a, 0, name, cfg.encode_max_depth, 1, big)
        return cfg.encode_max_depth
    if name == "decode_max_depth":
        cfg.decode_max_depth = _cfg_int(box, a, 0, name, cfg.decode_max_depth, 1, big)
        return cfg.decode_max_depth
    if name == "encode_number_precision":
        cfg.precision = _cfg_int(box, a, 0, name, cfg.precision, 1, 14)
        return cfg.precision
    if name == "encode_keep_buffer":
        cfg.keep_buffer = _cfg_enum(box, a, 0, name, cfg.keep_buffer)
        return bool(cfg.keep_buffer)
    if name == "encode_invalid_numbers":
        opts = (b"off", b"on", b"null")
        cfg.encode_invalid = _cfg_enum(box, a, 0, name, cfg.encode_invalid, opts)
        return _enum_reply(cfg.encode_invalid, opts)
    cfg.decode_invalid = _cfg_enum(box, a, 0, name, cfg.decode_invalid)
    return bool(cfg.decode_invalid)


def cjson_new(box, args):
    """cjson.new(): a module table with its own settings."""
    cfg = CjsonConfig()
    t = box._newtable()
    fns = {b"encode": lambda *a: cjson_encode(box, a, cfg),
           b"decode": lambda *a: cjson_decode(box, a, cfg),
           b"new": lambda *a: cjson_new(box, a)}
    for name in CJSON_CONFIG:
        fns[name.encode()] = (lambda name: lambda *a: cjson_config(box, name, a, cfg))(name)
    for k, f in fns.items():
        box.mark_pyfunc(f)
        t[k] = f
    t[b"null"], t[b"_NAME"], t[b"_VERSION"] = box.null, b"cjson", b"2.1.0"
    return t


CJSON_CONFIG = ("encode_sparse_array", "encode_max_depth", "decode_max_depth",
                "encode_number_precision", "encode_keep_buffer", "encode_invalid_numbers",
                "decode_invalid_numbers")


# -- bit (LuaBitOp) ---------------------------------------------------------------------

BIT_FUNCTIONS = ("tobit", "tohex", "bnot", "band", "bor", "bxor", "lshift", "rshift",
                 "arshift", "rol", "ror", "bswap")


def _tobit(v) -> int:
    """LuaBitOp's normalisation: round to nearest (ties to even), keep 32 bits."""
    f = float(v)
    if math.isnan(f) or math.isinf(f):
        return 0
    return int(round(f)) & 0xFFFFFFFF


def _signed(u: int) -> int:
    return u - (1 << 32) if u & 0x80000000 else u


def bit_function(box, name: str):
    def arg(args, i):
        return _tobit(box.check_number(args, i, name))

    def fn(*args):
        if name == "tobit":
            return _signed(arg(args, 0))
        if name == "bnot":
            return _signed(~arg(args, 0) & 0xFFFFFFFF)
        if name in ("band", "bor", "bxor"):
            acc = arg(args, 0)
            for i in range(1, len(args)):
                b = arg(args, i)
                acc = acc & b if name == "band" else acc | b if name == "bor" else acc ^ b
            return _signed(acc)
        if name == "bswap":
            return _signed(int.from_bytes(arg(args, 0).to_bytes(4, "little"), "big"))
        if name == "tohex":
            b = arg(args, 0)
            n = 8 if len(args) < 2 or args[1] is None else _signed(arg(args, 1))
            upper = n < 0
            n = min(abs(n), 8) if n != -(1 << 31) else 8
            digits = ("%08X" if upper else "%08x") % b
            return digits[8 - n:].encode()
        b = arg(args, 0)
        n = arg(args, 1) & 31
        if name == "lshift":
            return _signed((b << n) & 0xFFFFFFFF)
        if name == "rshift":
            return _signed(b >> n)
        if name == "arshift":
            return _signed((_signed(b) >> n) & 0xFFFFFFFF)
        if name == "rol":
            return _signed(((b << n) | (b >> (32 - n))) & 0xFFFFFFFF)
        return _signed(((b >> n) | (b << (32 - n))) & 0xFFFFFFFF)  # ror

    return fn


# -- cmsgpack (lua-cmsgpack 0.4.0) ------------------------------------------------------

_MP_MAX_NESTING = 16  # deeper tables are packed as nil, as lua-cmsgpack does
_MP_MAX_DEPTH = 1000  # unpacking: our bound on nesting (C recursion in Redis)
_FLOAT = struct.Struct(">f")


def _mp_len(out: list, n: int, fix: int, fixmax: int, c16: int, c32: int, c8=None) -> None:
    if n <= fixmax:
        out.append(bytes((fix | n,)))
    elif c8 is not None and n <= 0xFF:
        out.append(bytes((c8, n)))
    elif n <= 0xFFFF:
        out.append(bytes((c16,)) + n.to_bytes(2, "big"))
    else:
        out.append(bytes((c32,)) + n.to_bytes(4, "big"))


def _mp_int(out: list, n: int) -> None:
    if n >= 0:
        if n <= 127:
            out.append(bytes((n,)))
        elif n <= 0xFF:
            out.append(b"\xcc" + n.to_bytes(1, "big"))
        elif n <= 0xFFFF:
            out.append(b"\xcd" + n.to_bytes(2, "big"))
        elif n <= 0xFFFFFFFF:
            out.append(b"\xce" + n.to_bytes(4, "big"))
        else:
            out.append(b"\xcf" + n.to_bytes(8, "big"))
    elif n >= -32:
        out.append(n.to_bytes(1, "big", signed=True))
    elif n >= -128:
        out.append(b"\xd0" + n.to_bytes(1, "big", signed=True))
    elif n >= -32768:
        out.append(b"\xd1" + n.to_bytes(2, "big", signed=True))
    elif n >= -(1 << 31):
        out.append(b"\xd2" + n.to_bytes(4, "big", signed=True))
    else:
        out.append(b"\xd3" + n.to_bytes(8, "big", signed=True))


def _mp_number(out: list, v) -> None:
    f = float(v)
    if not math.isinf(f) and not math.isnan(f) and -(1 << 63) <= f < (1 << 63) and \
            int(f) == f:
        _mp_int(out, int(v) if type(v) is int else int(f))
        return
    try:
        single = _FLOAT.unpack(_FLOAT.pack(f))[0]
    except OverflowError:
        single = None
    if single == f:
        out.append(b"\xca" + _FLOAT.pack(f))
    else:
        out.append(b"\xcb" + struct.pack(">d", f))


def _mp_is_array(box, items) -> bool:
    top = 0
    for k, _ in items:
        if type(k) not in (int, float) or type(k) is bool or k <= 0:
            return False
        if not (-(1 << 31) <= k < (1 << 31)) or int(k) != k:
            return False
        top = max(top, int(k))
    return top == len(items)


def _mp_encode(box, v, level: int, out: list) -> None:
    t = type(v)
    if t is bytes:
        _mp_len(out, len(v), 0xA0, 31, 0xDA, 0xDB, c8=0xD9)
        out.append(v)
    elif t is bool:
        out.append(b"\xc3" if v else b"\xc2")
    elif t is int or t is float:
        _mp_number(out, v)
    elif box.lua_type(v) == "table" and level < _MP_MAX_NESTING:
        items = list(v.items())
        if _mp_is_array(box, items):
            n = len(items)
            _mp_len(out, n, 0x90, 15, 0xDC, 0xDD)
            for i in range(1, n + 1):
                _mp_encode(box, v[i], level + 1, out)
        else:
            _mp_len(out, len(items), 0x80, 15, 0xDE, 0xDF)
            for k, x in items:
                _mp_encode(box, k, level + 1, out)
                _mp_encode(box, x, level + 1, out)
    else:
        out.append(b"\xc0")


def cmsgpack_pack(box, args):
    if not args:
        box.raise_c_error("bad argument #0 to 'pack' (MessagePack pack needs input.)")
    out: list[bytes] = []
    for a in args:
        _mp_encode(box, a, 0, out)
    return b"".join(out)


class _MpEOF(Exception):
    pass


class _MpBad(Exception):
    pass


_FIXED = {0xCC: (1, False), 0xCD: (2, False), 0xCE: (4, False), 0xCF: (8, False),
          0xD0: (1, True), 0xD1: (2, True), 0xD2: (4, True), 0xD3: (8, True)}


class _MpDecoder:
    def __init__(self, box, data: bytes, pos: int) -> None:
        self.box, self.d, self.p = box, data, pos

    def need(self, n: int) -> None:
        if self.p + n > len(self.d):
            raise _MpEOF

    def take(self, n: int) -> bytes:
        self.need(n)
        b = self.d[self.p:self.p + n]
        self.p += n
        return b

    def value(self, depth: int = 0):
        if depth > _MP_MAX_DEPTH:
            raise _MpBad
        c = self.take(1)[0]
        if c in _FIXED:
            size, signed = _FIXED[c]
            return int.from_bytes(self.take(size), "big", signed=signed)
        if c == 0xC0:
            return None
        if c in (0xC2, 0xC3):
            return c == 0xC3
        if c == 0xCA:
            return _FLOAT.unpack(self.take(4))[0]
        if c == 0xCB:
            return struct.unpack(">d", self.take(8))[0]
        if c in (0xD9, 0xDA, 0xDB):
            n = int.from_bytes(self.take({0xD9: 1, 0xDA: 2, 0xDB: 4}[c]), "big")
            return self.take(n)
        if c in (0xDC, 0xDD):
            return self.array(int.from_bytes(self.take(2 if c == 0xDC else 4), "big"), depth)
        if c in (0xDE, 0xDF):
            return self.map(int.from_bytes(self.take(2 if c == 0xDE else 4), "big"), depth)
        if c & 0x80 == 0:
            return c
        if c & 0xE0 == 0xE0:
            return c - 256
        if c & 0xE0 == 0xA0:
            return self.take(c & 0x1F)
        if c & 0xF0 == 0x90:
            return self.array(c & 0xF, depth)
        if c & 0xF0 == 0x80:
            return self.map(c & 0xF, depth)
        raise _MpBad

    def array(self, n: int, depth: int):
        t = self.box._newtable()
        for i in range(1, n + 1):
            v = self.value(depth + 1)
            if v is not None:
                t[i] = v
        return t

    def map(self, n: int, depth: int):
        t = self.box._newtable()
        for _ in range(n):
            k = self.value(depth + 1)
            v = self.value(depth + 1)
            if k is not None and not (type(k) is float and math.isnan(k)):
                t[k] = v
        return t


def _mp_unpack(box, args, fname: str, limit: int, offset: int):
    s = args[0] if args else None
    if type(s) in (int, float) and type(s) is not bool:
        from .scripting import _lua_tostring_number

        s = _lua_tostring_number(s)
    if type(s) is not bytes:
        box.raise_c_error("bad argument #1 to '%s' (string expected, got %s)"
                          % (fname, "no value" if not args else _lua_typename(box, s)))
    if offset < 0 or limit < 0:
        box.raise_c_error("Invalid request to unpack with offset of %d and limit of %d."
                          % (offset, len(s)))
    if offset > len(s):
        box.raise_c_error("Start offset %d greater than input length %d."
                          % (offset, len(s)))
    decode_all = not limit and not offset
    if decode_all:
        limit = 1 << 31
    dec = _MpDecoder(box, s, offset)
    out = []
    try:
        while dec.p < len(s) and len(out) < limit:
            out.append(_deep(dec.value))
    except _MpEOF:
        box.raise_c_error("Missing bytes in input.")
    except _MpBad:
        box.raise_c_error("Bad data format in input.")
    if not decode_all:
        out.insert(0, -1 if dec.p == len(s) else dec.p)
    return tuple(out)


def cmsgpack_unpack(box, args):
    return _mp_unpack(box, args, "unpack", 0, 0)


def _opt_integer(box, args, i: int, fname: str, default=None) -> int:
    if i >= len(args) or args[i] is None:
        if default is None:
            box.check_number(args, i, fname)
        return default
    return int(box.check_number(args, i, fname))


def cmsgpack_unpack_one(box, args):
    offset = _opt_integer(box, args, 1, "unpack_one", 0)
    return _mp_unpack(box, args[:1], "unpack_one", 1, offset)


def cmsgpack_unpack_limit(box, args):
    limit = _opt_integer(box, args, 1, "unpack_limit")
    offset = _opt_integer(box, args, 2, "unpack_limit", 0)
    return _mp_unpack(box, args[:1], "unpack_limit", limit, offset)


# -- struct (Roberto Ierusalimschy's lua-struct, as Redis builds it on x86-64) --------

_ST_MAXINTSIZE = 32
_ST_MAXALIGN = 8
_ST_SIZES = {"b": 1, "B": 1, "h": 2, "H": 2, "l": 8, "L": 8, "T": 8, "f": 4, "d": 8, "x": 1}
_ST_INTS = "bBhHlLTiI"
_M64 = (1 << 64) - 1


class _Fmt:
    def __init__(self, box, fmt: bytes, fname: str) -> None:
        self.box, self.fmt, self.pos, self.fname = box, fmt, 0, fname
        self.little, self.align = True, 1

    def getnum(self, default: int) -> int:
        f, p = self.fmt, self.pos
        if p >= len(f) or not 48 <= f[p] <= 57:
            return default
        a = 0
        while p < len(f) and 48 <= f[p] <= 57:
            if a > (2**31 - 1) // 10 or a * 10 > 2**31 - 1 - (f[p] - 48):
                self.box.raise_c_error("integral size overflow")
            a = a * 10 + f[p] - 48
            p += 1
        self.pos = p
        return a

    def optsize(self, opt: str) -> int:
        if opt in _ST_SIZES:
            return _ST_SIZES[opt]
        if opt == "c":
            return self.getnum(1)
        if opt in "iI":
            sz = self.getnum(4)
            if sz > _ST_MAXINTSIZE:
                self.box.raise_c_error("integral size %d is larger than limit of %d"
                                       % (sz, _ST_MAXINTSIZE))
            return sz
        return 0

    def toalign(self, length: int, opt: str, size: int) -> int:
        if size == 0 or opt == "c":
            return 0
        size = min(size, self.align)
        return (size - (length & (size - 1))) & (size - 1)

    def control(self, opt: str) -> None:
        if opt == " ":
            return
        if opt == ">":
            self.little = False
        elif opt == "<":
            self.little = True
        elif opt == "!":
            a = self.getnum(_ST_MAXALIGN)
            if a <= 0 or a & (a - 1):
                self.box.raise_c_error("alignment %d is not a power of 2" % a)
            self.align = a
        else:
            self.box.raise_c_error("bad argument #1 to '%s' (invalid format option '%s')"
                                   % (self.fname, opt))

    def options(self):
        while self.pos < len(self.fmt):
            opt = chr(self.fmt[self.pos])
            self.pos += 1
            yield opt, self.optsize(opt)


def _st_string(box, args, i: int, fname: str) -> bytes:
    v = args[i] if i < len(args) else None
    if type(v) in (int, float) and type(v) is not bool:
        from .scripting import _lua_tostring_number

        return _lua_tostring_number(v)
    if type(v) is not bytes:
        box.raise_c_error("bad argument #%d to '%s' (string expected, got %s)"
                          % (i + 1, fname, "no value" if i >= len(args)
                             else _lua_typename(box, v)))
    return v


def _st_float(x: float, little: bool) -> bytes:
    try:
        return struct.pack("<f" if little else ">f", x)
    except OverflowError:
        return struct.pack("<f" if little else ">f", math.copysign(math.inf, x))


def struct_pack(box, args):
    f = _Fmt(box, _st_string(box, args, 0, "pack"), "pack")
    args = tuple(args) + (None,)  # b_pack's nil marker: the first missing one is "nil"
    out = bytearray()
    arg = 1
    for opt, size in f.options():
        out += bytes(f.toalign(len(out), opt, size))
        if opt in _ST_INTS:
            n = box.check_number(args, arg, "pack")
            arg += 1
            finite = not (isinstance(n, float) and (math.isnan(n) or math.isinf(n)))
            v = (int(n) if finite else -(1 << 63)) & _M64
            le = (v.to_bytes(8, "little") + bytes(max(0, size - 8)))[:size]
            out += le if f.little else le[::-1]
        elif opt == "x":
            out += b"\0"
        elif opt == "f":
            out += _st_float(float(box.check_number(args, arg, "pack")), f.little)
            arg += 1
        elif opt == "d":
            out += struct.pack("<d" if f.little else ">d",
                               float(box.check_number(args, arg, "pack")))
            arg += 1
        elif opt in "cs":
            s = _st_string(box, args, arg, "pack")
            arg += 1
            if size == 0:
                size = len(s)
            if len(s) < size:
                box.raise_c_error("bad argument #%d to 'pack' (string too short)" % (arg + 1))
            out += s[:size]
            if opt == "s":
                out += b"\0"
        else:
            f.control(opt)
    return bytes(out)


def struct_unpack(box, args):
    f = _Fmt(box, _st_string(box, args, 0, "unpack"), "unpack")
    data = _st_string(box, args, 1, "unpack")
    if len(args) > 2 and args[2] is not None:
        pos = int(box.check_number(args, 2, "unpack"))
    else:
        pos = 1
    if pos <= 0:
        box.raise_c_error("bad argument #3 to 'unpack' (offset must be 1 or greater)")
    pos -= 1
    ld = len(data)
    out: list = []

    def short():
        box.raise_c_error("bad argument #2 to 'unpack' (data string too short)")

    for opt, size in f.options():
        pos += f.toalign(pos, opt, size)
        if not (size <= ld and pos <= ld - size):
            short()
        if opt in _ST_INTS:
            raw = data[pos:pos + size]
            v = int.from_bytes(raw, "little" if f.little else "big") & _M64
            if opt.islower() and size and v & ((_M64 << (size * 8 - 1)) & _M64):
                v |= (_M64 << (size * 8 - 1)) & _M64
            if opt.islower() and v >= 1 << 63:
                v -= 1 << 64
            out.append(float(v))
        elif opt == "f":
            out.append(struct.unpack("<f" if f.little else ">f", data[pos:pos + 4])[0])
        elif opt == "d":
            out.append(struct.unpack("<d" if f.little else ">d", data[pos:pos + 8])[0])
        elif opt == "c":
            if size == 0:
                if not out or type(out[-1]) not in (int, float):
                    box.raise_c_error("format 'c0' needs a previous size")
                size = int(out.pop())
                if not (size <= ld and pos <= ld - size):
                    short()
            out.append(data[pos:pos + size])
        elif opt == "s":
            e = data.find(b"\0", pos)
            if e < 0:
                box.raise_c_error("unfinished string in data")
            size = e - pos + 1
            out.append(data[pos:e])
        elif opt != "x":
            f.control(opt)
        pos += size
    out.append(pos + 1)
    return tuple(out)


def struct_size(box, args):
    f = _Fmt(box, _st_string(box, args, 0, "size"), "size")
    pos = 0
    for opt, size in f.options():
        pos += f.toalign(pos, opt, size)
        if opt == "s":
            box.raise_c_error("bad argument #1 to 'size' (option 's' has no fixed size)")
        if opt == "c" and size == 0:
            box.raise_c_error("bad argument #1 to 'size' (option 'c0' has no fixed size)")
        if not opt.isalnum():
            f.control(opt)
        pos += size
    return pos
