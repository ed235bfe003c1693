"""Data steps carried by a merge into real tenant files: preflighted like any change, applied
once per tenant. The rules themselves are fixtures (tests/fixtures/merge, 36-49)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import cinchdb
from cinchdb.errors import PreflightError
from tests.cinchdb.test_merge_scenarios import snapshot


def rows(db: cinchdb.CinchDB, tenant: str, query: str) -> list[tuple]:
    db._files.connection("main", tenant)  # caught up
    conn = sqlite3.connect(db._files.path("main", tenant))
    try:
        return conn.execute(query).fetchall()
    finally:
        conn.close()


def write(db: cinchdb.CinchDB, tenant: str, sql: str) -> None:
    conn = sqlite3.connect(db._files.path("main", tenant))
    try:
        with conn:
            conn.execute(sql)
    finally:
        conn.close()


def test_a_merged_data_step_that_fails_on_a_tenants_rows_writes_nothing(tmp_path: Path):
    root = cinchdb.init(tmp_path / "p")
    with cinchdb.connect(project_dir=root) as db:
        db.migrate("CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT);")
        db.create_tenant("acme", lazy=False)
        db.create_tenant("globex", lazy=False)
        write(db, "acme", "INSERT INTO users VALUES ('u1', 'a@example.com')")
        db.create_branch("feature")
        db.switch_branch("feature")
        db.migrate("INSERT INTO users (id, email) VALUES ('u2', 'a@example.com');")
        db.switch_branch("main")
        # Main's unique index names no column the data step's rules look at: a clean merge
        # by the rules, refused by acme's rows.
        db.migrate("CREATE UNIQUE INDEX idx_email ON users (email);")
        assert db.merge_preview("feature", "main")["conflicts"] == []
        before = snapshot(root)
        with pytest.raises(PreflightError, match="tenant 'acme': UNIQUE constraint failed"):
            db.merge_branches("feature", "main")
        assert snapshot(root) == before


def test_a_merged_backfill_reaches_every_tenant_once(tmp_path: Path):
    root = cinchdb.init(tmp_path / "p")
    with cinchdb.connect(project_dir=root) as db:
        db.migrate("CREATE TABLE counters (id TEXT PRIMARY KEY, n INTEGER NOT NULL);")
        db.create_tenant("acme", lazy=False)
        db.create_tenant("globex", lazy=False)
        for tenant in ("acme", "globex"):
            write(db, tenant, "INSERT INTO counters VALUES ('c', 0)")
        db.create_branch("feature")
        db.switch_branch("feature")
        db.migrate("UPDATE counters SET n = n + 1;")
        db.switch_branch("main")
        db.migrate("CREATE TABLE notes (id TEXT PRIMARY KEY);")  # main moved on: a real merge
        result = db.merge_branches("feature", "main")
        assert result["status"] == "success" and not result["fast_forward"]
    # A new process reads the tenants again: the step is behind every cursor, not re-run.
    with cinchdb.connect(project_dir=root) as db:
        for tenant in ("acme", "globex"):
            assert rows(db, tenant, "SELECT n FROM counters") == [(1,)], tenant
        assert db.merge_branches("feature", "main")["status"] == "up_to_date"
        for tenant in ("acme", "globex"):
            assert rows(db, tenant, "SELECT n FROM counters") == [(1,)], tenant
