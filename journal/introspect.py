"""Read the schema of a live SQLite database back into a :class:`Schema`.

DDL text comes from ``sqlite_schema`` (after SQLite's own rewrites on renames) and is parsed
with ``journal.parse``; column facts are cross-checked against ``PRAGMA table_xinfo`` and
foreign keys against ``PRAGMA foreign_key_list``, so a parser misreading SQLite's text is caught
rather than trusted. Comparing ``introspect(db)`` with the fold of the journal is how we know a
replayed file matches its events.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from typing import TYPE_CHECKING

from journal._lazy import lazy_module
from journal.definitions import IndexDef, TableDef, TriggerDef, ViewDef
from journal.errors import CorruptJournalError
from journal.events import IndexCreated, TableCreated, TriggerCreated, ViewCreated
from journal.names import fold_name, quote
from journal.schema import Schema

if TYPE_CHECKING:
    import journal.parse as _parse
else:  # the parser (sqlglot) loads when a file is first read back (journal._lazy)
    _parse = lazy_module("journal.parse")


def introspect(
    conn: sqlite3.Connection, *, system_prefix: str = "__", ignore: Collection[str] = ()
) -> Schema:
    """The schema of ``conn``'s main database, leaving out objects named ``system_prefix*``,
    and the tables named in ``ignore`` (other tools' own, such as Litestream's) with their
    indexes and triggers."""
    ignored = {fold_name(name) for name in ignore}
    tables: list[TableDef] = []
    indexes: list[IndexDef] = []
    views: list[ViewDef] = []
    triggers: list[TriggerDef] = []
    rows = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_schema"
        " WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid"
    ).fetchall()
    for kind, name, table_name, sql in rows:
        if name.startswith(system_prefix) or table_name.startswith(system_prefix):
            continue
        if fold_name(name) in ignored or fold_name(table_name) in ignored:
            continue
        operation = _parse.parse_statement(sql)
        if kind == "table" and isinstance(operation, TableCreated):
            _cross_check(conn, operation.table)
            tables.append(operation.table)
        elif kind == "index" and isinstance(operation, IndexCreated):
            indexes.append(operation.index)
        elif kind == "view" and isinstance(operation, ViewCreated):
            views.append(operation.view)
        elif kind == "trigger" and isinstance(operation, TriggerCreated):
            triggers.append(operation.trigger)
        else:
            raise CorruptJournalError(f"Unexpected {kind} '{name}' in sqlite_schema")
    return Schema.of(tables=tables, indexes=indexes, views=views, triggers=triggers)


def _implicitly_not_null(table: TableDef, column: str, pk: list[str]) -> bool:
    """SQLite makes the key of a WITHOUT ROWID or STRICT table NOT NULL, except a rowid alias
    (a lone INTEGER PRIMARY KEY of a rowid table), which pragmas report as nullable."""
    if fold_name(column) not in pk or not (table.without_rowid or table.strict):
        return False
    column_def = table.column(column)
    rowid_alias = (
        not table.without_rowid
        and len(pk) == 1
        and column_def is not None
        and column_def.type.upper() == "INTEGER"
    )
    return not rowid_alias


def _cross_check(conn: sqlite3.Connection, table: TableDef) -> None:
    info = conn.execute(f"PRAGMA table_xinfo({quote(table.name)})").fetchall()
    pragma = [(fold_name(r[1]), " ".join(r[2].upper().split()), bool(r[3]), r[5]) for r in info]
    pk = [fold_name(c) for c in table.primary_key.columns] if table.primary_key else []
    parsed = [
        (
            fold_name(c.name),
            " ".join(c.type.upper().split()),
            c.not_null or _implicitly_not_null(table, c.name, pk),
            pk.index(fold_name(c.name)) + 1 if fold_name(c.name) in pk else 0,
        )
        for c in table.columns
    ]
    if pragma != parsed:
        raise CorruptJournalError(
            f"Table '{table.name}': parsed columns {parsed} disagree with SQLite's {pragma}"
        )
    fks = conn.execute(f"PRAGMA foreign_key_list({quote(table.name)})").fetchall()
    if len({row[0] for row in fks}) != len(table.foreign_keys):
        raise CorruptJournalError(
            f"Table '{table.name}': parsed {len(table.foreign_keys)} foreign keys,"
            f" SQLite has {len({row[0] for row in fks})}"
        )
