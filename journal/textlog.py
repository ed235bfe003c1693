"""The journal's second form: add-only text files that git can merge.

::

    <history>/{database}/events/{id}.json      one event: its canonical body, byte for byte
    <history>/{database}/branches/{hash}.json  one branch record: created, moved or deleted

Nothing here is ever edited or removed, only added, the way git stores its own objects: two
lines of work that both changed a schema therefore merge in git without a conflict in any
file. An event file holds exactly the body its id hashes (``sha256(file) == id``), so checking
a file on import is the same check the store makes. A branch record is canonical JSON::

    {"author": ..., "at": ..., "branch": "main", "database": "db", "deleted": false,
     "head": "<event id or null>", "prev": ["<record hash>", ...]}

named by the sha256 of that text. ``prev`` lists the records it supersedes: every current
*tip* of that branch when it was written, so a branch's records form a DAG like commits do.

The head rule (deterministic, read off the files present in the working tree):

1. the branch's tips are its records that no other present record lists in ``prev``;
2. tips that record a deletion are set aside; if every tip is a deletion, the branch is
   deleted (a line that kept working on a branch wins over a line that deleted it);
3. the heads are the distinct ``head`` values of the live tips, less every head that is an
   ancestor of another one in the event DAG (a line that only lagged behind);
4. one head: the branch points there. Two or more: git merged two lines of the branch's
   history, and the branch has several heads until a merge event joins them. The store's
   single head column then holds the head of the newest tip (by ``at``, then hash), and
   :meth:`TextHistory.check_append` refuses changes that do not join every head.

``metadata.db`` stays the journal of record for the running system. :meth:`TextHistory.sync`
brings it in line with the files: it imports the events and records it lacks (each checked
by its hash; a file that fails raises :class:`~journal.errors.CorruptJournalError` naming it)
and sets every branch whose tips the files changed since the last sync to what the rule above
says, so after ``git checkout`` the next command sees the checked-out history (a branch whose
files did not change keeps ``metadata.db``'s head, which a writer without the text form may
have moved). Events only ``metadata.db`` has stay there, on no branch.

Cheap when nothing changed: the listing is summarized by the modification times of the
``events`` and ``branches`` directories (adding or removing a file changes its directory's
time), cached in a local file beside the history; a time too close to when it was read is
not trusted (a file added in the same clock tick would not change it), as git does with its
index.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from journal._lazy import lazy_module
from journal._textlog_sql import (
    TextRecord,
    branch_heads,
    clear_missing_databases,
    drop_branches,
    ensure_tables,
    generation_of,
    insert_tip,
    is_live,
    newest_head,
    record_text,
    require_head,
    stored_tips,
    tips_of,
    with_journal,
)
from journal.canonical import canonical_json, content_id
from journal.errors import BranchHeadsError, CorruptJournalError
from journal.names import validate_database_name
from journal.transactions import transaction

if TYPE_CHECKING:
    from journal import events
    from journal.events import Event
else:  # the event models load when events are read or written, not on every open
    events = lazy_module("journal.events")

__all__ = [
    "BRANCHES_DIR",
    "EVENTS_DIR",
    "TextHistory",
    "TextRecord",
]

EVENTS_DIR = "events"
BRANCHES_DIR = "branches"
_SUFFIX = ".json"
#: A directory time less than this before the listing was taken is not trusted (file times
#: come from a coarse clock that lags by up to a tick, a few ms; 100 ms is ample on local
#: disks and costs only a re-listing right after a write).
_RACY_NS = 100_000_000


class TextHistory:
    """The text files of every database of a project under ``root`` (``.cinchdb/history``).

    The store calls :meth:`write_events` before an append's transaction and :meth:`record`
    inside every transaction that creates, moves or deletes a branch, so a file is always
    written before ``metadata.db`` commits what it says (a crash in between leaves a file that
    the next :meth:`sync` imports). Both are idempotent: a name is its content's hash.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    # -- paths ---------------------------------------------------------------------------------

    def event_path(self, database: str, event_id: str) -> Path:
        return self.root / database / EVENTS_DIR / f"{event_id}{_SUFFIX}"

    def record_path(self, database: str, record_hash: str) -> Path:
        return self.root / database / BRANCHES_DIR / f"{record_hash}{_SUFFIX}"

    # -- writing -------------------------------------------------------------------------------

    def write_events(self, events: Iterable[Event]) -> None:
        """Write each event's file unless it is there already."""
        for event in events:
            _write_once(self.event_path(event.database, event.id), event.canonical_body())

    def record(
        self,
        conn: sqlite3.Connection,
        database: str,
        branch: str,
        head: str | None,
        *,
        deleted: bool = False,
        author: str = "",
    ) -> TextRecord:
        """Record that ``branch`` now points at ``head`` (or is deleted): a new file that
        supersedes every current tip of the branch, and the same in ``conn``'s tables.
        Call inside the store's write transaction, after its checks passed."""
        ensure_tables(conn)
        prev = [
            row[0]
            for row in conn.execute(
                "SELECT record FROM journal_text_tips WHERE database = ? AND branch = ?",
                (database, branch),
            )
        ]
        text = record_text(database, branch, head, deleted, prev, author)
        record = TextRecord.from_text(content_id(text), text, "a new branch record")
        _write_once(self.record_path(database, record.hash), text)
        conn.execute(
            "INSERT OR IGNORE INTO journal_text_records (hash, database, branch, body)"
            " VALUES (?, ?, ?, ?)",
            (record.hash, database, branch, text),
        )
        conn.execute(
            "DELETE FROM journal_text_tips WHERE database = ? AND branch = ?", (database, branch)
        )
        insert_tip(conn, record)
        return record

    def check_append(
        self,
        conn: sqlite3.Connection,
        database: str,
        branch: str,
        joins: Iterable[str | None],
    ) -> None:
        """Refuse an append to a branch with several heads unless it joins all of them
        (``joins``: its parents). Call inside the append's transaction."""
        heads = branch_heads(conn, database, branch)
        if len(heads) > 1 and not set(heads) <= set(joins):
            raise BranchHeadsError(database, branch, heads)

    # -- reading back --------------------------------------------------------------------------

    def fingerprint(self) -> str | None:
        """A summary of the files present that changes when one is added or removed, or None
        when a directory changed too recently for its time to be trusted."""
        started = time.time_ns()
        parts: list[object] = []
        for name in self._databases():
            for sub in (EVENTS_DIR, BRANCHES_DIR):
                try:
                    mtime = (self.root / name / sub).stat().st_mtime_ns
                except FileNotFoundError:
                    mtime = 0
                if mtime > started - _RACY_NS:
                    return None
                parts.append([name, sub, mtime])
        return canonical_json(parts)

    def sync(self, conn: sqlite3.Connection) -> bool:
        """Bring the journal tables on ``conn`` (metadata.db) in line with the files; see the
        module docstring. Returns whether anything was read beyond the fingerprint.

        A project whose ``root`` does not exist yet (made before the text history) is first
        written out whole from ``conn``.

        Raises:
            CorruptJournalError: a file does not match its name, does not parse, belongs to
                another database, or names a parent event that is nowhere to be found.
        """
        if not self.root.is_dir():
            self._export(conn)
        fingerprint = self.fingerprint()
        if fingerprint is not None and self._state() == with_journal(conn, fingerprint):
            return False
        changed = self._needs_import(conn)
        if changed:
            with transaction(conn):
                ensure_tables(conn)
                for database in self._databases():
                    self._import_database(conn, database)
                clear_missing_databases(conn, set(self._databases()))
        if fingerprint is not None:
            # A local cache file, not a row: a project already in line is opened without a
            # write transaction on metadata.db.
            _write_file(self.state_path, with_journal(conn, fingerprint))
        return changed

    @property
    def state_path(self) -> Path:
        """Where the fingerprint of the last sync is cached (local state, beside ``root``)."""
        return self.root.with_name(f"{self.root.name}.state")

    def _state(self) -> str | None:
        try:
            return self.state_path.read_text()
        except (FileNotFoundError, UnicodeDecodeError):
            return None

    def _needs_import(self, conn: sqlite3.Connection) -> bool:
        """Whether the files hold anything metadata.db lacks or move any branch: read only,
        so a project already in line is not written to."""
        try:
            stored = {
                row[0] for row in conn.execute("SELECT DISTINCT database FROM journal_text_tips")
            }
        except sqlite3.OperationalError:
            return True  # no text tables yet
        present = self._databases()
        if stored - set(present):
            return True
        for database in present:
            names = self._listing(database, BRANCHES_DIR)
            bodies = dict(
                conn.execute(
                    "SELECT hash, body FROM journal_text_records WHERE database = ?", (database,)
                ).fetchall()
            )
            if names - set(bodies):
                return True
            tips = tips_of([TextRecord.from_text(h, bodies[h], h) for h in sorted(names)])
            now = {branch: {r.hash for r in records} for branch, records in tips.items()}
            if now != stored_tips(conn, database):
                return True
            if any(is_live(records) for records in tips.values()):
                known = {
                    row[0]
                    for row in conn.execute(
                        "SELECT id FROM journal_events WHERE database = ?", (database,)
                    )
                }
                if self._listing(database, EVENTS_DIR) - known:
                    return True
        return False

    def _databases(self) -> list[str]:
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return []
        return sorted(entry.name for entry in entries if entry.is_dir() and _is_name(entry.name))

    def _listing(self, database: str, sub: str) -> set[str]:
        try:
            names = os.listdir(self.root / database / sub)
        except FileNotFoundError:
            return set()
        return {
            name[: -len(_SUFFIX)]
            for name in names
            if name.endswith(_SUFFIX) and not name.startswith(".")
        }

    def _import_database(self, conn: sqlite3.Connection, database: str) -> None:
        records = self._import_records(conn, database)
        tips = tips_of(records)
        # Only what the files changed since the last sync moves a branch: a branch whose tips
        # are the ones recorded then keeps metadata.db's head, which a writer without the
        # text form (an older tool) may have moved meanwhile.
        before = stored_tips(conn, database)
        changed = {
            branch
            for branch in set(tips) | set(before)
            if {record.hash for record in tips.get(branch, [])} != before.get(branch, set())
        }
        live = {branch for branch, branch_tips in tips.items() if is_live(branch_tips)}
        if live:
            conn.execute(
                "INSERT OR IGNORE INTO journal_databases (name, created_at) VALUES (?, ?)",
                (database, _now()),
            )
            self._import_events(conn, database)
        conn.execute("DELETE FROM journal_text_tips WHERE database = ?", (database,))
        for branch_tips in tips.values():
            for record in branch_tips:
                insert_tip(conn, record)
        # Every branch deleted, or made on another line of work: gone from this history.
        drop_branches(conn, database, changed - live)
        for branch in sorted(live & changed):
            heads = branch_heads(conn, database, branch)
            head = newest_head(tips[branch], heads)
            require_head(conn, database, branch, head)
            conn.execute(
                "INSERT INTO journal_branches (database, name, head, created_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (database, name) DO UPDATE SET head ="
                " excluded.head",
                (database, branch, head, _now()),
            )

    def _import_records(self, conn: sqlite3.Connection, database: str) -> list[TextRecord]:
        present = self._listing(database, BRANCHES_DIR)
        known = dict(
            conn.execute(
                "SELECT hash, body FROM journal_text_records WHERE database = ?", (database,)
            ).fetchall()
        )
        records = []
        for record_hash in sorted(present):
            path = self.record_path(database, record_hash)
            text = known.get(record_hash)
            if text is None:
                text = _read(path)
            record = TextRecord.from_text(record_hash, text, str(path))
            if record.database != database:
                raise CorruptJournalError(
                    f"{path} records a branch of database '{record.database}'"
                )
            if record_hash not in known:
                conn.execute(
                    "INSERT INTO journal_text_records (hash, database, branch, body)"
                    " VALUES (?, ?, ?, ?)",
                    (record_hash, database, record.branch, text),
                )
            records.append(record)
        return records

    def _import_events(self, conn: sqlite3.Connection, database: str) -> None:
        present = self._listing(database, EVENTS_DIR)
        known = {
            row[0]
            for row in conn.execute("SELECT id FROM journal_events WHERE database = ?", (database,))
        }
        new: dict[str, Event] = {}
        for event_id in sorted(present - known):
            path = self.event_path(database, event_id)
            text = _read(path)
            if content_id(text) != event_id:
                raise CorruptJournalError(
                    f"{path} does not match its name (its content changed): the schema history"
                    " in this working tree was edited; restore the file from git"
                )
            try:
                event = events.Event.from_body(event_id, text)
            except (ValueError, KeyError, TypeError) as e:
                raise CorruptJournalError(f"{path} cannot be read: {e}") from e
            if event.database != database:
                raise CorruptJournalError(f"{path} is an event of database '{event.database}'")
            new[event_id] = event
        for event in _parents_first(new, known, database, self):
            generation = 1 + max(
                (generation_of(conn, parent) for parent in event.parents), default=0
            )
            conn.execute(
                "INSERT INTO journal_events (id, database, type, generation, created_at, body)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    event.id,
                    database,
                    event.type,
                    generation,
                    event.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    event.canonical_body(),
                ),
            )
            conn.executemany(
                "INSERT INTO journal_event_parents (event_id, parent_id, position)"
                " VALUES (?, ?, ?)",
                [(event.id, parent, position) for position, parent in enumerate(event.parents)],
            )

    def _export(self, conn: sqlite3.Connection) -> None:
        """Write out a journal made before the text history: every event, and one record per
        branch at its head. The directory appears last, so an interrupted export runs again."""
        scratch = self.root.with_name(f"{self.root.name}.export-{os.getpid()}")
        staging = TextHistory(scratch)
        with transaction(conn):
            if self.root.is_dir():
                return  # another process exported it while this one waited for the lock
            ensure_tables(conn)
            for (database,) in conn.execute("SELECT name FROM journal_databases").fetchall():
                for event_id, body in conn.execute(
                    "SELECT id, body FROM journal_events WHERE database = ?", (database,)
                ).fetchall():
                    _write_once(staging.event_path(database, event_id), body)
                (staging.root / database / BRANCHES_DIR).mkdir(parents=True, exist_ok=True)
                conn.execute("DELETE FROM journal_text_tips WHERE database = ?", (database,))
                for branch, head in conn.execute(
                    "SELECT name, head FROM journal_branches WHERE database = ?", (database,)
                ).fetchall():
                    staging.record(conn, database, branch, head)
            os.replace(scratch, self.root)


