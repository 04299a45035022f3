"""`rdb-dump` / `rdbkit dump`: render an RDB (or rdbkit JSON) file as JSON, JSONL, RESP,
key names or a memory report."""

from __future__ import annotations

import contextlib
import os
import sys

import click

from ._common import friendly_errors
from ..filters import TYPE_NAMES, KeyFilter
from ..render import FORMATS

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
    offsets are positions in the file, so the bar is exact. The callback's
    `at_offset(n)` moves the bar to file offset n (for the multi-process dump)."""
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

        on_record.at_offset = lambda n: bar.update(task, completed=n)
        yield on_record
        bar.update(task, completed=size)


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)



@click.command("dump", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("path", type=click.Path(allow_dash=True, dir_okay=False))
@click.option("-f", "--format", "fmt", type=click.Choice(FORMATS), default="json",
              show_default=True, help="Output format.")
@click.option("-o", "--output", default="-", metavar="FILE",
              help="Write here (atomically; .lz4 compresses) instead of stdout.")
@filter_options
@click.option("--resp-restore", is_flag=True,
              help="resp: one RESTORE ... ABSTTL per key with a DUMP payload.")
@click.option("--rdb-version", type=click.IntRange(6, 12), default=10, show_default=True,
              help="resp --resp-restore: RDB version of the payloads.")
@click.option("--largest", type=click.IntRange(0), metavar="N",
              help="memory: only the N biggest keys, biggest first.")
@click.option("--memory-config", "memory_config", multiple=True, metavar="NAME=VALUE",
              help="memory: a server setting the estimate should assume, e.g. "
                   "list-compress-depth=1 (repeatable; default: Redis 7.0's).")
@click.option("-j", "--jobs", type=click.IntRange(1), metavar="N",
              help="json/jsonl of a large plain RDB file: render it with N processes "
                   "(default: one per CPU, at most 4; 1 = a single process).")
@click.option("--no-progress", is_flag=True, help="No progress bar on stderr.")
@friendly_errors
def command(path, fmt, output, dbs, key_re, not_key_re, types, skip_expired, now_ms,
            resp_restore, rdb_version, largest, memory_config, jobs, no_progress):
    """Dump the keys of PATH (an RDB file, or rdbkit JSON/JSONL; `-` = stdin)."""
    from ..convert import open_records, output_file
    from ..render import dump_records
    from ..render import parallel

    key_filter = build_filter(dbs, key_re, not_key_re, types, skip_expired, now_ms)
    mem_cfg = _memory_config(memory_config)
    jobs = parallel.default_jobs() if jobs is None else jobs
    if parallel.eligible(path, fmt, jobs):
        with progress(path, not no_progress) as on_record, \
                output_file(output, inputs=(path,)) as out:
            parallel.dump_parallel(path, out, fmt, key_filter=key_filter, jobs=jobs,
                                   on_offset=getattr(on_record, "at_offset", None))
        return
    _fmt, records, close = open_records(path)
    try:
        with progress(path, not no_progress) as on_record, \
                output_file(output, inputs=(path,)) as out:
            dump_records(records, out, fmt, key_filter=key_filter, resp_restore=resp_restore,
                         rdb_version=rdb_version, largest=largest, memory_config=mem_cfg,
                         on_record=on_record)
    finally:
        close()


def _memory_config(items):
    from ..render.memory import MemoryConfig

    settings = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}",
                                     param_hint="--memory-config")
        settings[name.strip()] = value.strip()
    try:
        cfg = MemoryConfig.from_redis(settings)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--memory-config") from e
    unknown = [n for n in settings
               if MemoryConfig.ALIASES.get(n.lower(), n.lower()).replace("-", "_")
               not in MemoryConfig.__dataclass_fields__]
    if unknown:
        raise click.BadParameter(f"unknown setting(s): {', '.join(unknown)}",
                                 param_hint="--memory-config")
    return cfg


def main() -> None:
    command.main(prog_name="rdb-dump")


if __name__ == "__main__":
    main()
