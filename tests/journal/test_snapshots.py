"""Schema snapshots in metadata.db: a fold starts from the nearest one on its chain, and a
missing, stale, corrupted or foreign snapshot only makes it start further back."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings

from journal import (
    ColumnAdded,
    ColumnDef,
    ColumnDropped,
    ColumnRenamed,
    FoldCache,
    IndexCreated,
    IndexDef,
    IndexedColumn,
    Operation,
    Schema,
    TableCreated,
    TableDef,
    ViewCreated,
    ViewDef,
    apply_all,
    fold,
)
from journal._store_sql import TABLES, snapshot_hash
from journal.store import SCHEMA_VERSION, SNAPSHOT_INTERVAL, JournalStore

from .schema_gen import valid_sequence

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 5_000
#: Changes per append while building: each append stores the snapshot of its head.
CHUNK = 500


def workload(count: int) -> list[Operation]:
    """Tables, a view and an index that renames must carry along, then columns added, renamed
    and dropped in turn."""
    ops: list[Operation] = [
        TableCreated(
            table=TableDef(
                name=f"t{n}",
                columns=(ColumnDef(name="id", type="INTEGER"), ColumnDef(name="name")),
            )
        )
        for n in range(3)
    ]
    ops.append(ViewCreated(view=ViewDef(name="v", sql='CREATE VIEW v AS SELECT "name" FROM t0')))
    ops.append(
        IndexCreated(index=IndexDef(name="i1", table="t1", columns=(IndexedColumn(column="name"),)))
    )
    serial = 0
    while len(ops) < count:
        table = f"t{serial % 3}"
        ops.append(ColumnAdded(table=table, column=ColumnDef(name=f"c{serial}", type="INTEGER")))
        ops.append(ColumnRenamed(table=table, column=f"c{serial}", new_name=f"r{serial}"))
        ops.append(ColumnDropped(table=table, column=f"r{serial}"))
        if serial % 50 == 0:
            ops.append(ColumnRenamed(table="t0", column="name", new_name=f"name{serial}"))
            ops.append(ColumnRenamed(table="t0", column=f"name{serial}", new_name="name"))
        serial += 1
    return ops[:count]


def build(path: Path, ops: list[Operation], *, snapshots: bool = True) -> str:
    """A journal whose ``main`` branch is ``ops``, appended in chunks; its head."""
    schema = Schema()
    with JournalStore(path) as store:
        store.create_database("db")
        store.create_branch("db", "main", head=None)
        head: str | None = None
        for start in range(0, len(ops), CHUNK):
            chunk = ops[start : start + CHUNK]
            schema = apply_all(schema, chunk)
            events = store.append(
                "db",
                "main",
                chunk,
                expected_head=head,
                snapshot=schema.snapshot_text() if snapshots else None,
            )
            head = events[-1].id
    assert head is not None
    return head


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Schema]:
    """A 5,000-event journal, its head and the schema a full fold from scratch gives."""
    path = tmp_path_factory.mktemp("snapshots") / "metadata.db"
    head = build(path, workload(EVENTS))
    with JournalStore(path) as store:
        expected = fold(store.chain("db", head))
    return path, head, expected


@pytest.fixture
def journal(built: tuple[Path, str, Schema], tmp_path: Path) -> tuple[Path, str, Schema]:
    """A private copy of the built journal, free to damage."""
    path, head, expected = built
    copy = tmp_path / "metadata.db"
    shutil.copyfile(path, copy)
    return copy, head, expected


def cold_fold(path: Path, event_id: str) -> tuple[Schema, int]:
    """The schema at ``event_id`` from a store just opened, and how many schemas the fold
    computed or loaded to get it (1: it started from a snapshot of that very event)."""
    with JournalStore(path) as store:
        cache = FoldCache(store.get_event, chain=store)
        return cache.schema_at(event_id), len(cache)


def snapshot_rows(path: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT event_id, permanent FROM journal_snapshots ORDER BY rowid"
        ).fetchall()


CHILD = """
import json, sys
from journal import FoldCache, JournalStore
with JournalStore(sys.argv[1]) as store:
    cache = FoldCache(store.get_event, chain=store)
    schema = cache.schema_at(sys.argv[2])
    print(json.dumps({"canonical": schema.canonical_text(), "exact": schema.snapshot_text(),
                      "folded": len(cache)}))
