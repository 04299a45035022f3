"""Replay a backup (RDB, AOF in any layout, rdbkit JSON; `.lz4` or not) into a live server.

The work splits in two. A *planner* turns the source into numbered units: one per key,
function library or AOF command (a MULTI ... EXEC block is one unit). Numbers count
source items, not wire commands, so they stay the same whatever the mode, TTL policy or
clock says; that is what makes `resume_from` land on the same item in a second run. A
*sender* packs units into pipelined windows, writes them over one or more connections,
and judges every unit from its replies (written, skipped, expired, failed).

Keys travel either as `RESTORE` with a DUMP payload written for the target's own RDB
version, or as plain commands (the AOF-rewrite forms of `rdbtools.render.resp`) built
under a temporary name and renamed into place, so a key is never seen half-built and a
unit can be sent again without doubling anything. In `auto` mode a plain string (no
TTL, idle time or LFU counter) goes as `SET key value` (`NX` unless replacing): the
target spends less on it than on a RESTORE and the client builds it without a CRC. On
the first failure the sender stops handing out new windows, drains what is in flight
and reports the item to resume from. With `on_existing="fail"` the keys of a window are
checked with `EXISTS` before it is sent, so nothing after the failing key has run when
the replay stops.

Speed comes from not decoding what need not be decoded: when an RDB file is no newer
than the target, the bytes of each stored value already are a DUMP payload body for the
file's version (and those of a string stored raw are its value). A skimmer steps over
values by their structure, packs runs of keys into bulk units of RESTOREs and SETs, and
leaves to the full reader only what it does not handle. Windows whose replies should
all be `+OK` are checked on the raw reply bytes. As with the streaming reader, the file
CRC is known only at its end, after its keys were sent.

Modules: `options` (options, report, RDB version of a release), `ttl` (TTL policies),
`sources` (what a source is, its items), `units` (units, judges, RESP pieces),
`planner` (items -> units), `skim` (the fast path for RDB files), `sender` (windows,
replies, outcomes), `run` (`replay()`).
"""
from __future__ import annotations

from .options import (DEFAULT_PIPELINE, MODES, ON_EXISTING, WINDOW_MAX_BYTES, Failure,
                      ReplayError, ReplayOptions, ReplayReport, rdb_version_for)
from .planner import plan
from .run import replay
from .sources import iter_source, source_kind
from .ttl import TtlPolicy, _ttl_args  # noqa: F401  (_ttl_args, _command_key: for tests)
from .units import (J_AOF, J_BULK, J_EXPIRED, J_FUNCTION, J_NONE, J_RESTORE, J_SET, J_TMP,
                    J_TMP_NX, Unit, _command_key)  # noqa: F401

__all__ = ["ReplayOptions", "ReplayReport", "Failure", "TtlPolicy", "ReplayError", "replay",
           "rdb_version_for", "MODES", "ON_EXISTING", "DEFAULT_PIPELINE", "WINDOW_MAX_BYTES",
           "iter_source", "source_kind", "plan", "Unit", "J_NONE", "J_RESTORE", "J_TMP",
           "J_TMP_NX", "J_EXPIRED", "J_FUNCTION", "J_AOF", "J_BULK", "J_SET"]
