"""`rdbkit drill BACKUP`: boot a throwaway server from a backup and compare digests."""

from __future__ import annotations

import json

import click

from rdbtools.cli._common import CommandFailed, friendly_errors


@click.command("drill", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("backup", type=click.Path(exists=True))
@click.option("--server", default="redis-server", show_default=True,
              metavar="rdbkit|PATH", help="`rdbkit` (rdbkit-server) or a redis-server binary.")
@click.option("--expect-digest", metavar="HEX|FILE",
              help="Expected DEBUG DIGEST: 40 hex digits, `rdbkit digest` output, or an "
                   "earlier `rdbkit drill --json` (per-database digests: names the "
                   "databases that differ).")
@click.option("--timeout", type=click.FloatRange(1), default=600, show_default=True,
              metavar="SECONDS", help="How long the server may take to start and load.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@friendly_errors
def command(backup, server, expect_digest, timeout, as_json):
    """Restore BACKUP (RDB, AOF file or folder, .lz4, rdbkit JSON) into a throwaway server
    and check that it holds exactly what the file holds. Exit 0 only when all matches."""
    from .drill import drill, parse_expectation

    expect = parse_expectation(expect_digest) if expect_digest else None
    report = drill(backup, server=server, expect=expect, timeout=timeout)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=1))
    else:
        _table(report)
    if not report.ok:
        raise CommandFailed("restore drill FAILED: " + "; ".join(report.problems))


def _table(report) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    t = Table(title=f"restore drill of {report.backup}", title_justify="left")
    t.add_column("db", justify="right")
    t.add_column("keys (server)", justify="right")
    t.add_column("keys (reference)", justify="right")
    expected = any(r.expected_digest is not None for r in report.dbs)
    if expected:
        t.add_column("keys (expected)", justify="right")
    t.add_column("digest (server)")
    t.add_column("digest (reference)")
    if expected:
        t.add_column("digest (expected)")
    t.add_column("")
    for r in report.dbs:
        cells = [str(r.db), str(r.server_keys), _s(r.reference_keys)]
        if expected:
            cells.append(_s(r.expected_keys))
        cells += [_short(r.server_digest), _short(r.reference_digest)]
        if expected:
            cells.append(_short(r.expected_digest))
        cells.append("[green]ok[/]" if r.ok else "[bold red]DIFFERS[/]")
        t.add_row(*cells)
    if report.dbs or report.ok:
        console.print(t)
    console.print(f"server: {report.server or '?'} (Redis {report.server_version or '?'}), "
                  f"loaded in {report.load_seconds:.2f}s")
    console.print(f"reference: {report.reference or 'none'}")
    console.print(f"DEBUG DIGEST: server {report.server_digest or '-'}, reference "
                  f"{report.reference_digest or '-'}"
                  + (f", expected {report.expected_digest}" if report.expected_digest else ""))
    if report.reference_functions is not None or report.server_functions is not None:
        console.print(f"function libraries: server {_s(report.server_functions)}, reference "
                      f"{_s(report.reference_functions)}")
    if report.ok:
        console.print("[bold green]restore drill passed[/]")
    elif report.log_tail and report.server_digest is None:
        console.print("server log (tail):\n" + report.log_tail, markup=False)


def _short(digest) -> str:
    """Per-database digests shortened for the table (the JSON report has them whole)."""
    return "-" if digest is None else digest[:12]


def _s(value) -> str:
    return "-" if value is None else str(value)


def main() -> None:
    command.main(prog_name="rdbkit drill")
