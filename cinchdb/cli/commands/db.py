"""``cinch db``: the project's databases."""

from __future__ import annotations

import attrs
import click

import cinchdb
from cinchdb.cli._context import config, confirm, json_option, open_db, save_config, yes_option
from cinchdb.cli._render import done, emit_json, table
from cinchdb.project import require_database


@click.group("db")
def db_group() -> None:
    """Databases of the project (each with its own branches and tenants).

    \b
    Example:
      cinch db create analytics && cinch db switch analytics
    """


def _handle() -> cinchdb.CinchDB:
    return open_db()


@db_group.command("create")
@click.argument("name")
@json_option
def create(name: str, as_json: bool) -> None:
    """Create database NAME with a main branch and a main tenant.

    \b
    Example:
      cinch db create analytics
    """
    with _handle() as db:
        db.create_database(name)
    done(f"Created database '{name}'", as_json, {"database": name})


@db_group.command("list")
@json_option
def list_(as_json: bool) -> None:
    """List databases; the active one is marked.

    \b
    Example:
      cinch db list --json
    """
    active = config().active_database
    with _handle() as db:
        names = db.list_databases()
    rows = [{"name": n, "active": n == active} for n in names]
    emit_json(rows) if as_json else table(rows)


@db_group.command("switch")
@click.argument("name")
@json_option
def switch(name: str, as_json: bool) -> None:
    """Make NAME the active database (its main branch becomes active).

    \b
    Example:
      cinch db switch analytics
    """
    require_database(name)
    save_config(attrs.evolve(config(), active_database=name, active_branch="main"))
    done(f"Switched to database '{name}' (branch 'main')", as_json,
         {"database": name, "branch": "main"})  # fmt: skip


@db_group.command("delete")
@click.argument("name")
@yes_option
@json_option
def delete(name: str, yes: bool, as_json: bool) -> None:
    """Delete database NAME with its journal, branches and tenant files.

    \b
    Example:
      cinch db delete analytics --yes
    """
    confirm(yes, f"Delete database '{name}' and all its data?")
    with _handle() as db:
        db.delete_database(name)
    done(f"Deleted database '{name}'", as_json, {"deleted": name})


@db_group.command("info")
@click.argument("name", required=False)
@json_option
def info(name: str | None, as_json: bool) -> None:
    """Show a database's branches, tables and tenants (default: the active one).

    \b
    Example:
      cinch db info main
    """
    with open_db(database=name, branch="main") as db:
        data = {
            "database": db.database,
            "branches": [b.name for b in db.list_branches()],
            "tables": [t.name for t in db.list_tables()],
            "tenants": [t.name for t in db.list_tenants()],
        }
    if as_json:
        emit_json(data)
    else:
        table([{"": k, "value": ", ".join(v) if isinstance(v, list) else v}
               for k, v in data.items()])  # fmt: skip
