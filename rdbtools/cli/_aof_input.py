"""AOF inputs for `rdbkit convert` and `rdbkit digest`.

The rdbtools library reads RDB and JSON only; an AOF has to be replayed through the
server's command engine (`server.offline`). Only this click layer may reach up there.
"""

from __future__ import annotations

import os

import click


def is_aof(path: str) -> bool:
    """A multi-part AOF (its folder or manifest), a RESP log, or a `*.aof` (preamble)."""
    if path == "-":
        return False
    if os.path.isdir(path) or path.endswith(".manifest"):
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(1)
    except OSError:
        return False
    if head in (b"*", b"#"):
        return True
    return head == b"R" and path.endswith(".aof")


def aof_records(path: str, truncate_to_timestamp: int | None):
    from server.offline import aof_records as replay

    return replay(path, truncate_to_timestamp)


def aof_digest(path: str, truncate_to_timestamp: int | None) -> str:
    from server.offline import aof_digest as replay

    return replay(path, truncate_to_timestamp)


truncate_option = click.option(
    "--truncate-to-timestamp", "truncate_ts", type=int, metavar="TS", default=None,
    help="AOF inputs: replay only up to the first #TS: annotation later than TS "
         "(unix seconds), for point-in-time recovery.")
