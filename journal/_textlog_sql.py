"""What the text history (:mod:`journal.textlog`) keeps in ``metadata.db``: its tables, the
branch record format, and the head rule read off the tips of the records (rules 1-3 of
:mod:`journal.textlog`'s docstring), with the rows a sync writes."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime, timezone

import attrs

from journal.canonical import canonical_json, content_id
from journal.errors import CorruptJournalError

TABLES = (
    # Every branch record seen, present in the working tree or not (they come back with a
    # git checkout).
    """
    CREATE TABLE IF NOT EXISTS journal_text_records (
        hash TEXT PRIMARY KEY,
        database TEXT NOT NULL,
        branch TEXT NOT NULL,
        body TEXT NOT NULL
    ) WITHOUT ROWID
    """,
    # The tips of each branch in the checked-out history (several after a git merge).
    """
    CREATE TABLE IF NOT EXISTS journal_text_tips (
        database TEXT NOT NULL,
        branch TEXT NOT NULL,
        record TEXT NOT NULL,
        head TEXT NULL,
        deleted INTEGER NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (database, branch, record)
    ) WITHOUT ROWID
    """,
)


@attrs.frozen
class TextRecord:
    """One branch record (see the module docstring)."""

    hash: str
    database: str
    branch: str
    head: str | None
    deleted: bool
    prev: tuple[str, ...]
    at: str
    author: str

    @classmethod
    def from_text(cls, record_hash: str, text: str, where: str) -> TextRecord:
        if content_id(text) != record_hash:
            raise CorruptJournalError(f"{where} does not match its name (its content changed)")
        try:
            data = json.loads(text)
            return cls(
                hash=record_hash,
                database=str(data["database"]),
                branch=str(data["branch"]),
                head=None if data["head"] is None else str(data["head"]),
                deleted=bool(data["deleted"]),
                prev=tuple(str(item) for item in data["prev"]),
                at=str(data["at"]),
                author=str(data["author"]),
            )
        except (ValueError, KeyError, TypeError) as e:
            raise CorruptJournalError(f"{where} is not a branch record: {e}") from e


def record_text(
    database: str,
    branch: str,
    head: str | None,
    deleted: bool,
    prev: Iterable[str],
    author: str,
) -> str:
    at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return canonical_json(
        {
            "author": author,
            "at": at,
            "branch": branch,
            "database": database,
            "deleted": deleted,
            "head": head,
            "prev": sorted(prev),
        }
    )


def ensure_tables(conn: sqlite3.Connection) -> None:
    for statement in TABLES:
        conn.execute(statement)


def branch_heads(conn: sqlite3.Connection, database: str, branch: str) -> list[str]:
    """The heads of ``branch`` by the module's rule (rules 2-3), sorted; empty for a branch the
    text history does not record or deletes, ``[""]``-free: a head of None is left out."""
    try:
        rows = conn.execute(
            "SELECT head FROM journal_text_tips WHERE database = ? AND branch = ? AND deleted = 0",
            (database, branch),
        ).fetchall()
    except sqlite3.OperationalError:
        return []  # no text history tables yet
    heads = sorted({row[0] for row in rows if row[0] is not None})
    if len(heads) < 2:
        return heads
    return [
        head
        for head in heads
        if not any(other != head and _is_ancestor(conn, head, other) for other in heads)
    ]


def _is_ancestor(conn: sqlite3.Connection, ancestor: str, event_id: str) -> bool:
    row = conn.execute(
        "WITH RECURSIVE up(id) AS (SELECT ?2 UNION SELECT p.parent_id FROM up"
        " JOIN journal_event_parents AS p ON p.event_id = up.id)"
        " SELECT 1 FROM up WHERE id = ?1 LIMIT 1",
        (ancestor, event_id),
    ).fetchone()
    return row is not None


def tips_of(records: list[TextRecord]) -> dict[str, list[TextRecord]]:
    superseded = {prev for record in records for prev in record.prev}
    tips: dict[str, list[TextRecord]] = {}
    for record in records:
        if record.hash not in superseded:
            tips.setdefault(record.branch, []).append(record)
    return tips


def is_live(tips: list[TextRecord]) -> bool:
    return any(not record.deleted for record in tips)


def newest_head(tips: list[TextRecord], heads: list[str]) -> str | None:
    """What the store's single head column holds: the only head, or with several the head
    of the newest live tip (by time, then hash) among them."""
    if len(heads) == 1:
        return heads[0]
    candidates = [r for r in tips if not r.deleted and (r.head in heads or not heads)]
    newest = max(candidates, key=lambda record: (record.at, record.hash))
    return newest.head


def insert_tip(conn: sqlite3.Connection, record: TextRecord) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO journal_text_tips (database, branch, record, head, deleted, at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (record.database, record.branch, record.hash, record.head, int(record.deleted), record.at),
    )


def stored_tips(conn: sqlite3.Connection, database: str) -> dict[str, set[str]]:
    """The tips of each branch as the last sync or branch record left them."""
    stored: dict[str, set[str]] = {}
    for branch, record in conn.execute(
        "SELECT branch, record FROM journal_text_tips WHERE database = ?", (database,)
    ):
        stored.setdefault(branch, set()).add(record)
    return stored


def drop_branches(conn: sqlite3.Connection, database: str, names: Iterable[str]) -> None:
    """Remove branch rows the checked-out history no longer has (deleted on this line of
    work, or made on another); their events stay."""
    for name in names:
        conn.execute(
            "DELETE FROM journal_branches WHERE database = ? AND name = ?", (database, name)
        )


def clear_missing_databases(conn: sqlite3.Connection, present: set[str]) -> None:
    """Databases whose files went (made on another line of work) keep their events, which
    may come back with another checkout, but lose the branches the files had recorded."""
    for (database,) in conn.execute("SELECT DISTINCT database FROM journal_text_tips").fetchall():
        if database not in present:
            drop_branches(conn, database, stored_tips(conn, database))
            conn.execute("DELETE FROM journal_text_tips WHERE database = ?", (database,))


def require_head(conn: sqlite3.Connection, database: str, branch: str, head: str | None) -> None:
    if head is None:
        return
    row = conn.execute(
        "SELECT 1 FROM journal_events WHERE id = ? AND database = ?", (head, database)
    ).fetchone()
    if row is None:
        raise CorruptJournalError(
            f"Branch '{branch}' of database '{database}' points at event {head[:12]}, which is"
            " neither in the schema history files nor in metadata.db: the history is incomplete"
        )


def generation_of(conn: sqlite3.Connection, event_id: str) -> int:
    row = conn.execute("SELECT generation FROM journal_events WHERE id = ?", (event_id,)).fetchone()
    assert row is not None  # _parents_first checked every parent is present
    return int(row[0])


def with_journal(conn: sqlite3.Connection, fingerprint: str) -> str:
    """The fingerprint bound to this metadata.db's last event and record count, so a cached
    state never vouches for a metadata.db made anew (deleted, restored from a backup)."""
    last = conn.execute("SELECT max(seq) FROM journal_events").fetchone()[0]
    try:
        records = conn.execute("SELECT count(*) FROM journal_text_records").fetchone()[0]
    except sqlite3.OperationalError:
        records = None
    return f"{fingerprint}\n{last}\n{records}\n"
