from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone, tzinfo
from itertools import pairwise
from pathlib import Path

import pytest

import journal.store as store_module
from journal.definitions import ColumnDef, TableDef
from journal.errors import (
    BranchExistsError,
    BranchNotFoundError,
    ConcurrentChangeError,
    CorruptJournalError,
    DatabaseExistsError,
    DatabaseNotFoundError,
    EventNotFoundError,
    InvalidNameError,
    JournalStoreError,
)
from journal.events import BranchesMerged, Event, TableCreated, TableDropped
from journal.store import SCHEMA_VERSION, BranchRecord, JournalStore

REPO_ROOT = Path(__file__).resolve().parents[2]


def table(name: str) -> TableCreated:
    return TableCreated(table=TableDef(name=name, columns=(ColumnDef(name="a"),)))


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "metadata.db"


@pytest.fixture
def store(path: Path) -> Iterator[JournalStore]:
    with JournalStore(path) as opened:
        opened.create_database("db")
        opened.create_branch("db", "main", None)
        yield opened


def append_one(store: JournalStore, name: str, branch: str = "main") -> Event:
    head = store.branch_head("db", branch)
    return store.append("db", branch, [table(name)], expected_head=head)[0]


# -- opening --------------------------------------------------------------------------------


def test_open_sets_wal_pragmas_and_tables_idempotently(path: Path) -> None:
    with JournalStore(path) as first:
        conn = first.connection
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30000
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        first.create_database("db")
    with JournalStore(path) as second:
        assert second.list_databases() == ["db"]
        tables = {
            name
            for (name,) in second.connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            )
        }
        assert {
            "journal_databases",
            "journal_events",
            "journal_event_parents",
            "journal_branches",
        } <= tables


def test_newer_table_version_is_refused(path: Path) -> None:
    JournalStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(JournalStoreError, match="newer"):
        JournalStore(path)


def test_unopenable_path_is_a_journal_error(tmp_path: Path) -> None:
    with pytest.raises(JournalStoreError):
        JournalStore(tmp_path / "missing-dir" / "metadata.db")


# -- databases and branches -----------------------------------------------------------------


def test_database_crud(path: Path) -> None:
    with JournalStore(path) as store:
        store.create_database("b_db")
        store.create_database("a_db")
        assert store.list_databases() == ["a_db", "b_db"]
        assert store.has_database("a_db")
        with pytest.raises(DatabaseExistsError):
            store.create_database("a_db")
        with pytest.raises(InvalidNameError):
            store.create_database("bad name")
        with pytest.raises(InvalidNameError, match="letters, digits and"):
            store.create_database("a-b")  # would share "{database}-{branch}" directories
        store.create_branch("a_db", "main", None)
        store.append("a_db", "main", [table("t")], expected_head=None)
        store.graph("a_db")
        store.delete_database("a_db")
        assert store.list_databases() == ["b_db"]
        assert not store.has_database("a_db")
        assert store.connection.execute("SELECT count(*) FROM journal_events").fetchone() == (0,)
        with pytest.raises(DatabaseNotFoundError):
            store.delete_database("a_db")
        with pytest.raises(DatabaseNotFoundError):
            store.graph("a_db")


