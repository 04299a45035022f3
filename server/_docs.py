"""Argument descriptions for COMMAND DOCS, so redis-cli can show hints.

Written in a small syntax of our own: `key:key`, `value` (type string by default),
upper-case words are literal tokens, `[...]` optional, `(...)` a group, `a | b` one
of several, `...` after an item repeats it.
"""

from __future__ import annotations

import functools

from .proto import Map, Simple

SYNTAX = {
    "get": "key:key",
    "set": "key:key value [NX | XX] [GET] [EX seconds:integer | PX milliseconds:integer | "
           "EXAT unix-time-seconds:unix-time | PXAT unix-time-milliseconds:unix-time | KEEPTTL]",
    "setex": "key:key seconds:integer value", "psetex": "key:key milliseconds:integer value",
    "setnx": "key:key value", "getset": "key:key value", "getdel": "key:key",
    "getex": "key:key [EX seconds:integer | PX milliseconds:integer | "
             "EXAT unix-time-seconds:unix-time | PXAT unix-time-milliseconds:unix-time | PERSIST]",
    "mget": "key:key ...", "mset": "(key:key value) ...", "msetnx": "(key:key value) ...",
    "incr": "key:key", "decr": "key:key", "incrby": "key:key increment:integer",
    "decrby": "key:key decrement:integer", "incrbyfloat": "key:key increment:double",
    "append": "key:key value", "strlen": "key:key",
    "getrange": "key:key start:integer end:integer",
    "setrange": "key:key offset:integer value",
    "del": "key:key ...", "unlink": "key:key ...", "exists": "key:key ...", "type": "key:key",
    "keys": "pattern:pattern",
    "scan": "cursor:integer [MATCH pattern:pattern] [COUNT count:integer] [TYPE type]",
    "rename": "key:key newkey:key", "renamenx": "key:key newkey:key",
    "copy": "source:key destination:key [DB destination-db:integer] [REPLACE]",
    "move": "key:key db:integer", "select": "index:integer",
    "swapdb": "index1:integer index2:integer", "flushdb": "[ASYNC | SYNC]",
    "flushall": "[ASYNC | SYNC]",
    "expire": "key:key seconds:integer [NX | XX | GT | LT]",
    "pexpire": "key:key milliseconds:integer [NX | XX | GT | LT]",
    "expireat": "key:key unix-time-seconds:unix-time [NX | XX | GT | LT]",
    "pexpireat": "key:key unix-time-milliseconds:unix-time [NX | XX | GT | LT]",
    "ttl": "key:key", "pttl": "key:key", "persist": "key:key",
    "expiretime": "key:key", "pexpiretime": "key:key",
    "dump": "key:key",
    "restore": "key:key ttl:integer serialized-value [REPLACE] [ABSTTL] "
               "[IDLETIME seconds:integer] [FREQ frequency:integer]",
    "lpush": "key:key element ...", "rpush": "key:key element ...",
    "lpop": "key:key [count:integer]", "rpop": "key:key [count:integer]",
    "llen": "key:key", "lrange": "key:key start:integer stop:integer",
    "lindex": "key:key index:integer", "lset": "key:key index:integer element",
    "linsert": "key:key (BEFORE | AFTER) pivot element",
    "lrem": "key:key count:integer element", "ltrim": "key:key start:integer stop:integer",
    "lmove": "source:key destination:key (LEFT | RIGHT) (LEFT | RIGHT)",
    "blpop": "key:key ... timeout:double", "brpop": "key:key ... timeout:double",
    "hset": "key:key (field value) ...", "hget": "key:key field", "hmget": "key:key field ...",
    "hdel": "key:key field ...", "hgetall": "key:key", "hkeys": "key:key", "hvals": "key:key",
    "hlen": "key:key", "hexists": "key:key field",
    "hincrby": "key:key field increment:integer",
    "hincrbyfloat": "key:key field increment:double",
    "sadd": "key:key member ...", "srem": "key:key member ...", "smembers": "key:key",
    "sismember": "key:key member", "scard": "key:key", "spop": "key:key [count:integer]",
    "srandmember": "key:key [count:integer]", "sinter": "key:key ...",
    "sunion": "key:key ...", "sdiff": "key:key ...",
    "zadd": "key:key [NX | XX] [GT | LT] [CH] [INCR] (score:double member) ...",
    "zrem": "key:key member ...", "zscore": "key:key member", "zcard": "key:key",
    "zincrby": "key:key increment:double member", "zrank": "key:key member",
    "zrange": "key:key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset:integer "
              "count:integer] [WITHSCORES]",
    "zrangebyscore": "key:key min:double max:double [WITHSCORES] "
                     "[LIMIT offset:integer count:integer]",
    "zcount": "key:key min:double max:double",
    "xadd": "key:key [NOMKSTREAM] [MAXLEN | MINID [= | ~] threshold [LIMIT count:integer]] "
            "(* | id) (field value) ...",
    "xrange": "key:key start end [COUNT count:integer]",
    "xlen": "key:key", "xdel": "key:key id ...",
    "xread": "[COUNT count:integer] [BLOCK milliseconds:integer] STREAMS key:key ... id ...",
    "ping": "[message]", "echo": "message", "info": "[section ...]",
    "auth": "[username] password", "hello": "[protover:integer [AUTH username password] "
                                            "[SETNAME clientname]]",
    "shutdown": "[NOSAVE | SAVE] [NOW] [FORCE] [ABORT]",
    "publish": "channel message", "subscribe": "channel ...",
    "watch": "key:key ...", "sort": "key:key [BY pattern:pattern] [LIMIT offset:integer "
                                    "count:integer] [GET pattern:pattern ...] [ASC | DESC] "
                                    "[ALPHA] [STORE destination:key]",
}


