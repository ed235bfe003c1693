"""The journal store's tables and the row-level helpers of ``journal.store``."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import attrs

from journal._lazy import lazy_module
from journal.errors import (
    BranchNotFoundError,
    CorruptJournalError,
    DatabaseNotFoundError,
    EventNotFoundError,
    JournalStoreError,
)
from journal.graph import Graph

if TYPE_CHECKING:
    from journal import events
    from journal.events import Event
else:  # the event models (pydantic): only reading an event's body needs them
    events = lazy_module("journal.events")

#: How long a writer waits for another writer's transaction before giving up. Appends hold the
#: lock for milliseconds, so reaching this means something is badly stuck.
BUSY_TIMEOUT_MS = 30_000

#: Shortest event id prefix :meth:`JournalStore.resolve` accepts.
MIN_PREFIX_LENGTH = 4

HEX = re.compile(r"[0-9a-f]+")

# SQLite's default limit on host parameters in one statement is 32766 since 3.32; stay far
# below it so that builds with the old limit of 999 work too.
IN_CHUNK = 500


@attrs.frozen
class BranchRecord:
    """A branch: a name and the event it points at (None for a branch with no events yet)."""

    name: str
    head: str | None
    created_at: datetime


TABLES = (
    """
    CREATE TABLE IF NOT EXISTS journal_databases (
        name TEXT PRIMARY KEY,
        created_at TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS journal_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT UNIQUE NOT NULL,
        database TEXT NOT NULL REFERENCES journal_databases(name),
        type TEXT NOT NULL,
        generation INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        body TEXT NOT NULL
    )
    """,
    # Incremental graph loads read "events of this database after seq N".
    "CREATE INDEX IF NOT EXISTS journal_events_by_database ON journal_events(database, seq)",
    """
    CREATE TABLE IF NOT EXISTS journal_event_parents (
        event_id TEXT NOT NULL REFERENCES journal_events(id),
        parent_id TEXT NOT NULL REFERENCES journal_events(id),
        position INTEGER NOT NULL,
        PRIMARY KEY (event_id, position)
    ) WITHOUT ROWID
    """,
    # Foreign-key checks on deleting an event look rows up by parent_id and by head; without
    # these indexes deleting a database would scan both tables once per event.
    "CREATE INDEX IF NOT EXISTS journal_event_parents_by_parent"
    " ON journal_event_parents(parent_id)",
    """
    CREATE TABLE IF NOT EXISTS journal_branches (
        database TEXT NOT NULL REFERENCES journal_databases(name),
        name TEXT NOT NULL,
        head TEXT NULL REFERENCES journal_events(id),
        created_at TEXT NOT NULL,
        PRIMARY KEY (database, name)
    )
    """,
    "CREATE INDEX IF NOT EXISTS journal_branches_by_head ON journal_branches(head)",
    # Added in table version 2. The schema after an event, as text a fold can start from
    # instead of folding the chain up to that event (see JournalStore.append). Only a cache:
    # ``hash`` covers the event id and the body, and a row that fails it is ignored.
    # ``permanent`` rows (every SNAPSHOT_INTERVAL generations) stay; the others are at a
    # branch head and go when that head moves on.
    """
    CREATE TABLE IF NOT EXISTS journal_snapshots (
        event_id TEXT PRIMARY KEY REFERENCES journal_events(id),
        permanent INTEGER NOT NULL,
        hash TEXT NOT NULL,
        body TEXT NOT NULL
    )
    """,
)

#: A first-parent walk (:func:`first_parents`) reads at most this many events per query.
WALK_CHUNK = 256

# From ``?1`` back along first parents, up to ``?2`` events; a row with a snapshot ends the
# walk after itself (the recursion only continues from rows without one).
_WALK = """
WITH RECURSIVE chain(id, depth) AS (
    SELECT ?1, 0
    UNION ALL
    SELECT p.parent_id, chain.depth + 1 FROM chain
    JOIN journal_event_parents AS p ON p.event_id = chain.id AND p.position = 0
    WHERE chain.depth + 1 < ?2
    AND NOT EXISTS (SELECT 1 FROM journal_snapshots AS s WHERE s.event_id = chain.id)
)
SELECT chain.id, p.parent_id, s.hash, s.body FROM chain
LEFT JOIN journal_event_parents AS p ON p.event_id = chain.id AND p.position = 0
LEFT JOIN journal_snapshots AS s ON s.event_id = chain.id
ORDER BY chain.depth
"""


@attrs.frozen
class ChainLink:
    """One event of a first-parent walk: its id, its first parent (None at the root) and the
    body of its snapshot when it has one whose hash checks (None otherwise)."""

    event_id: str
    parent: str | None
    snapshot: str | None


def snapshot_hash(event_id: str, body: str) -> str:
    """What a snapshot row's ``hash`` holds: it binds the body to the event it is the schema
    after, so a row edited, truncated or moved to another event no longer matches."""
    return hashlib.sha256(f"{event_id}\n{body}".encode()).hexdigest()


def first_parents(conn: sqlite3.Connection, event_id: str, limit: int) -> list[ChainLink]:
    """``event_id`` and its first-parent ancestors, newest first, ending after the first one
    that has a snapshot row (checked or not), at the root, or after ``limit`` events. An id
    that is not in the journal gives a single link with no parent."""
    rows = conn.execute(_WALK, (event_id, limit)).fetchall()
    return [
        ChainLink(
            link_id,
            parent,
            body if body is not None and snapshot_hash(link_id, body) == stored else None,
        )
        for link_id, parent, stored, body in rows
    ]


@attrs.define
class CachedGraph:
    graph: Graph
    last_seq: int
    # The database row's created_at: a different one means another process deleted and
    # re-created the database since this cache was built, so the cache must be dropped.
    database_created_at: str


@contextmanager
def translated(action: str) -> Iterator[None]:
    """Turn sqlite3 errors into JournalStoreError at the boundary."""
    try:
        yield
    except sqlite3.Error as e:
        if isinstance(e, sqlite3.OperationalError) and "locked" in str(e):
            raise JournalStoreError(
                f"Cannot {action}: another process kept the journal locked for more than"
                f" {BUSY_TIMEOUT_MS // 1000} s ({e})"
            ) from e
        raise JournalStoreError(f"Cannot {action}: {e}") from e


def database_row(conn: sqlite3.Connection, name: str) -> tuple[str] | None:
    row: tuple[str] | None = conn.execute(
        "SELECT created_at FROM journal_databases WHERE name = ?", (name,)
    ).fetchone()
    return row


def branch_row(conn: sqlite3.Connection, database: str, name: str) -> tuple[str | None] | None:
    row: tuple[str | None] | None = conn.execute(
        "SELECT head FROM journal_branches WHERE database = ? AND name = ?", (database, name)
    ).fetchone()
    return row


def missing_branch(conn: sqlite3.Connection, database: str, name: str) -> JournalStoreError:
    """The error for a branch lookup that found nothing: its database or the branch."""
    if database_row(conn, database) is None:
        return DatabaseNotFoundError(database)
    return BranchNotFoundError(database, name)


def require_event(conn: sqlite3.Connection, database: str, event_id: str) -> int:
    """The generation of an event of ``database``; EventNotFoundError if there is none."""
    row = conn.execute(
        "SELECT generation FROM journal_events WHERE id = ? AND database = ?",
        (event_id, database),
    ).fetchone()
    if row is None:
        raise EventNotFoundError(event_id, f"not an event of database '{database}'")
    return int(row[0])


def extend_graph(cached: CachedGraph, rows: list[tuple[int, str, int, str | None]]) -> None:
    """Add events read in seq order (one row per parent) to a cached graph."""
    graph = cached.graph
    index = 0
    while index < len(rows):
        seq, event_id, generation, parent = rows[index]
        parents = [] if parent is None else [parent]
        index += 1
        while index < len(rows) and rows[index][0] == seq:
            extra = rows[index][3]
            if extra is not None:
                parents.append(extra)
            index += 1
        graph.add(event_id, parents)
        if graph.generation(event_id) != generation:
            raise CorruptJournalError(
                f"Event {event_id[:12]} is stored with generation {generation}, but its"
                f" parents give {graph.generation(event_id)}"
            )
        # Advanced per event so that a failure part-way leaves a cache that resumes cleanly.
        cached.last_seq = seq


def parse_event(event_id: str, body: str) -> Event:
    try:
        return events.Event.from_body(event_id, body)
    except CorruptJournalError:
        raise
    except (ValueError, KeyError, TypeError) as e:
        # A body that hashes right but does not parse was written by a broken or newer writer.
        raise CorruptJournalError(f"Event {event_id[:12]} cannot be read: {e}") from e


def time_text(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_text() -> str:
    return time_text(datetime.now(timezone.utc))


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