def test_branch_crud(store: JournalStore) -> None:
    event = append_one(store, "t1")
    store.create_branch("db", "feature/x", event.id)
    store.create_branch("db", "empty", None)
    branches = store.list_branches("db")
    assert [b.name for b in branches] == ["empty", "feature/x", "main"]
    assert isinstance(branches[0], BranchRecord)
    assert branches[1].head == event.id
    assert branches[0].head is None
    assert branches[0].created_at.tzinfo is not None
    assert store.branch_head("db", "feature/x") == event.id
    assert store.has_branch("db", "empty")

    with pytest.raises(BranchExistsError):
        store.create_branch("db", "main", None)
    with pytest.raises(DatabaseNotFoundError):
        store.create_branch("nodb", "main", None)
    with pytest.raises(EventNotFoundError):
        store.create_branch("db", "ghost", "0" * 64)

    store.rename_branch("db", "feature/x", "feature/y")
    assert store.branch_head("db", "feature/y") == event.id
    with pytest.raises(BranchNotFoundError):
        store.branch_head("db", "feature/x")
    with pytest.raises(BranchExistsError):
        store.rename_branch("db", "feature/y", "main")

    store.delete_branch("db", "feature/y")
    assert [b.name for b in store.list_branches("db")] == ["empty", "main"]
    # The events stay: they are shared with other branches.
    assert store.get_event(event.id) == event
    with pytest.raises(BranchNotFoundError):
        store.delete_branch("db", "feature/y")
    with pytest.raises(DatabaseNotFoundError):
        store.list_branches("nodb")
    with pytest.raises(DatabaseNotFoundError):
        store.branch_head("nodb", "main")


@pytest.mark.parametrize("name", ["", "a..b", "/a", "a/", "a//b", "x.lock", "sp ace", "-", "a."])
def test_invalid_branch_names(store: JournalStore, name: str) -> None:
    with pytest.raises(InvalidNameError):
        store.create_branch("db", name, None)
    with pytest.raises(InvalidNameError):
        store.rename_branch("db", "main", name)


def test_move_branch_is_a_compare_and_swap(store: JournalStore) -> None:
    first = append_one(store, "t1")
    second = append_one(store, "t2")
    store.create_branch("db", "other", first.id)
    store.move_branch("db", "other", second.id, expected_head=first.id)
    assert store.branch_head("db", "other") == second.id
    with pytest.raises(ConcurrentChangeError):
        store.move_branch("db", "other", first.id, expected_head=first.id)
    assert store.branch_head("db", "other") == second.id


# -- appending and reading ------------------------------------------------------------------


def test_append_and_read_round_trip(store: JournalStore, path: Path) -> None:
    events = store.append(
        "db", "main", [table("t1"), table("t2")], expected_head=None, author="ann", message="m"
    )
    first, second = events
    assert first.parents == ()
    assert second.parents == (first.id,)
    assert first.author == "ann" and first.message == "m" and first.database == "db"
    assert store.branch_head("db", "main") == second.id
    assert store.get_event(second.id) == second
    assert store.graph("db").generation(second.id) == 2
    # A fresh instance reads the same events back from the file and checks their hashes.
    with JournalStore(path) as other:
        assert other.get_event(first.id) == first
        assert other.chain("db", second.id) == [first, second]
        assert other.events([second.id, first.id]) == [second, first]
        assert other.verify("db") == []
    with pytest.raises(EventNotFoundError):
        store.get_event("f" * 64)


def test_merge_parent_makes_a_two_parent_event(store: JournalStore) -> None:
    base = append_one(store, "base")
    store.create_branch("db", "feature", base.id)
    ours = append_one(store, "ours")
    theirs = append_one(store, "theirs", branch="feature")
    merge = BranchesMerged(source="feature", target="main", operations=(table("theirs"),))
    [merged] = store.append("db", "main", [merge], expected_head=ours.id, merge_parent=theirs.id)
    assert merged.parents == (ours.id, theirs.id)
    graph = store.graph("db")
    assert graph.generation(merged.id) == 3
    assert graph.first_parent_base(ours.id, theirs.id) == base.id
    assert [e.id for e in store.chain("db", merged.id)] == [base.id, ours.id, merged.id]
    with pytest.raises(EventNotFoundError):
        store.append("db", "main", [table("x")], expected_head=merged.id, merge_parent="a" * 64)
    with pytest.raises(ValueError):
        store.append("db", "main", [table("x")], expected_head=merged.id, merge_parent=merged.id)
    with pytest.raises(ValueError):
        store.append("db", "feature", [table("x")], expected_head=None, merge_parent=merged.id)


