"""A file this process holds open through SQLite keeps its locks whatever else reads it.

Closing any descriptor of a file releases every POSIX advisory lock the process holds on it
(SQLite, "How To Corrupt An SQLite Database File", 2.2). A raw read of an open tenant file
(its header checked, its bytes copied) would drop the SHARED lock of the cached connection;
another process closing its own connection would then think itself the last, checkpoint and
delete the WAL and shared memory still mapped here, and the next reader of the file sees
"database disk image is malformed". Each test holds a connection, runs one of the raw-read
paths, lets a child process write and close, then reads through a fresh connection and the
handle itself. Real processes, real files.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import cinchdb
from cinchdb.models import Column
from tests.stress import iterations

CHILD = """
import sys, cinchdb
key = sys.argv[3] if len(sys.argv) > 3 else None
with cinchdb.connect(project_dir=sys.argv[1], tenant=sys.argv[2], encryption_key=key) as db:
    db.insert("users", [{"name": "x%d" % i} for i in range(20)])
"""
SEED = 2000
WRITTEN = 20


KEY = "posix-locks-key"


def _project(tmp_path: Path, key: str | None = None) -> tuple[Path, cinchdb.CinchDB]:
    root = cinchdb.init(tmp_path / "p")
    db = cinchdb.connect(project_dir=root)
    columns = [Column(name="name", type="TEXT", nullable=False), Column(name="age", type="INTEGER")]
    db.create_table("users", columns)
    db.create_tenant("acme", encrypt=key is not None, encryption_key=key)
    db.close()
    db = cinchdb.connect(project_dir=root, tenant="acme", encryption_key=key)
    db.insert("users", [{"name": f"n{i}", "age": i} for i in range(SEED)])
    return root, db


def _child_writes(root: Path, key: str | None = None) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), "acme", *([key] if key else [])],
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()


def _count(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM users").fetchone()[0])
    finally:
        conn.close()


def _holds_lock(path: Path) -> bool:
    """Whether this process holds a POSIX lock on the file (/proc/locks: the SHARED lock of
    an open WAL-mode connection). A dropped lock does not always show as a malformed read in
    a few rounds (it depends on what the WAL holds when the other process closes): this
    shows it directly."""
    inode = f":{os.stat(path).st_ino}"
    with open("/proc/locks") as locks:
        rows = [line.split() for line in locks]
    return any(
        row[4] == str(os.getpid()) and row[5].endswith(inode) for row in rows if len(row) > 5
    )


def _handle_count(db: cinchdb.CinchDB) -> int:
    return int(db.query("SELECT count(*) AS n FROM users")[0]["n"])


def test_check_keeps_the_cached_connections_locks(tmp_path: Path) -> None:
    root, db = _project(tmp_path)
    with db:
        path = db._files.path("main", "acme")
        for i in range(iterations(3, 20)):
            assert db.check()["ok"]
            assert _holds_lock(path)
            _child_writes(root)
            expected = SEED + WRITTEN * (i + 1)
            assert _count(path) == expected
            assert _handle_count(db) == expected


def test_copying_an_open_tenant_keeps_its_locks(tmp_path: Path) -> None:
    # A fresh handle each round: its file's WAL is empty (the last connection closed folded
    # it in), so the copy is made from the file's bytes while the handle holds it open. The
    # handle's own write after it puts frames in the WAL that a child process deleting the
    # WAL under it would take away.
    root, db = _project(tmp_path)
    path = db._files.path("main", "acme")
    db.close()
    for i in range(iterations(3, 20)):
        with cinchdb.connect(project_dir=root, tenant="acme") as db:
            assert _handle_count(db) == SEED + 2 * WRITTEN * i  # its connection cached
            db.copy_tenant("acme", f"copy{i}")
            assert _holds_lock(path)
            db.insert("users", [{"name": f"h{i}.{j}"} for j in range(WRITTEN)])
            _child_writes(root)
            expected = SEED + 2 * WRITTEN * (i + 1)
            assert _count(path) == expected
            assert _handle_count(db) == expected
            assert _count(db._files.path("main", f"copy{i}")) == SEED + 2 * WRITTEN * i


def test_copying_an_open_encrypted_tenant_keeps_its_locks(tmp_path: Path) -> None:
    # The copy folds the WAL in first; the handle's own write after it puts frames in the
    # WAL that a child process deleting the WAL under it would take away.
    root, db = _project(tmp_path, KEY)
    with db:
        for i in range(iterations(3, 20)):
            assert _handle_count(db) == SEED + 2 * WRITTEN * i  # its connection cached
            db.copy_tenant("acme", f"copy{i}")
            assert _holds_lock(db._files.path("main", "acme"))
            db.insert("users", [{"name": f"h{i}.{j}"} for j in range(WRITTEN)])
            _child_writes(root, KEY)
            expected = SEED + 2 * WRITTEN * (i + 1)
            with cinchdb.connect(project_dir=root, tenant="acme", encryption_key=KEY) as fresh:
                assert _handle_count(fresh) == expected
            assert _handle_count(db) == expected


def test_a_second_handle_opening_the_file_keeps_the_firsts_locks(tmp_path: Path) -> None:
    root, db = _project(tmp_path)
    with db:
        path = db._files.path("main", "acme")
        for i in range(iterations(3, 20)):
            assert _handle_count(db) == SEED + WRITTEN * i
            # Another handle in this process checks the file is whole as it opens it.
            with cinchdb.connect(project_dir=root, tenant="acme") as other:
                assert _handle_count(other) == SEED + WRITTEN * i
                assert _holds_lock(path)
            _child_writes(root)
            expected = SEED + WRITTEN * (i + 1)
            assert _count(path) == expected
            assert _handle_count(db) == expected
