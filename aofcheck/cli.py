"""`check-aof` / `rdbkit check-aof`: redis-check-aof 7.0's command line, plus extras.

Arguments are matched the way redis-check-aof matches them (by count and position), so
`check-aof --fix FILE` and `check-aof --truncate-to-timestamp TS FILE` behave as in
Redis, and anything else prints Redis' usage line on stdout and exits 1.  Our options
(`--yes`, `--salvage`, `--json`, `--no-keep-cut`) may appear anywhere.  Redis' lines go
to stdout as plain text; our own warnings go to stderr.
"""

from __future__ import annotations

import json
import sys

import click

from rdbtools.cli._common import friendly_errors, quiet_epipe, run_standalone

from .check import CheckOptions, _strtol, check_aof

__all__ = ["command", "main"]

_EXTRA_FLAGS = {"--yes", "-y", "--salvage", "--json", "--no-keep-cut"}

HELP = """Check an append-only file (plain, RDB-preamble, or multi-part manifest/folder).

\b
  check-aof FILE
  check-aof --fix [--yes] FILE
  check-aof --truncate-to-timestamp TS FILE
  check-aof --salvage [--yes] FILE
\b
Output, exit codes and the bytes left after --fix are those of redis-check-aof 7.0.
--yes answers the Continue? prompt; --salvage drops only damaged records and keeps the
valid commands after them; --json prints a JSON report; --no-keep-cut does not save the
cut bytes to FILE.cut-OFFSET.
"""


def _write(stream, text: str) -> None:
    stream.write(text.encode("utf-8", "surrogateescape"))


class _RawArgs(click.Command):
    """Keeps argv exactly as typed: redis-check-aof matches arguments by position and
    count, so even `--` must reach that logic untouched (click would eat it)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["check_aof_argv"] = list(args)
        return super().parse_args(ctx, args)


@click.command(name="check-aof", cls=_RawArgs, help=HELP, add_help_option=False,
               context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
@friendly_errors
def command(ctx: click.Context, args: tuple[str, ...]) -> None:
    argv = ctx.meta.get("check_aof_argv", list(args))
    if any(a in ("-h", "--help") for a in argv):
        click.echo(ctx.get_help())
        ctx.exit(0)
    flags = {a for a in argv if a in _EXTRA_FLAGS}
    rest = [a for a in argv if a not in _EXTRA_FLAGS]
    prog = ctx.command_path or "check-aof"
    stdout = sys.stdout.buffer
    as_json = "--json" in flags
    lines: list[str] = []

    def out(text: str, end: str = "\n") -> None:
        if as_json:
            lines.append(text)
            if end == "":
                _write(sys.stderr.buffer, text)
                sys.stderr.buffer.flush()
            return
        _write(stdout, text + end)
        if end == "":
            stdout.flush()

    def usage() -> None:
        _write(stdout, f"Usage: {prog} [--fix|--truncate-to-timestamp $timestamp] "
                       "<file.manifest|file.aof>\n")
        ctx.exit(1)

    opts = CheckOptions(salvage="--salvage" in flags, keep_cut="--no-keep-cut" not in flags)
    if len(rest) == 1:
        path = rest[0]
    elif len(rest) == 2 and rest[0] == "--fix" and not opts.salvage:
        path, opts.fix = rest[1], True
    elif len(rest) == 3 and rest[0] == "--truncate-to-timestamp" and not opts.salvage:
        value, end, overflow = _strtol(rest[1].encode(), 0)
        if overflow or end != len(rest[1].encode()):
            _write(stdout, "Invalid timestamp, aborting...\n")
            ctx.exit(1)
        path, opts.truncate_to_timestamp = rest[2], value
    else:
        usage()

    if "--yes" in flags or "-y" in flags:
        opts.confirm = lambda: "y"
    else:
        def confirm() -> str | None:
            try:
                got = sys.stdin.buffer.readline()
            except (OSError, ValueError):
                return None
            return got.decode("latin-1") if got else None
        opts.confirm = confirm
    opts.out = out
    opts.note = lambda text: _write(sys.stderr.buffer, text + "\n")

    try:
        report = check_aof(path, opts)
        if as_json:
            doc = report.as_dict()
            doc["lines"] = lines
            _write(stdout, json.dumps(doc, indent=2, default=str) + "\n")
        stdout.flush()
    except BrokenPipeError:
        quiet_epipe()
    ctx.exit(report.exit_code)


def main() -> None:
    run_standalone(command)


if __name__ == "__main__":
    main()
