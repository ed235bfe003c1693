"""Schema calls: each is a journal event, reaches every tenant, and reads back as models.

Each test runs on a local and on a remote handle (tests/cinchdb/conftest.py); ``local`` looks
at the journal and the tenant files either way."""

from __future__ import annotations

import sqlite3

import pytest

from cinchdb.errors import (
    DependencyError,
    InvalidNameError,
    ObjectExistsError,
    SchemaError,
    SQLParseError,
    TableNotFoundError,
)
from cinchdb.models import SQL, Column, ForeignKey, Index
from cinchdb.tenants import PreflightError
from journal import introspect
from tests.old_journal import append_old_events

pytestmark = pytest.mark.handles("local", "remote")


def _journal_length(local) -> int:
    head = local._catalog.store.branch_head(local.database, local.branch)
    return len(local._catalog.store.chain(local.database, head))


def test_create_table_adds_automatic_columns_and_returns_the_table(db, local):
    table = db.create_table(
        "products",
        columns=[
            Column(name="name", type="TEXT", nullable=False),
            Column(name="price", type="REAL", default=0.0),
        ],
    )
    assert [c.name for c in table.columns] == ["id", "name", "price", "created_at", "updated_at"]
    assert table.columns[0].primary_key and not table.columns[0].nullable
    assert table.columns[2].default == 0.0 and table.columns[2].type == "REAL"
    assert table.row_count == 0
    assert [t.name for t in db.list_tables()] == ["products"]
    assert _journal_length(local) == 1


def test_defaults_round_trip_as_python_values(db):
    db.create_table(
        "t",
        [
            Column(name="n", type="int", default=0),
            Column(name="plan", type="str", default="free"),
            Column(name="on", type="bool", default=True),
            Column(name="at", type="TEXT", default=SQL("datetime('now')")),
            Column(name="blob", type="bytes", default=b"\x00\x01"),
        ],
    )
    columns = {c.name: c for c in db.get_table("t").columns}
    assert columns["n"].default == 0 and columns["n"].type == "INTEGER"
    assert columns["plan"].default == "free"
    assert columns["on"].default is True and columns["on"].type == "BOOLEAN"
    assert columns["at"].default == SQL("datetime('now')")
    assert columns["blob"].default == b"\x00\x01"
    row = db.insert("t", {})
    assert row["n"] == 0 and row["plan"] == "free" and row["on"] is True and row["at"]


def test_get_table_reports_indexes_and_this_tenants_row_count(users):
    users.create_index("idx_users_age", "users", ["age"])
    users.insert("users", {"name": "a"}, {"name": "b"})
    table = users.get_table("users")
    assert table.row_count == 2
    assert [(i.name, i.columns, i.unique) for i in table.indexes] == [
        ("idx_users_age", ["age"], False)
    ]
    email = next(c for c in table.columns if c.name == "email")
    assert email.unique


def test_missing_table_uses_the_documented_wording(db):
    for call in (
        lambda: db.get_table("users"),
        lambda: db.query("SELECT * FROM users"),
        lambda: db.insert("users", {"name": "x"}),
        lambda: db.drop_table("users"),
    ):
        with pytest.raises(ValueError, match="Table 'users' does not exist"):
            call()
    with pytest.raises(TableNotFoundError):
        db.query("SELECT * FROM users")


def test_add_drop_rename_alter_columns_reach_existing_rows(users):
    users.insert("users", {"name": "ann", "email": "a@x", "age": 30})
    users.add_column("users", Column(name="plan", type="TEXT", default="free"))
    users.rename_column("users", "email", "email_address")
    users.alter_column("users", "age", nullable=False, default=0)
    users.drop_column("users", "plan")
    [row] = users.query("SELECT * FROM users")
    assert row["email_address"] == "a@x" and row["age"] == 30 and "plan" not in row
    age = next(c for c in users.get_table("users").columns if c.name == "age")
    assert not age.nullable and age.default == 0
    users.alter_column("users", "age", default=None)
    age = next(c for c in users.get_table("users").columns if c.name == "age")
    assert age.default is None


