"""Options and progress display shared by `rdb-dump` and `rdbkit convert`."""

from __future__ import annotations

import contextlib
import os
import sys

import click

from ..filters import TYPE_NAMES, KeyFilter

#: Inputs smaller than this finish before a progress bar would be useful.
PROGRESS_MIN_BYTES = 32 << 20


def filter_options(fn):
    opts = [
        click.option("--db", "dbs", type=click.IntRange(0), multiple=True,
                     help="Only this database (repeatable)."),
        click.option("--key", "key_re", metavar="REGEX",
                     help="Only keys matching REGEX (searched in the raw key bytes)."),
        click.option("--not-key", "not_key_re", metavar="REGEX",
                     help="Skip keys matching REGEX."),
        click.option("--type", "types", multiple=True,
                     type=click.Choice(sorted(TYPE_NAMES), case_sensitive=False),
                     help="Only keys of this type (repeatable)."),
        click.option("--skip-expired", is_flag=True,
                     help="Skip keys whose expiry is already past (see --now-ms)."),
        click.option("--now-ms", type=int, metavar="MS",
                     help="The time --skip-expired compares against (default: now)."),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def build_filter(dbs, key_re, not_key_re, types, skip_expired, now_ms) -> KeyFilter:
    try:
        return KeyFilter.build(dbs=dbs, key=key_re, not_key=not_key_re, types=types,
                               skip_expired=skip_expired, now_ms=now_ms)
    except ValueError as e:
        raise click.BadParameter(str(e)) from e


@contextlib.contextmanager
def progress(path: str, enabled: bool):
    """Yield an `on_record` callback (or None) driving a rich bar on stderr.

    Only for plain RDB files big enough to matter, with stderr on a terminal: record
    offsets are positions in the file, so the bar is exact."""
    if not enabled or path == "-" or not sys.stderr.isatty():
        yield None
        return
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError:
        yield None
        return
    if size < PROGRESS_MIN_BYTES or not (head.startswith(b"REDIS") or head.startswith(b"VALKEY")):
        yield None
        return
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                               TimeRemainingColumn, TransferSpeedColumn)

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), TimeRemainingColumn(),
                  console=_stderr_console(), transient=True) as bar:
        task = bar.add_task(os.path.basename(path), total=size)
        count = 0

        def on_record(rec) -> None:
            nonlocal count
            count += 1
            if count & 1023 == 0 and rec.end > 0:
                bar.update(task, completed=rec.end)

        yield on_record
        bar.update(task, completed=size)


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)
