"""Apply operations to a live SQLite connection, all or nothing.

Everything runs in one ``BEGIN IMMEDIATE`` transaction: the DDL of every operation, a foreign
key check, and whatever the caller adds in ``before_commit`` (CinchDB writes the tenant's
applied-event cursor there, so a tenant is always exactly at some event). ``foreign_keys`` is
switched off around the transaction, as the table-rebuild procedure requires (the pragma is a
no-op inside a transaction), and restored afterwards.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Iterable

from journal import drivers
from journal.ddl import statements
from journal.errors import JournalError
from journal.events import (
    ColumnAdded,
    ColumnRenamed,
    IndexCreated,
    IndexDropped,
    Operation,
    TableCreated,
    TriggerCreated,
    TriggerDropped,
    ViewCreated,
    ViewDropped,
    ViewReplaced,
)
from journal.fold import apply
from journal.schema import Schema
from journal.transactions import transaction


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
    operations = tuple(operations)
    # Foreign keys are switched off only for operations that need it (table rebuilds, drops,
    # renames) and then checked; the common additions skip three pragmas and a full check.
    foreign_keys = False
    if not all(_keeps_foreign_keys(operation) for operation in operations):
        foreign_keys = bool(conn.execute("PRAGMA foreign_keys").fetchone()[0])
    if foreign_keys:
        conn.execute("PRAGMA foreign_keys = OFF")
    legacy_alter = False
    try:
        with transaction(conn, commit=not dry_run):
            if after_begin is not None:
                after_begin(conn)
            for operation in operations:
                after, steps = _plan(schema, operation)
                for statement in steps:
                    legacy_alter = legacy_alter or "legacy_alter_table" in statement
                    try:
                        conn.execute(statement)
                    except drivers.Error as e:
                        raise ReplayError(operation, statement, str(e)) from e
                schema = after
                if foreign_keys:
                    _check_foreign_keys(conn, operation)
            if before_commit is not None:
                before_commit(conn)
    finally:
        if legacy_alter:
            conn.execute("PRAGMA legacy_alter_table = OFF")
        if foreign_keys:
            conn.execute("PRAGMA foreign_keys = ON")
    return schema


_NO_FOREIGN_KEY_RISK = (
    TableCreated,
    IndexCreated,
    IndexDropped,
    ViewCreated,
    ViewReplaced,
    ViewDropped,
    TriggerCreated,
    TriggerDropped,
    ColumnRenamed,
)


def _keeps_foreign_keys(operation: Operation) -> bool:
    """Whether ``operation`` runs as plain DDL that cannot orphan a row, so foreign keys can
    stay on. An added column with a REFERENCES clause is fine too: with foreign keys on,
    SQLite itself refuses one whose default is not NULL."""
    if isinstance(operation, ColumnAdded):
        return operation.references is None or operation.column.default is None
    return isinstance(operation, _NO_FOREIGN_KEY_RISK)


# Replaying one event into many tenant files starts from the same schema value every time
# (the fold cache hands out one object per event); the schema after it and its statements are
# computed once and reused. Entries keep their keys' objects alive, so ids cannot be recycled.
_PLANS: OrderedDict[tuple[int, int], tuple[Schema, Operation, Schema, tuple[str, ...]]] = (
    OrderedDict()
)
_PLAN_CACHE_SIZE = 256


def _plan(schema: Schema, operation: Operation) -> tuple[Schema, tuple[str, ...]]:
    key = (id(schema), id(operation))
    hit = _PLANS.get(key)
    if hit is not None and hit[0] is schema and hit[1] is operation:
        return hit[2], hit[3]
    after = apply(schema, operation)
    steps = tuple(statements(schema, operation, after))
    _PLANS[key] = (schema, operation, after, steps)
    while len(_PLANS) > _PLAN_CACHE_SIZE:
        _PLANS.popitem(last=False)
    return after, steps


def _check_foreign_keys(conn: sqlite3.Connection, operation: Operation) -> None:
    violation = conn.execute("PRAGMA foreign_key_check").fetchone()
    if violation is not None:
        table, rowid, parent, _ = violation
        raise ReplayError(
            operation,
            "PRAGMA foreign_key_check",
            f"row {rowid} of table '{table}' would violate its foreign key to '{parent}'",
        )
