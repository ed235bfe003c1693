"""The journal inside ``metadata.db``: databases, events, event parents and branch heads.

Concurrency: every write is a single ``BEGIN IMMEDIATE`` transaction, so writers in any thread
or OS process are serialized by SQLite's write lock, and the busy timeout makes a writer wait
for that lock instead of failing with "database is locked". An append is a compare-and-swap on
the branch head: it commits only if the head is still the one the caller built its change on,
otherwise nothing is written and :class:`~journal.errors.ConcurrentChangeError` tells the
caller to re-read the branch. WAL mode lets readers run while a writer holds the lock.

Reading events back, and the caches of parsed events and graphs, are
:class:`journal._store_events.EventLog`'s, which this class extends.

Tables are prefixed ``journal_``: the product keeps its own in the same file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timezone
from types import TracebackType
from typing import TYPE_CHECKING

from journal._lazy import lazy_module
from journal._store_events import SCHEMA_VERSION, EventLog
from journal._store_sql import (
    BranchRecord,
    ChainLink,
    branch_row,
    database_row,
    missing_branch,
    now_text,
    parse_time,
    require_event,
    snapshot_hash,
    time_text,
    translated,
)
from journal._textlog_sql import branch_heads
from journal.errors import (
    BranchExistsError,
    ConcurrentChangeError,
    DatabaseExistsError,
    DatabaseNotFoundError,
    EventNotFoundError,
    InvalidNameError,
)
from journal.names import validate_branch_name, validate_database_name
from journal.textlog import TextHistory
from journal.transactions import transaction

if TYPE_CHECKING:
    from journal import events as _events
    from journal.events import Change, Event
else:  # the event models (pydantic): heads, branches and the graph are read without them
    _events = lazy_module("journal.events")

__all__ = ["SCHEMA_VERSION", "SNAPSHOT_INTERVAL", "BranchRecord", "ChainLink", "JournalStore"]

#: An append whose events cross a multiple of this many generations keeps its head's
#: snapshot for good, so a fold never has to apply many more events than this.
SNAPSHOT_INTERVAL = 256


class JournalStore(EventLog):
    """The event journal of every database of a project, in one SQLite file.

    Safe to share between threads (calls are serialized) and to open from several OS processes
    at once (SQLite's locks serialize writers). Open one instance per process; do not carry an
    open store across ``fork()``.

    Args:
        path: the SQLite file, usually ``.cinchdb/metadata.db``; created if missing.
        event_cache_size: how many parsed events to keep in memory (about 3 KB each).
        history: the add-only text form of the journal (``journal.textlog``), written with
            every append and branch change; None keeps the journal in ``path`` only.
    """

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> JournalStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- databases -----------------------------------------------------------------------------

    def create_database(self, name: str) -> None:
        """Register a database. Raises DatabaseExistsError or InvalidNameError."""
        validate_database_name(name)
        with self._write("create a database") as conn:
            if database_row(conn, name) is not None:
                raise DatabaseExistsError(name)
            conn.execute(
                "INSERT INTO journal_databases (name, created_at) VALUES (?, ?)",
                (name, now_text()),
            )

    def has_database(self, name: str) -> bool:
        with self._read() as conn:
            return database_row(conn, name) is not None

    def list_databases(self) -> list[str]:
        with self._read() as conn:
            rows = conn.execute("SELECT name FROM journal_databases ORDER BY name").fetchall()
        return [name for (name,) in rows]

    def delete_database(self, name: str) -> None:
        """Remove a database with all its events and branches. Raises DatabaseNotFoundError."""
        with self._write("delete a database") as conn:
            if database_row(conn, name) is None:
                raise DatabaseNotFoundError(name)
            for (branch,) in conn.execute(
                "SELECT name FROM journal_branches WHERE database = ?", (name,)
            ).fetchall():
                self._record(conn, name, branch, None, deleted=True)
            # Children of the foreign keys first; the product's tables that reference
            # journal_databases must cascade or be emptied before this.
            conn.execute("DELETE FROM journal_branches WHERE database = ?", (name,))
            conn.execute(
                "DELETE FROM journal_snapshots WHERE event_id IN"
                " (SELECT id FROM journal_events WHERE database = ?)",
                (name,),
            )
            conn.execute(
                "DELETE FROM journal_event_parents WHERE event_id IN"
                " (SELECT id FROM journal_events WHERE database = ?)",
                (name,),
            )
            conn.execute("DELETE FROM journal_events WHERE database = ?", (name,))
            conn.execute("DELETE FROM journal_databases WHERE name = ?", (name,))
        with self._lock:
            cached = self._graphs.pop(name, None)
            if cached is not None:
                for event_id in cached.graph:
                    self._events.pop(event_id, None)

    # -- branches ------------------------------------------------------------------------------

    def create_branch(self, database: str, name: str, head: str | None) -> None:
        """Create a branch pointing at ``head`` (an event of ``database``, or None).

        Raises:
            InvalidNameError: the branch name is not valid.
            DatabaseNotFoundError, BranchExistsError, EventNotFoundError.
        """
        validate_branch_name(name)
        with self._write("create a branch") as conn:
            if database_row(conn, database) is None:
                raise DatabaseNotFoundError(database)
            if branch_row(conn, database, name) is not None:
                raise BranchExistsError(database, name)
            if head is not None:
                require_event(conn, database, head)
            self._record(conn, database, name, head)
            conn.execute(
                "INSERT INTO journal_branches (database, name, head, created_at)"
                " VALUES (?, ?, ?, ?)",
                (database, name, head, now_text()),
            )

    def delete_branch(self, database: str, name: str) -> None:
        """Delete a branch. Its events stay: other branches may share them."""
        with self._write("delete a branch") as conn:
            if branch_row(conn, database, name) is None:
                raise missing_branch(conn, database, name)
            self._record(conn, database, name, None, deleted=True)
            conn.execute(
                "DELETE FROM journal_branches WHERE database = ? AND name = ?", (database, name)
            )

    def rename_branch(self, database: str, name: str, new_name: str) -> None:
        """Rename a branch, keeping its head and creation time."""
        validate_branch_name(new_name)
        with self._write("rename a branch") as conn:
            if branch_row(conn, database, name) is None:
                raise missing_branch(conn, database, name)
            if name == new_name:
                return
            row = branch_row(conn, database, name)
            if branch_row(conn, database, new_name) is not None:
                raise BranchExistsError(database, new_name)
            if row is not None:
                self._record(conn, database, name, None, deleted=True)
                self._record(conn, database, new_name, row[0])
            conn.execute(
                "UPDATE journal_branches SET name = ? WHERE database = ? AND name = ?",
                (new_name, database, name),
            )

    def has_branch(self, database: str, name: str) -> bool:
        with self._read() as conn:
            return branch_row(conn, database, name) is not None

    def list_branches(self, database: str) -> list[BranchRecord]:
        """The branches of a database, sorted by name. Raises DatabaseNotFoundError."""
        with self._read() as conn, transaction(conn, immediate=False):
            if database_row(conn, database) is None:
                raise DatabaseNotFoundError(database)
            rows = conn.execute(
                "SELECT name, head, created_at FROM journal_branches WHERE database = ?"
                " ORDER BY name",
                (database,),
            ).fetchall()
        return [
            BranchRecord(name=name, head=head, created_at=parse_time(created_at))
            for name, head, created_at in rows
        ]

    def branch_head(self, database: str, name: str) -> str | None:
        """The event a branch points at (None if it has none). Always read from the file."""
        with self._read() as conn:
            row = branch_row(conn, database, name)
            if row is None:
                raise missing_branch(conn, database, name)
        return row[0]

    def branch_heads(self, database: str, name: str) -> list[str]:
        """Every head of a branch: one (or none before its first event), or several after git
        merged two lines of its history (see ``journal.textlog``), sorted. The one that
        :meth:`branch_head` gives is among them."""
        head = self.branch_head(database, name)
        with self._read() as conn:
            heads = branch_heads(conn, database, name) if self._history is not None else []
        if len(heads) > 1:
            return heads
        return [] if head is None else [head]

    def move_branch(
        self, database: str, name: str, head: str | None, *, expected_head: str | None
    ) -> None:
        """Point a branch at another event of its database (fast-forward, reset).

        A compare-and-swap like :meth:`append`: raises ConcurrentChangeError, and changes
        nothing, if the branch no longer points at ``expected_head``.
        """
        with self._write("move a branch") as conn:
            row = branch_row(conn, database, name)
            if row is None:
                raise missing_branch(conn, database, name)
            if row[0] != expected_head:
                raise ConcurrentChangeError(database, name, expected_head, row[0])
            if head is not None:
                require_event(conn, database, head)
            self._record(conn, database, name, head)
            conn.execute(
                "UPDATE journal_branches SET head = ? WHERE database = ? AND name = ?",
                (head, database, name),
            )

    def reset_branch(
        self, database: str, name: str, head: str | None, *, expected_head: str | None
    ) -> None:
        """Move a branch back to ``head``, an event on its first-parent chain (None: before
        every event), like ``git reset``. The events after it stay in the journal.

        One transaction: a compare-and-swap on the head like :meth:`move_branch`, and the
        check that ``head`` is a first-parent ancestor of the current head, made under the
        write lock so no writer can move the branch in between.

        Raises:
            ConcurrentChangeError: the branch no longer points at ``expected_head``.
            EventNotFoundError: ``head`` is not on the branch's first-parent chain.
            BranchNotFoundError, DatabaseNotFoundError. Nothing is changed on any error.
        """
        with self._write("reset a branch") as conn:
            row = branch_row(conn, database, name)
            if row is None:
                raise missing_branch(conn, database, name)
            if row[0] != expected_head:
                raise ConcurrentChangeError(database, name, expected_head, row[0])
            if head is not None:
                require_event(conn, database, head)
                # Walk first parents back from the current head, in SQL under the lock.
                found = conn.execute(
                    "WITH RECURSIVE chain(id) AS (SELECT ?"
                    " UNION ALL SELECT p.parent_id FROM journal_event_parents AS p"
                    " JOIN chain ON p.event_id = chain.id AND p.position = 0)"
                    " SELECT 1 FROM chain WHERE id = ? LIMIT 1",
                    (expected_head, head),
                ).fetchone()
                if found is None:
                    raise EventNotFoundError(
                        head, f"not on the first-parent history of branch '{name}'"
                    )
            self._record(conn, database, name, head)
            conn.execute(
                "UPDATE journal_branches SET head = ? WHERE database = ? AND name = ?",
                (head, database, name),
            )

    # -- appending -----------------------------------------------------------------------------

    def append(
        self,
        database: str,
        branch: str,
        changes: Sequence[Change],
        *,
        expected_head: str | None,
        author: str = "",
        message: str = "",
        merge_parent: str | None = None,
        snapshot: str | None = None,
    ) -> list[Event]:
        """Append one event per change to a branch, all or nothing.

        The first event's parents are ``expected_head`` (none if it is None) and then
        ``merge_parent`` when given; each later event's parent is the one before it. The
        events are written and the branch head moved to the last one in one transaction, and
        only if the head is still ``expected_head``. An empty ``changes`` writes nothing.

        ``snapshot`` is the schema after the last event as text (``Schema.snapshot_text``),
        which the writer has at hand anyway: stored in the same transaction, it lets a new
        process start its fold at the head instead of folding the whole chain. The previous
        head's snapshot is dropped unless it is a permanent one (see
        :data:`SNAPSHOT_INTERVAL`) or another branch points at that event.

        Raises:
            ConcurrentChangeError: the branch head is not ``expected_head``; nothing written.
            BranchNotFoundError, DatabaseNotFoundError.
            EventNotFoundError: ``merge_parent`` is not an event of ``database``.
            ValueError: ``merge_parent`` without ``expected_head``, or equal to it.
        """
        if not changes:
            return []
        try:
            validate_database_name(database)
        except InvalidNameError:
            # No database can have that name; say so rather than fail building the events.
            raise DatabaseNotFoundError(database) from None
        first_parents: tuple[str, ...] = ()
        if expected_head is not None:
            first_parents = (expected_head,)
        if merge_parent is not None:
            if expected_head is None:
                raise ValueError("A merge needs a branch head: expected_head is None")
            if merge_parent == expected_head:
                raise ValueError("An event cannot be merged with itself")
            first_parents += (merge_parent,)

        # Built before taking the write lock: hashing and validation are most of the cost of
        # an append, and other writers should not wait for them.
        created_at = datetime.now(timezone.utc)
        created_text = time_text(created_at)
        events: list[Event] = []
        parents = first_parents
        for change in changes:
            event = _events.Event.create(
                change,
                parents=parents,
                database=database,
                author=author,
                message=message,
                created_at=created_at,
            )
            events.append(event)
            parents = (event.id,)
        numbered = [
            (offset, event, event.canonical_body()) for offset, event in enumerate(events, start=1)
        ]
        parent_rows = [
            (event.id, parent, position)
            for event in events
            for position, parent in enumerate(event.parents)
        ]

        if self._history is not None:
            # Text first: a crash before the transaction commits leaves files the next
            # TextHistory.sync imports (or that stay on no branch), never the reverse.
            self._history.write_events(events)
        with self._write("append to the journal") as conn:
            row = conn.execute(
                "SELECT b.head, e.generation FROM journal_branches AS b"
                " LEFT JOIN journal_events AS e ON e.id = b.head"
                " WHERE b.database = ? AND b.name = ?",
                (database, branch),
            ).fetchone()
            if row is None:
                raise missing_branch(conn, database, branch)
            head, generation = row
            if head != expected_head:
                raise ConcurrentChangeError(database, branch, expected_head, head)
            if self._history is not None:
                self._history.check_append(conn, database, branch, first_parents)
                self._record(conn, database, branch, events[-1].id, author=author)
            generation = generation or 0
            if merge_parent is not None:
                generation = max(generation, require_event(conn, database, merge_parent))
            # OR IGNORE: an id is the hash of the content, so an existing row with this id is
            # this very event (same parents, change and timestamp) and the append still holds.
            conn.executemany(
                "INSERT OR IGNORE INTO journal_events"
                " (id, database, type, generation, created_at, body) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (event.id, database, event.type, generation + offset, created_text, body)
                    for offset, event, body in numbered
                ],
            )
            conn.executemany(
                "INSERT OR IGNORE INTO journal_event_parents (event_id, parent_id, position)"
                " VALUES (?, ?, ?)",
                parent_rows,
            )
            conn.execute(
                "UPDATE journal_branches SET head = ? WHERE database = ? AND name = ?",
                (events[-1].id, database, branch),
            )
            if snapshot is not None:
                last = events[-1].id
                permanent = (generation + len(events)) // SNAPSHOT_INTERVAL > (
                    generation // SNAPSHOT_INTERVAL
                )
                conn.execute(
                    "INSERT INTO journal_snapshots (event_id, permanent, hash, body)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT (event_id) DO UPDATE SET"
                    " permanent = max(permanent, excluded.permanent), hash = excluded.hash,"
                    " body = excluded.body",
                    (last, int(permanent), snapshot_hash(last, snapshot), snapshot),
                )
            if snapshot is not None and expected_head is not None:
                conn.execute(
                    "DELETE FROM journal_snapshots WHERE event_id = ?1 AND permanent = 0"
                    " AND NOT EXISTS (SELECT 1 FROM journal_branches WHERE head = ?1)",
                    (expected_head,),
                )
        with self._lock:
            for event in events:
                self._remember(event)
        return events

    # -- internals -----------------------------------------------------------------------------

    @property
    def history(self) -> TextHistory | None:
        """The text form of the journal this store writes, if any."""
        return self._history

    def sync_history(self) -> bool:
        """Bring the journal in line with its text form (:meth:`TextHistory.sync`): what a
        process does first. Returns whether anything beyond the fingerprint was read."""
        if self._history is None:
            return False
        with self._lock, translated("read the schema history files"):
            changed = self._history.sync(self._conn)
            if changed:
                self._own_commits += 1
        return changed

    def _record(
        self,
        conn: sqlite3.Connection,
        database: str,
        branch: str,
        head: str | None,
        *,
        deleted: bool = False,
        author: str = "",
    ) -> None:
        if self._history is not None:
            self._history.record(conn, database, branch, head, deleted=deleted, author=author)
