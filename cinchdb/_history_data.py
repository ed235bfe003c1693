"""What history says about the rows data steps changed: one summary per data step of an event,
for ``log`` and ``data_step_rows``, read from the local counts ``cinchdb._data_step_rows``
keeps (``diff``'s count of data steps between two refs is ``journal.diff.count_data_steps``).
"""

from __future__ import annotations

from cinchdb._data_step_rows import data_step_rows
from cinchdb.changes import SchemaChanges
from cinchdb.results import DataStepRows
from journal.events import DataMigrated, Event


def event_data_steps(
    changes: SchemaChanges, event: Event, branch: str | None = None
) -> list[DataStepRows]:
    """One summary per data step of ``event`` (none for an event without one), in step order,
    with the rows it changed in ``branch``'s files (every branch's when None) as recorded on
    this machine. A step no file here has applied (history pulled from git, a branch whose
    tenants have not caught up) reads as 0 rows in 0 tenants with ``template`` None."""
    steps = [(i, op) for i, op in enumerate(event.operations) if isinstance(op, DataMigrated)]
    if not steps:
        return []
    recorded = {
        r["step"]: r
        for r in data_step_rows(changes.store, changes.database, event.id, branch=branch)
    }
    found: list[DataStepRows] = []
    for index, op in steps:
        rows = recorded.get(index)
        if rows is None:
            rows = DataStepRows(event_id=event.id, step=index, sql=op.sql, total=0, tenants=0,
                                max=0, max_tenant=None, template=None, per_tenant={})  # fmt: skip
        found.append({**rows, "sql": op.sql})
    return found
