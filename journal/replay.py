"""Apply operations to a live SQLite connection, all or nothing.

Everything runs in one ``BEGIN IMMEDIATE`` transaction: the DDL of every operation, a foreign
key check, and whatever the caller adds in ``before_commit`` (CinchDB writes the tenant's
applied-event cursor there, so a tenant is always exactly at some event). ``foreign_keys`` is
switched off around the transaction, as the table-rebuild procedure requires (the pragma is a
no-op inside a transaction), and restored afterwards.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable

from journal.ddl import statements
from journal.errors import JournalError
from journal.events import Operation
from journal.fold import apply
from journal.schema import Schema


class ReplayError(JournalError, ValueError):
    """A statement failed on this database (typically: existing rows violate the change)."""

    def __init__(self, operation: Operation, statement: str, reason: str) -> None:
        self.operation = operation
        self.statement = statement
        self.reason = reason
        super().__init__(f"{operation.type} failed: {reason}")


def apply_operations(
    conn: sqlite3.Connection,
    schema: Schema,
    operations: Iterable[Operation],
    *,
    after_begin: Callable[[sqlite3.Connection], None] | None = None,
    before_commit: Callable[[sqlite3.Connection], None] | None = None,
    dry_run: bool = False,
) -> Schema:
    """Run ``operations`` on ``conn`` (currently at ``schema``); return the schema after.

    With ``dry_run`` the transaction is rolled back after every check has passed: the way to
    find out whether existing rows allow a change (preflight). ``after_begin`` runs first inside
    the transaction, holding the write lock: the place to check that another process has not
    already applied these operations (raise to roll back). The connection must be in
    autocommit mode (``isolation_level=None``) with no transaction open.
    """
    if conn.in_transaction:
        raise JournalError("apply_operations needs a connection with no open transaction")
    foreign_keys = conn.execute("PRAGMA foreign_keys").fetchone()[0]
    if foreign_keys:
        conn.execute("PRAGMA foreign_keys = OFF")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if after_begin is not None:
                after_begin(conn)
            for operation in operations:
                after = apply(schema, operation)
                for statement in statements(schema, operation, after):
                    try:
                        conn.execute(statement)
                    except sqlite3.Error as e:
                        raise ReplayError(operation, statement, str(e)) from e
                schema = after
                if foreign_keys:
                    _check_foreign_keys(conn, operation)
            if before_commit is not None:
                before_commit(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("ROLLBACK" if dry_run else "COMMIT")
    finally:
        conn.execute("PRAGMA legacy_alter_table = OFF")
        if foreign_keys:
            conn.execute("PRAGMA foreign_keys = ON")
    return schema


def _check_foreign_keys(conn: sqlite3.Connection, operation: Operation) -> None:
    violation = conn.execute("PRAGMA foreign_key_check").fetchone()
    if violation is not None:
        table, rowid, parent, _ = violation
        raise ReplayError(
            operation,
            "PRAGMA foreign_key_check",
            f"row {rowid} of table '{table}' would violate its foreign key to '{parent}'",
        )
