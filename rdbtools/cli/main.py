"""`rdbkit`: a lazy group; each subcommand's module is imported only when used."""

from __future__ import annotations

import importlib

import click

#: subcommand -> "module:attribute" of a click.Command. The same Command object is the
#: standalone alias script (check-rdb, rdb-dump, check-aof, rdbkit-server).
COMMANDS = {
    "check-rdb": "rdbtools.cli.check_rdb:command",
    "digest": "rdbtools.cli.digest:command",
    "dump": "rdbtools.cli.dump:command",
    "convert": "rdbtools.cli.convert:command",
    "check-aof": "aofcheck.cli:command",
    "server": "server.cli:command",
    "replay": "server.cli_replay:command",
    "drill": "server.cli_drill:command",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(name for name in COMMANDS if self._available(name))

    def _available(self, name: str) -> bool:
        module = COMMANDS[name].split(":")[0]
        return importlib.util.find_spec(module) is not None

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name == module_name:
                return None
            raise
        return getattr(module, attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rdbkit")
def main() -> None:
    """Read, check, convert and repair Redis persistence files."""
