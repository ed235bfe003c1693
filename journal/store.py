"""The journal inside ``metadata.db``: databases, events, event parents and branch heads.

Concurrency: every write is a single ``BEGIN IMMEDIATE`` transaction, so writers in any thread
or OS process are serialized by SQLite's write lock, and the busy timeout makes a writer wait
for that lock instead of failing with "database is locked". An append is a compare-and-swap on
the branch head: it commits only if the head is still the one the caller built its change on,
otherwise nothing is written and :class:`~journal.errors.ConcurrentChangeError` tells the
caller to re-read the branch. WAL mode lets readers run while a writer holds the lock.

Caching: events are immutable and content-addressed, so parsed :class:`~journal.events.Event`
objects are kept in memory, and each database's :class:`~journal.graph.Graph` is kept and
extended with only the rows added since it was last read (rows are numbered by an
``AUTOINCREMENT`` sequence that never goes back, and writers are serialized, so a row with a
lower number can never appear later). Branch heads are never cached: they are the one thing
other processes change, and reading one is a primary-key lookup.

Tables are prefixed ``journal_``: the product keeps its own in the same file.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from types import TracebackType
from typing import TYPE_CHECKING

from journal._lazy import lazy_module
from journal._store_sql import (
    BUSY_TIMEOUT_MS,
    HEX,
    IN_CHUNK,
    MIN_PREFIX_LENGTH,
    TABLES,
    WALK_CHUNK,
    BranchRecord,
    CachedGraph,
    ChainLink,
    branch_row,
    database_row,
    extend_graph,
    first_parents,
    missing_branch,
    now_text,
    parse_event,
    parse_time,
    require_event,
    snapshot_hash,
    time_text,
    translated,
)
from journal._textlog_sql import branch_heads
from journal.canonical import content_id
from journal.errors import (
    BranchExistsError,
    ConcurrentChangeError,
    CorruptJournalError,
    DatabaseExistsError,
    DatabaseNotFoundError,
    EventNotFoundError,
    InvalidNameError,
    JournalStoreError,
)
from journal.graph import Graph
from journal.names import validate_branch_name, validate_database_name
from journal.textlog import TextHistory
from journal.transactions import transaction

if TYPE_CHECKING:
    from journal import events as _events
    from journal.events import Change, Event
else:  # the event models (pydantic): heads, branches and the graph are read without them
    _events = lazy_module("journal.events")

__all__ = ["SCHEMA_VERSION", "SNAPSHOT_INTERVAL", "BranchRecord", "ChainLink", "JournalStore"]

#: Version of the journal's tables, kept in ``PRAGMA user_version`` of metadata.db.
#: 1: databases, events, parents, branches. 2: adds ``journal_snapshots`` (opening a version 1
#: file creates it; such a journal simply has no snapshots until its next append).
SCHEMA_VERSION = 2

#: An append whose events cross a multiple of this many generations keeps its head's
#: snapshot for good, so a fold never has to apply many more events than this.
SNAPSHOT_INTERVAL = 256


class JournalStore:
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

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        event_cache_size: int = 20_000,
        history: TextHistory | None = None,
    ) -> None:
        self._path = os.fspath(path)
        self._history = history
        self._lock = threading.RLock()
        self._event_cache_size = event_cache_size
        self._events: dict[str, Event] = {}
        self._graphs: dict[str, CachedGraph] = {}
        self._own_commits = 0
        try:
            self._conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as e:
            raise JournalStoreError(f"Cannot open the journal at {self._path}: {e}") from e
        try:
            with translated("open"):
                # The busy timeout goes first: switching to WAL itself needs a lock.
                self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                self._conn.execute("PRAGMA journal_mode = WAL")
                self._conn.execute("PRAGMA synchronous = NORMAL")
                self._conn.execute("PRAGMA foreign_keys = ON")
            self._create_tables()
        except BaseException:
            self._conn.close()
            raise

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def path(self) -> str:
        return self._path

    @property
    def connection(self) -> sqlite3.Connection:
        """The open connection, for the product's own tables in the same file.

        It is in autocommit mode (``isolation_level=None``), where ``with connection:`` opens
        no transaction: make writes inside :meth:`transaction`, and leave the ``journal_*``
        tables to this class.
        """
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction on :attr:`connection`, for the product's tables:
        committed when the block ends, rolled back if it raises (see
        :func:`journal.transactions.transaction`). Holds this store's lock throughout and
        counts the commit for :meth:`version`. sqlite3 errors reach the caller untranslated.
        """
        with self._lock, transaction(self._conn) as conn:
            yield conn
            self._own_commits += 1

    def version(self) -> tuple[int, int]:
        """A token that differs whenever something may have been committed to the file since
        it was last taken: by another connection (SQLite's ``data_version``, which ignores this
        connection's own commits) or by this store (:meth:`transaction`). Costs one pragma:
        the way to keep caches of journal state without re-reading the journal per call."""
        with self._lock:
            data_version = self._conn.execute("PRAGMA data_version").fetchone()[0]
            return (data_version, self._own_commits)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            self._events.clear()
            self._graphs.clear()

    def __enter__(self) -> JournalStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _create_tables(self) -> None:
        with self._read() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        with self._write("create the journal tables") as conn:
            # Re-read under the write lock: another process may have just created them.
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise JournalStoreError(
                    f"The journal at {self._path} has table version {version}, newer than this"
                    f" CinchDB understands ({SCHEMA_VERSION}); upgrade CinchDB"
                )
            for statement in TABLES:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

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

    # -- reading -------------------------------------------------------------------------------

    def get_event(self, event_id: str) -> Event:
        """The event with this full id, checked against its hash when first read.

        Parsed events are cached: an id is the hash of the content, so a cached event is
        always exactly what the id names.

        Raises:
            EventNotFoundError: no such event.
            CorruptJournalError: the stored content no longer matches the id.
        """
        with self._lock:
            cached = self._events.get(event_id)
            if cached is not None:
                return cached
        return self._load_events([event_id])[0]

    def resolve(self, database: str, ref: str) -> str:
        """The full id of the event of ``database`` that ``ref`` names.

        ``ref`` is a full id or a unique prefix of at least 4 hexadecimal characters (any case).

        Raises:
            EventNotFoundError: malformed, unknown or ambiguous ``ref``; the reason says which.
        """
        prefix = ref.strip().lower()
        if not HEX.fullmatch(prefix) or len(prefix) > 64:
            raise EventNotFoundError(ref, "not an event id (expected hexadecimal characters)")
        if len(prefix) < MIN_PREFIX_LENGTH:
            raise EventNotFoundError(
                ref, f"give at least {MIN_PREFIX_LENGTH} characters of the event id"
            )
        with self._read() as conn:
            # Ids are lowercase hex and 'g' sorts after 'f', so this range is exactly the ids
            # that start with the prefix, read off the unique index on id.
            rows = conn.execute(
                "SELECT id FROM journal_events WHERE id >= ? AND id < ? AND database = ?"
                " ORDER BY id LIMIT 3",
                (prefix, prefix + "g", database),
            ).fetchall()
        if not rows:
            raise EventNotFoundError(ref, f"no event of database '{database}' has this id")
        if len(rows) > 1:
            shown = ", ".join(event_id[:12] for (event_id,) in rows[:2])
            more = " and more" if len(rows) > 2 else ""
            raise EventNotFoundError(
                ref, f"ambiguous prefix, it matches {shown}{more}; give more characters"
            )
        return str(rows[0][0])

    def graph(self, database: str) -> Graph:
        """The DAG of a database's events, brought up to date with what is in the file.

        The same object is returned and extended on each call; only events added since the
        previous call are read. Raises DatabaseNotFoundError.
        """
        with self._read() as conn:
            # One snapshot for both reads, so the database row and its events agree.
            with transaction(conn, immediate=False):
                row = database_row(conn, database)
                if row is None:
                    self._graphs.pop(database, None)
                    raise DatabaseNotFoundError(database)
                cached = self._graphs.get(database)
                if cached is None or cached.database_created_at != row[0]:
                    cached = CachedGraph(Graph(), 0, row[0])
                    self._graphs[database] = cached
                rows = conn.execute(
                    "SELECT e.seq, e.id, e.generation, p.parent_id"
                    " FROM journal_events AS e"
                    " LEFT JOIN journal_event_parents AS p ON p.event_id = e.id"
                    " WHERE e.database = ? AND e.seq > ?"
                    " ORDER BY e.seq, p.position",
                    (database, cached.last_seq),
                ).fetchall()
            extend_graph(cached, rows)
            return cached.graph

    def chain(self, database: str, head: str | None) -> list[Event]:
        """The events on the first-parent chain from the root to ``head``, oldest first.

        This is what a branch's schema is the fold of. ``head`` None gives an empty list.
        Raises EventNotFoundError if ``head`` is not an event of ``database``.
        """
        if head is None:
            return []
        return self._load_events(self.graph(database).first_parent_chain(head))

    def first_parents(self, event_id: str, limit: int = WALK_CHUNK) -> list[ChainLink]:
        """``event_id`` and its first-parent ancestors, newest first, up to and including the
        nearest one with a stored snapshot, or to the root, or ``limit`` events. Reads only
        ids and snapshot rows (no event bodies); a snapshot whose hash does not check is
        reported as absent, so it only costs the fold time."""
        with self._read() as conn:
            return first_parents(conn, event_id, limit)

    def events(self, event_ids: Sequence[str]) -> list[Event]:
        """Several events by full id, in the given order, read in bulk where not cached."""
        return self._load_events(event_ids)

    def verify(self, database: str) -> list[str]:
        """Ids of the database's events whose stored content does not match their id.

        That is: the body no longer hashes to the id, or the stored parent rows differ from
        the parents recorded in the body. Oldest first. Raises DatabaseNotFoundError.
        """
        with self._read() as conn, transaction(conn, immediate=False):
            if database_row(conn, database) is None:
                raise DatabaseNotFoundError(database)
            rows = conn.execute(
                "SELECT id, body FROM journal_events WHERE database = ? ORDER BY seq",
                (database,),
            ).fetchall()
            parent_rows = conn.execute(
                "SELECT p.event_id, p.parent_id FROM journal_event_parents AS p"
                " JOIN journal_events AS e ON e.id = p.event_id"
                " WHERE e.database = ? ORDER BY p.event_id, p.position",
                (database,),
            ).fetchall()
        stored_parents: dict[str, list[str]] = {}
        for event_id, parent_id in parent_rows:
            stored_parents.setdefault(event_id, []).append(parent_id)
        bad: list[str] = []
        for event_id, body in rows:
            if content_id(body) != event_id:
                bad.append(event_id)
                continue
            try:
                event = parse_event(event_id, body)
            except CorruptJournalError:
                bad.append(event_id)
                continue
            if list(event.parents) != stored_parents.get(event_id, []):
                bad.append(event_id)
        return bad

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

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock, translated("read"):
            yield self._conn

    @contextmanager
    def _write(self, action: str) -> Iterator[sqlite3.Connection]:
        """:meth:`transaction` for the journal's own tables, with sqlite3 errors translated
        into JournalStoreError naming ``action``."""
        with translated(action), self.transaction() as conn:
            yield conn

    def _remember(self, event: Event) -> None:
        events = self._events
        if event.id in events:
            return
        if len(events) >= self._event_cache_size:
            # Oldest inserted first: dicts keep insertion order.
            del events[next(iter(events))]
        events[event.id] = event

    def _load_events(self, event_ids: Sequence[str]) -> list[Event]:
        with self._lock:
            found = {
                event_id: self._events[event_id]
                for event_id in event_ids
                if event_id in self._events
            }
        missing = [event_id for event_id in dict.fromkeys(event_ids) if event_id not in found]
        for start in range(0, len(missing), IN_CHUNK):
            chunk = missing[start : start + IN_CHUNK]
            marks = ", ".join("?" * len(chunk))
            with self._read() as conn:
                rows = conn.execute(
                    f"SELECT id, body FROM journal_events WHERE id IN ({marks})", chunk
                ).fetchall()
            for event_id, body in rows:
                found[event_id] = parse_event(event_id, body)
        with self._lock:
            for event_id in missing:
                if event_id in found:
                    self._remember(found[event_id])
        try:
            return [found[event_id] for event_id in event_ids]
        except KeyError as e:
            raise EventNotFoundError(str(e.args[0])) from None
