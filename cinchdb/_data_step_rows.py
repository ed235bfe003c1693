"""Rows each data step changed in each tenant: local state in ``metadata.db``.

A data step (``journal.events.DataMigrated``: one INSERT, UPDATE or DELETE of a migration) is
replayed into every tenant file of a branch, each in the transaction that moves the file's
cursor. How many rows it changed there is a fact about this machine's files, not about the
schema history: it lives in ``cinch_data_step_rows`` beside the tenant registry, never in the
journal or its text history (a clone of the project has other tenants and other rows).

Counts are written after the tenant's own transaction, by whichever process applied the step
(the committing one's propagation, or a later catch-up when a file is opened). A crash between
the two leaves the step applied and its count missing for that tenant: the count is reporting,
the tenant's cursor is the truth. A count is written once per (event, step, branch, tenant)
and replaced if written again (two processes racing to the same file: only one applies it).

The branch template is recorded under :data:`TEMPLATE_ROW` (it holds the rows reference-data
inserts put there, which lazy tenants read); it is reported apart from the tenants.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import attrs

from cinchdb._tenant_crypto import TEMPLATE_KEY
from cinchdb.errors import ProjectError
from cinchdb.results import DataStepRows
from journal.store import JournalStore

if TYPE_CHECKING:
    from journal.events import Event

__all__ = [
    "ROWS_VERSION",
    "TEMPLATE_ROW",
    "StepCount",
    "count_rows",
    "data_step_rows",
    "record_rows",
    "summary_of",
    "summary_text",
]

#: Version of the counts table, kept in ``cinch_meta`` under ``data_step_rows`` (beside the
#: registry's ``registry`` and the key table's ``api_keys``). 1: ``cinch_data_step_rows``.
ROWS_VERSION = 1
_META = "data_step_rows"
#: The name the branch template's counts are recorded under (no tenant name starts with '_').
TEMPLATE_ROW = TEMPLATE_KEY
_META_TABLE = "CREATE TABLE IF NOT EXISTS cinch_meta (name TEXT PRIMARY KEY, version INTEGER)"
# ``step`` is the position of the data step among its event's operations: a merge or a revert
# carries several operations, a migration's event one.
_ROWS_TABLE = """
    CREATE TABLE IF NOT EXISTS cinch_data_step_rows (
        event_id TEXT NOT NULL,
        step INTEGER NOT NULL,
        database TEXT NOT NULL,
        branch TEXT NOT NULL,
        tenant TEXT NOT NULL,
        rows INTEGER NOT NULL,
        PRIMARY KEY (database, event_id, step, branch, tenant)
    ) WITHOUT ROWID
