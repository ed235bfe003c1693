"""What history says about data steps: the rows each changed (``log``), and how many lie
between two refs (``diff`` compares schemas only, and says so).

A data step (``DataMigrated``) changes rows, not the schema, so two refs a diff calls equal can
still differ by the data steps their tenants ran. Counted here: the data steps of the events
reachable from exactly one of the two events compared. A merge event is not counted again: its
operations are the merged branch's own events, which are counted where they were made (and when
both refs have those events, neither has a data step the other lacks).
"""

from __future__ import annotations

from cinchdb._data_step_rows import data_step_rows
from cinchdb.changes import SchemaChanges
from cinchdb.results import DataStepRows
from journal.events import BranchesMerged, DataMigrated, Event


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


def data_steps_between(changes: SchemaChanges, from_id: str | None, to_id: str | None) -> list[str]:
    """The ids of the events holding data steps reachable from one of ``from_id`` and ``to_id``
    and not from the other, oldest first, one entry per data step (an event may hold several:
    a revert whose down SQL has more than one statement)."""
    if from_id == to_id:
        return []
    graph = changes.store.graph(changes.database)
    reach = [set() if e is None else graph.ancestors(e) | {e} for e in (from_id, to_id)]
    between = reach[0] ^ reach[1]
    order = [] if to_id is None else list(reversed(graph.log_order(to_id)))
    if from_id is not None:
        order += [i for i in reversed(graph.log_order(from_id)) if i not in reach[1]]
    found: list[str] = []
    for event in changes.store.events([i for i in order if i in between]):
        if isinstance(event.change, BranchesMerged):
            continue
        found += [event.id for op in event.operations if isinstance(op, DataMigrated)]
    return found