def _tokens(text: str) -> list[str]:
    for ch in "[]()|":
        text = text.replace(ch, f" {ch} ")
    return text.split()


def _atom(tok: str) -> Map:
    if ":" in tok:
        name, typ = tok.split(":", 1)
    elif tok.isupper() or tok in ("*", "=", "~"):
        return Map([(b"name", tok.lower().encode()), (b"type", b"pure-token"),
                    (b"token", tok.encode())])
    else:
        name, typ = tok, "string"
    return Map([(b"name", name.encode()), (b"type", typ.encode())])


def _with_flags(arg: Map, *flags: str) -> Map:
    items = [(k, v) for k, v in arg if k != b"flags"]
    old = [f for k, v in arg if k == b"flags" for f in v]
    return Map(items + [(b"flags", old + [Simple(f.encode()) for f in flags])])


def _parse_seq(toks: list[str], i: int, end: str | None):
    """-> (list of alternatives, each a list of args), next index."""
    alts: list[list[Map]] = [[]]
    while i < len(toks):
        t = toks[i]
        if t == end:
            return alts, i + 1
        if t == "|":
            alts.append([])
            i += 1
            continue
        if t in ("[", "("):
            inner, i = _parse_seq(toks, i + 1, "]" if t == "[" else ")")
            arg = _group(inner)
            if t == "[":
                arg = _with_flags(arg, "optional")
        elif t == "...":
            alts[-1][-1] = _with_flags(alts[-1][-1], "multiple")
            i += 1
            continue
        else:
            arg = _atom(t)
            i += 1
        alts[-1].append(arg)
    return alts, i


def _group(alts: list[list[Map]]) -> Map:
    if len(alts) == 1:
        if len(alts[0]) == 1:
            return alts[0][0]
        return Map([(b"name", b"block"), (b"type", b"block"), (b"arguments", alts[0])])
    options = [a[0] if len(a) == 1 else Map([(b"name", b"block"), (b"type", b"block"),
                                             (b"arguments", a)]) for a in alts]
    return Map([(b"name", b"oneof"), (b"type", b"oneof"), (b"arguments", options)])


@functools.lru_cache(maxsize=None)
def arguments(name: str) -> list | None:
    text = SYNTAX.get(name)
    if text is None:
        return None
    alts, _ = _parse_seq(_tokens(text), 0, None)
    return alts[0]
