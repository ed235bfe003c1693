"""``cinch view``: create, list, info, update, delete."""

from __future__ import annotations

import click

import cinchdb
from cinchdb.cli._context import json_option, target_options, with_db
from cinchdb.cli._render import done, emit_json, table


@click.group("view")
def view_group() -> None:
    """Views of the active branch.

    \b
    Example:
      cinch view create adults "SELECT * FROM users WHERE age >= 18"
    """


@view_group.command("create")
@click.argument("name")
@click.argument("sql")
@target_options(tenant=False)
@json_option
@with_db
def create(db: cinchdb.CinchDB, name: str, sql: str, as_json: bool) -> None:
    """Create view NAME from a query.

    \b
    Example:
      cinch view create adults "SELECT * FROM users WHERE age >= 18"
    """
    view = db.create_view(name, sql)
    done(f"Created view '{name}'", as_json, view)


@view_group.command("list")
@target_options(tenant=False)
@json_option
@with_db
def list_(db: cinchdb.CinchDB, as_json: bool) -> None:
    """List views.

    \b
    Example:
      cinch view list --json
    """
    rows = [{"name": v.name, "sql": v.sql} for v in db.list_views()]
    emit_json(rows) if as_json else table(rows)


@view_group.command("info")
@click.argument("name")
@target_options(tenant=False)
@json_option
@with_db
def info(db: cinchdb.CinchDB, name: str, as_json: bool) -> None:
    """Show a view's query.

    \b
    Example:
      cinch view info adults
    """
    found = next((v for v in db.list_views() if v.name.lower() == name.lower()), None)
    if found is None:
        raise click.ClickException(f"View '{name}' does not exist")
    done(found.sql, as_json, found)


@view_group.command("update")
@click.argument("name")
@click.argument("sql")
@target_options(tenant=False)
@json_option
@with_db
def update(db: cinchdb.CinchDB, name: str, sql: str, as_json: bool) -> None:
    """Replace view NAME's query.

    \b
    Example:
      cinch view update adults "SELECT name FROM users WHERE age >= 21"
    """
    view = db.update_view(name, sql)
    done(f"Updated view '{name}'", as_json, view)


@view_group.command("delete")
@click.argument("name")
@target_options(tenant=False)
@json_option
@with_db
def delete(db: cinchdb.CinchDB, name: str, as_json: bool) -> None:
    """Drop view NAME.

    \b
    Example:
      cinch view delete adults
    """
    db.drop_view(name)
    done(f"Dropped view '{name}'", as_json, {"dropped": name})
