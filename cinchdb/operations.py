"""Schema operations as the SDK hands them out (:meth:`cinchdb.CinchDB.diff`): what each one
does, in a line and in SQL; and what a data step changed, in a line.

The operations are the journal's own values; these two functions are the SDK's word on how
to show them, so callers (the ``cinch`` command line among them) need not reach into the
journal.
"""

from __future__ import annotations

from cinchdb._data_step_rows import summary_text
from cinchdb.results import DataStepRows
from journal.ddl import render_operation
from journal.events import Operation, summarize

__all__ = ["Operation", "data_step_summary", "operation_sql", "operation_summary"]


def operation_summary(operation: Operation) -> str:
    """One line saying what ``operation`` does, as ``cinch log`` shows events."""
    return summarize(operation)


def operation_sql(operation: Operation) -> str:
    """The SQL spelling of ``operation`` on its own, as :meth:`cinchdb.CinchDB.migrate` reads it
    back (a type, nullability or default change is CinchDB's ``ALTER COLUMN`` extension)."""
    return render_operation(operation)


def data_step_summary(rows: DataStepRows) -> str:
    """One line saying what a data step changed (``migrate(...).data_steps``): ``12 rows in 3
    tenants (most: 5 in 'acme')``, and the branch template's rows when it has some."""
    return summary_text(rows)
