"""Data operations on a tenant connection: the reference README's examples, filters, booleans,
read-only queries and the errors, with their exact texts."""

from __future__ import annotations

import re
import sqlite3
import uuid

import pytest

from cinchdb.data import DataOps, new_ids, utc_now
from cinchdb.errors import (
    CinchError,
    ColumnNotFoundError,
    ConstraintError,
    FilterError,
    ReadOnlyQueryError,
    RecordNotFoundError,
    TableNotFoundError,
)
from journal import InvalidNameError, Schema, apply_operations, parse

DDL = """
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT UNIQUE,
    age INTEGER DEFAULT 30 CHECK (age >= 0),
    active BOOLEAN DEFAULT 1,
    verified boolean
);
CREATE TABLE posts (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    user_id TEXT REFERENCES users (id),
    title TEXT,
    published BOOLEAN DEFAULT 0
);
"""

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


@pytest.fixture
def conn(tmp_path):
    conn = sqlite3.connect(tmp_path / "tenant.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    yield conn
    conn.close()


@pytest.fixture
def schema(conn):
    return apply_operations(conn, Schema(), parse(DDL))


@pytest.fixture
def db(conn, schema):
    return DataOps(conn, schema)


def count(conn, table="users"):
    return conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]


# -- the reference README's examples ---------------------------------------------------------


def test_single_insert_returns_the_stored_row_with_automatic_columns_and_defaults(db):
    [user] = db.insert("users", [{"name": "Bob", "email": "bob@example.com"}])
    assert uuid.UUID(user["id"]).version == 4
    assert TIMESTAMP.fullmatch(user["created_at"])
    assert user["updated_at"] == user["created_at"]
    assert user == {
        "id": user["id"],
        "created_at": user["created_at"],
        "updated_at": user["updated_at"],
        "name": "Bob",
        "email": "bob@example.com",
        "age": 30,
        "active": True,
        "verified": None,
    }


def test_bulk_insert_returns_rows_in_order(db, conn):
    rows = db.insert(
        "users",
        [
            {"name": "Alice", "email": "alice@example.com"},
            {"name": "Charlie", "email": "charlie@example.com"},
            {"name": "Dana", "email": "dana@example.com"},
        ],
    )
    assert [r["name"] for r in rows] == ["Alice", "Charlie", "Dana"]
    assert len({r["id"] for r in rows}) == 3
    assert count(conn) == 3


def test_update_by_id_returns_the_whole_row_and_moves_updated_at(db):
    [bob] = db.insert("users", [{"name": "Bob", "email": "bob@example.com"}])
    updated = db.update("users", bob["id"], {"email": "newemail@example.com"})
    assert updated["email"] == "newemail@example.com"
    assert updated["name"] == "Bob"
    assert updated["created_at"] == bob["created_at"]
    assert updated["updated_at"] > bob["updated_at"]


def test_delete_three_ids_returns_three(db, conn):
    rows = db.insert("users", [{"name": n} for n in "abcd"])
    assert db.delete("users", [r["id"] for r in rows[:3]]) == 3
    assert count(conn) == 1
    assert db.delete("users", [rows[0]["id"], rows[3]["id"], "missing"]) == 1
    assert db.delete("users", []) == 0


def test_delete_where_age_lt_18(db, conn):
    db.insert("users", [{"name": f"u{age}", "age": age} for age in (5, 12, 17, 18, 40)])
    assert db.delete_where("users", age__lt=18) == 3
    assert sorted(r["age"] for r in db.query("SELECT age FROM users")) == [18, 40]


def test_query_with_params_and_empty_result(db):
    db.insert("users", [{"name": "Alice", "age": 25}, {"name": "Kid", "age": 9}])
    adults = db.query("SELECT name, age FROM users WHERE age > ?", [18])
    assert adults == [{"name": "Alice", "age": 25}]
    assert db.query("SELECT * FROM users WHERE id = ?", [999]) == []
    assert db.query("SELECT name FROM users WHERE age = :age", {"age": 9}) == [{"name": "Kid"}]


# -- inserts ---------------------------------------------------------------------------------


def test_rows_with_different_keys_and_given_ids(db):
    rows = db.insert(
        "users",
        [
            {"name": "a"},
            {"name": "b", "age": 7},
            {"id": "given", "name": "c"},
            {"name": "d", "age": 8},
            {"name": "e", "age": 9},
        ],
    )
    assert [r["name"] for r in rows] == list("abcde")
    assert [r["age"] for r in rows] == [30, 7, 30, 8, 9]
    assert rows[2]["id"] == "given"


