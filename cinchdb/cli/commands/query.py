"""``cinch query`` and ``cinch data``."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import TypeVar

import click

import cinchdb
from cinchdb.cli._context import json_option, parsed_by, target_options, with_db
from cinchdb.cli._render import csv_rows, done, emit_json, table
from cinchdb.cli.commands._transfer import export, import_
from cinchdb.errors import ValueTypeError

T = TypeVar("T")


@click.command("query")
@click.argument("sql")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True, help="Output format.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--limit", type=click.IntRange(min=0), default=None, help="Print at most N rows.")
@click.option("--param", "params", multiple=True, help="A ? parameter (repeatable).")
@target_options()
@with_db
def query(db: cinchdb.CinchDB, sql: str, fmt: str, as_json: bool, limit: int | None,
          params: tuple[str, ...]) -> None:  # fmt: skip
    """Run a read-only SQL query on a tenant of the active branch.

    CSV writes a value as --json does: NULL is an empty field, booleans true/false, BLOBs
    hexadecimal; the header line is there even when no row is.

    \b
    Example:
      cinch query "SELECT COUNT(*) FROM users" --tenant customer_a
    """
    result = db.query(sql, list(params))
    rows = result if limit is None else result[:limit]
    if as_json or fmt == "json":
        emit_json(rows)
    elif fmt == "csv":
        csv_rows(rows, result.columns)
    else:
        table(rows)


def _json_value(text: str, hint: str | None = None) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise click.BadParameter(f"not JSON: {error}", param_hint=hint) from None


def _json_object(text: str) -> dict[str, object]:
    value = _json_value(text)
    if not isinstance(value, dict):
        raise click.BadParameter('expected a JSON object like \'{"name": "Ann"}\'')
    return value


def _json_rows(text: str) -> list[dict[str, object]]:
    """One ROWS argument: a JSON object, or a JSON array of objects."""
    value = _json_value(text)
    items = value if isinstance(value, list) else [value]
    rows = [row for row in items if isinstance(row, dict)]
    if not rows or len(rows) != len(items):
        raise click.BadParameter(
            'expected a JSON object like \'{"name": "Ann"}\' or an array of them'
        )
    return rows


_JSON_KINDS = {
    "BOOLEAN": "true or false (or 1 or 0)",
    "INTEGER": "whole numbers",
    "REAL": "numbers",
    "NUMERIC": "numbers",
    "TEXT": "strings",
    "BLOB": "binary values, which JSON cannot give",
}


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _typed(call: Callable[[], T]) -> T:
    """Run an SDK call; a value of the wrong type is reported in JSON's words."""
    try:
        return call()
    except ValueTypeError as error:
        accepts = _JSON_KINDS.get(error.kind, error.accepts)
        if error.kind == "NUMERIC" and "date" in error.accepts:
            accepts = "numbers or strings (a date)"
        shown = json.dumps(error.value) if isinstance(error.value, str | int | float) else (
            repr(error.value))  # fmt: skip
        raise click.ClickException(
            f"Column '{error.column}' of table '{error.table}' is {error.type}: it takes"
            f" {accepts}, not {shown} (a {_json_type(error.value)})"
        ) from None


def _record(db: cinchdb.CinchDB, table_name: str, text: str) -> object:
    """A record's key as given on the command line, typed by the key's columns."""
    key = db.key_columns(table_name)
    if len(key) == 1:
        return db.value_from_text(table_name, key[0], text)
    value = _json_value(text, "ID")
    if not isinstance(value, list) or len(value) != len(key):
        raise click.BadParameter(
            f"table '{table_name}' has a key of {len(key)} columns ({', '.join(key)}):"
            f" give it as a JSON array like '{json.dumps(['...'] * len(key))}'",
            param_hint="ID",
        )
    return tuple(value)


@click.group("data")
def data_group() -> None:
    """Rows of a tenant on the active branch.

    \b
    Example:
      cinch data insert users '{"name": "Ann"}' --tenant customer_a
    """


@data_group.command("insert")
@click.argument("table_name", metavar="TABLE")
@click.argument("rows", nargs=-1, required=True, callback=parsed_by(_json_rows))
@target_options()
@json_option
@with_db
def insert(db: cinchdb.CinchDB, table_name: str, rows: tuple[list[dict[str, object]], ...],
           as_json: bool) -> None:  # fmt: skip
    """Insert rows given as JSON objects, or JSON arrays of them (all or none).

    \b
    Example:
      cinch data insert users '{"name": "Ann"}' '{"name": "Bob"}'
      cinch data insert users '[{"name": "Cy"}, {"name": "Di"}]'
    """
    given = [row for batch in rows for row in batch]
    stored = _typed(lambda: db.insert(table_name, given))
    if as_json:
        emit_json(stored)
    else:
        table(stored)


@data_group.command("update")
@click.argument("table_name", metavar="TABLE")
@click.argument("record_id", metavar="ID")
@click.argument("data", callback=parsed_by(_json_object))
@target_options()
@json_option
@with_db
def update(db: cinchdb.CinchDB, table_name: str, record_id: str, data: dict[str, object],
           as_json: bool) -> None:  # fmt: skip
    """Update record ID with the fields of a JSON object.

    ID is the record's key: its id, a number for an INTEGER key, or a JSON array of the
    values of a key of several columns.

    \b
    Example:
      cinch data update users 1b4e28ba-2fa1-11d2-883f-0016d3cca427 '{"name": "Ann"}'
    """
    row = _typed(lambda: db.update(table_name, _record(db, table_name, record_id), data))
    emit_json(row) if as_json else table([row])


@data_group.command("delete")
@click.argument("table_name", metavar="TABLE")
@click.argument("ids", nargs=-1, metavar="[ID]...")
@click.option("--where", "wheres", multiple=True, metavar="COLUMN=VALUE",
              help="Delete rows where COLUMN equals VALUE (repeatable, ANDed).")  # fmt: skip
@target_options()
@json_option
@with_db
def delete(db: cinchdb.CinchDB, table_name: str, ids: tuple[str, ...], wheres: tuple[str, ...],
           as_json: bool) -> None:  # fmt: skip
    """Delete records by ID, or the rows matching --where.

    \b
    Example:
      cinch data delete users 1b4e28ba-2fa1-11d2-883f-0016d3cca427
      cinch data delete users --where status=inactive --where age=30
    """
    if ids and wheres:
        raise click.UsageError("Give IDs or --where, not both")
    if not ids and not wheres:
        raise click.UsageError("Give the IDs to delete, or --where COLUMN=VALUE")
    if ids:
        keys = [_typed(partial(_record, db, table_name, text)) for text in ids]
        count = db.delete(table_name, *keys)
    else:
        filters: dict[str, object] = {}
        for where in wheres:
            column, sep, text = where.partition("=")
            if not sep or not column:
                raise click.BadParameter(f"expected COLUMN=VALUE, not {where!r}",
                                         param_hint="'--where'")  # fmt: skip
            filters[column] = _typed(partial(db.value_from_text, table_name, column, text))
        count = db.delete_where(table_name, "AND", **filters)
    done(f"Deleted {count} record(s) from '{table_name}'", as_json, {"deleted": count})


data_group.add_command(import_, "import")
data_group.add_command(export, "export")