def test_rename_and_drop_table(users):
    users.insert("users", {"name": "ann"})
    users.rename_table("users", "people")
    assert users.query("SELECT name FROM people") == [{"name": "ann"}]
    users.drop_table("people")
    assert users.list_tables() == []


def test_indexes_unique_partial_and_listed(users):
    index = users.create_index("idx_email", table="users", columns=["email"], unique=True)
    assert index.unique and index.columns == ["email"]
    users.create_index("idx_adults", "users", ["age"], where="age >= 18")
    assert users.list_indexes("users") == [
        {"name": "idx_adults", "table": "users", "columns": ["age"], "unique": False,
         "where": "age >= 18"},
        {"name": "idx_email", "table": "users", "columns": ["email"], "unique": True,
         "where": None},
    ]  # fmt: skip
    users.drop_index("idx_adults")
    assert [i["name"] for i in users.list_indexes()] == ["idx_email"]


def test_create_table_with_indexes_and_foreign_keys(db):
    db.create_table("teams", [Column(name="name", type="TEXT")])
    db.create_table(
        "members",
        [Column(name="team_id", type="TEXT", foreign_key=ForeignKey(table="teams"))],
        indexes=[Index(columns=["team_id"])],
    )
    assert [i["name"] for i in db.list_indexes("members")] == ["idx_members_team_id"]
    team = db.insert("teams", {"name": "red"})
    db.insert("members", {"team_id": team["id"]})
    with pytest.raises(ValueError, match="FOREIGN KEY"):
        db.insert("members", {"team_id": "nope"})
    fk = next(c for c in db.get_table("members").columns if c.name == "team_id").foreign_key
    assert fk is not None and fk.table == "teams" and fk.column == "id"


def test_views_create_update_list_drop(users):
    users.insert("users", {"name": "kid", "age": 9}, {"name": "adult", "age": 40})
    view = users.create_view("adults", "SELECT name FROM users WHERE age >= 18")
    assert view.name == "adults" and view.sql == "SELECT name FROM users WHERE age >= 18"
    assert users.query("SELECT * FROM adults") == [{"name": "adult"}]
    users.update_view("adults", "SELECT name, age FROM users WHERE age >= 18")
    assert users.query("SELECT * FROM adults") == [{"name": "adult", "age": 40}]
    assert [v.name for v in users.list_views()] == ["adults"]
    with pytest.raises(DependencyError, match="adults"):
        users.drop_column("users", "age")
    users.drop_view("adults")
    assert users.list_views() == []


def test_bad_schema_input_is_refused_before_the_journal(users, local):
    before = _journal_length(local)
    bad = [
        (ObjectExistsError, lambda: users.create_table("users", [Column(name="x")])),
        (SchemaError, lambda: users.create_table("t", [Column(name="id")])),
        (SchemaError, lambda: users.create_table("t", [Column(name="x", primary_key=True)])),
        (SchemaError, lambda: users.create_table("t", [])),
        (ValueError, lambda: users.create_table("sqlite_x", [Column(name="x")])),
        (ValueError, lambda: users.create_table("__kv", [Column(name="x")])),
        (ValueError, lambda: users.create_table("x\x00", [Column(name="x")])),
        (ValueError, lambda: users.create_table(" padded", [Column(name="x")])),
        (ValueError, lambda: users.create_table("x" * 129, [Column(name="x")])),
        (ValueError, lambda: Column(name="x", type="VARCHAR(3")),
        (ValueError, lambda: Column(name="")),
        (SchemaError, lambda: users.drop_column("users", "id")),
        (SchemaError, lambda: users.rename_column("users", "created_at", "c")),
        (ValueError, lambda: users.drop_column("users", "ghost")),
        (SQLParseError, lambda: users.create_view("v", "SELEC nope")),
        (SchemaError, lambda: users.create_view("v", "CREATE VIEW v AS SELECT 1")),
        (ValueError, lambda: users.create_index("i", "users", ["ghost"])),
    ]
    for error, call in bad:
        with pytest.raises(error):
            call()
    assert _journal_length(local) == before