@pytest.mark.parametrize("size", [1, 2, 255, 256, 257, 1000, 1301])
def test_bulk_insert_of_any_size_keeps_order(db, conn, size):
    rows = db.insert("users", [{"name": f"n{i}", "age": i} for i in range(size)])
    assert [r["age"] for r in rows] == list(range(size))
    assert count(conn) == size


def test_column_names_match_as_sqlite_does(db):
    [row] = db.insert("users", [{"NAME": "Bob", "Age": 3}])
    assert (row["name"], row["age"]) == ("Bob", 3)


def test_given_timestamps_are_kept(db):
    [row] = db.insert("users", [{"name": "Old", "created_at": "2001-01-01T00:00:00.000000Z"}])
    assert row["created_at"] == "2001-01-01T00:00:00.000000Z"
    assert TIMESTAMP.fullmatch(row["updated_at"])


def test_bulk_insert_is_all_or_nothing(db, conn):
    db.insert("users", [{"name": "first", "email": "taken@example.com"}])
    rows = [{"name": f"n{i}"} for i in range(700)] + [{"name": "x", "email": "taken@example.com"}]
    with pytest.raises(ConstraintError):
        db.insert("users", rows)
    assert count(conn) == 1
    assert not conn.in_transaction


def test_insert_inside_callers_transaction_uses_a_savepoint(db, conn):
    conn.execute("BEGIN")
    db.insert("users", [{"name": "kept"}])
    with pytest.raises(ConstraintError):
        db.insert("users", [{"name": "a"}, {"name": "b", "age": -1}])  # CHECK (age >= 0)
    assert conn.in_transaction
    conn.execute("COMMIT")
    assert [r["name"] for r in db.query("SELECT name FROM users")] == ["kept"]


def test_insert_of_nothing(db):
    assert db.insert("users", []) == []


def test_unknown_column_is_named(db):
    with pytest.raises(ColumnNotFoundError, match="Column 'nickname' does not exist in table"):
        db.insert("users", [{"name": "a", "nickname": "x"}])
    with pytest.raises(ValueError, match="'users'"):
        db.update("users", "1", {"nickname": "x"})


def test_a_column_given_twice_is_refused(db):
    with pytest.raises(ValueError, match="twice"):
        db.insert("users", [{"name": "a", "NAME": "b"}])


# -- booleans --------------------------------------------------------------------------------


def test_booleans_round_trip(db, conn):
    rows = db.insert(
        "users",
        [
            {"name": "t", "active": True, "verified": False},
            {"name": "f", "active": False, "verified": None},
        ],
    )
    assert [(r["active"], r["verified"]) for r in rows] == [(True, False), (False, None)]
    assert conn.execute("SELECT active FROM users ORDER BY name").fetchall() == [(0,), (1,)]
    result = db.query("SELECT name, active, verified FROM users ORDER BY name")
    assert result == [
        {"name": "f", "active": False, "verified": None},
        {"name": "t", "active": True, "verified": False},
    ]
    assert all(type(r["active"]) is bool for r in result)
    updated = db.update("users", rows[1]["id"], {"verified": True})
    assert updated["verified"] is True
    # The rule: only result columns named like a BOOLEAN column of a table the query reads.
    assert db.query("SELECT active AS a FROM users ORDER BY name") == [{"a": 0}, {"a": 1}]


def test_booleans_in_a_join_and_after_a_recompile(db):
    [user] = db.insert("users", [{"name": "u", "active": True}])
    db.insert("posts", [{"user_id": user["id"], "title": "t", "published": True}])
    sql = "SELECT u.active, p.published, p.title FROM posts p JOIN users u ON u.id = p.user_id"
    expected = [{"active": True, "published": True, "title": "t"}]
    assert db.query(sql) == expected
    assert db.query(sql) == expected  # served from the cached statement


def test_a_query_that_reads_no_table_never_asks_for_the_schema(conn, schema):
    """Building a schema loads the definition models (start-up time of ``cinch query``)."""
    asked: list[int] = []

    def source() -> Schema:
        asked.append(1)
        return schema

    data = DataOps(conn, source)
    assert data.query("SELECT 1 AS one") == [{"one": 1}]
    assert data.query("SELECT 1 AS one") == [{"one": 1}]  # the cached statement
    assert data.query("VALUES (2)") == [{"column1": 2}]
    assert asked == []
    assert data.query("SELECT active FROM users") == []  # a table read: its booleans matter
    assert asked


