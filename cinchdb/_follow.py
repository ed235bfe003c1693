"""A tenant file that followed another git branch, brought back onto the checked-out history.

After ``git switch`` the text history moves a CinchDB branch to another line of events, but a
local tenant file stays at the event it was last brought to: one the checked-out history lacks.
Its events are still in ``metadata.db`` (events are never removed), so the way back is the
inverse of the file's extra events (those since the common first-parent ancestor with the head),
then forward to the head, in one transaction with the cursor.

Whether that loses data depends on the rows, not only on the schema: undoing a table or column
that the other git branch created drops what was written to it, and that is refused only when
there is something to drop (a row in the table, a non-NULL value in the column). Everything
else the inverse does brings back a definition (a dropped table or column comes back empty or
at its default) and keeps every row the file holds now, so it goes through.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import attrs
from typing_extensions import assert_never

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
from journal.inverse import inverse_operations
from journal.names import fold_name, quote

__all__ = ["AtStake", "at_stake", "inverse_operations", "losses"]


@attrs.define
class AtStake:
    """Tables and columns the extra events created that the file still has, under the names
    the file has them by now: what undoing those events drops."""

    tables: dict[str, str] = attrs.field(factory=dict)  # folded name -> name
    columns: list[tuple[str, str]] = attrs.field(factory=list)  # (table, column)


def at_stake(operations: Sequence[Operation]) -> AtStake:
    """Follow what ``operations`` (the file's extra events, oldest first) created through
    their later renames and drops."""
    stake = AtStake()

    def same(a: str, b: str) -> bool:
        return fold_name(a) == fold_name(b)

    for op in operations:
        match op:
            case TableCreated():
                stake.tables[fold_name(op.table.name)] = op.table.name
            case TableRenamed():
                if stake.tables.pop(fold_name(op.table), None) is not None:
                    stake.tables[fold_name(op.new_name)] = op.new_name
                stake.columns = [
                    (op.new_name if same(t, op.table) else t, c) for t, c in stake.columns
                ]
            case TableDropped():
                stake.tables.pop(fold_name(op.table), None)
                stake.columns = [(t, c) for t, c in stake.columns if not same(t, op.table)]
            case ColumnAdded():
                # A column of a table the extra events created goes with the table.
                if fold_name(op.table) not in stake.tables:
                    stake.columns.append((op.table, op.column.name))
            case ColumnRenamed():
                stake.columns = [
                    (t, op.new_name if same(t, op.table) and same(c, op.column) else c)
                    for t, c in stake.columns
                ]
            case ColumnDropped():
                stake.columns = [
                    (t, c)
                    for t, c in stake.columns
                    if not (same(t, op.table) and same(c, op.column))
                ]
            case (
                ColumnAltered()
                | IndexCreated()
                | IndexDropped()
                | ViewCreated()
                | ViewReplaced()
                | ViewDropped()
                | TriggerCreated()
                | TriggerDropped()
                | DataMigrated()
            ):
                pass  # no rows or values of their own: undoing them drops no data
            case _:
                assert_never(op)
    return stake


def losses(conn: sqlite3.Connection, stake: AtStake) -> list[str]:
    """What undoing the extra events would drop from the file at ``conn`` (at the file's
    cursor): sentences naming each table with rows and each column with values."""
    found: list[str] = []
    for table in stake.tables.values():
        (count,) = conn.execute(f"SELECT COUNT(*) FROM {quote(table)}").fetchone()
        if count:
            found.append(f"table '{table}' and its {count} row(s)")
    for table, column in stake.columns:
        (count,) = conn.execute(
            f"SELECT COUNT(*) FROM {quote(table)} WHERE {quote(column)} IS NOT NULL"
        ).fetchone()
        if count:
            found.append(f"column '{table}.{column}' and its values in {count} row(s)")
    return found
