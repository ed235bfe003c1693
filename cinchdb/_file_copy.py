"""Copying SQLite files safely: the whole file or nothing, never a torn or plain copy."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

from cinchdb._system_tables import STATE_TABLE
from journal.transactions import transaction


def is_encrypted(conn: sqlite3.Connection) -> bool:
    return type(conn).__module__.startswith("sqlcipher3") or any(
        cls.__module__.startswith("sqlcipher3") for cls in type(conn).__mro__
    )


def checkpoint(conn: sqlite3.Connection) -> None:
    """Move a template's WAL into its main file and empty the WAL, so that materializing a
    tenant can copy the file's bytes (see :func:`copy_quiet_file`). Best effort: a reader
    in another process can make it a partial checkpoint, and copies then use backup()."""
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def copy_quiet_file(source: sqlite3.Connection, source_path: Path, target: Path) -> bool:
    """Copy a WAL-mode file byte for byte if its WAL is empty; False if it is not.

    A read transaction on a snapshot with an empty WAL reads the main file only, and SQLite
    lets no checkpoint write the main file while such a reader holds its lock (the
    checkpointer needs WAL_READ_LOCK(0) exclusively), so the bytes cannot change under the
    copy; writers meanwhile only append to the WAL. The copy is ~0.1 ms against ~2 ms for
    the page-by-page backup API.
    """
    with transaction(source, immediate=False):
        source.execute(f'SELECT 1 FROM "{STATE_TABLE}" LIMIT 1').fetchall()
        wal = os.fspath(source_path) + "-wal"
        if os.path.exists(wal) and os.path.getsize(wal) > 0:
            return False
        shutil.copyfile(source_path, target)
        return True