def test_booleans_are_learned_again_after_a_schema_change(conn, schema):
    current = [schema]
    data = DataOps(conn, lambda: current[0])
    data.insert("posts", [{"title": "t"}])
    sql = "SELECT * FROM posts"
    assert data.query(sql)[0]["published"] is False
    change = parse("ALTER TABLE posts ADD COLUMN pinned BOOLEAN DEFAULT 1")
    current[0] = apply_operations(conn, current[0], change)
    # The same text: SQLite recompiles the cached statement after the schema change.
    [row] = data.query(sql)
    assert (row["published"], row["pinned"]) == (False, True)


# -- update and filters ----------------------------------------------------------------------


def test_update_of_a_missing_record(db):
    with pytest.raises(RecordNotFoundError) as caught:
        db.update("users", "999", {"name": "x"})
    assert str(caught.value) == "Record with ID '999' not found"
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, CinchError)
    assert (caught.value.table, caught.value.record_id) == ("users", "999")


PEOPLE = [
    {"name": "ann", "age": 10, "email": "ann@a.org"},
    {"name": "bob", "age": 20, "email": None},
    {"name": "cat", "age": 30, "email": "cat@b.org"},
    {"name": "dan", "age": 40, "email": "dan@a.org"},
]


@pytest.mark.parametrize(
    ("filters", "names"),
    [
        ({"name": "bob"}, ["bob"]),
        ({"email": None}, ["bob"]),
        ({"name__ne": "bob"}, ["ann", "cat", "dan"]),
        ({"email__ne": None}, ["ann", "cat", "dan"]),
        ({"age__gt": 20}, ["cat", "dan"]),
        ({"age__gte": 20}, ["bob", "cat", "dan"]),
        ({"age__lt": 20}, ["ann"]),
        ({"age__lte": 20}, ["ann", "bob"]),
        ({"email__like": "%@a.org"}, ["ann", "dan"]),
        ({"name__in": ["ann", "dan", "zed"]}, ["ann", "dan"]),
        ({"name__in": []}, []),
        ({"email__isnull": True}, ["bob"]),
        ({"email__isnull": False}, ["ann", "cat", "dan"]),
        ({"age__gte": 20, "email__like": "%@a.org"}, ["dan"]),
    ],
)
def test_filter_operators(db, filters, names):
    db.insert("users", PEOPLE)
    assert db.update_where("users", {"verified": True}, **filters) == len(names)
    flagged = db.query("SELECT name FROM users WHERE verified ORDER BY name")
    assert [r["name"] for r in flagged] == names
    assert db.delete_where("users", **filters) == len(names)
    assert len(db.query("SELECT id FROM users")) == len(PEOPLE) - len(names)


def test_or_joins_filters(db):
    db.insert("users", PEOPLE)
    assert db.delete_where("users", operator="OR", age__lt=15, name="dan") == 2
    assert [r["name"] for r in db.query("SELECT name FROM users ORDER BY name")] == ["bob", "cat"]
    assert db.update_where("users", {"age": 1}, operator="or", name="bob", age=30) == 2


def test_update_where_sets_updated_at(db):
    [row] = db.insert("users", [{"name": "a"}])
    assert db.update_where("users", {"age": 5}, name="a") == 1
    [after] = db.query("SELECT age, updated_at FROM users")
    assert after["age"] == 5 and after["updated_at"] > row["updated_at"]


@pytest.mark.parametrize(
    ("filters", "error", "message"),
    [
        ({"age__between": 3}, FilterError, "unknown operator 'between'"),
        ({"height__gt": 3}, ColumnNotFoundError, "Column 'height' does not exist"),
        ({"height": 3}, ColumnNotFoundError, "Column 'height' does not exist"),
        ({"age__isnull": "yes"}, FilterError, "True or False"),
        ({"age__in": 3}, FilterError, "a list"),
        ({"operator": "XOR", "age": 3}, FilterError, "'AND' or 'OR'"),
    ],
)
def test_bad_filters_are_refused(db, filters, error, message):
    with pytest.raises(error, match=message):
        db.delete_where("users", **filters)
    with pytest.raises(ValueError, match=message):
        db.update_where("users", {"age": 1}, **filters)