def test_stale_expected_head_is_rejected_and_nothing_is_written(store: JournalStore) -> None:
    first = append_one(store, "t1")
    second = append_one(store, "t2")
    count = store.connection.execute("SELECT count(*) FROM journal_events").fetchone()[0]
    with pytest.raises(ConcurrentChangeError) as caught:
        store.append("db", "main", [table("t3"), table("t4")], expected_head=first.id)
    error = caught.value
    assert (error.expected, error.actual) == (first.id, second.id)
    assert error.branch == "main" and error.database == "db"
    message = str(error)
    assert first.id[:12] in message and second.id[:12] in message
    assert "changed while this change was being made" in message
    assert "re-read the branch and try again" in message
    assert store.branch_head("db", "main") == second.id
    assert store.connection.execute("SELECT count(*) FROM journal_events").fetchone()[0] == count
    # Expecting an empty branch when it is not is stale too.
    with pytest.raises(ConcurrentChangeError, match="expected head <empty>"):
        store.append("db", "main", [table("t3")], expected_head=None)


def test_multi_event_append_is_all_or_nothing(store: JournalStore, path: Path) -> None:
    base = append_one(store, "t0")
    # A trigger that fails the third insert makes the transaction fail mid-way.
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TRIGGER boom BEFORE INSERT ON journal_events"
            " WHEN (SELECT count(*) FROM journal_events) >= 3"
            " BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        )
    with pytest.raises(JournalStoreError, match="disk on fire") as caught:
        store.append("db", "main", [table("t1"), table("t2"), table("t3")], expected_head=base.id)
    assert isinstance(caught.value.__cause__, sqlite3.Error)
    assert store.branch_head("db", "main") == base.id
    assert store.connection.execute("SELECT count(*) FROM journal_events").fetchone() == (1,)
    assert store.connection.execute("SELECT count(*) FROM journal_event_parents").fetchone() == (0,)
    assert len(list(store.graph("db"))) == 1


def test_append_to_missing_branch_or_database(store: JournalStore) -> None:
    with pytest.raises(BranchNotFoundError):
        store.append("db", "nope", [table("t")], expected_head=None)
    with pytest.raises(DatabaseNotFoundError):
        store.append("nodb", "main", [table("t")], expected_head=None)
    with pytest.raises(DatabaseNotFoundError):
        store.append("no such db", "main", [table("t")], expected_head=None)
    assert store.append("db", "main", [], expected_head=None) == []


def test_tampered_body_is_detected(store: JournalStore, path: Path) -> None:
    event = append_one(store, "t1")
    later = append_one(store, "t2")
    with sqlite3.connect(path) as conn:
        body = conn.execute("SELECT body FROM journal_events WHERE id = ?", (event.id,)).fetchone()
        conn.execute(
            "UPDATE journal_events SET body = ? WHERE id = ?",
            (body[0].replace('"t1"', '"t9"'), event.id),
        )
    with JournalStore(path) as fresh:
        with pytest.raises(CorruptJournalError, match=event.id[:12]):
            fresh.get_event(event.id)
        with pytest.raises(CorruptJournalError):
            fresh.chain("db", later.id)
        assert fresh.verify("db") == [event.id]
        assert fresh.get_event(later.id) == later


def test_tampered_parent_rows_are_reported_by_verify(store: JournalStore, path: Path) -> None:
    first = append_one(store, "t1")
    second = append_one(store, "t2")
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM journal_event_parents WHERE event_id = ?", (second.id,))
    with JournalStore(path) as fresh:
        assert fresh.verify("db") == [second.id]
        assert fresh.get_event(first.id) == first


def test_body_is_canonical_json_hashed_into_the_id(store: JournalStore) -> None:
    event = append_one(store, "t1")
    row = store.connection.execute(
        "SELECT body, type, generation, database FROM journal_events WHERE id = ?", (event.id,)
    ).fetchone()
    assert row[0] == event.canonical_body()
    assert row[1:] == ("TableCreated", 1, "db")
    assert json.loads(row[0])["payload"]["table"]["name"] == "t1"


