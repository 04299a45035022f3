"""`rdbkit convert SRC DST`: RDB <-> rdbkit JSON/JSONL, RDB -> RDB of another version,
-> RESP commands."""

from __future__ import annotations

import click

from ._aof_input import aof_records, is_aof, truncate_option
from ._common import friendly_errors
from .dump import build_filter, filter_options, progress
from ..convert import OUTPUT_FORMATS


@click.command("convert", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("src", type=click.Path(allow_dash=True))
@click.argument("dst", type=click.Path(allow_dash=True, dir_okay=False))
@click.option("--to", "to", type=click.Choice(OUTPUT_FORMATS),
              help="Output format (default: from DST's name).")
@click.option("--rdb-version", type=click.IntRange(6, 12), default=10, show_default=True,
              help="RDB version to write (rdb output, resp --resp-restore payloads).")
@click.option("--lossy", is_flag=True,
              help="Drop what the target version cannot hold instead of failing.")
@click.option("--resp-restore", is_flag=True,
              help="resp output: RESTORE ... ABSTTL payloads instead of plain commands.")
@filter_options
@truncate_option
@click.option("-j", "--jobs", type=click.IntRange(1), metavar="N",
              help="A large plain RDB file to json/jsonl: render it with N processes "
                   "(default: one per CPU, at most 4; 1 = a single process).")
@click.option("--no-progress", is_flag=True, help="No progress bar on stderr.")
@friendly_errors
def command(src, dst, to, rdb_version, lossy, resp_restore, dbs, key_re, not_key_re, types,
            skip_expired, now_ms, truncate_ts, jobs, no_progress):
    """Convert SRC (RDB, rdbkit JSON/JSONL, or an AOF of any layout) into DST;
    `-` = stdin/stdout."""
    from ..convert import convert, convert_records

    key_filter = build_filter(dbs, key_re, not_key_re, types, skip_expired, now_ms)
    if is_aof(src):
        report = convert_records(aof_records(src, truncate_ts), dst, src_format="aof", to=to,
                                 inputs=(src,), rdb_version=rdb_version, lossy=lossy,
                                 key_filter=key_filter, resp_restore=resp_restore)
    else:
        if truncate_ts is not None:
            raise click.UsageError("--truncate-to-timestamp applies to AOF inputs only")
        with progress(src, not no_progress) as on_record:
            report = convert(src, dst, to=to, rdb_version=rdb_version, lossy=lossy,
                             key_filter=key_filter, resp_restore=resp_restore,
                             jobs=jobs, on_offset=getattr(on_record, "at_offset", None),
                             on_record=on_record)
    for loss in report.dropped:
        click.echo(f"dropped: {loss}", err=True)


def main() -> None:
    command.main(prog_name="rdbkit convert")


if __name__ == "__main__":
    main()