def test_where_without_filters_refuses_to_touch_every_row(db, conn):
    db.insert("users", PEOPLE)
    with pytest.raises(FilterError, match="delete_where\\(\\) needs at least one filter"):
        db.delete_where("users")
    with pytest.raises(FilterError, match="update_where\\(\\) needs at least one filter"):
        db.update_where("users", {"age": 1})
    assert count(conn) == len(PEOPLE)


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda db: db.insert("members", [{"name": "x"}]),
        lambda db: db.update("members", "1", {"name": "x"}),
        lambda db: db.update_where("members", {"name": "x"}, name="y"),
        lambda db: db.delete("members", ["1"]),
        lambda db: db.delete_where("members", name="y"),
    ],
)
def test_missing_table(db, call):
    with pytest.raises(TableNotFoundError) as caught:
        call(db)
    assert str(caught.value) == "Table 'members' does not exist"
    assert isinstance(caught.value, ValueError)
    assert caught.value.table == "members"


@pytest.mark.parametrize(
    ("rows", "kind"),
    [
        ([{"name": "a", "email": "dup@x"}, {"name": "b", "email": "dup@x"}], "UNIQUE"),
        ([{"name": "a", "age": -1}], "CHECK"),
    ],
)
def test_constraint_errors(db, conn, rows, kind):
    with pytest.raises(ConstraintError) as caught:
        db.insert("users", rows)
    error = caught.value
    assert error.kind == kind and error.table == "users"
    assert str(error).startswith("Constraint failed on table 'users': " + kind)
    assert isinstance(error, ValueError) and isinstance(error, CinchError)
    assert isinstance(error.__cause__, sqlite3.IntegrityError)
    assert count(conn) == 0


def test_foreign_key_and_update_constraint_errors(db):
    with pytest.raises(ConstraintError, match="FOREIGN KEY") as caught:
        db.insert("posts", [{"user_id": "nobody", "title": "t"}])
    assert caught.value.table == "posts" and caught.value.kind == "FOREIGN KEY"
    a, b = db.insert("users", [{"name": "a", "email": "a@x"}, {"name": "b", "email": "b@x"}])
    with pytest.raises(ConstraintError, match="UNIQUE"):
        db.update("users", b["id"], {"email": "a@x"})
    with pytest.raises(ConstraintError, match="CHECK"):
        db.update_where("users", {"age": -5}, name="a")
    db.insert("posts", [{"user_id": a["id"]}])
    with pytest.raises(ConstraintError, match="FOREIGN KEY"):
        db.delete("users", [a["id"]])
    with pytest.raises(ConstraintError, match="FOREIGN KEY"):
        db.delete("users", [b["id"], a["id"]])
    assert len(db.query("SELECT id FROM users")) == 2


@pytest.mark.parametrize(
    "table",
    ['users"; DROP TABLE users; --', "sqlite_master", "__cinch_state", "", " users", "a\x00b", 7],
)
def test_hostile_table_names_are_refused(db, conn, table):
    with pytest.raises(ValueError):
        db.insert(table, [{"name": "x"}])
    with pytest.raises(ValueError):
        db.delete_where(table, name="x")
    assert count(conn) == 0


@pytest.mark.parametrize("column", ['name" = 1; --', "name\x00", 3, "nope"])
def test_hostile_column_names_are_refused(db, conn, column):
    with pytest.raises(ValueError):
        db.insert("users", [{"name": "x", column: 1}])
    with pytest.raises(ValueError):
        db.update_where("users", {column: 1}, name="x")
    with pytest.raises(ValueError):
        db.delete_where("users", **{str(column): 1})
    assert count(conn) == 0


def test_invalid_name_error_for_unquotable_names(db):
    with pytest.raises(InvalidNameError):
        db.insert("sqlite_master", [{"name": "x"}])


