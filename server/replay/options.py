"""What a replay is asked to do (`ReplayOptions`) and what it did (`ReplayReport`,
`Failure`), the option values, and which RDB version a target release reads."""

from __future__ import annotations

from dataclasses import dataclass, field

from rdbtools.errors import RdbkitError
from rdbtools.filters import KeyFilter

from .ttl import TtlPolicy

MODES = ("auto", "restore", "commands")
ON_EXISTING = ("replace", "skip", "fail")

#: Default number of wire commands per pipelined window.
DEFAULT_PIPELINE = 1000
#: A window is sent once it holds this many bytes, whatever its command count.
WINDOW_MAX_BYTES = 8 << 20

#: First release of each RDB version (formats.md §1.1); newer releases keep the last one
#: until the next row. Valkey answers `redis_version:7.2.4`, which lands on 11, as it should.
_RDB_BY_RELEASE = (
    ((2, 6), 6), ((3, 2), 7), ((4, 0), 8), ((5, 0), 9), ((7, 0), 10), ((7, 2), 11),
    ((7, 4), 12), ((8, 6), 13), ((8, 8), 14),
)


class ReplayError(RdbkitError):
    """A replay request that cannot be carried out (bad option mix, unreadable source)."""


def rdb_version_for(redis_version: str) -> int | None:
    """RDB version a Redis release writes (and the newest its RESTORE accepts).

    None for releases without DUMP/RESTORE (before 2.6) or unparsable versions."""
    try:
        nums = tuple(int(x) for x in redis_version.strip().split(".")[:2])
    except ValueError:
        return None
    if len(nums) < 2:
        nums = (nums + (0,))[:2] if nums else None
    if not nums:
        return None
    found = None
    for release, version in _RDB_BY_RELEASE:
        if nums >= release:
            found = version
    return found


@dataclass
class ReplayOptions:
    mode: str = "auto"
    on_existing: str = "replace"
    ttl: TtlPolicy = field(default_factory=TtlPolicy)
    key_filter: KeyFilter | None = None
    skip_expired: bool = False
    target_db: int | None = None
    pipeline: int = DEFAULT_PIPELINE
    connections: int = 1
    resume_from: int = 1
    rdb_version: int | None = None  # payload version; default: the target's own
    lossy: bool = False
    verify: bool = False            # decode every value before sending (no skimming)
    now_ms: int | None = None
    timeout: float = 60.0

    def check(self) -> None:
        if self.mode not in MODES:
            raise ReplayError(f"unknown mode {self.mode!r} (one of {', '.join(MODES)})")
        if self.on_existing not in ON_EXISTING:
            raise ReplayError(f"unknown --on-existing {self.on_existing!r}")
        if self.pipeline < 1 or self.connections < 1 or self.resume_from < 1:
            raise ReplayError("pipeline, connections and resume-from must be >= 1")


@dataclass
class Failure:
    """Where a replay stopped. `resume_from` is the item to pass to `--resume-from`."""

    number: int
    resume_from: int
    error: str
    key: bytes | None = None
    db: int | None = None
    #: later items already sent (and so applied by the server) when the failure was seen
    sent_after: int = 0


@dataclass
class ReplayReport:
    source: str = ""
    mode: str = ""
    rdb_version: int | None = None
    server_version: str | None = None
    resumed_from: int = 1
    items: int = 0              # items handled in this run (numbers >= resumed_from)
    last_number: int = 0        # highest item number judged
    keys_written: int = 0
    keys_skipped: int = 0       # present on the target (--on-existing skip)
    keys_expired: int = 0       # already expired: not created (replace: deleted)
    keys_filtered: int = 0      # left out by --db/--key/--type/--skip-expired
    keys_expected: int = 0      # keys announced by the RDB's RESIZEDB hints seen so far
    keys_failed: int = 0
    functions_written: int = 0
    functions_skipped: int = 0
    commands_applied: int = 0   # AOF commands (MULTI blocks count each command)
    commands_failed: int = 0
    wire_commands: int = 0      # everything sent, SELECTs and temporaries included
    seconds: float = 0.0
    failure: Failure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def written(self) -> int:
        return self.keys_written + self.functions_written + self.commands_applied

    @property
    def skipped(self) -> int:
        return self.keys_skipped + self.functions_skipped + self.keys_expired + self.keys_filtered

    @property
    def failed(self) -> int:
        return self.keys_failed + self.commands_failed

    def as_dict(self) -> dict:
        d = {k: getattr(self, k) for k in (
            "source", "mode", "rdb_version", "server_version", "resumed_from", "items",
            "last_number", "keys_written", "keys_skipped", "keys_expired", "keys_filtered",
            "keys_failed", "functions_written", "functions_skipped", "commands_applied",
            "commands_failed", "wire_commands", "seconds")}
        d["ok"] = self.ok
        if self.failure is not None:
            f = self.failure
            d["failure"] = {"number": f.number, "resume_from": f.resume_from,
                            "error": f.error, "db": f.db, "sent_after": f.sent_after,
                            "key": f.key.decode("utf-8", "backslashreplace")
                            if f.key is not None else None}
        return d