def _parents_first(
    new: dict[str, Event], known: set[str], database: str, history: TextHistory
) -> Iterator[Event]:
    """The new events, each after its parents; a parent neither known nor new is an error."""
    done: set[str] = set()
    for event_id in sorted(new):
        stack = [event_id]
        while stack:
            current = stack[-1]
            if current in done:
                stack.pop()
                continue
            event = new[current]
            waiting = [p for p in event.parents if p not in known and p not in done]
            for parent in waiting:
                if parent not in new:
                    raise CorruptJournalError(
                        f"{history.event_path(database, current)} names parent event"
                        f" {parent[:12]}, which is neither in the schema history files nor in"
                        " metadata.db: the history is incomplete"
                    )
                if parent in stack:
                    raise CorruptJournalError(f"The events of '{database}' form a cycle")
            if waiting:
                stack.extend(waiting)
                continue
            stack.pop()
            done.add(current)
            yield event


def _is_name(name: str) -> bool:
    try:
        validate_database_name(name)
    except ValueError:
        return False
    return True


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode()
    except UnicodeDecodeError as e:
        raise CorruptJournalError(f"{path} is not UTF-8 text: {e}") from e


def _write_once(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` unless a file is there: the name is the content's hash, so
    one that exists already holds it."""
    if not path.exists():
        _write_file(path, text)


def _write_file(path: Path, text: str) -> None:
    """Written beside ``path`` and renamed, so the name never shows half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    scratch.write_bytes(text.encode())
    os.replace(scratch, path)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
