"""The semantic check of a merge, in SQLite itself.

Base + ours + theirs and base + theirs + ours are replayed into two in-memory databases. Both
must replay, every view and trigger of both must compile, and both must give the same schema
(up to the order of columns, which follows the order the two sides' additions were applied).
This catches what no object-level rule sees: a view of one side that selects from a column the
other side's change made ambiguous, a trigger body that no longer compiles, and so on.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from journal.errors import SchemaError
from journal.events import IndexCreated, Operation, TableCreated, TriggerCreated, ViewCreated
from journal.introspect import introspect
from journal.merge import SEMANTIC, Conflict
from journal.names import quote
from journal.replay import ReplayError, apply_operations
from journal.schema import Schema


def base_operations(schema: Schema) -> list[Operation]:
    """Operations that build ``schema`` from nothing (tables, indexes, views, triggers)."""
    return [
        *(TableCreated(table=t) for t in schema.tables),
        *(IndexCreated(index=i) for i in schema.indexes),
        *(ViewCreated(view=v) for v in schema.views),
        *(TriggerCreated(trigger=t) for t in schema.triggers),
    ]


def _replay(
    base: Schema, first: Sequence[Operation], second: Sequence[Operation]
) -> tuple[sqlite3.Connection, list[Conflict]]:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    schema = apply_operations(conn, Schema(), base_operations(base))
    for ops in (first, second):
        try:
            schema = apply_operations(conn, schema, ops)
        except ReplayError as e:
            return conn, [
                Conflict(
                    kind=SEMANTIC,
                    object=e.operation.type,
                    message=f"The merged changes do not replay in SQLite: {e}",
                    theirs=e.statement,
                )
            ]
        except SchemaError as e:
            # Only the reverse order can get here: the forward one was folded already.
            return conn, [
                Conflict(
                    kind=SEMANTIC,
                    object="schema",
                    message=f"The two sides' changes apply in one order but not in the other: {e}",
                )
            ]
    return conn, []


def compile_errors(conn: sqlite3.Connection) -> list[Conflict]:
    """Every view is selected from and every trigger's table written to (with EXPLAIN, so
    nothing runs): SQLite compiles trigger bodies only when a statement fires them."""
    found: list[Conflict] = []
    rows = conn.execute(
        "SELECT type, name, tbl_name FROM sqlite_schema WHERE type IN ('view', 'trigger')"
    ).fetchall()
    for kind, name, table in rows:
        statements: list[str]
        if kind == "view":
            statements = [f"SELECT * FROM {quote(name)} LIMIT 0"]
        else:
            columns = [r[1] for r in conn.execute(f"PRAGMA table_xinfo({quote(table)})")]
            sets = ", ".join(f"{quote(c)} = {quote(c)}" for c in columns)
            statements = [
                f"EXPLAIN INSERT INTO {quote(table)} DEFAULT VALUES",
                f"EXPLAIN UPDATE {quote(table)} SET {sets}" if sets else "",
                f"EXPLAIN DELETE FROM {quote(table)}",
            ]
        for statement in filter(None, statements):
            try:
                conn.execute(statement).fetchall()
            except sqlite3.Error as e:
                if "cannot modify" in str(e) or "generated column" in str(e):
                    continue  # a view without an INSTEAD OF trigger for this statement
                found.append(
                    Conflict(
                        kind=SEMANTIC,
                        object=f"{kind} {name}",
                        message=f"After the merge {kind} '{name}' does not compile: {e}",
                    )
                )
                break
    return found


def _unordered(schema: Schema) -> dict[str, Any]:
    canonical = schema.canonical()
    for table in canonical["tables"]:
        table["columns"] = sorted(table["columns"], key=lambda c: str(c.get("name", "")))
    return canonical


def semantic_check(
    base: Schema,
    ours: Sequence[Operation],
    theirs_on_ours: Sequence[Operation],
    theirs: Sequence[Operation],
    ours_on_theirs: Sequence[Operation],
) -> list[Conflict]:
    """Conflicts found by replaying both orders into SQLite (empty: the merge is sound)."""
    one, conflicts = _replay(base, ours, theirs_on_ours)
    two, more = _replay(base, theirs, ours_on_theirs)
    try:
        conflicts += more
        if conflicts:
            return conflicts
        conflicts += compile_errors(one)
        if conflicts:
            return conflicts
        a, b = _unordered(introspect(one)), _unordered(introspect(two))
        if a != b:
            differing = sorted(
                {
                    f"{kind[:-1]} {item['name']}"
                    for kind in ("tables", "indexes", "views", "triggers")
                    for item in a[kind] + b[kind]
                    if (item in a[kind]) != (item in b[kind])
                }
            )
            conflicts.append(
                Conflict(
                    kind=SEMANTIC,
                    object=", ".join(differing) or "schema",
                    message="The two sides' changes give different schemas depending on which is"
                    f" applied first: {', '.join(differing)}",
                )
            )
        return conflicts
    finally:
        one.close()
        two.close()
