"""Explicit transactions on autocommit SQLite connections.

Every connection CinchDB opens is in autocommit mode (``isolation_level=None``), where
``with conn:`` opens no transaction: each statement inside it commits on its own. Writes that
belong together go through :func:`transaction` instead, which issues ``BEGIN IMMEDIATE`` itself
and commits, or rolls back on any error.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from journal import drivers

__all__ = ["BEGIN_ATTEMPTS", "savepoint", "transaction"]

#: Times ``BEGIN`` is tried when SQLite reports the database busy at once. The busy timeout
#: normally makes BEGIN IMMEDIATE wait for the lock; SQLite still returns SQLITE_BUSY without
#: waiting in a few cases (e.g. a WAL file being recovered by another connection), which a
#: short pause resolves.
BEGIN_ATTEMPTS = 5
_FIRST_PAUSE_S = 0.01
_SQLITE_BUSY = 5


def _is_busy(error: Exception) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF == _SQLITE_BUSY
    return "database is locked" in str(error)


def _begin(conn: sqlite3.Connection, statement: str) -> None:
    pause = _FIRST_PAUSE_S
    for attempt in range(BEGIN_ATTEMPTS):
        try:
            conn.execute(statement)
            return
        except drivers.OperationalError as e:
            if attempt == BEGIN_ATTEMPTS - 1 or not _is_busy(e):
                raise
        time.sleep(pause)
        pause *= 2


@contextmanager
def transaction(
    conn: sqlite3.Connection, *, immediate: bool = True, commit: bool = True
) -> Iterator[sqlite3.Connection]:
    """One transaction on an autocommit connection: committed when the block ends, rolled
    back if it raises.

    ``BEGIN IMMEDIATE`` takes the write lock up front, so checks made inside the block still
    hold at commit, and a waiting writer goes through the busy handler (a deferred transaction
    that later upgrades to a writer fails at once with SQLITE_BUSY). ``immediate=False`` opens
    a deferred transaction: a consistent snapshot for several reads. ``commit=False`` rolls
    back even on success: a dry run that checks everything and keeps nothing.

    Raises:
        The driver's OperationalError: the lock stayed busy for every attempt at BEGIN.
    """
    if conn.in_transaction:
        raise sqlite3.ProgrammingError("transaction() needs a connection with no open transaction")
    _begin(conn, "BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield conn
        conn.execute("COMMIT" if commit else "ROLLBACK")
    except BaseException:
        if conn.in_transaction:
            # The original error matters more than a failed rollback, after which SQLite has
            # rolled back on its own anyway.
            with suppress(*drivers.Error):
                conn.execute("ROLLBACK")
        raise


@contextmanager
def savepoint(conn: sqlite3.Connection, name: str) -> Iterator[sqlite3.Connection]:
    """All or nothing inside a transaction the caller already holds: released when the block
    ends, rolled back to its start (and released) if it raises, leaving the caller's
    transaction open either way. ``name`` is a fixed identifier chosen by CinchDB."""
    conn.execute(f"SAVEPOINT {name}")
    try:
        yield conn
    except BaseException:
        with suppress(*drivers.Error):
            conn.execute(f"ROLLBACK TO {name}")
            conn.execute(f"RELEASE {name}")
        raise
    conn.execute(f"RELEASE {name}")
