"""Litestream's own tables (``_litestream_seq``, ``_litestream_lock``) in every file it
replicates, and its ``.NAME.db-litestream/`` directories, are not the user's schema."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import cinchdb
from cinchdb.adopt import adopt
from cinchdb.models import Column
from cinchdb.project import init_project

from .conftest import cinch_environment

DEADLINE = 30.0
LITESTREAM_TABLES = {"_litestream_seq", "_litestream_lock"}


def tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_schema")}
    finally:
        conn.close()


def cinch(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cinchdb.cli", *args],
        cwd=project,
        env=cinch_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_repair_and_adopt_pass_litestream_tables_over(tmp_path, replicator):
    project = tmp_path / "app"
    init_project(project)
    with cinchdb.connect(project_dir=project) as db:
        db.create_table("users", [Column(name="name", type="TEXT")])
        db.create_tenant("t1", lazy=False)
    with cinchdb.connect(tenant="t1", project_dir=project) as db:
        db.insert("users", {"name": "ann"})
    files = sorted((project / ".cinchdb" / "main-main").rglob("*.db"))
    running = replicator.start(project, str(tmp_path / "replica"))
    end = time.monotonic() + DEADLINE
    while not all(tables(path) >= LITESTREAM_TABLES for path in files):
        assert time.monotonic() < end, running.output()
        time.sleep(0.2)
    assert running.stop() == 0, running.output()
    assert list((project / ".cinchdb" / "main-main").rglob(".t1.db-litestream"))

    checked = cinch(project, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr

    repaired = cinch(project, "tenant", "repair", "t1")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert tables(next(p for p in files if p.name == "t1.db")) >= LITESTREAM_TABLES

    with cinchdb.connect(tenant="t1", project_dir=project) as db:
        assert [t.name for t in db.list_tables()] == ["users"]
        assert db.query("SELECT name FROM users") == [{"name": "ann"}]

    # A file that carries Litestream's tables is adopted without them in its schema.
    copy = tmp_path / "replicated.db"
    source = next(p for p in files if p.name == "t1.db")
    src = sqlite3.connect(source)
    dst = sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    dst.execute("DELETE FROM __cinch_state")
    dst.execute("DROP TABLE __cinch_state")
    dst.execute("DROP TABLE __kv")
    dst.commit()
    dst.close()
    assert tables(copy) >= LITESTREAM_TABLES
    adopt(copy, "legacy", project_dir=project)
    with cinchdb.connect("legacy", project_dir=project) as db:
        assert [t.name for t in db.list_tables()] == ["users"]

    deleted = cinch(project, "tenant", "delete", "t1", "--yes")
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
