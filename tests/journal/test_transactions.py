"""``transaction()``: explicit BEGIN IMMEDIATE on autocommit connections, and the store's own."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from journal.store import JournalStore
from journal.transactions import BEGIN_ATTEMPTS, savepoint, transaction


@pytest.fixture
def conns(tmp_path: Path) -> Iterator[tuple[sqlite3.Connection, sqlite3.Connection]]:
    """Two autocommit connections to one WAL file; the first does not wait for locks."""
    path = tmp_path / "t.db"
    first = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    second = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    first.execute("PRAGMA journal_mode = WAL")
    first.execute("CREATE TABLE t (x INTEGER)")
    first.execute("PRAGMA busy_timeout = 0")
    yield first, second
    first.close()
    second.close()


def rows(conn: sqlite3.Connection) -> list[int]:
    return [x for (x,) in conn.execute("SELECT x FROM t ORDER BY x")]


def test_statements_commit_together_and_an_error_rolls_all_back(conns) -> None:
    conn, other = conns
    with transaction(conn):
        conn.execute("INSERT INTO t VALUES (1)")
        assert rows(other) == []  # nothing visible before the commit
        conn.execute("INSERT INTO t VALUES (2)")
    assert rows(other) == [1, 2]
    with pytest.raises(RuntimeError), transaction(conn):
        conn.execute("INSERT INTO t VALUES (3)")
        raise RuntimeError("boom")
    assert rows(other) == [1, 2] and not conn.in_transaction


def test_a_dry_run_checks_and_keeps_nothing(conns) -> None:
    conn, other = conns
    with transaction(conn, commit=False):
        conn.execute("INSERT INTO t VALUES (1)")
    assert rows(other) == [] and not conn.in_transaction


def test_begin_is_retried_while_another_writer_briefly_holds_the_lock(conns) -> None:
    conn, other = conns
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.03, lambda: other.execute("COMMIT"))
    release.start()
    try:
        with transaction(conn):  # busy_timeout 0: only the retry can get the lock
            conn.execute("INSERT INTO t VALUES (1)")
    finally:
        release.join()
    assert rows(other) == [1]


def test_begin_gives_up_after_its_attempts(conns, monkeypatch) -> None:
    conn, other = conns
    other.execute("BEGIN IMMEDIATE")
    sleeps: list[float] = []
    monkeypatch.setattr("journal.transactions.time.sleep", sleeps.append)
    with pytest.raises(sqlite3.OperationalError, match="locked"), transaction(conn):
        pass
    other.execute("ROLLBACK")
    assert len(sleeps) == BEGIN_ATTEMPTS - 1 and sleeps == sorted(sleeps)


def test_a_transaction_inside_another_is_refused(conns) -> None:
    conn, _ = conns
    with transaction(conn), pytest.raises(sqlite3.ProgrammingError), transaction(conn):
        pass


def test_the_store_transaction_is_atomic_and_changes_the_version(tmp_path: Path) -> None:
    with JournalStore(tmp_path / "metadata.db") as store:
        store.connection.execute("CREATE TABLE product (x INTEGER)")
        before = store.version()
        with pytest.raises(RuntimeError), store.transaction() as conn:
            conn.execute("INSERT INTO product VALUES (1)")
            raise RuntimeError("boom")
        assert store.connection.execute("SELECT count(*) FROM product").fetchone() == (0,)
        with store.transaction() as conn:
            conn.execute("INSERT INTO product VALUES (1)")
            conn.execute("INSERT INTO product VALUES (2)")
        assert store.connection.execute("SELECT count(*) FROM product").fetchone() == (2,)
        assert store.version() != before


def test_a_savepoint_undoes_only_its_own_block_and_keeps_the_outer_transaction(conns) -> None:
    conn, other = conns
    with transaction(conn):
        conn.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(sqlite3.IntegrityError), savepoint(conn, "inner"):
            conn.execute("INSERT INTO t VALUES (2)")
            raise sqlite3.IntegrityError("refused")
        assert conn.in_transaction
        with savepoint(conn, "inner"):
            conn.execute("INSERT INTO t VALUES (3)")
        assert rows(other) == []
    assert rows(other) == [1, 3]
