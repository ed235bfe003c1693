"""What differs between the schema the journal says a tenant file is at and the one it has.

``check()`` and ``repair_tenant()`` compare the fold at the file's cursor with the file's
introspected schema, object by object, on their canonical forms (so quoting, keyword case and
constraint spelling never count as a difference). Each difference names the object as the
user knows it (``column users.email``) and says what each side has, in SQL words
(``TEXT NOT NULL``), or None where that side has no such object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cinchdb.results import SchemaDifference
from journal import Schema
from journal.definitions import ColumnDef, TableDef
from journal.names import fold_name
from journal.render import (
    render_column,
    render_create_index,
    render_foreign_key_clause,
    render_names,
)

__all__ = ["describe_column", "schema_differences"]


def describe_column(column: ColumnDef) -> str:
    """A column's declaration without its name: ``TEXT NOT NULL DEFAULT 'x'``."""
    # Rendered under a one-letter stand-in name so the name's own quoting is cut off whole.
    text = render_column(column.model_copy(update={"name": "x"}))[len('"x"') :].strip()
    return text or "no declared type"


def _difference(kind: str, name: str, journal: str | None, file: str | None) -> SchemaDifference:
    return {"kind": kind, "object": f"{kind} {name}", "journal": journal, "file": file}


def _table_text(table: TableDef) -> str:
    return f"{table.name}({', '.join(c.name for c in table.columns)})"


# Table-level parts compared one by one: their canonical key, and how to show a table's.
def _primary_key(table: TableDef) -> str | None:
    pk = table.primary_key
    if pk is None:
        return None
    return f"PRIMARY KEY ({render_names(pk.columns)})" + (
        " AUTOINCREMENT" if pk.autoincrement else ""
    )


def _uniques(table: TableDef) -> str | None:
    return "; ".join(sorted(f"UNIQUE ({render_names(u.columns)})" for u in table.uniques)) or None


def _foreign_keys(table: TableDef) -> str | None:
    clauses = [
        f"FOREIGN KEY ({render_names(fk.columns)}) "
        + render_foreign_key_clause(
            fk.ref_table, fk.ref_columns, fk.on_delete, fk.on_update, fk.deferrable
        )
        for fk in table.foreign_keys
    ]
    return "; ".join(sorted(clauses)) or None


def _checks(table: TableDef) -> str | None:
    return "; ".join(sorted(f"CHECK ({c.expr})" for c in table.checks)) or None


def _strict(table: TableDef) -> str:
    return "STRICT" if table.strict else "not STRICT"


def _without_rowid(table: TableDef) -> str:
    return "WITHOUT ROWID" if table.without_rowid else "a rowid"


_TABLE_PARTS: tuple[tuple[str, str, Callable[[TableDef], str | None]], ...] = (
    ("primary_key", "primary key", _primary_key),
    ("uniques", "unique constraints", _uniques),
    ("foreign_keys", "foreign keys", _foreign_keys),
    ("checks", "checks", _checks),
    ("strict", "strictness", _strict),
    ("without_rowid", "rowid", _without_rowid),
)


def _canonical_tables(schema: Schema) -> dict[str, dict[str, Any]]:
    return {fold_name(t["name"]): t for t in schema.canonical()["tables"]}


def _table_differences(
    expected: TableDef, actual: TableDef, want: Mapping[str, Any], have: Mapping[str, Any]
) -> list[SchemaDifference]:
    found: list[SchemaDifference] = []
    name = expected.name
    want_columns = {fold_name(c["name"]): c for c in want["columns"]}
    have_columns = {fold_name(c["name"]): c for c in have["columns"]}
    for column in expected.columns:
        key = fold_name(column.name)
        other = actual.column(column.name)
        if other is None:
            found.append(_difference("column", f"{name}.{column.name}",
                                     describe_column(column), None))  # fmt: skip
        elif want_columns[key] != have_columns[key]:
            found.append(_difference("column", f"{name}.{column.name}",
                                     describe_column(column), describe_column(other)))  # fmt: skip
    for column in actual.columns:
        if expected.column(column.name) is None:
            found.append(_difference("column", f"{name}.{column.name}",
                                     None, describe_column(column)))  # fmt: skip
    order_want = [fold_name(c.name) for c in expected.columns]
    order_have = [fold_name(c.name) for c in actual.columns]
    if not found and order_want != order_have:
        found.append({"kind": "table", "object": f"table {name} column order",
                      "journal": ", ".join(c.name for c in expected.columns),
                      "file": ", ".join(c.name for c in actual.columns)})  # fmt: skip
    for key, label, show in _TABLE_PARTS:
        if want[key] != have[key]:
            found.append({"kind": "table", "object": f"table {name} {label}",
                          "journal": show(expected), "file": show(actual)})  # fmt: skip
    return found


def schema_differences(expected: Schema, actual: Schema) -> list[SchemaDifference]:
    """Every object that differs between ``expected`` (the journal's) and ``actual`` (the
    file's): tables (and their columns and constraints), then indexes, views and triggers,
    each in the journal's order followed by what only the file has. Empty when they match."""
    found: list[SchemaDifference] = []
    want_tables, have_tables = _canonical_tables(expected), _canonical_tables(actual)
    for table in expected.tables:
        other = actual.table(table.name)
        if other is None:
            found.append(_difference("table", table.name, _table_text(table), None))
            continue
        key = fold_name(table.name)
        if want_tables[key] != have_tables[key]:
            found += _table_differences(table, other, want_tables[key], have_tables[key])
    for table in actual.tables:
        if expected.table(table.name) is None:
            found.append(_difference("table", table.name, None, _table_text(table)))
    canonical_want, canonical_have = expected.canonical(), actual.canonical()
    for kind, plural, show in (
        ("index", "indexes", lambda item: render_create_index(item)),
        ("view", "views", lambda item: item.sql),
        ("trigger", "triggers", lambda item: item.sql),
    ):
        want = {fold_name(i["name"]): i for i in canonical_want[plural]}
        have = {fold_name(i["name"]): i for i in canonical_have[plural]}
        want_items = {fold_name(i.name): i for i in getattr(expected, plural)}
        have_items = {fold_name(i.name): i for i in getattr(actual, plural)}
        for key, item in want_items.items():
            if key not in have:
                found.append(_difference(kind, item.name, show(item), None))
            elif want[key] != have[key]:
                found.append(_difference(kind, item.name, show(item), show(have_items[key])))
        for key, item in have_items.items():
            if key not in want:
                found.append(_difference(kind, item.name, None, show(item)))
    return found
