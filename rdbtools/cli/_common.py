"""Shared CLI plumbing: the exit-code table, error rendering on stderr, quiet EPIPE."""

from __future__ import annotations

import errno
import functools
import os
import sys

import click

from ..errors import RdbkitError

#: Exit codes, as Redis's tools use them: 0 sound, 1 anything wrong with the input or
#: the run, 2 bad usage (click's own).
EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2


class CommandFailed(click.ClickException):
    """A clean failure: message on stderr, exit 1."""

    exit_code = EXIT_FAIL

    def show(self, file=None) -> None:
        print_error(self.format_message())


def print_error(message: str) -> None:
    from rich.console import Console

    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[bold red]error:[/] {_escape(message)}"
    )


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def friendly_errors(fn):
    """Turn library and OS errors into `CommandFailed`; never a traceback at the user."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:
            quiet_epipe()
        except RdbkitError as e:
            raise CommandFailed(str(e)) from e
        except OSError as e:
            if e.errno == errno.EPIPE:
                quiet_epipe()
            name = f"{e.filename}: " if e.filename else ""
            raise CommandFailed(f"{name}{e.strerror or e}") from e
        except MemoryError as e:
            raise CommandFailed("out of memory") from e

    return wrapper


def quiet_epipe() -> None:
    """The reader of our stdout went away (`| head`): exit quietly, as Unix tools do."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
    raise SystemExit(EXIT_FAIL)


def run_standalone(command: click.Command) -> None:
    """Entry point for an alias script (`check-rdb` = `rdbkit check-rdb`)."""
    command.main(prog_name=command.name)
