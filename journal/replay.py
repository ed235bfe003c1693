"""Apply operations to a live SQLite connection, all or nothing.

Everything runs in one ``BEGIN IMMEDIATE`` transaction: the DDL of every operation, a foreign
key check, and whatever the caller adds in ``before_commit`` (CinchDB writes the tenant's
applied-event cursor there, so a tenant is always exactly at some event). ``foreign_keys`` is
switched off around the transaction, as the table-rebuild procedure requires (the pragma is a
no-op inside a transaction), and restored afterwards.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence

import attrs
from typing_extensions import assert_never

from journal import drivers
from journal.ddl import in_user_terms, statements
from journal.errors import JournalError

# Re-exported: ReplayError was defined here before it moved to journal.errors.
from journal.errors import ReplayError as ReplayError
from journal.events import (
    ColumnAdded,
    ColumnAltered,
    ColumnDropped,
    ColumnRenamed,
    DataMigrated,
    IndexCreated,
    IndexDropped,
    Operation,
    TableCreated,
    TableDropped,
    TableRenamed,
    TriggerCreated,
    TriggerDropped,
    ViewCreated,
    ViewDropped,
    ViewReplaced,
)
from journal.fold import apply
from journal.schema import Schema
from journal.transactions import transaction


@attrs.frozen
class Step:
    """One operation and the statements that carry it out on a database at the schema before
    it (from :func:`plan`). Callers that replay one event into many files keep its steps."""

    operation: Operation
    statements: tuple[str, ...]


def plan(schema: Schema, operations: Iterable[Operation]) -> tuple[tuple[Step, ...], Schema]:
    """The steps that take a database at ``schema`` through ``operations``, and the schema
    after them. Pure: raises SchemaError if an operation does not apply."""
    steps: list[Step] = []
    for operation in operations:
        after = apply(schema, operation)
        steps.append(Step(operation, tuple(statements(schema, operation, after))))
        schema = after
    return tuple(steps), schema


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

    :func:`plan` then :func:`apply_steps` (see there for the arguments).
    """
    steps, after = plan(schema, operations)
    apply_steps(conn, steps, after_begin=after_begin, before_commit=before_commit, dry_run=dry_run)
    return after


def apply_steps(
    conn: sqlite3.Connection,
    steps: Sequence[Step],
    *,
    after_begin: Callable[[sqlite3.Connection], None] | None = None,
    before_commit: Callable[[sqlite3.Connection], None] | None = None,
    dry_run: bool = False,
) -> tuple[int, ...]:
    """Run planned ``steps`` on ``conn``, which must be at the schema they were planned from;
    the rows each step's statements changed (their ``rowcount``): for a data step, the rows
    its INSERT, UPDATE or DELETE touched, not counting those its triggers changed (a schema
    step's count is only the rows a table rebuild copied).

    With ``dry_run`` the transaction is rolled back after every check has passed: the way to
    find out whether existing rows allow a change (preflight). ``after_begin`` runs first inside
    the transaction, holding the write lock: the place to check that another process has not
    already applied these operations (raise to roll back). The connection must be in
    autocommit mode (``isolation_level=None``) with no transaction open.
    """
    if conn.in_transaction:
        raise JournalError("apply_operations needs a connection with no open transaction")
    # Foreign keys are switched off only for operations that need it (table rebuilds, drops,
    # renames) and then checked; the common additions skip three pragmas and a full check.
    foreign_keys = False
    if not all(_keeps_foreign_keys(step.operation) for step in steps):
        foreign_keys = bool(conn.execute("PRAGMA foreign_keys").fetchone()[0])
    if foreign_keys:
        conn.execute("PRAGMA foreign_keys = OFF")
    legacy_alter = False
    rows: list[int] = []
    try:
        with transaction(conn, commit=not dry_run):
            if after_begin is not None:
                after_begin(conn)
            for step in steps:
                changed = 0
                for statement in step.statements:
                    legacy_alter = legacy_alter or "legacy_alter_table" in statement
                    try:
                        changed += max(conn.execute(statement).rowcount, 0)
                    except drivers.Error as e:
                        reason = in_user_terms(str(e), step.operation)
                        raise ReplayError(step.operation, statement, reason) from e
                rows.append(changed)
                if foreign_keys:
                    _check_foreign_keys(conn, step.operation)
            if before_commit is not None:
                before_commit(conn)
    finally:
        if legacy_alter:
            conn.execute("PRAGMA legacy_alter_table = OFF")
        if foreign_keys:
            conn.execute("PRAGMA foreign_keys = ON")
    return tuple(rows)


def _keeps_foreign_keys(operation: Operation) -> bool:
    """Whether ``operation`` runs as plain DDL that cannot orphan a row, so foreign keys can
    stay on. An added column with a REFERENCES clause is fine too: with foreign keys on,
    SQLite itself refuses one whose default is not NULL."""
    match operation:
        case ColumnAdded():
            return operation.references is None or operation.column.default is None
        case (
            TableCreated()
            | IndexCreated()
            | IndexDropped()
            | ViewCreated()
            | ViewReplaced()
            | ViewDropped()
            | TriggerCreated()
            | TriggerDropped()
            | ColumnRenamed()
        ):
            return True
        case DataMigrated():
            # Foreign keys stay on: a data step's rows are checked by SQLite as it runs, the
            # same as the user's own writes.
            return True
        case TableDropped() | TableRenamed() | ColumnDropped() | ColumnAltered():
            # Rebuilds, implicit deletes and renames that rewrite references.
            return False
        case _:
            assert_never(operation)


def _check_foreign_keys(conn: sqlite3.Connection, operation: Operation) -> None:
    violation = conn.execute("PRAGMA foreign_key_check").fetchone()
    if violation is not None:
        table, rowid, parent, _ = violation
        raise ReplayError(
            operation,
            "PRAGMA foreign_key_check",
            f"row {rowid} of table '{table}' would violate its foreign key to '{parent}'",
        )
