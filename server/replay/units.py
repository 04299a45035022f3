"""Units, what planning hands to sending: the commands of one or more numbered items and
how their replies are judged; plus the RESP pieces commands are built from."""

from __future__ import annotations

from dataclasses import dataclass

from rdbtools.constants import Kind, RdbType

_STRING_TYPE = RdbType.STRING
_COLLECTIONS = (Kind.LIST, Kind.SET, Kind.ZSET, Kind.HASH)

# Judges: how a unit's replies become an outcome.
J_NONE, J_RESTORE, J_TMP, J_TMP_NX, J_EXPIRED, J_FUNCTION, J_AOF, J_BULK, J_SET = range(9)


@dataclass(slots=True)
class Unit:
    number: int
    last: int                 # last item number it covers (MULTI blocks span several)
    cmds: list                # encoded commands (bytes)
    judge: int
    db: int | None = None     # database it must run in; None: any
    end_db: int | None = None  # database its own SELECTs leave the connection in
    key: bytes | None = None
    barrier: bool = False     # send alone: nothing after it may run before it is judged
    outcome: str | None = None  # decided without the server (filtered, failed, expired)
    error: str | None = None
    kind: str = "key"         # key, function, aof

    @property
    def check_exists(self) -> bool:
        return self.kind == "key" and self.judge in (J_RESTORE, J_SET, J_TMP_NX) \
            and self.cmds != []

    def item_key(self, i: int) -> bytes | None:
        """Key of the unit's `i`-th item (a bulk unit holds one per command; keys are
        read back from the commands, which only failure reports need)."""
        if self.judge == J_BULK:
            return _command_key(self.cmds[i])
        return self.key

    def item_keys(self) -> list:
        return [self.item_key(i) for i in range(self.last - self.number + 1)]


def _command_key(cmd: bytes) -> bytes:
    """The first argument (the key) of one encoded RESTORE or SET command."""
    p = cmd.index(b"\r\n") + 2                     # after *<argc>
    p = cmd.index(b"\r\n", p) + 2                  # after $<len of name>
    p = cmd.index(b"\r\n", p) + 2                  # after the name
    e = cmd.index(b"\r\n", p)
    start = e + 2
    return cmd[start:start + int(cmd[p + 1:e])]


def _bulk_header(n: int) -> bytes:
    return _BULK_HEADERS[n] if n < _HDR_MAX else b"$%d\r\n" % n


#: "$<n>\r\n" for every n below _HDR_MAX: the skimmer's RESTOREs are built by joining
_HDR_MAX = 4096
_BULK_HEADERS = tuple(b"$%d\r\n" % n for n in range(_HDR_MAX))
#: "\r\n$<n>\r\n": the end of a SET's key and the header of a value shorter than 64
_VALUE_MIDS = tuple(b"\r\n$%d\r\n" % n for n in range(64))