"""
_log = logging.getLogger("cinchdb")


@attrs.frozen
class StepCount:
    """Rows one data step changed in one file: the step is operation ``step`` of event
    ``event_id``."""

    event_id: str
    step: int
    rows: int


def data_positions(events: Sequence[tuple[Event, int]]) -> list[tuple[int, str, int]]:
    """(position among the events' steps, event id, operation index) of each data step, for
    events given with their number of steps (``len(plans.steps(event))``), in order."""
    marks: list[tuple[int, str, int]] = []
    position = 0
    for event, count in events:
        for index, operation in enumerate(event.operations):
            if operation.type == "DataMigrated":
                marks.append((position + index, event.id, index))
        position += count
    return marks


def count_rows(rows: Sequence[int], marks: Sequence[tuple[int, str, int]]) -> tuple[StepCount, ...]:
    """The counts of the data steps (as :func:`data_positions` marks them) among the rows
    :func:`journal.replay.apply_steps` returned for their steps."""
    return tuple(StepCount(event_id, index, rows[at]) for at, event_id, index in marks)


def record_rows(
    store: JournalStore, database: str, branch: str, counts: Iterable[tuple[str, StepCount]]
) -> None:
    """Record (tenant, count) pairs in one transaction. Never raises for the store's own
    trouble (locked, read-only): the counts are reporting, and the steps they count were
    already committed in the tenants' files; it is logged instead."""
    listed = [(c.event_id, c.step, database, branch, tenant, c.rows) for tenant, c in counts]
    if not listed:
        return
    try:
        with store.transaction() as conn:
            _prepare(conn)
            conn.executemany(
                "INSERT OR REPLACE INTO cinch_data_step_rows"
                " (event_id, step, database, branch, tenant, rows) VALUES (?, ?, ?, ?, ?, ?)",
                listed,
            )
    except (sqlite3.Error, ProjectError) as e:
        _log.warning("row counts of %d data steps not recorded: %s", len(listed), e)


def _prepare(conn: sqlite3.Connection) -> None:
    """Create the table on first use, inside the caller's write transaction."""
    version = _version(conn)
    if version == ROWS_VERSION:
        return
    if version > ROWS_VERSION:
        raise ProjectError(
            f"cinch_data_step_rows has version {version}, newer than this CinchDB understands"
            f" ({ROWS_VERSION}); upgrade CinchDB"
        )
    conn.execute(_ROWS_TABLE)
    conn.execute(_META_TABLE)
    conn.execute(
        "INSERT OR REPLACE INTO cinch_meta (name, version) VALUES (?, ?)", (_META, ROWS_VERSION)
    )


def _version(conn: sqlite3.Connection) -> int:
    try:
        row = conn.execute("SELECT version FROM cinch_meta WHERE name = ?", (_META,)).fetchone()
    except sqlite3.OperationalError as e:
        if "no such table" not in str(e):
            raise
        return 0
    return 0 if row is None else int(row[0])


def data_step_rows(
    store: JournalStore,
    database: str,
    event_id: str,
    *,
    branch: str | None = None,
    sql: str = "",
) -> list[DataStepRows]:
    """What the data steps of event ``event_id`` changed, one summary per step recorded (in
    step order; none when no file has applied them here yet), over ``branch``'s files or
    every branch's. ``sql`` is copied into each summary (the caller has the event)."""
    if _version(store.connection) != ROWS_VERSION:
        return []
    query = (
        "SELECT step, tenant, SUM(rows) FROM cinch_data_step_rows"
        " WHERE database = ? AND event_id = ?"
    )
    params: list[str] = [database, event_id]
    if branch is not None:
        query += " AND branch = ?"
        params.append(branch)
    query += " GROUP BY step, tenant ORDER BY step, tenant"
    by_step: dict[int, dict[str, int]] = {}
    for step, tenant, rows in store.connection.execute(query, params).fetchall():
        by_step.setdefault(int(step), {})[str(tenant)] = int(rows)
    return [summary_of(event_id, step, sql, counts) for step, counts in by_step.items()]


def summary_of(event_id: str, step: int, sql: str, counts: dict[str, int]) -> DataStepRows:
    """One step's summary of its row counts per tenant (the template's under
    :data:`TEMPLATE_ROW`, taken out of ``counts``)."""
    template = counts.pop(TEMPLATE_ROW, None)
    most = max(counts.items(), key=lambda item: (item[1], _reverse(item[0])), default=None)
    return DataStepRows(
        event_id=event_id,
        step=step,
        sql=sql,
        total=sum(counts.values()),
        tenants=len(counts),
        max=0 if most is None else most[1],
        max_tenant=None if most is None else most[0],
        template=template,
        per_tenant=counts,
    )


def _reverse(name: str) -> tuple[int, ...]:
    # Ties on the count go to the first tenant by name: max() keeps the largest key.
    return tuple(-ord(c) for c in name)


def summary_text(rows: DataStepRows) -> str:
    """One line: ``12 rows in 3 tenants (most: 5 in 'acme')``, plus the template's rows."""
    tenants = rows["tenants"]
    text = (
        f"{rows['total']} row{'s' if rows['total'] != 1 else ''} in {tenants}"
        f" tenant{'s' if tenants != 1 else ''}"
    )
    if tenants > 1 and rows["max_tenant"] is not None:
        text += f" (most: {rows['max']} in '{rows['max_tenant']}')"
    if rows["template"]:
        text += f"; {rows['template']} in the template (lazy tenants)"
    return text
