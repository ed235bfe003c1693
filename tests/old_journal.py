"""Events written straight into a project's journal, as a journal made before a rule existed
holds them (names outside today's names rule): they bypass the SDK's checks for new changes."""

from __future__ import annotations

from pathlib import Path

from cinchdb.project import CINCHDB_DIR
from journal import JournalStore
from journal.parse import parse


def append_old_events(project: Path, sql: str, *, database: str = "main", branch: str = "main"):
    """Append ``sql``'s statements to ``branch`` as events, one per statement; returns them."""
    store = JournalStore(Path(project) / CINCHDB_DIR / "metadata.db")
    try:
        head = store.branch_head(database, branch)
        return store.append(database, branch, parse(sql), expected_head=head)
    finally:
        store.close()
