"""Build man/*.1 from man/*.rst with docutils' man page writer.

Run `make man` (or `python3 man/build.py`) after editing a page; the .1 files are
committed so installs need no docutils.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def build(src: Path) -> str:
    from docutils.core import publish_string
    from docutils.writers import manpage

    out = publish_string(
        source=src.read_text(encoding="utf-8"),
        source_path=str(src),
        writer=manpage.Writer(),
        settings_overrides={"report_level": 3, "halt_level": 3, "input_encoding": "utf-8",
                            "output_encoding": "utf-8"},
    )
    return out.decode("utf-8") if isinstance(out, bytes) else out


def main(argv: list[str]) -> int:
    pages = [Path(a) for a in argv] or sorted(HERE.glob("*.rst"))
    for src in pages:
        target = src.with_suffix(".1")
        target.write_text(build(src), encoding="utf-8")
        print(f"{src.name} -> {target.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
