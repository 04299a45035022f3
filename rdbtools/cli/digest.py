"""`rdbkit digest`: the DEBUG DIGEST a server shows right after loading a file."""

from __future__ import annotations

import click

from ._aof_input import aof_digest, is_aof, truncate_option
from ._common import friendly_errors


@click.command("digest", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("files", nargs=-1, required=True, metavar="PATH...")
@click.option("--now-ms", type=int, metavar="MS",
              help="Load time: keys expiring before it are dropped (default: now).")
@click.option("--keep-expired", is_flag=True,
              help="Keep keys that already expired (what the writing server still held).")
@click.option("--per-key", is_flag=True,
              help="Print `<db> <key> <DEBUG DIGEST-VALUE>` for every key loaded.")
@truncate_option
@friendly_errors
def command(files, now_ms, keep_expired, per_key, truncate_ts):
    """Print the DEBUG DIGEST of each RDB file or AOF (`<digest>  <path>` for several).

    An AOF (folder, manifest or file, any layout) is replayed through the server's
    command engine; the digest is what a server shows right after booting from it."""
    from ..describe import redis_quote
    from ..digest import digest_file, iter_key_digests

    several = len(files) > 1
    for path in files:
        if is_aof(path):
            if per_key:
                raise click.UsageError("--per-key reads RDB files only")
            digest = aof_digest(path, truncate_ts)
            click.echo(f"{digest}  {path}" if several else digest)
            continue
        if per_key:
            if several:
                click.echo(f"# {path}")
            for rec, value in iter_key_digests(path, now_ms=now_ms, keep_expired=keep_expired):
                click.echo(f"{rec.db} {redis_quote(rec.key)} {value.hex()}")
            continue
        digest = digest_file(path, now_ms=now_ms, keep_expired=keep_expired)
        click.echo(f"{digest}  {path}" if several else digest)


if __name__ == "__main__":
    command()
