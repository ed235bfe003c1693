"""``cinch column``: add, drop, rename, alter."""

from __future__ import annotations

from typing import Any

import click

import cinchdb
from cinchdb._unset import UNSET
from cinchdb.cli._context import (
    confirm,
    json_option,
    parsed_by,
    target_options,
    with_db,
    yes_option,
)
from cinchdb.cli._render import done
from cinchdb.cli.commands._columns import SPEC_HELP, _value, parse_column
from cinchdb.models import Column


@click.group("column")
def column_group() -> None:
    """Columns of a table on the active branch.

    \b
    Example:
      cinch column add users age:INTEGER:default=0
    """


@column_group.command("add", epilog=SPEC_HELP)
@click.argument("table")
@click.argument("spec", callback=parsed_by(parse_column))
@target_options(tenant=False)
@json_option
@with_db
def add(db: cinchdb.CinchDB, table: str, spec: Column, as_json: bool) -> None:
    """Add a column given as SPEC, name:TYPE[:option...] (below).

    \b
    Example:
      cinch column add users plan:TEXT:default=free
    """
    column = spec
    db.add_column(table, column)
    done(f"Added column '{column.name}' to '{table}'", as_json, column)


@column_group.command("drop")
@click.argument("table")
@click.argument("column")
@yes_option
@target_options(tenant=False)
@json_option
@with_db
def drop(db: cinchdb.CinchDB, table: str, column: str, yes: bool, as_json: bool) -> None:
    """Drop a column from every tenant.

    \b
    Example:
      cinch column drop users age --yes
    """
    confirm(yes, f"Drop column '{table}.{column}' and its data?")
    db.drop_column(table, column)
    done(f"Dropped column '{table}.{column}'", as_json, {"table": table, "dropped": column})


@column_group.command("rename")
@click.argument("table")
@click.argument("old")
@click.argument("new")
@target_options(tenant=False)
@json_option
@with_db
def rename(db: cinchdb.CinchDB, table: str, old: str, new: str, as_json: bool) -> None:
    """Rename a column (views, triggers and indexes follow).

    \b
    Example:
      cinch column rename users email email_address
    """
    db.rename_column(table, old, new)
    done(f"Renamed column '{table}.{old}' to '{new}'", as_json,
         {"table": table, "column": new, "renamed_from": old})  # fmt: skip


@column_group.command("alter")
@click.argument("table")
@click.argument("column")
@click.option("--type", "type_", default=None, help="New type.")
@click.option("--nullable/--not-null", default=None, help="Allow or forbid NULL.")
@click.option("--default", "default", default=None, help="New default value.")
@click.option("--drop-default", is_flag=True, help="Remove the default.")
@target_options(tenant=False)
@json_option
@with_db
def alter(db: cinchdb.CinchDB, table: str, column: str, type_: str | None,
          nullable: bool | None, default: str | None, drop_default: bool,
          as_json: bool) -> None:  # fmt: skip
    """Change a column's type, nullability or default; existing rows are checked first.

    \b
    Example:
      cinch column alter users age --not-null --default 0
    """
    if default is not None and drop_default:
        raise click.UsageError("give --default or --drop-default, not both")
    if type_ is None and nullable is None and default is None and not drop_default:
        raise click.UsageError(
            "give at least one of --type, --nullable/--not-null, --default, --drop-default"
        )
    new_default: Any = UNSET
    if drop_default:
        new_default = None
    elif default is not None:
        new_default = _value(default)
    db.alter_column(table, column, nullable=nullable, default=new_default, type=type_)
    altered = next((c for c in db.get_table(table).columns if c.name == column), None)
    done(f"Altered column '{table}.{column}'", as_json, altered)
