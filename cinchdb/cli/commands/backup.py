"""``cinch backup``: a consistent snapshot of the project into a directory, without
Litestream (``cinch restore --from DIR`` restores it)."""

from __future__ import annotations

import click

from cinchdb.cli._context import json_option
from cinchdb.cli._render import done, progress_bar
from cinchdb.replication.backup import backup as take_backup


@click.command()
@click.option("--to", "to_dir", required=True, type=click.Path(file_okay=False),
              help="A new or empty directory for the backup.")  # fmt: skip
@json_option
def backup(to_dir: str, as_json: bool) -> None:
    """Back up the whole project into DIR: every tenant and the journal, while writers write.

    Encrypted tenants are copied as their encrypted bytes (no key needed). Restore with
    'cinch restore --from DIR'. See docs/replication.md.

    \b
    Example:
      cinch backup --to /backups/app-2026-01-31
    """
    report_progress, bar = progress_bar("Backing up", unit="files", minimum=1)
    try:
        report = take_backup(to_dir, progress=None if as_json else report_progress)
    finally:
        bar.stop()
    done(
        f"Backed up {report.tenants} tenant(s) ({report.encrypted} encrypted) and the journal"
        f" to {report.directory}: {report.files} files, {report.bytes} bytes",
        as_json,
        report.as_dict(),
    )
