"""``cinch table``: create, list, info, delete, rename."""

from __future__ import annotations

import click

import cinchdb
from cinchdb.cli._context import (
    confirm,
    json_option,
    parsed_by,
    target_options,
    with_db,
    yes_option,
)
from cinchdb.cli._render import done, emit_json, progress_bar, table
from cinchdb.cli.commands._columns import SPEC_HELP, parse_column
from cinchdb.models import Column


@click.group("table")
def table_group() -> None:
    """Tables of the active branch (each change reaches every tenant).

    \b
    Example:
      cinch table create users name:TEXT:not_null email:TEXT:unique age:INTEGER:default=0
    """


@table_group.command("create", epilog=SPEC_HELP)
@click.argument("name")
@click.argument("columns", nargs=-1, required=True, callback=parsed_by(parse_column))
@target_options(tenant=False)
@json_option
@with_db
def create(db: cinchdb.CinchDB, name: str, columns: tuple[Column, ...], as_json: bool) -> None:
    """Create table NAME from column specs name:TYPE[:option...] (below). Every table also
    gets id, created_at and updated_at.

    \b
    Example:
      cinch table create users username:TEXT email:TEXT
    """
    parsed = list(columns)
    report, bar = progress_bar()
    db.progress = report
    try:
        created = db.create_table(name, parsed)
    finally:
        bar.stop()
    done(f"Created table '{name}' ({len(parsed)} columns) on branch '{db.branch}'", as_json,
         created)  # fmt: skip


@table_group.command("list")
@target_options(tenant=False)
@json_option
@with_db
def list_(db: cinchdb.CinchDB, as_json: bool) -> None:
    """List the tables of the active branch.

    \b
    Example:
      cinch table list
    """
    rows = [{"name": t.name, "columns": len(t.columns), "indexes": len(t.indexes)}
            for t in db.list_tables()]  # fmt: skip
    emit_json(rows) if as_json else table(rows)


@table_group.command("info")
@click.argument("name")
@target_options()
@json_option
@with_db
def info(db: cinchdb.CinchDB, name: str, as_json: bool) -> None:
    """Show a table's columns, indexes and the tenant's row count.

    \b
    Example:
      cinch table info users --tenant customer_a
    """
    found = db.get_table(name)
    if as_json:
        emit_json(found)
        return
    table([{"column": c.name, "type": c.type, "nullable": c.nullable, "default": c.default,
            "unique": c.unique, "primary_key": c.primary_key} for c in found.columns],
          title=f"{found.name} ({found.row_count} rows)")  # fmt: skip
    if found.indexes:
        table([{"index": i.name, "columns": ", ".join(i.columns), "unique": i.unique}
               for i in found.indexes])  # fmt: skip


@table_group.command("delete")
@click.argument("name")
@yes_option
@target_options(tenant=False)
@json_option
@with_db
def delete(db: cinchdb.CinchDB, name: str, yes: bool, as_json: bool) -> None:
    """Drop table NAME from every tenant of the branch.

    \b
    Example:
      cinch table delete logs --yes
    """
    confirm(yes, f"Drop table '{name}' and its rows in every tenant?")
    db.drop_table(name)
    done(f"Dropped table '{name}'", as_json, {"dropped": name})


@table_group.command("rename")
@click.argument("old")
@click.argument("new")
@target_options(tenant=False)
@json_option
@with_db
def rename(db: cinchdb.CinchDB, old: str, new: str, as_json: bool) -> None:
    """Rename table OLD to NEW (views, triggers and indexes follow).

    \b
    Example:
      cinch table rename users people
    """
    db.rename_table(old, new)
    done(f"Renamed table '{old}' to '{new}'", as_json, {"table": new, "renamed_from": old})
