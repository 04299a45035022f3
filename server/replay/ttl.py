"""Expiry policies: `TtlPolicy` (keep, drop or shift stored TTLs) and its rewriting of
AOF commands that set or carry an expiry."""

from __future__ import annotations

from dataclasses import dataclass

@dataclass(frozen=True)
class TtlPolicy:
    """`keep` expiries as stored, `drop` them, or `shift` every one by `shift_ms`."""

    action: str = "keep"
    shift_ms: int = 0

    @classmethod
    def parse(cls, text: str) -> "TtlPolicy":
        text = text.strip()
        if text in ("keep", "drop"):
            return cls(text)
        if text.startswith("shift:"):
            amount = text[6:]
            body = amount[1:] if amount[:1] in "+-" else amount
            if body.isdigit():
                return cls("shift", int(amount) * 1000)
        raise ValueError(f"bad TTL policy {text!r}: keep, drop or shift:+SECONDS")

    def apply(self, ms: int | None) -> int | None:
        if ms is None or self.action == "keep":
            return ms
        if self.action == "drop":
            return None
        return ms + self.shift_ms

    def apply_fields(self, field_expires: dict | None) -> dict | None:
        if not field_expires or self.action == "keep":
            return field_expires
        if self.action == "drop":
            return None
        return {f: (t + self.shift_ms if t is not None else None)
                for f, t in field_expires.items()}


_EXPIRE_CMDS = {b"expire": 1000, b"pexpire": 1, b"expireat": 1000, b"pexpireat": 1}


def _ttl_args(args: list, ttl: TtlPolicy, now_ms: int) -> list | None:
    """An AOF command with the TTL policy applied (None: leave the command out).

    Covers what an AOF holds: the propagated forms (PEXPIREAT, SET ... PXAT, RESTORE ...
    ABSTTL) and the relative forms older AOFs carry (EXPIRE, SET EX, SETEX, ...)."""
    if ttl.action == "keep":
        return args
    name = args[0].lower()
    shift = ttl.shift_ms
    drop = ttl.action == "drop"
    if name in _EXPIRE_CMDS and len(args) >= 3:
        if drop:
            return None
        unit = _EXPIRE_CMDS[name]
        return _shifted(args, 2, shift, unit)
    if name in (b"setex", b"psetex") and len(args) == 4:
        if drop:
            return [b"SET", args[1], args[3]]
        return _shifted(args, 2, shift, 1000 if name == b"setex" else 1)
    if name in (b"set", b"getex"):
        out = list(args)
        i = 3 if name == b"set" else 2
        while i < len(out):
            opt = out[i].lower()
            if opt in (b"ex", b"px", b"exat", b"pxat") and i + 1 < len(out):
                if drop:
                    del out[i:i + 2]
                    if name == b"getex":
                        out.insert(i, b"PERSIST")
                        i += 1
                    continue
                out = _shifted(out, i + 1, shift, 1000 if opt in (b"ex", b"exat") else 1)
                i += 2
                continue
            i += 1
        return out
    if name == b"restore" and len(args) >= 4 and args[2] != b"0":
        if drop:
            out = list(args)
            out[2] = b"0"
            return [a for a in out if a.lower() != b"absttl"]
        return _shifted(args, 2, shift, 1)
    return args


def _shifted(args: list, i: int, shift_ms: int, unit_ms: int) -> list:
    out = list(args)
    try:
        value = int(out[i])
    except ValueError:
        return out
    out[i] = b"%d" % (value + shift_ms // unit_ms)
    return out
