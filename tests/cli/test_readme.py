"""The README's two set-up commands are Makefile targets, and the demo's steps succeed."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", text, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.strip().splitlines()]


def _recipe(target: str) -> list[str]:
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    recipe = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


def test_readme_starts_with_the_two_make_targets():
    assert _readme_commands() == ["make demo", "make test"]
    assert _recipe("demo") and _recipe("test")


def test_demo_steps_succeed():
    """Each `$(VENV)/bin/<script> ...` step of `make demo`, run with this interpreter's scripts."""
    bindir = Path(sys.executable).parent
    steps = [s for s in _recipe("demo") if s.startswith("$(VENV)/bin/")]
    assert steps
    for step in steps:
        argv = shlex.split(step.replace("$(VENV)/bin/", ""))
        script = bindir / argv[0]
        if not script.exists():  # not installed as scripts here: go through the module
            argv = [sys.executable, "-c", "from rdbtools.cli.main import main; main()", *argv[1:]]
        else:
            argv[0] = str(script)
        expanded = []
        for a in argv:
            matches = sorted(ROOT.glob(a)) if "*" in a else []
            expanded.extend(map(str, matches) if matches else [a])
        done = subprocess.run(expanded, cwd=ROOT, capture_output=True, timeout=120)
        assert done.returncode == 0, (step, done.stdout[-2000:], done.stderr[-2000:])
