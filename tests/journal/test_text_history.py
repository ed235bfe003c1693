"""The journal's add-only text form (journal/textlog.py): written with every change, read back
into a fresh metadata.db, checked by hash, and the head rule for branches git merged."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from journal import BranchHeadsError, CorruptJournalError, JournalStore
from journal.definitions import ColumnDef, TableDef
from journal.events import TableCreated
from journal.textlog import BRANCHES_DIR, EVENTS_DIR, TextHistory


def _table(name: str) -> TableCreated:
    return TableCreated(table=TableDef(name=name, columns=(ColumnDef(name="a", type="TEXT"),)))


def _store(directory: Path) -> JournalStore:
    directory.mkdir(parents=True, exist_ok=True)
    return JournalStore(directory / "metadata.db", history=TextHistory(directory / "history"))


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.json"))}


def test_every_change_is_a_new_file_and_none_is_edited(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        store.create_database("db")
        store.create_branch("db", "main", None)
        seen = _files(tmp_path / "history")
        first = store.append("db", "main", [_table("t1"), _table("t2")], expected_head=None)
        store.create_branch("db", "feature", first[-1].id)
        store.append("db", "feature", [_table("t3")], expected_head=first[-1].id)
        store.reset_branch("db", "main", first[0].id, expected_head=first[-1].id)
        store.delete_branch("db", "feature")
        now = _files(tmp_path / "history")
    # Add-only: every earlier file is still there, byte for byte.
    assert {name: now[name] for name in seen} == seen
    events = [name for name in now if f"/{EVENTS_DIR}/" in name]
    assert len(events) == 3
    for event in first:
        path = tmp_path / "history" / "db" / EVENTS_DIR / f"{event.id}.json"
        assert path.read_text() == event.canonical_body()
    # create main, move main, create feature, move feature, reset main, delete feature
    assert len([name for name in now if f"/{BRANCHES_DIR}/" in name]) == 6


def test_a_fresh_metadata_db_is_rebuilt_from_the_files(tmp_path: Path) -> None:
    with _store(tmp_path / "a") as store:
        store.create_database("db")
        store.create_branch("db", "main", None)
        events = store.append("db", "main", [_table("t1"), _table("t2")], expected_head=None)
        store.create_branch("db", "feature", events[0].id)
    shutil.copytree(tmp_path / "a" / "history", tmp_path / "b" / "history")
    with _store(tmp_path / "b") as store:
        assert store.sync_history()
        assert store.list_databases() == ["db"]
        assert store.branch_head("db", "main") == events[-1].id
        assert store.branch_head("db", "feature") == events[0].id
        assert [e.id for e in store.chain("db", events[-1].id)] == [e.id for e in events]
        assert store.verify("db") == []
        # Directory times older than the racy window are trusted: once recorded, a sync with
        # nothing changed reads only the fingerprint.
        for directory in (tmp_path / "b" / "history" / "db").iterdir():
            os.utime(directory, ns=(1_000_000_000, 1_000_000_000))
        store.sync_history()
        assert not store.sync_history()
    # Files git adds change their directories' times: the next sync reads them.
    with _store(tmp_path / "a") as store:
        [extra] = store.append("db", "feature", [_table("t3")], expected_head=events[0].id)
    _merge_trees(tmp_path / "a" / "history", tmp_path / "b" / "history")
    with _store(tmp_path / "b") as store:
        assert store.sync_history()
        assert store.branch_head("db", "feature") == extra.id


def test_an_edited_event_file_is_refused_naming_it(tmp_path: Path) -> None:
    with _store(tmp_path / "a") as store:
        store.create_database("db")
        store.create_branch("db", "main", None)
        [event] = store.append("db", "main", [_table("t1")], expected_head=None)
    shutil.copytree(tmp_path / "a" / "history", tmp_path / "b" / "history")
    path = tmp_path / "b" / "history" / "db" / EVENTS_DIR / f"{event.id}.json"
    path.write_text(path.read_text().replace('"t1"', '"t9"'))
    with _store(tmp_path / "b") as store, pytest.raises(CorruptJournalError, match=str(path)):
        store.sync_history()


def test_a_missing_parent_is_refused(tmp_path: Path) -> None:
    with _store(tmp_path / "a") as store:
        store.create_database("db")
        store.create_branch("db", "main", None)
        first, _ = store.append("db", "main", [_table("t1"), _table("t2")], expected_head=None)
    shutil.copytree(tmp_path / "a" / "history", tmp_path / "b" / "history")
    (tmp_path / "b" / "history" / "db" / EVENTS_DIR / f"{first.id}.json").unlink()
    with _store(tmp_path / "b") as store, pytest.raises(CorruptJournalError, match="incomplete"):
        store.sync_history()


def _merge_trees(source: Path, target: Path) -> None:
    """What git does when merging two lines that only added files."""
    for path in source.rglob("*.json"):
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        if not destination.exists():
            shutil.copy2(path, destination)


def test_two_lines_of_one_branch_give_two_heads_and_refuse_changes(tmp_path: Path) -> None:
    with _store(tmp_path / "base") as store:
        store.create_database("db")
        store.create_branch("db", "main", None)
        [base] = store.append("db", "main", [_table("t0")], expected_head=None)
    for line, table in (("ours", "t1"), ("theirs", "t2")):
        shutil.copytree(tmp_path / "base", tmp_path / line)
        with _store(tmp_path / line) as store:
            store.append("db", "main", [_table(table)], expected_head=base.id)
    _merge_trees(tmp_path / "theirs" / "history", tmp_path / "ours" / "history")
    with _store(tmp_path / "ours") as store:
        store.sync_history()
        assert store.history is not None
        heads = store.branch_heads("db", "main")
        assert len(heads) == 2
        head = store.branch_head("db", "main")
        other = next(h for h in heads if h != head)
        with pytest.raises(BranchHeadsError, match="merge --heads main") as caught:
            store.append("db", "main", [_table("t3")], expected_head=head)
        assert set(caught.value.heads) == set(heads)
        # A merge event that joins both heads is what resolves it.
        [merge] = store.append("db", "main", [_table("t3")], expected_head=head, merge_parent=other)
        store.append("db", "main", [_table("t4")], expected_head=merge.id)


def test_a_line_that_only_lagged_behind_is_not_a_second_head(tmp_path: Path) -> None:
    with _store(tmp_path / "old") as store:
        store.create_database("db")
        store.create_branch("db", "main", None)
        [base] = store.append("db", "main", [_table("t0")], expected_head=None)
    shutil.copytree(tmp_path / "old", tmp_path / "new")
    with _store(tmp_path / "new") as store:
        [later] = store.append("db", "main", [_table("t1")], expected_head=base.id)
    _merge_trees(tmp_path / "old" / "history", tmp_path / "new" / "history")
    with _store(tmp_path / "new") as store:
        store.sync_history()
        assert store.branch_head("db", "main") == later.id
        store.append("db", "main", [_table("t2")], expected_head=later.id)


def test_a_journal_made_before_the_text_history_is_written_out(tmp_path: Path) -> None:
    with JournalStore(tmp_path / "metadata.db") as store:
        store.create_database("db")
        store.create_branch("db", "main", None)
        events = store.append("db", "main", [_table("t1"), _table("t2")], expected_head=None)
    with _store(tmp_path) as store:
        store.sync_history()
    shutil.copytree(tmp_path / "history", tmp_path / "clone" / "history")
    with _store(tmp_path / "clone") as clone:
        clone.sync_history()
        assert clone.branch_head("db", "main") == events[-1].id


def test_checking_out_an_older_history_moves_the_branch_back(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        store.create_database("db")
        store.create_branch("db", "main", None)
        [first] = store.append("db", "main", [_table("t1")], expected_head=None)
        saved = tmp_path / "saved"
        shutil.copytree(tmp_path / "history", saved)
        [second] = store.append("db", "main", [_table("t2")], expected_head=first.id)
        store.create_branch("db", "later", second.id)
    shutil.rmtree(tmp_path / "history")
    shutil.copytree(saved, tmp_path / "history")
    with _store(tmp_path) as store:
        store.sync_history()
        assert store.branch_head("db", "main") == first.id
        # Made on the other line: not a branch of this history; its events stay known.
        assert not store.has_branch("db", "later")
        assert store.get_event(second.id).id == second.id
        # An append takes its parent from the checked-out history.
        [third] = store.append("db", "main", [_table("t3")], expected_head=first.id)
        assert third.parents == (first.id,)