def test_preflight_refuses_a_unique_index_over_duplicates_and_names_the_tenant(
    users, connect_handle, local
):
    users.create_tenant("acme")
    users.create_tenant("clean")
    connect_handle(tenant="acme").insert("users", {"name": "a", "age": 1}, {"name": "b", "age": 1})
    connect_handle(tenant="clean").insert("users", {"name": "c", "age": 2})
    before = _journal_length(local)
    with pytest.raises(PreflightError, match="tenant 'acme'") as caught:
        users.create_index("idx_age", "users", ["age"], unique=True)
    assert [t for t, _ in caught.value.failures] == ["acme"]
    assert _journal_length(local) == before
    assert users.list_indexes() == []
    for name in ("acme", "clean"):
        conn = sqlite3.connect(local._files.path("main", name))
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'index'"
                            " AND name = 'idx_age'").fetchone() == (0,)  # fmt: skip
        conn.close()


def test_not_null_without_default_is_refused_where_rows_have_nulls(users):
    users.insert("users", {"name": "ann"})
    with pytest.raises(PreflightError, match="NOT NULL"):
        users.alter_column("users", "age", nullable=False)
    users.insert("users", {"name": "x", "age": 3})
    assert len(users.query("SELECT * FROM users")) == 2


def test_propagation_to_fifty_tenants_keeps_every_row(users, connect_handle, local):
    names = [f"t{i:02d}" for i in range(50)]
    for name in names:
        users.create_tenant(name)
        connect_handle(tenant=name).insert("users", {"name": name, "age": 1})
    users.add_column("users", Column(name="score", type="REAL", default=1.5))
    users.alter_column("users", "age", type="TEXT")  # a rebuild on every tenant
    head = local._catalog.store.branch_head("main", "main")
    schema = local.schema()
    for name in names:
        conn = sqlite3.connect(local._files.path("main", name))
        assert conn.execute("SELECT name, age, score FROM users").fetchall() == [(name, "1", 1.5)]
        assert conn.execute("SELECT value FROM __cinch_state").fetchone() == (head,)
        assert introspect(conn).canonical() == schema.canonical()
        conn.close()
    assert all(s["behind"] == 0 for s in users.tenant_status())


def test_another_handles_change_is_seen_on_the_next_call(users, connect_handle):
    other = connect_handle()
    assert other.insert("users", {"name": "a"})["name"] == "a"
    users.add_column("users", Column(name="nick", type="TEXT", default="n"))
    assert other.insert("users", {"name": "b", "nick": "bee"})["nick"] == "bee"
    assert [r["nick"] for r in other.query("SELECT nick FROM users ORDER BY name")] == [
        "n",
        "bee",
    ]


def test_hostile_identifiers_are_quoted_never_executed(users, project):
    name = 'x"; DROP TABLE users; --'
    with pytest.raises(InvalidNameError, match="letters, digits and '_'"):
        users.create_table(name, [Column(name="c", type="TEXT")])
    # A journal made before the names rule may hold such names: they are quoted, never run.
    append_old_events(
        project,
        'CREATE TABLE "x""; DROP TABLE users; --" (id TEXT PRIMARY KEY,'
        ' "c""; DELETE FROM users; --" TEXT, created_at TEXT, updated_at TEXT)',
    )
    row = users.insert(name, {'c"; DELETE FROM users; --': "v"})
    assert row['c"; DELETE FROM users; --'] == "v"
    assert {t.name for t in users.list_tables()} == {"users", name}
    users.insert("users", {"name": "still here"})
    users.drop_table(name)
    assert [r["name"] for r in users.query("SELECT name FROM users")] == ["still here"]