# -- read-only queries -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "action", "hint"),
    [
        ("INSERT INTO users (id, name) VALUES ('1', 'x')", "INSERT", "insert()"),
        ("REPLACE INTO users (id, name) VALUES ('1', 'x')", "REPLACE", "insert()"),
        ("UPDATE users SET name = 'x'", "UPDATE", "update()"),
        ("  -- sneaky\n /* c */ delete FROM users", "DELETE", "delete()"),
        ("WITH x AS (SELECT 1) DELETE FROM users", "DELETE", "delete()"),
        ("WITH x AS (SELECT 1) INSERT INTO users (id) SELECT 1 FROM x", "INSERT", "insert()"),
        ("WITH x AS (SELECT 1) UPDATE users SET age = 1", "UPDATE", "update()"),
        ("CREATE TABLE t (a)", "CREATE", "create_table()"),
        ("DROP TABLE users", "DROP", "drop_table()"),
        ("ALTER TABLE users ADD COLUMN x", "ALTER", "add_column()"),
        ("PRAGMA journal_mode=DELETE", "PRAGMA", "not allowed"),
        ("EXPLAIN PRAGMA foreign_keys = OFF", "PRAGMA", "not allowed"),
        ("ATTACH DATABASE ':memory:' AS other", "ATTACH", "not allowed"),
        ("DETACH DATABASE other", "DETACH", "not allowed"),
        ("BEGIN", "BEGIN", "not allowed"),
        ("VACUUM", "VACUUM", "not allowed"),
    ],
)
def test_query_refuses_writes_before_they_run(db, conn, sql, action, hint):
    db.insert("users", [{"name": "keep"}])
    with pytest.raises(ReadOnlyQueryError) as caught:
        db.query(sql)
    error = caught.value
    assert error.action == action and hint in str(error) and error.sql == sql
    assert isinstance(error, ValueError)
    assert count(conn) == 1
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert not conn.in_transaction
    # The connection is back to normal afterwards: writes through the API work.
    db.insert("users", [{"name": "after"}])


def test_the_authorizer_catches_what_the_keyword_check_lets_through(db, conn):
    with pytest.raises(ReadOnlyQueryError, match="refused DELETE: use delete"):
        db.query("WITH doomed AS (SELECT id FROM users) DELETE FROM users")
    with pytest.raises(ReadOnlyQueryError, match="refused a schema change: use the schema"):
        db.query("EXPLAIN CREATE TEMP TABLE t (a)")
    with pytest.raises(ReadOnlyQueryError, match="refused a schema change: use the schema"):
        db.query("EXPLAIN DROP TABLE users")


def test_reads_that_are_allowed(db):
    db.insert("users", [{"name": "a", "age": 3}])
    assert db.query("VALUES (1, 'x')") == [{"column1": 1, "column2": "x"}]
    assert db.query("WITH x AS (SELECT 2 AS n) SELECT n FROM x") == [{"n": 2}]
    assert db.query("EXPLAIN QUERY PLAN SELECT * FROM users WHERE id = ?", ["1"])
    info = db.query("SELECT name FROM pragma_table_info('users')")
    assert [r["name"] for r in info][:4] == ["id", "created_at", "updated_at", "name"]
    assert db.query(
        "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 3)"
        " SELECT count(*) AS k FROM c"
    ) == [{"k": 3}]


def test_syntax_errors_surface_as_sqlite_errors(db):
    with pytest.raises(sqlite3.OperationalError):
        db.query("SELECT FROM WHERE")


def test_callers_authorizer_is_kept(conn, schema):
    def hide_titles(action, arg1, arg2, db_name, source):
        hidden = action == sqlite3.SQLITE_READ and (arg1, arg2) == ("posts", "title")
        return sqlite3.SQLITE_DENY if hidden else sqlite3.SQLITE_OK

    db = DataOps(conn, schema, authorizer=hide_titles)
    db.insert("users", [{"name": "a"}])
    with pytest.raises(sqlite3.DatabaseError, match="prohibited") as caught:
        db.query("SELECT title FROM posts")
    assert not isinstance(caught.value, ReadOnlyQueryError)
    assert db.query("SELECT name FROM users") == [{"name": "a"}]
    with pytest.raises(ReadOnlyQueryError):
        db.query("WITH x AS (SELECT 1) DELETE FROM users")


def test_schema_provider_is_followed(conn, schema):
    current = [schema]
    db = DataOps(conn, lambda: current[0])
    db.insert("users", [{"name": "a"}])
    current[0] = apply_operations(conn, schema, parse("ALTER TABLE users ADD COLUMN vip BOOLEAN"))
    [row] = db.insert("users", [{"name": "b", "vip": True}])
    assert row["vip"] is True
    assert db.query("SELECT vip FROM users ORDER BY name") == [{"vip": None}, {"vip": True}]


