"""Schema operations as the SDK hands them out (:meth:`cinchdb.CinchDB.diff`): what each one
does, in a line and in SQL.

The operations are the journal's own values; these two functions are the SDK's word on how
to show them, so callers (the ``cinch`` command line among them) need not reach into the
journal.
"""

from __future__ import annotations

from journal.ddl import render_operation
from journal.events import Operation, summarize

__all__ = ["Operation", "operation_sql", "operation_summary"]


def operation_summary(operation: Operation) -> str:
    """One line saying what ``operation`` does, as ``cinch log`` shows events."""
    return summarize(operation)


def operation_sql(operation: Operation) -> str:
    """The SQL spelling of ``operation`` on its own, as :meth:`cinchdb.CinchDB.migrate` reads it
    back (a type, nullability or default change is CinchDB's ``ALTER COLUMN`` extension)."""
    return render_operation(operation)
