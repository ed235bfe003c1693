"""``cinch restore``: a project back from a Litestream replica, or from a ``cinch backup``."""

from __future__ import annotations

import sys

import click

from cinchdb.cli._app import EXIT_ERROR
from cinchdb.cli._context import json_option
from cinchdb.cli._render import emit_json, progress_bar, to_plain
from cinchdb.replication.backup import is_backup, restore_backup
from cinchdb.replication.restore import parse_timestamp
from cinchdb.replication.restore import restore as restore_replica
from cinchdb.replication.verify import RestoreReport


@click.command()
@click.option("--from", "source", required=True, metavar="URL|DIR",
              help="The replica (a directory, file:///dir, or"
                   " s3://bucket/prefix?endpoint=URL&region=R&force-path-style=true), or a"
                   " directory 'cinch backup' wrote.")  # fmt: skip
@click.option("--timestamp", metavar="T",
              help="Restore the project as it was at T (ISO 8601 / RFC 3339, e.g."
                   " 2026-01-31T12:00:00Z; a time without a zone is UTC). Default: the"
                   " latest the replica has.")  # fmt: skip
@click.option("--to", "to_dir", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Where to restore; it must not hold a project.")  # fmt: skip
@json_option
def restore(source: str, timestamp: str | None, to_dir: str, as_json: bool) -> None:
    """Restore a project from a replica or a backup: the journal, then every tenant, checked.

    The journal comes first, then the tenants in parallel (encrypted ones as the encrypted
    bytes they were replicated as), then the checks of 'cinch check'. A tenant whose file is
    ahead of the restored journal is moved to .cinchdb/_restore_ahead/ and named; the rest
    open as usual. Exits 1 when a tenant was moved aside or the check is not clean.
    Credentials for S3 come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. See
    docs/replication.md.

    \b
    Example:
      cinch restore --from 's3://backups/app?endpoint=http://127.0.0.1:9000' --to restored
      cinch restore --from /replicas/app --timestamp 2026-01-31T12:00:00Z --to restored
      cinch restore --from /backups/app-2026-01-31 --to restored
    """
    report_progress, bar = progress_bar("Restoring", unit="files", minimum=1)
    progress = None if as_json else report_progress
    try:
        if is_backup(source):
            if timestamp is not None:
                raise click.UsageError(
                    "--timestamp applies to a replica; a backup holds one moment only"
                )
            report = restore_backup(source, to_dir, progress=progress)
        else:
            when = None if timestamp is None else parse_timestamp(timestamp)
            report = restore_replica(source, to_dir, when, progress=progress)
    finally:
        bar.stop()
    if as_json:
        emit_json(to_plain(report.as_dict()))
    else:
        _render(report)
    if not report.ok:
        sys.exit(EXIT_ERROR)


def _render(report: RestoreReport) -> None:
    tenant_files = sum(1 for rel in report.restored if not rel.endswith("/metadata.db"))
    click.echo(f"Restored the journal and {tenant_files} tenant file(s) into {report.root}")
    for finding in report.tenants:
        click.echo(finding.message)
    for database, check in report.checks.items():
        problems = len(check["drift"]) + len(check["corrupt_events"]) + len(check["unreplayable"])
        if check["ok"]:
            click.echo(f"check: database '{database}' is clean")
        else:
            click.echo(
                f"check: database '{database}' has {problems} problem(s);"
                " run 'cinch check' in the project for details"
            )
