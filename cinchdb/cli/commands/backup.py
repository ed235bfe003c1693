"""``cinch backup``: a consistent snapshot of the project into a directory, without
Litestream (``cinch restore --from DIR`` restores it)."""

from __future__ import annotations

import sys
from typing import Any

import click

from cinchdb.cli._context import json_option
from cinchdb.cli._render import done
from cinchdb.replication.backup import backup as take_backup


class _FileBar:
    """A bar of files copied, on stderr, drawn only on a terminal."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._done = 0

    def report(self, done_count: int, total: int) -> None:
        if not sys.stderr.isatty():
            return
        if self._bar is None:
            self._bar = click.progressbar(length=total, label="Backing up", file=sys.stderr)
            self._bar.__enter__()
        self._bar.update(done_count - self._done)
        self._done = done_count

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


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
    bar = _FileBar()
    try:
        report = take_backup(to_dir, progress=None if as_json else bar.report)
    finally:
        bar.stop()
    done(
        f"Backed up {report.tenants} tenant(s) ({report.encrypted} encrypted) and the journal"
        f" to {report.directory}: {report.files} files, {report.bytes} bytes",
        as_json,
        report.as_dict(),
    )
