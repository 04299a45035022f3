"""`rdb-dump` / `rdbkit dump`: render an RDB (or rdbkit JSON) file as JSON, JSONL, RESP,
key names or a memory report."""

from __future__ import annotations

import click

from ._common import friendly_errors
from ._render_opts import build_filter, filter_options, progress
from ..render import FORMATS


@click.command("dump", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("path", type=click.Path(allow_dash=True, dir_okay=False))
@click.option("-f", "--format", "fmt", type=click.Choice(FORMATS), default="json",
              show_default=True, help="Output format.")
@click.option("-o", "--output", default="-", metavar="FILE",
              help="Write here (atomically; .lz4 compresses) instead of stdout.")
@filter_options
@click.option("--resp-restore", is_flag=True,
              help="resp: one RESTORE ... ABSTTL per key with a DUMP payload.")
@click.option("--rdb-version", type=click.IntRange(6, 12), default=10, show_default=True,
              help="resp --resp-restore: RDB version of the payloads.")
@click.option("--largest", type=click.IntRange(0), metavar="N",
              help="memory: only the N biggest keys, biggest first.")
@click.option("--no-progress", is_flag=True, help="No progress bar on stderr.")
@friendly_errors
def command(path, fmt, output, dbs, key_re, not_key_re, types, skip_expired, now_ms,
            resp_restore, rdb_version, largest, no_progress):
    """Dump the keys of PATH (an RDB file, or rdbkit JSON/JSONL; `-` = stdin)."""
    from ..convert import open_records, output_file
    from ..render import dump_records

    key_filter = build_filter(dbs, key_re, not_key_re, types, skip_expired, now_ms)
    _fmt, records, close = open_records(path)
    try:
        with progress(path, not no_progress) as on_record, \
                output_file(output, inputs=(path,)) as out:
            dump_records(records, out, fmt, key_filter=key_filter, resp_restore=resp_restore,
                         rdb_version=rdb_version, largest=largest, on_record=on_record)
    finally:
        close()


def main() -> None:
    command.main(prog_name="rdb-dump")


if __name__ == "__main__":
    main()
