"""`rdbkit-server [redis.conf] [--directive value ...]` (also `rdbkit server`)."""

from __future__ import annotations

import click

from rdbtools.cli._common import CommandFailed


@click.command(name="server", context_settings={
    "ignore_unknown_options": True, "allow_extra_args": True,
    "help_option_names": ["-h", "--help"]})
@click.option("-v", "--version", "version", is_flag=True, help="Print the version and exit.")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def command(version: bool, args: tuple[str, ...]) -> None:
    """Run the reference server; arguments exactly as redis-server takes them.

    \b
    Examples:
      rdbkit-server                      (defaults: port 6379, bind 127.0.0.1 -::1)
      rdbkit-server /etc/redis/redis.conf
      rdbkit-server --port 7777 --requirepass secret
    """
    from .cmd_server import RDBKIT_VERSION, REDIS_VERSION
    from .config import ConfigError, from_argv

    if version:
        click.echo(f"rdbkit-server v={RDBKIT_VERSION} (speaks Redis {REDIS_VERSION})")
        return
    try:
        cfg = from_argv(list(args))
    except ConfigError as e:
        raise CommandFailed(str(e).strip()) from None
    from .app import run

    conf = args[0] if args and not args[0].startswith("--") else None
    try:
        code = run(cfg, config_file=conf)
    except OSError as e:
        raise CommandFailed(str(e)) from None
    raise SystemExit(code)


def main() -> None:
    """The `rdbkit-server` script: the same command, under the name users type."""
    command.main(prog_name="rdbkit-server")
