"""Repairing a drifted tenant file: its schema rebuilt from the journal, its rows kept.

A file changed behind CinchDB's back (a tool, a hand-written ``ALTER``) no longer has the
schema the journal says it is at (``check()`` lists what differs). The repair makes the file's
schema the journal's schema at the file's cursor again, keeping every row of every column
the two have in common, and refuses, changing nothing, when that would lose data: a table or
column only the file has that holds values, a NOT NULL column without a default that the
file lacks while its table has rows, or rows the journal's constraints refuse.

Crash safety: the whole rebuild is one SQLite transaction on the file itself (SQLite's DDL is
transactional), so a crash leaves the old schema and rows or the new ones, never a mix; the
file's cursor and its other contents (the key-value store) are untouched. Unlike a file
swap, other connections and processes that hold the file open keep using the same file, and
see the repaired schema when they next read.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from cinchdb._drift import schema_differences
from cinchdb._guard import internal, open_tenant_file, read_cursor
from cinchdb._system_tables import FOREIGN_TABLES
from cinchdb._tenant_dir import require_whole
from cinchdb.errors import (
    RepairRefusedError,
    TenantDivergedError,
    TenantError,
    TenantNotFoundError,
)
from cinchdb.results import RepairResult
from journal import Schema, drivers
from journal.definitions import TableDef
from journal.introspect import introspect
from journal.names import fold_name, quote
from journal.render import render_create_index, render_create_table
from journal.transactions import transaction

if TYPE_CHECKING:
    from cinchdb.tenants import TenantFiles

__all__ = ["repair_tenant"]

# Where a table's old rows wait while its new definition is created (inside the transaction
# only; the name is never shown to a user).
_OLD = "__cinch_repair_old"
# Objects of CinchDB's own (system tables and their indexes) and of SQLite's are never touched.
_SYSTEM_PREFIXES = ("__", "sqlite_")
# Other tools' tables (Litestream's): kept as they are.
_FOREIGN = {fold_name(name) for name in FOREIGN_TABLES}


def repair_tenant(files: TenantFiles, branch: str, name: str) -> RepairResult:
    """Rebuild tenant ``name``'s file of ``branch`` to the journal's schema at its cursor
    (see the module docstring). A lazy tenant (no file) or a file that matches has nothing
    to repair: the result lists no differences.

    Raises:
        TenantNotFoundError: no such tenant.
        TenantError: an encrypted tenant whose key is not at hand.
        TenantFileError: the file is damaged (restore it from a backup).
        TenantDivergedError: the file's cursor is not on the branch (``cinch tenant reset``).
        RepairRefusedError: the repair would lose data, naming what; nothing was changed.
    """
    if not files.exists(name):
        raise TenantNotFoundError(files.database, name)
    encrypted = name in files.encrypted_names()
    if encrypted and name not in files.keys:
        raise TenantError(f"Tenant '{name}' is encrypted: give its key to repair it")
    path = files.path(branch, name)
    result: RepairResult = {"tenant": name, "branch": branch, "differences": [], "rows_kept": 0}
    if not path.exists():
        return result
    require_whole(path, name, encrypted=encrypted)
    # The cached connection would catch the file up to the head first: a drifted file may not
    # take the pending events. The repair works at the file's own cursor, on its own
    # connection; the next open catches it up.
    files.forget(branch, name)
    conn = open_tenant_file(path, files.encryption.raw_key(name), name)
    try:
        with internal(conn):
            return _repair_file(files, conn, branch, name, result)
    finally:
        conn.close()


def _repair_file(
    files: TenantFiles,
    conn: sqlite3.Connection,
    branch: str,
    name: str,
    result: RepairResult,
) -> RepairResult:
    head = files.store.branch_head(files.database, branch)
    chain = {event.id for event in files.store.chain(files.database, head)}
    conn.execute("PRAGMA foreign_keys = OFF")  # no effect inside a transaction: set before it
    conn.execute("PRAGMA legacy_alter_table = ON")  # renaming a table leaves others' SQL alone
    try:
        with transaction(conn):
            cursor = read_cursor(conn)
            if cursor is not None and cursor not in chain:
                raise TenantDivergedError(files.path(branch, name), cursor)
            expected = files.fold_at(cursor)
            actual = introspect(conn, ignore=FOREIGN_TABLES)
            differences = schema_differences(expected, actual)
            result["differences"] = differences
            if not differences:
                return result
            losses = _losses(conn, expected, actual)
            if losses:
                raise RepairRefusedError(name, branch, losses)
            result["rows_kept"] = _rebuild(conn, name, branch, expected, actual)
            if introspect(conn, ignore=FOREIGN_TABLES).canonical() != expected.canonical():
                left = schema_differences(expected, introspect(conn, ignore=FOREIGN_TABLES))
                raise TenantError(
                    f"Tenant '{name}' on branch '{branch}' could not be repaired: after the"
                    f" rebuild {left[0]['object']} still differs; nothing was changed"
                )
    finally:
        conn.execute("PRAGMA legacy_alter_table = OFF")
        conn.execute("PRAGMA foreign_keys = ON")
    return result


def _count(conn: sqlite3.Connection, sql: str) -> int:
    return int(conn.execute(sql).fetchone()[0])


def _losses(conn: sqlite3.Connection, expected: Schema, actual: Schema) -> list[str]:
    """What rebuilding ``actual`` as ``expected`` would lose, one phrase each."""
    losses: list[str] = []
    for table in actual.tables:
        wanted = expected.table(table.name)
        if wanted is None:
            rows = _count(conn, f"SELECT count(*) FROM {quote(table.name)}")
            if rows:
                losses.append(f"table {table.name} holds {rows} rows and the journal has no"
                              " such table")  # fmt: skip
            continue
        for column in table.columns:
            if wanted.column(column.name) is None and column.generated is None:
                values = _count(conn, f"SELECT count({quote(column.name)})"
                                      f" FROM {quote(table.name)}")  # fmt: skip
                if values:
                    losses.append(f"column {table.name}.{column.name} holds {values} values and"
                                  " the journal has no such column")  # fmt: skip
        counted: int | None = None
        for column in wanted.columns:
            needs_value = column.not_null and column.default is None and column.generated is None
            if needs_value and table.column(column.name) is None:
                if counted is None:
                    counted = _count(conn, f"SELECT count(*) FROM {quote(table.name)}")
                if counted:
                    losses.append(
                        f"column {table.name}.{column.name} is NOT NULL without a default in the"
                        f" journal, and the file has no such column to fill its {counted} rows"
                    )
    return losses


def _user_objects(conn: sqlite3.Connection, kind: str) -> list[str]:
    names = conn.execute(
        "SELECT name, tbl_name FROM sqlite_schema WHERE type = ? AND sql IS NOT NULL", (kind,)
    ).fetchall()
    return [
        str(name)
        for name, table in names
        if not str(name).startswith(_SYSTEM_PREFIXES)
        and not str(table).startswith("__")
        and fold_name(str(table)) not in _FOREIGN
    ]


def _rebuild(
    conn: sqlite3.Connection, tenant: str, branch: str, expected: Schema, actual: Schema
) -> int:
    """Make ``actual`` (the file's schema) ``expected`` inside the open transaction: every
    trigger, view and index is dropped and made again from the journal; each table that
    differs is made anew and its rows copied column by column. How many rows were copied."""
    for kind in ("trigger", "view", "index"):
        for object_name in _user_objects(conn, kind):
            conn.execute(f"DROP {kind.upper()} {quote(object_name)}")
    want = expected.canonical()["tables"]
    have = {fold_name(t["name"]): t for t in actual.canonical()["tables"]}
    copied = 0
    for table, shape in zip(expected.tables, _in_order(expected, want), strict=True):
        old = actual.table(table.name)
        if old is not None and have.get(fold_name(table.name)) == shape:
            continue
        if old is None:
            conn.execute(render_create_table(table))
            continue
        copied += _rebuild_table(conn, tenant, branch, table, old)
    for table in actual.tables:
        if expected.table(table.name) is None:
            conn.execute(f"DROP TABLE {quote(table.name)}")  # empty: checked by _losses
    for index in expected.indexes:
        _run(conn, tenant, branch, f"index {index.name}", render_create_index(index))
    for view in expected.views:
        _run(conn, tenant, branch, f"view {view.name}", view.sql)
    for trigger in expected.triggers:
        _run(conn, tenant, branch, f"trigger {trigger.name}", trigger.sql)
    broken = conn.execute("PRAGMA foreign_key_check").fetchone()
    if broken is not None:
        raise RepairRefusedError(
            tenant, branch, [f"rows of table {broken[0]} break its foreign key to {broken[2]}"]
        )
    return copied


def _in_order(expected: Schema, canonical: list[dict[str, object]]) -> list[dict[str, object]]:
    """The canonical tables (sorted by name) in the schema's own order."""
    by_name = {fold_name(str(t["name"])): t for t in canonical}
    return [by_name[fold_name(t.name)] for t in expected.tables]


def _rebuild_table(
    conn: sqlite3.Connection, tenant: str, branch: str, table: TableDef, old: TableDef
) -> int:
    """Make ``table`` anew from its journal definition and copy ``old``'s rows into the columns
    both have; how many rows. The old rows wait under a scratch name until copied."""
    conn.execute(f"ALTER TABLE {quote(old.name)} RENAME TO {quote(_OLD)}")
    conn.execute(render_create_table(table))
    common = [
        quote(column.name)
        for column in table.columns
        if column.generated is None
        and (mine := old.column(column.name)) is not None
        and mine.generated is None
    ]
    if common:
        names = ", ".join(common)
        copy = f"INSERT INTO {quote(table.name)} ({names}) SELECT {names} FROM {quote(_OLD)}"
        _run(conn, tenant, branch, f"table {table.name}", copy)
    rows = _count(conn, f"SELECT count(*) FROM {quote(_OLD)}")
    conn.execute(f"DROP TABLE {quote(_OLD)}")
    return rows


def _run(conn: sqlite3.Connection, tenant: str, branch: str, what: str, sql: str) -> None:
    """Run one statement of the rebuild; SQLite refusing it (a UNIQUE, NOT NULL or CHECK the
    rows break, a view the journal's tables cannot compile) refuses the repair."""
    try:
        conn.execute(sql)
    except drivers.Error as e:
        problem = str(e).replace(_OLD, "the file's old table")
        raise RepairRefusedError(tenant, branch, [f"{what}: SQLite refuses it: {problem}"]) from e
