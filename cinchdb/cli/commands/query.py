"""``cinch query`` and ``cinch data``."""

from __future__ import annotations

import json

import click

import cinchdb
from cinchdb.cli._context import json_option, target_options, with_db
from cinchdb.cli._render import csv_rows, done, emit_json, table
from cinchdb.cli.commands._transfer import export, import_


@click.command("query")
@click.argument("sql")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True, help="Output format.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--limit", type=int, default=None, help="Print at most N rows.")
@click.option("--param", "params", multiple=True, help="A ? parameter (repeatable).")
@target_options()
@with_db
def query(db: cinchdb.CinchDB, sql: str, fmt: str, as_json: bool, limit: int | None,
          params: tuple[str, ...]) -> None:  # fmt: skip
    """Run a read-only SQL query on a tenant of the active branch.

    \b
    Example:
      cinch query "SELECT COUNT(*) FROM users" --tenant customer_a
    """
    rows = db.query(sql, list(params))
    if limit is not None:
        rows = rows[:limit]
    if as_json or fmt == "json":
        emit_json(rows)
    elif fmt == "csv":
        csv_rows(rows)
    else:
        table(rows)


def _json_object(text: str) -> dict[str, object]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise click.BadParameter(f"not JSON: {error}", param_hint="DATA") from None
    if not isinstance(value, dict):
        raise click.BadParameter("expected a JSON object like '{\"name\": \"Ann\"}'",
                                 param_hint="DATA")  # fmt: skip
    return value


@click.group("data")
def data_group() -> None:
    """Rows of a tenant on the active branch.

    \b
    Example:
      cinch data insert users '{"name": "Ann"}' --tenant customer_a
    """


@data_group.command("insert")
@click.argument("table_name", metavar="TABLE")
@click.argument("rows", nargs=-1, required=True)
@target_options()
@json_option
@with_db
def insert(db: cinchdb.CinchDB, table_name: str, rows: tuple[str, ...], as_json: bool) -> None:
    """Insert one or more rows given as JSON objects.

    \b
    Example:
      cinch data insert users '{"name": "Ann"}' '{"name": "Bob"}'
    """
    stored = db.insert(table_name, [_json_object(r) for r in rows])
    if as_json:
        emit_json(stored)
    else:
        table(stored)


@data_group.command("update")
@click.argument("table_name", metavar="TABLE")
@click.argument("record_id", metavar="ID")
@click.argument("data")
@target_options()
@json_option
@with_db
def update(db: cinchdb.CinchDB, table_name: str, record_id: str, data: str,
           as_json: bool) -> None:  # fmt: skip
    """Update record ID with the fields of a JSON object.

    \b
    Example:
      cinch data update users 1b4e28ba-2fa1-11d2-883f-0016d3cca427 '{"name": "Ann"}'
    """
    row = db.update(table_name, record_id, _json_object(data))
    emit_json(row) if as_json else table([row])


@data_group.command("delete")
@click.argument("table_name", metavar="TABLE")
@click.argument("ids", nargs=-1, required=True)
@target_options()
@json_option
@with_db
def delete(db: cinchdb.CinchDB, table_name: str, ids: tuple[str, ...], as_json: bool) -> None:
    """Delete records by id.

    \b
    Example:
      cinch data delete users 1b4e28ba-2fa1-11d2-883f-0016d3cca427
    """
    count = db.delete(table_name, *ids)
    done(f"Deleted {count} record(s) from '{table_name}'", as_json, {"deleted": count})


data_group.add_command(import_, "import")
data_group.add_command(export, "export")
