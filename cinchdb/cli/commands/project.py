"""``cinch init`` and ``cinch status``."""

from __future__ import annotations

import click

import cinchdb
from cinchdb.cli._context import json_option, target_options, with_db
from cinchdb.cli._render import done, emit_json, table


@click.command()
@click.argument("path", default=".", type=click.Path(file_okay=False))
@click.option("--database", default="main", show_default=True, help="The first database.")
def init(path: str, database: str) -> None:
    """Create a project in PATH (created if missing).

    \b
    Example:
      cinch init my_app
    """
    root = cinchdb.init(path, database)
    done(f"Initialized CinchDB project in {root} (database '{database}', branch 'main')")


@click.command()
@target_options(tenant=False)
@json_option
@with_db
def status(db: cinchdb.CinchDB, as_json: bool) -> None:
    """Show the project, the active database and branch, and their contents.

    \b
    Example:
      cinch status --json
    """
    head = db.log(limit=1)
    info = {
        "project": str(db.project_dir),
        "database": db.database,
        "branch": db.branch,
        "head": head[0].id if head else None,
        "tables": [t.name for t in db.list_tables()],
        "views": [v.name for v in db.list_views()],
        "tenants": len(db.list_tenants()),
    }
    if as_json:
        emit_json(info)
        return
    table([{"": k, "value": ", ".join(v) if isinstance(v, list) else v} for k, v in info.items()])
