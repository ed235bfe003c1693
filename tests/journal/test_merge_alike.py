"""Changes made alike on both sides (the same script applied to two branches, a hotfix
cherry-picked by hand) merge cleanly, to that side's schema, in the plan and in SQLite.

Each case once came out as a false conflict, or, for an object both sides dropped and created
again, as a clean merge that dropped the object from the target. Chains that create, drop and
create one object again with a different definition in between, or rename a table the side
created, are still reported as conflicts (conservative: nothing is written)."""

from __future__ import annotations

import sqlite3

import pytest

from journal import Schema, apply_all, apply_operations, introspect, parse
from journal.merge import plan_merge
from journal.merge_check import base_operations, semantic_check

from .test_merge_data import steps

BASE = (
    "CREATE TABLE users (id INTEGER PRIMARY KEY, a INTEGER, name TEXT);"
    "CREATE TABLE audit (id INTEGER PRIMARY KEY, what TEXT);"
    "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);"
    "CREATE VIEW named AS SELECT id, name FROM users WHERE name IS NOT NULL;"
    "CREATE INDEX users_name ON users (name);"
    "CREATE TRIGGER users_audit AFTER UPDATE ON users"
    " BEGIN INSERT INTO audit (what) VALUES (new.name); END;"
)

CASES = {
    "view dropped and created again": (
        "DROP VIEW named; CREATE VIEW named AS SELECT id, name FROM users;"
    ),
    "index dropped and created again": (
        "DROP INDEX users_name; CREATE INDEX users_name ON users (name, a);"
    ),
    "trigger dropped and created again": (
        "DROP TRIGGER users_audit; CREATE TRIGGER users_audit AFTER INSERT ON users"
        " BEGIN INSERT INTO audit (what) VALUES (new.name); END;"
    ),
    "a chain of renames": "ALTER TABLE notes RENAME TO log; ALTER TABLE log RENAME TO history;",
    "a renamed table's name taken again": (
        "ALTER TABLE notes RENAME TO log; CREATE TABLE notes (id INTEGER PRIMARY KEY);"
        " ALTER TABLE log RENAME TO history;"
    ),
    "a table created with an index, then dropped": (
        "CREATE TABLE scratch (a INTEGER); CREATE INDEX scratch_a ON scratch (a);"
        " DROP TABLE scratch;"
    ),
    "a table changed, then dropped": (
        "ALTER TABLE notes ADD COLUMN at TEXT; ALTER TABLE notes DROP COLUMN body;"
        " DROP TABLE notes;"
    ),
    "a table dropped, created again and dropped": (
        "DROP TABLE notes; CREATE TABLE notes (id INTEGER PRIMARY KEY); DROP TABLE notes;"
    ),
}


@pytest.mark.parametrize("sql", CASES.values(), ids=CASES.keys())
def test_changes_made_alike_on_both_sides_merge_to_that_side(sql: str) -> None:
    base = apply_all(Schema(), parse(BASE))
    side = apply_all(base, parse(sql))
    plan, conflicts = plan_merge(
        base, steps(base, sql, "ours"), steps(base, sql, "theirs"), side, side,
        check=semantic_check,
    )  # fmt: skip
    assert conflicts == []
    assert plan.schema.canonical() == side.canonical()
    conn = sqlite3.connect(":memory:", isolation_level=None)
    schema = apply_operations(conn, Schema(), base_operations(base))
    schema = apply_operations(conn, schema, parse(sql))
    apply_operations(conn, schema, plan.operations)
    assert introspect(conn).canonical() == side.canonical()
    conn.close()
