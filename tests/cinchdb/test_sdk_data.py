"""Data calls through the handle, in the reference's forms (on a local and a remote handle:
tests/cinchdb/conftest.py)."""

from __future__ import annotations

import time

import pytest

from cinchdb.errors import ReadOnlyQueryError, RecordNotFoundError
from cinchdb.models import Column

pytestmark = pytest.mark.handles("local", "remote")


def test_insert_forms(users):
    one = users.insert("users", {"name": "Bob", "email": "bob@example.com"})
    assert one["name"] == "Bob" and one["id"] and one["created_at"] == one["updated_at"]
    assert one["age"] is None  # the full stored row, defaults included
    two = users.insert("users", {"name": "Alice"}, {"name": "Charlie"})
    assert [r["name"] for r in two] == ["Alice", "Charlie"]
    rows = [{"name": "A"}, {"name": "B"}]
    assert len(users.insert("users", *rows)) == 2
    assert len(users.insert("users", rows)) == 2
    with pytest.raises(ValueError, match="at least one row"):
        users.insert("users")
    assert users.get_table("users").row_count == 7


def test_update_by_id_by_row_and_row_alone(users):
    bob = users.insert("users", {"name": "Bob", "email": "bob@example.com"})
    time.sleep(0.002)
    updated = users.update("users", bob["id"], {"email": "new@example.com"})
    assert updated["email"] == "new@example.com" and updated["name"] == "Bob"
    assert updated["updated_at"] > bob["updated_at"]
    assert updated["created_at"] == bob["created_at"]
    assert users.update("users", updated, {"age": 5})["age"] == 5
    row = dict(updated, age=6)
    assert users.update("users", row)["age"] == 6
    with pytest.raises(RecordNotFoundError, match="Record with ID '999' not found"):
        users.update("users", "999", {"email": "x"})
    with pytest.raises(ValueError, match="without its key column 'id'"):
        users.update("users", {"name": "x"})


def test_delete_by_key(users):
    rows = users.insert("users", *({"name": f"u{i}", "age": i} for i in range(4)))
    assert users.delete("users", rows[0]["id"], rows[1]["id"], "missing") == 2
    assert users.delete("users", rows[2]) == 1  # a row holding its key
    assert users.delete("users") == 0
    assert [r["age"] for r in users.query("SELECT age FROM users")] == [3]


@pytest.mark.local_only("update_where and delete_where have no endpoint in cinchdb/api.py")
def test_delete_and_filters(users):
    rows = users.insert("users", *({"name": f"u{i}", "age": i} for i in range(10)))
    assert users.delete("users", rows[0]["id"], rows[1]["id"], "missing") == 2
    assert users.delete_where("users", age__lt=4) == 2
    assert users.update_where("users", {"name": "old"}, age__gte=8) == 2
    assert users.update_where("users", {"name": "x"}, "OR", age=4, name="old") == 3
    assert users.delete_where("users", age__in=[4, 5]) == 2
    assert sorted(r["age"] for r in users.query("SELECT age FROM users")) == [6, 7, 8, 9]
    with pytest.raises(ValueError, match="ghost"):
        users.delete_where("users", ghost=1)


def test_query_reads_and_refuses_writes_naming_the_method(users):
    users.insert("users", {"name": "a", "age": 20})
    assert users.query("SELECT name FROM users WHERE age > ?", [18]) == [{"name": "a"}]
    assert users.query("SELECT * FROM users WHERE id = ?", [999]) == []
    for sql, method in [
        ("DELETE FROM users", "delete"),
        ("UPDATE users SET age = 1", "update"),
        ("INSERT INTO users (name) VALUES ('x')", "insert"),
        ("DROP TABLE users", "drop_table"),
        ("CREATE TABLE x (a)", "create_table"),
    ]:
        with pytest.raises(ReadOnlyQueryError, match=method):
            users.query(sql)
    assert users.get_table("users").row_count == 1


def test_booleans_round_trip(db):
    db.create_table("flags", [Column(name="on", type="BOOLEAN", default=False)])
    row = db.insert("flags", {"on": True})
    assert row["on"] is True
    assert db.insert("flags", {})["on"] is False
    assert [r["on"] for r in db.query('SELECT "on" FROM flags ORDER BY rowid')] == [True, False]


def test_constraint_failures_write_nothing(users):
    users.insert("users", {"name": "a", "email": "dup@x"})
    with pytest.raises(ValueError, match="UNIQUE"):
        users.insert("users", {"name": "b"}, {"name": "c", "email": "dup@x"})
    with pytest.raises(ValueError, match="NOT NULL"):
        users.insert("users", {"email": "z@x"})
    assert [r["name"] for r in users.query("SELECT name FROM users")] == ["a"]
