"""``cinch init`` and ``cinch status``."""

from __future__ import annotations

import click

import cinchdb
from cinchdb.cli._context import json_option, target_options, with_db
from cinchdb.cli._render import done, emit_json, table


@click.command()
@click.argument("path", default=".", type=click.Path(file_okay=False))
@click.option("--database", default="main", show_default=True, help="The first database.")
@json_option
def init(path: str, database: str, as_json: bool) -> None:
    """Create a project in PATH (created if missing).

    \b
    Example:
      cinch init my_app
    """
    root = cinchdb.init(path, database)
    done(f"Initialized CinchDB project in {root} (database '{database}', branch 'main')",
         as_json, {"project": str(root), "database": database, "branch": "main"})  # fmt: skip


@click.command()
@target_options(tenant=False)
@json_option
@with_db
def status(db: cinchdb.CinchDB, as_json: bool) -> None:
    """Show the project, the active database and branch, and their contents.

    A branch with two heads (git merged two lines of its history) says so.

    \b
    Example:
      cinch status --json
    """
    head = db.log(limit=1)
    heads = db.branch_heads()
    info = {
        "project": str(db.project_dir),
        "database": db.database,
        "branch": db.branch,
        "head": head[0].id if head else None,
        "heads": heads,
        "tables": [t.name for t in db.list_tables()],
        "views": [v.name for v in db.list_views()],
        "tenants": len(db.list_tenants()),
    }
    if as_json:
        emit_json(info)
        return
    shown: dict[str, object] = {**info, "heads": [h[:12] for h in heads]}
    if len(heads) < 2:
        del shown["heads"]
    table([{"": k, "value": ", ".join(v) if isinstance(v, list) else v} for k, v in shown.items()])
    if len(heads) > 1:
        click.echo(
            f"Branch '{db.branch}' has {len(heads)} heads: git merged two lines of its history."
            f" Join them with `cinch merge --heads {db.branch}` before changing its schema."
        )