def test_resolve_by_prefix(store: JournalStore) -> None:
    events = [append_one(store, f"t{i}") for i in range(40)]
    target = events[7]
    prefixes = {event.id[:4] for event in events}
    assert store.resolve("db", target.id) == target.id
    assert store.resolve("db", target.id[:10].upper()) == target.id
    assert store.resolve("db", f" {target.id[:12]} ") == target.id
    with pytest.raises(EventNotFoundError, match="at least 4"):
        store.resolve("db", target.id[:3])
    with pytest.raises(EventNotFoundError, match="hexadecimal"):
        store.resolve("db", "main")
    with pytest.raises(EventNotFoundError, match="no event of database 'db'"):
        store.resolve("db", next(p for p in ("ffff", "0000", "abcd") if p not in prefixes))
    with pytest.raises(EventNotFoundError):
        store.resolve("other", target.id)


def test_ambiguous_prefix(path: Path) -> None:
    with JournalStore(path) as store:
        store.create_database("db")
        store.create_branch("db", "main", None)
        seen: dict[str, str] = {}
        index = 0
        # About 260 events make two ids sharing a 4-character prefix likely; keep going
        # until there is one (the ids are random because timestamps differ).
        while True:
            event = append_one(store, f"t{index}")
            index += 1
            prefix = event.id[:4]
            if prefix in seen:
                break
            seen[prefix] = event.id
        with pytest.raises(EventNotFoundError, match="ambiguous prefix") as caught:
            store.resolve("db", prefix)
        assert event.id[:12] in str(caught.value) and seen[prefix][:12] in str(caught.value)


def test_graph_is_incremental_and_sees_other_instances(store: JournalStore, path: Path) -> None:
    first = append_one(store, "t1")
    graph = store.graph("db")
    assert list(graph) == [first.id]
    with JournalStore(path) as other:
        head = other.branch_head("db", "main")
        added = other.append("db", "main", [table("t2"), table("t3")], expected_head=head)
        other.create_branch("db", "side", first.id)
        side = other.append("db", "side", [table("s1")], expected_head=first.id)
    again = store.graph("db")
    assert again is graph
    assert list(again) == [first.id, added[0].id, added[1].id, side[0].id]
    assert again.first_parent_base(added[1].id, side[0].id) == first.id
    assert [e.id for e in store.chain("db", added[1].id)] == [first.id] + [e.id for e in added]
    assert store.chain("db", None) == []
    with pytest.raises(EventNotFoundError):
        store.chain("db", "0" * 64)


def test_graph_cache_notices_a_recreated_database(store: JournalStore, path: Path) -> None:
    append_one(store, "t1")
    assert len(list(store.graph("db"))) == 1
    with JournalStore(path) as other:
        other.delete_database("db")
        other.create_database("db")
        other.create_branch("db", "main", None)
        fresh = other.append("db", "main", [table("u1")], expected_head=None)[0]
    assert list(store.graph("db")) == [fresh.id]


def test_events_of_another_database_are_not_visible(store: JournalStore) -> None:
    store.create_database("other")
    store.create_branch("other", "main", None)
    foreign = store.append("other", "main", [table("x")], expected_head=None)[0]
    with pytest.raises(EventNotFoundError):
        store.create_branch("db", "stolen", foreign.id)
    with pytest.raises(EventNotFoundError):
        store.resolve("db", foreign.id)
    assert foreign.id not in list(store.graph("db"))


