"""``cinch index``: create, list, drop."""

from __future__ import annotations

import click

import cinchdb
from cinchdb.cli._context import json_option, target_options, with_db
from cinchdb.cli._render import done, emit_json, table


@click.group("index")
def index_group() -> None:
    """Indexes of the active branch.

    \b
    Example:
      cinch index create idx_users_email users email --unique
    """


@index_group.command("create")
@click.argument("name")
@click.argument("table_name", metavar="TABLE")
@click.argument("columns", nargs=-1, required=True)
@click.option("--unique", is_flag=True, help="A unique index (checked on every tenant first).")
@click.option("--where", default=None, help="A partial index's WHERE expression.")
@target_options(tenant=False)
@json_option
@with_db
def create(db: cinchdb.CinchDB, name: str, table_name: str, columns: tuple[str, ...],
           unique: bool, where: str | None, as_json: bool) -> None:  # fmt: skip
    """Create index NAME on TABLE (COLUMNS...).

    \b
    Example:
      cinch index create idx_users_email users email --unique
    """
    index = db.create_index(name, table_name, list(columns), unique=unique, where=where)
    done(f"Created index '{name}' on '{table_name}' ({', '.join(columns)})", as_json, index)


@index_group.command("list")
@click.argument("table_name", metavar="[TABLE]", required=False)
@target_options(tenant=False)
@json_option
@with_db
def list_(db: cinchdb.CinchDB, table_name: str | None, as_json: bool) -> None:
    """List indexes, optionally of one table.

    \b
    Example:
      cinch index list users
    """
    rows = db.list_indexes(table_name)
    if as_json:
        emit_json(rows)
    else:
        table([{**r, "columns": ", ".join(str(c) for c in r["columns"])} for r in rows])


@index_group.command("drop")
@click.argument("name")
@target_options(tenant=False)
@json_option
@with_db
def drop(db: cinchdb.CinchDB, name: str, as_json: bool) -> None:
    """Drop index NAME.

    \b
    Example:
      cinch index drop idx_users_email
    """
    db.drop_index(name)
    done(f"Dropped index '{name}'", as_json, {"dropped": name})