# -- helpers ---------------------------------------------------------------------------------


def test_new_ids_are_uuid4_strings():
    ids = new_ids(500)
    assert len(set(ids)) == 500
    for value in ids:
        parsed = uuid.UUID(value)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == value


def test_utc_now_has_microseconds():
    assert TIMESTAMP.fullmatch(utc_now())


# -- bulk inserts: rows returned are the rows stored -----------------------------------------

BULK_DDL = """
CREATE TABLE items (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    label TEXT,
    qty INTEGER,
    price REAL,
    flag BOOLEAN DEFAULT 0,
    code TEXT DEFAULT (lower('ABC')),
    twice INTEGER GENERATED ALWAYS AS (qty * 2),
    raw
);
CREATE TABLE log (id TEXT PRIMARY KEY, created_at TEXT, updated_at TEXT, note TEXT);
CREATE TABLE pairs (id TEXT PRIMARY KEY, created_at TEXT, updated_at TEXT, v INTEGER)
    WITHOUT ROWID;
"""


@pytest.fixture
def bulk_db(conn):
    return DataOps(conn, apply_operations(conn, Schema(), parse(BULK_DDL)))


def stored(db, table, rows):
    """What a fresh read of these rows gives, in the same order."""
    return [db.query(f'SELECT * FROM "{table}" WHERE id = ?', [r["id"]])[0] for r in rows]


@pytest.mark.parametrize(
    "make",
    [
        # every column given, values SQLite keeps as they are: rows built from the values
        lambda i: {"label": f"l{i}", "qty": i, "flag": i % 2 == 0, "code": "c", "raw": b"x"},
        # defaults and a generated column to fill in: rows read back
        lambda i: {"label": f"l{i}", "qty": i},
        # values SQLite converts (an int into REAL, floats; typed checks refuse text into
        # INTEGER since issue 16): read back
        lambda i: {"label": f"{i}", "qty": i, "price": i, "flag": 1, "code": None, "raw": i / 2},
        # bool into a non-BOOLEAN column comes back as an int
        lambda i: {"label": "x", "qty": True, "flag": None, "code": "c", "raw": None},
    ],
)
def test_bulk_rows_returned_equal_rows_stored(bulk_db, make):
    rows = bulk_db.insert("items", [make(i) for i in range(600)])
    assert len(rows) == 600
    assert rows == stored(bulk_db, "items", rows)
    assert [list(r) for r in rows[:1]] == [
        ["id", "created_at", "updated_at", "label", "qty", "price", "flag", "code", "twice", "raw"]
    ]


def test_bulk_insert_with_a_trigger_that_writes_the_same_table(conn):
    schema = apply_operations(
        conn,
        Schema(),
        parse(
            BULK_DDL
            + """
            CREATE TRIGGER echo AFTER INSERT ON log WHEN NEW.note = 'echo' BEGIN
                INSERT INTO log (id, note) VALUES (NEW.id || '-echo', 'copy');
            END;
            CREATE TRIGGER skip BEFORE INSERT ON items WHEN NEW.label = 'skip' BEGIN
                SELECT RAISE(IGNORE);
            END;
            """
        ),
    )
    db = DataOps(conn, schema)
    rows = db.insert("log", [{"note": "echo" if i % 3 == 0 else "plain"} for i in range(400)])
    assert [r["note"] for r in rows] == ["echo" if i % 3 == 0 else "plain" for i in range(400)]
    assert rows == stored(db, "log", rows)
    assert count(conn, "log") == 400 + 134
    items = db.insert("items", [{"label": "skip" if i % 2 else "keep"} for i in range(300)])
    assert [r["label"] for r in items] == ["keep"] * 150
    assert items == stored(db, "items", items)


def test_bulk_insert_into_a_without_rowid_table(bulk_db):
    rows = bulk_db.insert("pairs", [{"v": i} for i in range(300)])
    assert [r["v"] for r in rows] == list(range(300))
    assert rows == stored(bulk_db, "pairs", rows)


def test_bulk_insert_with_mixed_keys_and_given_ids(bulk_db):
    batch = [{"label": "a", "qty": 1}] * 300 + [{"id": f"k{i}", "qty": i} for i in range(300)]
    rows = bulk_db.insert("items", batch)
    assert [r["id"] for r in rows[300:]] == [f"k{i}" for i in range(300)]
    assert rows == stored(bulk_db, "items", rows)