"""


def test_a_cold_process_gets_the_schema_of_a_full_fold(journal: tuple[Path, str, Schema]) -> None:
    path, head, expected = journal
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), head],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        check=True,
        timeout=120,
    )
    out = json.loads(result.stdout)
    assert out["canonical"] == expected.canonical_text()
    assert out["exact"] == expected.snapshot_text()
    # Started from the head's snapshot: nothing was folded.
    assert out["folded"] == 1


def test_snapshots_are_kept_at_intervals_and_at_the_head(journal: tuple[Path, str, Schema]):
    path, head, _ = journal
    rows = snapshot_rows(path)
    # 10 appends of 500 events: each crosses a multiple of SNAPSHOT_INTERVAL, so each head's
    # snapshot is permanent; none was pruned.
    assert len(rows) == EVENTS // CHUNK
    assert all(permanent for _, permanent in rows)
    assert rows[-1][0] == head


def test_a_head_snapshot_goes_when_the_head_moves_on(tmp_path: Path) -> None:
    path = tmp_path / "metadata.db"
    ops = workload(40)
    schema = Schema()
    with JournalStore(path) as store:
        store.create_database("db")
        store.create_branch("db", "main", head=None)
        store.create_branch("db", "other", head=None)
        head = None
        for op in ops:
            schema = apply_all(schema, [op])
            head = store.append(
                "db", "main", [op], expected_head=head, snapshot=schema.snapshot_text()
            )[-1].id
            if op is ops[20]:
                store.move_branch("db", "other", head, expected_head=None)
                kept = head
    rows = snapshot_rows(path)
    # The head's, and the one another branch still points at.
    assert {event_id for event_id, _ in rows} == {head, kept}
    assert not any(permanent for _, permanent in rows)
    assert cold_fold(path, head) == (schema, 1)


@pytest.mark.parametrize(
    "damage",
    [
        # A byte of the body changed: still valid JSON, a different schema.
        "UPDATE journal_snapshots SET body = replace(body, '\"t0\"', '\"tX\"')",
        "UPDATE journal_snapshots SET body = substr(body, 1, length(body) / 2)",
        "UPDATE journal_snapshots SET hash = replace(hash, substr(hash, 1, 1), 'z')",
        "UPDATE journal_snapshots SET body = CAST(body AS BLOB) || x'00'",
    ],
    ids=["body-edited", "body-truncated", "hash-edited", "bytes-appended"],
)
def test_a_corrupted_snapshot_is_detected_and_ignored(
    journal: tuple[Path, str, Schema], damage: str
) -> None:
    path, head, expected = journal
    with sqlite3.connect(path) as conn:
        assert conn.execute(damage).rowcount == EVENTS // CHUNK
    schema, folded = cold_fold(path, head)
    assert schema == expected
    assert schema.canonical_text() == expected.canonical_text()
    # Every snapshot was damaged: the fold went back to the root.
    assert folded == EVENTS


def test_a_damaged_head_snapshot_falls_back_to_the_one_before(
    journal: tuple[Path, str, Schema],
) -> None:
    path, head, expected = journal
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE journal_snapshots SET body = replace(body, '\"t1\"', '\"t9\"')"
            " WHERE event_id = ?",
            (head,),
        )
    schema, folded = cold_fold(path, head)
    assert schema == expected
    # Started from the previous append's head: one chunk of events folded.
    assert folded == CHUNK + 1


def test_a_snapshot_of_another_format_is_not_used(journal: tuple[Path, str, Schema]) -> None:
    # Written by some other version (its hash checks): this code cannot read it, so folds.
    path, head, expected = journal
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT event_id, body FROM journal_snapshots").fetchall()
        for event_id, body in rows:
            other = json.dumps(dict(json.loads(body), format=99))
            conn.execute(
                "UPDATE journal_snapshots SET body = ?, hash = ? WHERE event_id = ?",
                (other, snapshot_hash(event_id, other), event_id),
            )
    assert cold_fold(path, head) == (expected, EVENTS)


def test_a_snapshot_of_an_event_off_the_chain_is_not_used(tmp_path: Path) -> None:
    path = tmp_path / "metadata.db"
    ops = workload(50)
    main_head = build(path, ops)
    elsewhere: list[Operation] = [
        TableCreated(table=TableDef(name="elsewhere", columns=(ColumnDef(name="a"),))),
        *(ColumnAdded(table="elsewhere", column=ColumnDef(name=f"b{n}")) for n in range(5)),
    ]
    with JournalStore(path) as store:
        fork = store.chain("db", main_head)[29].id
        store.create_branch("db", "other", head=fork)
        other = apply_all(Schema(), ops[:30] + elsewhere)
        off_chain = store.append(
            "db", "other", elsewhere, expected_head=fork, snapshot=other.snapshot_text()
        )[-1].id
        expected = fold(store.chain("db", main_head))
    assert other != expected
    # The other branch's snapshot, valid for its own event, is never reached from main.
    assert cold_fold(path, main_head) == (expected, 1)
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM journal_snapshots WHERE event_id = ?", (main_head,))
        # Moved onto main's head without its hash (which binds it to its own event).
        conn.execute(
            "UPDATE journal_snapshots SET event_id = ? WHERE event_id = ?",
            (main_head, off_chain),
        )
    assert cold_fold(path, main_head) == (expected, 50)
    assert cold_fold(path, off_chain)[0] == other


def test_an_old_journal_without_snapshots_is_upgraded_and_folds_as_before(
    tmp_path: Path,
) -> None:
    path = tmp_path / "metadata.db"
    ops = workload(300)
    # A version 1 metadata.db, as the code before snapshots made it.
    with sqlite3.connect(path) as conn:
        for statement in TABLES:
            if "journal_snapshots" not in statement:
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
    head = build(path, ops[:299], snapshots=False)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("SELECT count(*) FROM journal_snapshots").fetchone()[0] == 0
    expected = apply_all(Schema(), ops[:299])
    assert cold_fold(path, head) == (expected, 299)
    # The next append that brings a snapshot makes the following cold fold cheap.
    after = apply_all(expected, ops[299:])
    with JournalStore(path) as store:
        head = store.append(
            "db", "main", ops[299:], expected_head=head, snapshot=after.snapshot_text()
        )[-1].id
    # A head snapshot: generation 300 is in the same interval as 299.
    assert 299 // SNAPSHOT_INTERVAL == 300 // SNAPSHOT_INTERVAL
    assert snapshot_rows(path) == [(head, 0)]
    assert cold_fold(path, head) == (after, 1)


def test_delete_database_removes_its_snapshots(journal: tuple[Path, str, Schema]) -> None:
    path, _, _ = journal
    with JournalStore(path) as store:
        store.delete_database("db")
    assert snapshot_rows(path) == []


@settings(max_examples=100, deadline=None)
@given(operations=valid_sequence())
def test_snapshot_text_round_trips_exactly(operations: list[Operation]) -> None:
    schema = apply_all(Schema(), operations)
    again = Schema.from_snapshot_text(schema.snapshot_text())
    assert again == schema
    assert again is not None
    assert [t.name for t in again.tables] == [t.name for t in schema.tables]
    assert again.sql() == schema.sql()


def test_text_that_is_no_snapshot_gives_none() -> None:
    assert Schema.from_snapshot_text("not json") is None
    assert Schema.from_snapshot_text('{"format": 1}') is None