def test_identical_event_appended_twice_is_stored_once(
    store: JournalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = append_one(store, "t0")
    store.create_branch("db", "twin", base.id)
    moment = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)

    class FrozenClock(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> FrozenClock:
            return cls.fromtimestamp(moment.timestamp(), tz)

    monkeypatch.setattr(store_module, "datetime", FrozenClock)
    # Same change, same parent, same timestamp: the same content, hence the same id, on two
    # branches. The second append finds the row already there and only moves its head.
    [on_main] = store.append("db", "main", [table("t1")], expected_head=base.id)
    [on_twin] = store.append("db", "twin", [table("t1")], expected_head=base.id)
    assert on_main.id == on_twin.id
    assert store.branch_head("db", "twin") == store.branch_head("db", "main") == on_main.id
    assert store.connection.execute("SELECT count(*) FROM journal_events").fetchone() == (2,)
    assert len(list(store.graph("db"))) == 2
    assert store.verify("db") == []


# -- concurrency ----------------------------------------------------------------------------

# Run in separate interpreters: waits for the go file, then appends ``count`` events to
# db/main, re-reading the head after each ConcurrentChangeError, and reports its retries.
WORKER = """
import json, sys, time
from pathlib import Path
from journal.definitions import ColumnDef, TableDef
from journal.errors import ConcurrentChangeError
from journal.events import TableCreated
from journal.store import JournalStore

path, tag, count, ready, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
store = JournalStore(path)
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.001)
retries = 0
for index in range(count):
    change = TableCreated(table=TableDef(name=f"{tag}_{index}", columns=(ColumnDef(name="a"),)))
    while True:
        head = store.branch_head("db", "main")
        try:
            store.append("db", "main", [change], expected_head=head, author=tag)
            break
        except ConcurrentChangeError:
            retries += 1
store.close()
sys.stdout.write(json.dumps({"retries": retries}))
"""


def test_two_processes_append_to_one_branch(path: Path, tmp_path: Path) -> None:
    count = 200
    with JournalStore(path) as store:
        store.create_database("db")
        store.create_branch("db", "main", None)
    go = tmp_path / "go"
    env = dict(
        os.environ, PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")
    )
    workers = []
    for tag in ("p1", "p2"):
        ready = tmp_path / f"{tag}.ready"
        process = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(path), tag, str(count), str(ready), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        workers.append((tag, ready, process))
    deadline = time.monotonic() + 60
    while not all(ready.exists() for _, ready, _ in workers):
        assert time.monotonic() < deadline, "workers did not start"
        assert all(process.poll() is None for _, _, process in workers), [
            process.communicate() for _, _, process in workers
        ]
        time.sleep(0.01)
    go.touch()
    retries: dict[str, int] = {}
    for tag, _, process in workers:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        retries[tag] = json.loads(out)["retries"]

    with JournalStore(path) as store:
        head = store.branch_head("db", "main")
        assert head is not None
        chain = store.chain("db", head)
        assert len(chain) == 2 * count
        # Nothing else was written: a losing attempt leaves no orphan event behind.
        assert len(list(store.graph("db"))) == 2 * count
        # One linear chain: each event's only parent is the event before it.
        assert chain[0].parents == ()
        for before, after in pairwise(chain):
            assert after.parents == (before.id,)
        names = [table_name(event) for event in chain]
        assert len(set(names)) == len(names)
        for tag in ("p1", "p2"):
            # Every payload of each writer exactly once, in the order that writer appended them.
            own = [table_name(event) for event in chain if event.author == tag]
            assert own == [f"{tag}_{index}" for index in range(count)], retries
        assert store.verify("db") == []


def table_name(event: Event) -> str:
    assert isinstance(event.change, TableCreated)
    return event.change.table.name


def test_stale_writer_in_another_instance_gets_a_clear_error(path: Path) -> None:
    with JournalStore(path) as writer, JournalStore(path) as stale:
        writer.create_database("db")
        writer.create_branch("db", "main", None)
        seen = stale.branch_head("db", "main")
        moved = writer.append("db", "main", [table("t1")], expected_head=None)[0]
        with pytest.raises(ConcurrentChangeError) as caught:
            stale.append("db", "main", [TableDropped(table="t1")], expected_head=seen)
        assert caught.value.expected is None
        assert caught.value.actual == moved.id
        assert str(caught.value) == (
            "Branch 'main' of database 'db' changed while this change was being made"
            f" (expected head <empty>, found {moved.id[:12]}); re-read the branch and try again"
        )
        assert writer.branch_head("db", "main") == moved.id
