"""Redis's own string conventions, shared by manifests, redis.conf, logs and tools.

`repr_bytes` is `sdscatrepr()` (how redis-cli and the server quote a value);
`split_args` is `sdssplitargs()` (how redis.conf lines, manifest lines and inline
commands are split into arguments). Both work on C strings: a NUL ends the input.
"""

from __future__ import annotations

__all__ = ["repr_bytes", "split_args"]

_REPR_ESCAPES = {
    0x5C: b"\\\\", 0x22: b'\\"', 0x0A: b"\\n", 0x0D: b"\\r", 0x09: b"\\t", 0x07: b"\\a",
    0x08: b"\\b",
}
_REPR_TABLE = tuple(
    _REPR_ESCAPES.get(c, bytes((c,)) if 0x20 <= c <= 0x7E else b"\\x%02x" % c)
    for c in range(256)
)

_C_SPACE = b" \t\n\v\f\r"
_UNQUOTED_END = b" \n\r\t\0"
_SPLIT_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}
_HEX = b"0123456789abcdefABCDEF"


def repr_bytes(data: bytes) -> bytes:
    """Double-quoted, C escapes for \\ " \\n \\r \\t \\a \\b, `\\xHH` for other unprintables."""
    table = _REPR_TABLE
    return b'"' + b"".join([table[c] for c in data]) + b'"'


def split_args(line: bytes) -> list[bytes] | None:
    """The arguments of one line, or None for unbalanced quotes or a closing quote
    glued to the next token (where Redis's splitter returns NULL)."""
    nul = line.find(b"\0")
    s = (line if nul < 0 else line[:nul]) + b"\0"
    p = 0
    out: list[bytes] = []
    while True:
        while s[p] in _C_SPACE and s[p] != 0:
            p += 1
        if s[p] == 0:
            return out
        cur = bytearray()
        inq = insq = done = False
        while not done:
            c = s[p]
            if inq:
                if c == 0x5C and s[p + 1] == 0x78 and s[p + 2] in _HEX and s[p + 2] != 0 \
                        and s[p + 3] in _HEX and s[p + 3] != 0:
                    cur.append(int(s[p + 2:p + 4], 16))
                    p += 3
                elif c == 0x5C and s[p + 1] != 0:
                    p += 1
                    cur.append(_SPLIT_ESCAPES.get(s[p], s[p]))
                elif c == 0x22:
                    if s[p + 1] != 0 and s[p + 1] not in _C_SPACE:
                        return None
                    done = True
                elif c == 0:
                    return None
                else:
                    cur.append(c)
            elif insq:
                if c == 0x5C and s[p + 1] == 0x27:
                    p += 1
                    cur.append(0x27)
                elif c == 0x27:
                    if s[p + 1] != 0 and s[p + 1] not in _C_SPACE:
                        return None
                    done = True
                elif c == 0:
                    return None
                else:
                    cur.append(c)
            else:
                if c in _UNQUOTED_END:
                    done = True
                elif c == 0x22:
                    inq = True
                elif c == 0x27:
                    insq = True
                else:
                    cur.append(c)
            if s[p] != 0:
                p += 1
        out.append(bytes(cur))
