"""Tables with their own primary key (issue 16): made with ``migrate``, they work with
insert, update, delete and get by their real key; no uuid or timestamps are injected into
columns that are not CinchDB's automatic ones."""

from __future__ import annotations

import pytest

from cinchdb.errors import KeyColumnError, RecordNotFoundError

pytestmark = pytest.mark.handles("local", "remote")


def test_integer_primary_key_gets_the_rowid(db):
    # Before: insert put a uuid into "id INTEGER PRIMARY KEY": "datatype mismatch".
    db.migrate("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    first = db.insert("notes", {"body": "a"})
    assert first == {"id": 1, "body": "a"}
    rows = db.insert("notes", [{"body": "b"}, {"body": "c"}, {"id": 10, "body": "d"}])
    assert [r["id"] for r in rows] == [2, 3, 10]
    assert db.insert_many("notes", ({"body": f"m{i}"} for i in range(300))) == 300
    assert db.update("notes", 2, {"body": "B"}) == {"id": 2, "body": "B"}
    assert db.get("notes", 2) == {"id": 2, "body": "B"}
    assert db.delete("notes", 1, 3, 9999) == 2
    with pytest.raises(RecordNotFoundError, match="Record with ID '1' not found"):
        db.get("notes", 1)
    assert db.query("SELECT COUNT(*) AS c FROM notes")[0]["c"] == 302


def test_timestamps_are_not_injected_into_other_types(db):
    db.migrate(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, created_at INTEGER, updated_at INTEGER,"
        " what TEXT)"
    )
    row = db.insert("events", {"what": "x"})
    assert row == {"id": 1, "created_at": None, "updated_at": None, "what": "x"}
    assert db.update("events", 1, {"what": "y"})["updated_at"] is None


def test_composite_key(db):
    db.migrate(
        "CREATE TABLE members (team TEXT NOT NULL, person INTEGER NOT NULL, role TEXT,"
        " PRIMARY KEY (team, person))"
    )
    db.insert("members", [{"team": "a", "person": 1}, {"team": "a", "person": 2}])
    db.insert("members", {"team": "b", "person": 1, "role": "lead"})
    assert db.update("members", ("a", 2), {"role": "dev"}) == {
        "team": "a",
        "person": 2,
        "role": "dev",
    }
    assert db.update("members", {"team": "b", "person": 1}, {"role": "ops"})["role"] == "ops"
    row = db.get("members", ("b", 1))
    row["role"] = "cto"
    assert db.update("members", row)["role"] == "cto"  # a row written back by its key
    assert db.get("members", {"person": 2, "team": "a"})["role"] == "dev"
    with pytest.raises(RecordNotFoundError):
        db.update("members", ("z", 9), {"role": "x"})
    with pytest.raises(KeyColumnError, match=r"by a tuple of 2 values \(team, person"):
        db.update("members", "a", {"role": "x"})
    with pytest.raises(KeyColumnError, match="without its key column 'person'"):
        db.get("members", {"team": "a"})
    assert db.delete("members", ("a", 1), {"team": "b", "person": 1}, ("a", 9)) == 2
    assert db.query("SELECT team, person FROM members") == [{"team": "a", "person": 2}]


def test_update_never_changes_a_key_column(db, users):
    # Before: update(t, key, {"team": ...}) rewrote the key.
    db.migrate(
        "CREATE TABLE members (team TEXT NOT NULL, person INTEGER NOT NULL, role TEXT,"
        " PRIMARY KEY (team, person))"
    )
    db.insert("members", {"team": "a", "person": 1})
    with pytest.raises(KeyColumnError) as caught:
        db.update("members", ("a", 1), {"team": "b", "role": "x"})
    assert str(caught.value) == (
        "Table 'members' (key: team, person): update cannot change key column 'team';"
        " leave it out of the data"
    )
    assert db.query("SELECT * FROM members") == [{"team": "a", "person": 1, "role": None}]
    bob = users.insert("users", {"name": "Bob"})
    with pytest.raises(KeyColumnError, match="cannot change key column 'id'"):
        users.update("users", bob["id"], {"id": "other"})
    assert users.get("users", bob["id"])["name"] == "Bob"


@pytest.mark.local_only("update_where has no endpoint in cinchdb/api.py")
def test_update_where_never_changes_a_key_column(db):
    db.migrate(
        "CREATE TABLE members (team TEXT NOT NULL, person INTEGER NOT NULL, role TEXT,"
        " PRIMARY KEY (team, person))"
    )
    db.insert("members", {"team": "a", "person": 1})
    with pytest.raises(KeyColumnError, match="cannot change key column 'person'"):
        db.update_where("members", {"person": 5}, team="a")
    assert db.query("SELECT * FROM members") == [{"team": "a", "person": 1, "role": None}]


def test_table_without_a_key_or_id_uses_the_rowid(db):
    db.migrate("CREATE TABLE log (line TEXT, level INTEGER)")
    db.insert("log", [{"line": "a", "level": 1}, {"line": "b", "level": 2}])
    assert db.update("log", 2, {"level": 5}) == {"line": "b", "level": 5}
    assert db.get("log", 1) == {"line": "a", "level": 1}
    assert db.delete("log", 1) == 1
    assert db.query("SELECT line, level FROM log") == [{"line": "b", "level": 5}]


def test_without_rowid_table(db):
    db.migrate("CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID")
    rows = db.insert("kv", [{"k": f"k{i}", "v": i} for i in range(300)])
    assert rows[0] == {"k": "k0", "v": 0} and len(rows) == 300
    assert db.insert_many("kv", [{"k": "z", "v": 1}]) == 1
    assert db.update("kv", "k5", {"v": 50}) == {"k": "k5", "v": 50}
    assert db.delete("kv", "k1", "k2") == 2
    assert db.get("kv", "k5")["v"] == 50
