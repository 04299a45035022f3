"""`check-rdb` / `rdbkit check-rdb`: redis-check-rdb's report, line for line.

Standard output carries exactly what `redis-check-rdb` 7.0 prints (bytes of keys and
AUX values included); rdbkit's own remarks go to standard error. Exit status 0 when
every file is sound, 1 otherwise, as the Redis tool.
"""

from __future__ import annotations

import json
import sys

import click

from ._common import EXIT_FAIL, EXIT_OK, friendly_errors, print_error


def _writer(stream):
    def write(line: str) -> None:
        stream.write(line.encode("utf-8", "surrogateescape") + b"\n")

    return write


@click.command("check-rdb", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("files", nargs=-1, required=True, metavar="RDB-FILE...")
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON report (one object, or a list for several files) instead "
                   "of redis-check-rdb's lines.")
@click.option("--summary", is_flag=True,
              help="One line per file instead of the full report.")
@click.option("--strict", is_flag=True,
              help="Refuse what redis-check-rdb 7.0 refuses: RDB versions above 10 and "
                   "Valkey files.")
@click.option("--now-ms", type=int, metavar="MS",
              help="The time 'already expired' compares against (default: now).")
@friendly_errors
def command(files, as_json, summary, strict, now_ms):
    """Check RDB-FILE like redis-check-rdb; `-` reads standard input."""
    from ..check import check_rdb

    stdout = sys.stdout.buffer
    quiet = as_json or summary
    write = (lambda line: None) if quiet else _writer(stdout)
    results = []
    for path in files:
        result = check_rdb(path, name=path, out=write, now_ms=now_ms, strict=strict)
        results.append(result)
        if result.open_failed:
            print_error(f"{path}: cannot open: {result.detail}")
        if summary and not as_json:
            _writer(stdout)(result.summary())
    if as_json:
        doc = [r.to_dict() for r in results]
        text = json.dumps(doc if len(doc) > 1 else doc[0], indent=2, ensure_ascii=False)
        stdout.write(text.encode("utf-8") + b"\n")
    stdout.flush()
    click.get_current_context().exit(EXIT_OK if all(r.ok for r in results) else EXIT_FAIL)


def main() -> None:
    from ._common import run_standalone

    run_standalone(command)


if __name__ == "__main__":
    main()
