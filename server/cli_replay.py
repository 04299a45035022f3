"""`rdbkit replay PATH --url redis://...`: send a backup into a live server."""

from __future__ import annotations

import contextlib
import json
import sys
import time

import click

from rdbtools.cli._common import CommandFailed, friendly_errors
from rdbtools.cli.dump import build_filter, filter_options

from .replay import MODES, ON_EXISTING, DEFAULT_PIPELINE


def _ttl(ctx, param, value):
    from .replay import TtlPolicy

    try:
        return TtlPolicy.parse(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from e


@click.command("replay", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("path", type=click.Path(exists=True))
@click.option("--url", required=True, metavar="URL",
              help="Target: redis://[user:pass@]host:port[/db].")
@click.option("--mode", type=click.Choice(MODES), default="auto", show_default=True,
              help="RESTORE payloads for the target's RDB version, plain commands, or "
                   "auto (plain strings as SET, other keys as RESTORE when the target's "
                   "version is known).")
@click.option("--on-existing", type=click.Choice(ON_EXISTING), default="replace",
              show_default=True, help="What to do with keys the target already holds.")
@click.option("--ttl", "ttl", default="keep", show_default=True, callback=_ttl,
              metavar="keep|drop|shift:+SECONDS", help="Expiry policy.")
@filter_options
@click.option("--target-db", type=click.IntRange(0), metavar="N",
              help="Write every key into database N.")
@click.option("--pipeline", type=click.IntRange(1), default=DEFAULT_PIPELINE,
              show_default=True, metavar="N", help="Commands per pipelined window.")
@click.option("--connections", type=click.IntRange(1, 64), default=1, show_default=True,
              metavar="N", help="Connections to spread windows over (key order across "
                               "them is not kept; AOF input always uses one).")
@click.option("--resume-from", type=click.IntRange(1), default=1, metavar="N",
              help="Start at item N (as printed by a stopped replay).")
@click.option("--rdb-version", type=click.IntRange(6, 12), metavar="V",
              help="RDB version of the RESTORE payloads (default: the target's own).")
@click.option("--lossy", is_flag=True,
              help="restore: drop what the target's RDB version cannot hold.")
@click.option("--verify", is_flag=True,
              help="Decode and check every value before sending it (slower; by default "
                   "values that can travel as stored are checked by the target's RESTORE).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--no-progress", is_flag=True, help="No progress bar on stderr.")
@friendly_errors
def command(path, url, mode, on_existing, ttl, dbs, key_re, not_key_re, types, skip_expired,
            now_ms, target_db, pipeline, connections, resume_from, rdb_version, lossy, verify,
            as_json, no_progress):
    """Replay PATH (RDB, AOF file or folder, or rdbkit JSON; .lz4 or not) into a server.

    Items are numbered (one per key, function library or AOF command). When the replay
    stops on a failure it prints the item to pass to --resume-from.
    """
    from rdbtools.errors import FormatError

    from ._client import parse_url
    from .replay import ReplayOptions, replay, source_kind

    target = parse_url(url)
    key_filter = build_filter(dbs, key_re, not_key_re, types, False, now_ms)
    if connections > 1 and source_kind(path) in ("resp", "multi-part"):
        connections = 1   # AOF commands depend on their order
    opts = ReplayOptions(mode=mode, on_existing=on_existing, ttl=ttl, key_filter=key_filter,
                         skip_expired=skip_expired, target_db=target_db, pipeline=pipeline,
                         connections=connections, resume_from=resume_from,
                         rdb_version=rdb_version, lossy=lossy, verify=verify, now_ms=now_ms)
    with _progress(not no_progress and not as_json) as on_progress:
        try:
            report = replay(path, target, opts, on_progress=on_progress)
        except FormatError as e:
            report = getattr(e, "replay_report", None)
            if report is not None:
                _summary(report, as_json)
            raise
    _summary(report, as_json)
    f = report.failure
    if f is not None:
        where = []
        if f.key is not None:
            where.append("key " + repr(f.key.decode("utf-8", "backslashreplace")))
        if f.db is not None:
            where.append(f"db {f.db}")
        msg = f"item {f.number} failed" + (f" ({', '.join(where)})" if where else "")
        msg += f": {f.error}"
        if f.sent_after:
            msg += (f"; {f.sent_after} later item(s) were already in flight and have been "
                    "applied")
        msg += f"\nresume with the same command plus --resume-from {f.resume_from}"
        raise CommandFailed(msg)


def _summary(report, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"replay of {report.source}", title_justify="left")
    for col in ("", "written", "skipped", "expired", "filtered", "failed"):
        t.add_column(col, justify="right" if col else "left")
    t.add_row("keys", str(report.keys_written), str(report.keys_skipped),
              str(report.keys_expired), str(report.keys_filtered), str(report.keys_failed))
    if report.functions_written or report.functions_skipped:
        t.add_row("functions", str(report.functions_written), str(report.functions_skipped),
                  "", "", "")
    if report.commands_applied or report.commands_failed:
        t.add_row("AOF commands", str(report.commands_applied), "", "", "",
                  str(report.commands_failed))
    console = Console(highlight=False, soft_wrap=True)
    console.print(t)
    rate = report.items / report.seconds if report.seconds else 0.0
    console.print(
        f"mode {report.mode}"
        + (f" (RDB {report.rdb_version} payloads)" if report.mode == "restore" else "")
        + f", target Redis {report.server_version or '?'}; items {report.resumed_from}.."
        f"{report.last_number}; totals: written {report.written}, skipped {report.skipped}, "
        f"failed {report.failed}; {report.wire_commands} commands sent in "
        f"{report.seconds:.2f}s ({rate:,.0f} items/s)")


@contextlib.contextmanager
def _progress(enabled: bool):
    """A rich bar on stderr (terminals only): keys done out of the file's size hints,
    keys/s, counts. Without hints (AOF, JSON) it is a spinner with the same figures."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (BarColumn, Progress, SpinnerColumn, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    with Progress(SpinnerColumn(), BarColumn(), TextColumn("{task.description}"),
                  TimeElapsedColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("replaying", total=None)
        start = time.perf_counter()

        def on_progress(report) -> None:
            elapsed = time.perf_counter() - start
            keys = (report.keys_written + report.keys_skipped + report.keys_expired
                    + report.keys_filtered + report.keys_failed)
            rate = (report.keys_written + report.commands_applied) / elapsed if elapsed else 0
            bar.update(task, completed=keys, total=report.keys_expected or None,
                       description=(f"item {report.last_number:,}  written "
                                    f"{report.written:,}  skipped {report.skipped:,}  failed "
                                    f"{report.failed:,}  {rate:,.0f} keys/s"))

        yield on_progress


def main() -> None:
    command.main(prog_name="rdbkit replay")
