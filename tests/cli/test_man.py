"""Every command has a man page, and every option a command takes is in its page."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import click
import pytest

from rdbtools.cli.main import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
MAN = ROOT / "man"

#: rdbkit subcommand -> man page (Redis-named tools keep their own names).
PAGES = {
    "check-rdb": "check-rdb", "digest": "rdbkit-digest", "dump": "rdb-dump",
    "convert": "rdbkit-convert", "check-aof": "check-aof", "server": "rdbkit-server",
    "replay": "rdbkit-replay", "drill": "rdbkit-drill",
}


def _load(target: str) -> click.Command | None:
    module, attr = target.split(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ModuleNotFoundError, AttributeError):
        return None


def test_every_console_script_has_a_page():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for name in scripts:
        assert (MAN / f"{name}.rst").is_file(), f"man/{name}.rst missing"
        assert (MAN / f"{name}.1").is_file(), f"man/{name}.1 missing (run make man)"


def test_installed_pages_exist():
    text = (ROOT / "pyproject.toml").read_text()
    data = tomllib.loads(text)["tool"]["setuptools"]["data-files"]["share/man/man1"]
    for page in data:
        assert (ROOT / page).is_file(), page


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_is_documented(name):
    command = _load(COMMANDS[name])
    if command is None:
        pytest.skip(f"{name} is not built yet")
    page = MAN / f"{PAGES[name]}.rst"
    assert page.is_file(), f"{page} missing"
    text = page.read_text()
    built = page.with_suffix(".1")
    assert built.is_file() and built.stat().st_size > 0, f"{built} missing (run make man)"
    for param in command.params:
        if not isinstance(param, click.Option) or param.hidden:
            continue
        longs = [o for o in param.opts + param.secondary_opts if o.startswith("--")]
        assert any(o in text for o in longs) or not longs, f"{name}: {longs} not in {page.name}"
