"""The journal file open, and its events read back: ``metadata.db``'s connection, lock and
transactions, and the events by id or prefix, in bulk, as the DAG and first-parent chains, and
verified against their ids. :class:`journal.store.JournalStore` adds what changes the journal
(databases, branches, appends) on top.

Caching: events are immutable and content-addressed, so parsed :class:`~journal.events.Event`
objects are kept in memory, and each database's :class:`~journal.graph.Graph` is kept and
extended with only the rows added since it was last read (rows are numbered by an
``AUTOINCREMENT`` sequence that never goes back, and writers are serialized, so a row with a
lower number can never appear later). Branch heads are never cached: they are the one thing
other processes change, and reading one is a primary-key lookup.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from journal._store_sql import (
    BUSY_TIMEOUT_MS,
    HEX,
    IN_CHUNK,
    MIN_PREFIX_LENGTH,
    TABLES,
    WALK_CHUNK,
    CachedGraph,
    ChainLink,
    database_row,
    extend_graph,
    first_parents,
    parse_event,
    translated,
)
from journal.canonical import content_id
from journal.errors import (
    CorruptJournalError,
    DatabaseNotFoundError,
    EventNotFoundError,
    JournalStoreError,
)
from journal.graph import Graph
from journal.textlog import TextHistory
from journal.transactions import transaction

if TYPE_CHECKING:
    from journal.events import Event

__all__ = ["SCHEMA_VERSION", "EventLog"]

#: Version of the journal's tables, kept in ``PRAGMA user_version`` of metadata.db.
#: 1: databases, events, parents, branches. 2: adds ``journal_snapshots`` (opening a version 1
#: file creates it; such a journal simply has no snapshots until its next append).
SCHEMA_VERSION = 2


class EventLog:
    """``metadata.db`` open, with its events read back through the caches (see the module
    docstring); the base of :class:`journal.store.JournalStore`, which documents the
    arguments."""

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
