"""``check()`` says what differs for a drifted tenant: the object, what the journal says and
what the file has, for tables, columns, constraints, indexes, views and triggers."""

from __future__ import annotations

import sqlite3

import pytest

from cinchdb.models import Column


@pytest.fixture
def acme(users):
    """``users`` with an index and a view, and a materialized tenant ``acme`` holding a row."""
    users.create_index("users_by_age", "users", ["age"])
    users.create_view("adults", "SELECT name FROM users WHERE age >= 18")
    users.create_tenant("acme")
    users.tenant = "acme"
    users.insert("users", {"name": "ann", "email": "ann@example.com", "age": 30})
    users.tenant = "main"
    return users


def tamper(db, *statements: str) -> None:
    """Change acme's file behind the journal's back, as a tool outside CinchDB would."""
    conn = sqlite3.connect(db._files.path("main", "acme"))
    try:
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


def differences(db) -> list[tuple[str, str | None, str | None]]:
    report = db.check()
    assert not report["ok"]
    [drift] = report["drift"]
    assert (drift["tenant"], drift["branch"]) == ("acme", "main")
    assert drift["problem"] == "schema differs from the journal"
    return [(d["object"], d["journal"], d["file"]) for d in drift["differences"]]


def test_a_clean_project_has_no_differences(acme):
    report = acme.check()
    assert report["ok"] and report["drift"] == []


def test_a_dropped_column_is_named_with_the_journals_declaration(acme):
    acme.add_column("users", Column(name="plan", type="TEXT", nullable=False, default="free"))
    tamper(acme, "DROP VIEW adults", "ALTER TABLE users DROP COLUMN plan",
           "CREATE VIEW adults AS SELECT name FROM users WHERE age >= 18")  # fmt: skip
    assert differences(acme) == [("column users.plan", "TEXT NOT NULL DEFAULT 'free'", None)]


def test_an_extra_table_and_column_are_what_the_file_has(acme):
    tamper(acme, "CREATE TABLE sneaky (x, y INTEGER)", "ALTER TABLE users ADD COLUMN note TEXT")
    assert differences(acme) == [
        ("column users.note", None, "TEXT"),
        ("table sneaky", None, "sneaky(x, y)"),
    ]


def test_changed_index_view_and_trigger(acme):
    acme.migrate(
        "CREATE TRIGGER stamp AFTER INSERT ON users BEGIN"
        " UPDATE users SET age = 0 WHERE id = NEW.id AND age IS NULL; END"
    )
    tamper(
        acme,
        "DROP INDEX users_by_age",
        "CREATE INDEX users_by_age ON users (name)",
        "DROP VIEW adults",
        "DROP TRIGGER stamp",
    )
    assert differences(acme) == [
        ("index users_by_age", 'CREATE INDEX "users_by_age" ON "users" ("age")',
         'CREATE INDEX "users_by_age" ON "users" ("name")'),
        ("view adults", 'CREATE VIEW "adults" AS SELECT name FROM users WHERE age >= 18', None),
        ("trigger stamp", "CREATE TRIGGER stamp AFTER INSERT ON users BEGIN"
         " UPDATE users SET age = 0 WHERE id = NEW.id AND age IS NULL; END", None),
    ]  # fmt: skip


def test_a_missing_table_and_a_changed_column_type(acme):
    acme.create_table("teams", [Column(name="title", type="TEXT")])
    tamper(acme, "DROP TABLE teams", "DROP VIEW adults", "DROP INDEX users_by_age",
           "ALTER TABLE users DROP COLUMN age",
           "ALTER TABLE users ADD COLUMN age TEXT",
           "CREATE VIEW adults AS SELECT name FROM users WHERE age >= 18")  # fmt: skip
    found = differences(acme)
    assert ("column users.age", "INTEGER", "TEXT") in found
    assert ("table teams", "teams(id, title, created_at, updated_at)", None) in found
    assert ("index users_by_age", 'CREATE INDEX "users_by_age" ON "users" ("age")', None) in found


def test_a_file_off_its_branch_or_damaged_has_no_itemized_differences(acme):
    path = acme._files.path("main", "acme")
    path.write_bytes(b"")
    [drift] = acme.check()["drift"]
    assert drift["differences"] == [] and "empty (0 bytes)" in drift["problem"]
