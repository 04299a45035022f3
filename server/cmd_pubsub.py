"""Pub/Sub: SUBSCRIBE/PSUBSCRIBE/UNSUBSCRIBE/PUNSUBSCRIBE, PUBLISH, PUBSUB."""

from __future__ import annotations

from ._util import glob_match
from .engine import command, container
from .proto import Push, Replies


def _confirm(c, kind: bytes, name, count: int):
    msg = [kind, name, count]
    return Push(msg) if c.resp == 3 else msg


def _count(c) -> int:
    return len(c.subs) + len(c.psubs)


def _subscribe(e, c, names, table, mine, kind):
    out = Replies()
    for name in names:
        if name not in mine:
            mine.add(name)
            table.setdefault(name, set()).add(c)
        out.append(_confirm(c, kind, name, _count(c)))
    return out


def _unsubscribe(e, c, names, table, mine, kind):
    out = Replies()
    if not names:
        names = sorted(mine)
        if not names:
            out.append(_confirm(c, kind, None, _count(c)))
            return out
    for name in names:
        if name in mine:
            mine.discard(name)
            e._unsub(table, name, c)
        out.append(_confirm(c, kind, name, _count(c)))
    return out


@command("subscribe", -2, "pubsub noscript loading stale", 0, 0, 0, "pubsub", since="2.0.0")
def subscribe(e, c, argv):
    return _subscribe(e, c, argv[1:], e.channels, c.subs, b"subscribe")


@command("psubscribe", -2, "pubsub noscript loading stale", 0, 0, 0, "pubsub", since="2.0.0")
def psubscribe(e, c, argv):
    return _subscribe(e, c, argv[1:], e.patterns, c.psubs, b"psubscribe")


@command("unsubscribe", -1, "pubsub noscript loading stale", 0, 0, 0, "pubsub", since="2.0.0")
def unsubscribe(e, c, argv):
    return _unsubscribe(e, c, argv[1:], e.channels, c.subs, b"unsubscribe")


@command("punsubscribe", -1, "pubsub noscript loading stale", 0, 0, 0, "pubsub",
         since="2.0.0")
def punsubscribe(e, c, argv):
    return _unsubscribe(e, c, argv[1:], e.patterns, c.psubs, b"punsubscribe")


@command("publish", 3, "pubsub loading stale fast may-replicate", 0, 0, 0, "pubsub",
         since="2.0.0")
def publish(e, c, argv):
    ch, msg = argv[1], argv[2]
    n = 0
    for sub in sorted(e.channels.get(ch, ()), key=lambda x: x.id):
        e.push(sub, Push([b"message", ch, msg]) if sub.resp == 3 else
               [b"message", ch, msg])
        n += 1
    for pat, subs in list(e.patterns.items()):
        if glob_match(pat, ch):
            for sub in sorted(subs, key=lambda x: x.id):
                e.push(sub, Push([b"pmessage", pat, ch, msg]) if sub.resp == 3 else
                       [b"pmessage", pat, ch, msg])
                n += 1
    return n


container("pubsub", "pubsub", "2.8.0")


@command("pubsub|channels", -2, "pubsub loading stale", 0, 0, 0, "pubsub", since="2.8.0")
def pubsub_channels(e, c, argv):
    if len(argv) > 3:
        from .proto import err

        return err("ERR wrong number of arguments for 'pubsub|channels' command")
    pat = argv[2] if len(argv) == 3 else None
    return [ch for ch in e.channels if pat is None or glob_match(pat, ch)]


@command("pubsub|numsub", -2, "pubsub loading stale", 0, 0, 0, "pubsub", since="2.8.0")
def pubsub_numsub(e, c, argv):
    out = []
    for ch in argv[2:]:
        out.append(ch)
        out.append(len(e.channels.get(ch, ())))
    return out


@command("pubsub|numpat", 2, "pubsub loading stale", 0, 0, 0, "pubsub", since="2.8.0")
def pubsub_numpat(e, c, argv):
    return len(e.patterns)
