"""``cinch adopt``: an existing SQLite file becomes a database of the project."""

from __future__ import annotations

import sys
from pathlib import Path

import click

import cinchdb
from cinchdb.cli._context import json_option
from cinchdb.cli._render import emit_json


@click.command("adopt")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--database", "-d", "database", metavar="NAME",
    help="Name of the new database (default: the file's name without its extension).",
)  # fmt: skip
@click.option(
    "--dry-run", is_flag=True,
    help="List the events it would make and what cannot be adopted; write nothing.",
)  # fmt: skip
@json_option
def adopt(path: Path, database: str | None, dry_run: bool, as_json: bool) -> None:
    """Make the SQLite database at PATH a database of the project.

    Its schema becomes the baseline events of the new database's main branch (one per table,
    index, view and trigger) and its rows the main tenant; the file itself is only read. What
    CinchDB cannot represent (virtual tables, names outside the name rule, ...) is listed
    with a suggestion, and then nothing is written. With --dry-run, exit 1 if anything is.

    \b
    Example:
      cinch adopt chinook.db --dry-run
      cinch adopt chinook.db --database music
    """
    result = cinchdb.adopt(path, database, dry_run=dry_run)
    if as_json:
        emit_json(result.to_dict())
    elif result.problems:
        click.echo(f"# {path} cannot be adopted as it is: {len(result.problems)} problem(s)")
        for problem in result.problems:
            click.echo(f"  {problem}")
    elif dry_run:
        click.echo(f"# adopting {path} as database '{result.database}' would make")
        for line in result.events:
            click.echo(f"  {line}")
        click.echo(f"# and copy {sum(result.rows.values())} row(s) into tenant 'main'")
    else:
        total = sum(result.rows.values())
        click.echo(
            f"Adopted {path} as database '{result.database}': {len(result.events)} event(s),"
            f" {total} row(s) in tenant 'main'"
        )
    if result.problems:
        sys.exit(1)
