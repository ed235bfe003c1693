from __future__ import annotations

import pytest

from cinchdb.changes import SchemaChanges
from cinchdb.project import CINCHDB_DIR, init_project
from cinchdb.tenants import (
    InvalidTenantNameError,
    TenantExistsError,
    TenantFiles,
    TenantNotFoundError,
    read_cursor,
    tenant_path,
)
from journal import FoldCache, JournalStore, introspect, parse


@pytest.fixture
def files(tmp_path):
    root = init_project(tmp_path)
    meta = root / CINCHDB_DIR
    store = JournalStore(meta / "metadata.db")
    tenants = SchemaChanges(store, meta, "main").files
    tenants.create("main")
    yield tenants
    tenants.close()
    store.close()


def append(files: TenantFiles, sql: str) -> None:
    head = files.store.branch_head("main", "main")
    files.store.append("main", "main", parse(sql), expected_head=head)


def test_lazy_tenants_create_no_file(files):
    files.create("customer_a")
    assert files.exists("customer_a")
    assert not files.path("main", "customer_a").exists()
    assert not any(p.suffix == ".db" and "customer_a" in p.name for p in files.meta_dir.rglob("*"))


def test_first_use_materializes_from_the_template_at_head(files):
    append(files, "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT)")
    files.create("acme")
    conn = files.connection("main", "acme")
    path = files.path("main", "acme")
    assert path.exists()
    assert path.parent.name == tenant_path(files.branch_dir("main"), "acme").parent.name
    head = files.store.branch_head("main", "main")
    assert read_cursor(conn) == head
    assert (
        introspect(conn).canonical() == FoldCache(files.store.get_event).schema_at(head).canonical()
    )


def test_propagation_reaches_every_materialized_tenant_and_keeps_rows(files):
    append(files, "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT)")
    names = [f"t{i}" for i in range(50)]
    for name in names:
        files.create(name)
        files.connection("main", name).execute(
            "INSERT INTO users (id, email) VALUES (?, ?)", (name, f"{name}@x")
        )
    files.create("lazy_one")
    append(files, "ALTER TABLE users ADD COLUMN age INTEGER DEFAULT 0")
    append(files, "ALTER TABLE users ALTER COLUMN email SET NOT NULL")  # a rebuild
    calls = []
    done = files.propagate("main", progress=lambda n, total: calls.append((n, total)))
    assert len(done) == 50 and calls[-1] == (50, 50)
    head = files.store.branch_head("main", "main")
    for name in names:
        conn = files.connection("main", name)
        assert read_cursor(conn) == head
        assert conn.execute("SELECT id, email, age FROM users").fetchall() == [
            (name, f"{name}@x", 0)
        ]
    assert not files.is_materialized("main", "lazy_one")


def test_a_file_left_behind_catches_up_when_next_opened(files):
    append(files, "CREATE TABLE users (id TEXT PRIMARY KEY)")
    files.create("acme")
    files.connection("main", "acme")
    files.close()  # as if the process ended
    append(files, "ALTER TABLE users ADD COLUMN name TEXT")  # no propagation ran
    conn = files.connection("main", "acme")
    assert [r[1] for r in conn.execute("PRAGMA table_info(users)")] == ["id", "name"]


def test_unknown_duplicate_and_hostile_tenant_names(files):
    with pytest.raises(TenantNotFoundError, match="Tenant 'ghost' does not exist"):
        files.connection("main", "ghost")
    files.create("acme")
    with pytest.raises(TenantExistsError):
        files.create("acme")
    for bad in ["", "../etc", "a/b", "__template", "x" * 65, "a b", "-x"]:
        with pytest.raises(InvalidTenantNameError):
            files.create(bad)


def test_tenant_connections_cannot_reach_other_files_or_system_state(files, tmp_path):
    import sqlite3

    append(files, "CREATE TABLE users (id TEXT PRIMARY KEY)")
    files.create("acme")
    files.create("other")
    files.connection("main", "other").execute("INSERT INTO users VALUES ('secret')")
    conn = files.connection("main", "acme")
    other = files.path("main", "other")
    with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
        conn.execute(f"ATTACH DATABASE '{other}' AS o")
    with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
        conn.execute("PRAGMA writable_schema = ON")
    with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
        conn.execute("UPDATE __cinch_state SET value = 'x'")
    with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
        conn.execute("DELETE FROM __cinch_state")
    # Reading and writing the user's own tables is untouched, and catch-up still works after.
    conn.execute("INSERT INTO users VALUES ('mine')")
    assert conn.execute("SELECT id FROM users").fetchall() == [("mine",)]
    append(files, "ALTER TABLE users ALTER COLUMN id SET DATA TYPE TEXT")  # a rebuild
    assert files.connection("main", "acme").execute("SELECT id FROM users").fetchall() == [
        ("mine",)
    ]


def test_preflight_names_the_tenants_whose_rows_refuse_a_change_and_writes_nothing(files):
    from cinchdb.tenants import PreflightError

    append(files, "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT)")
    for name in ("clean", "dupes", "nulls"):
        files.create(name)
    files.connection("main", "clean").execute("INSERT INTO users VALUES ('1', 'a@x')")
    files.connection("main", "dupes").execute("INSERT INTO users VALUES ('1', 'a@x'), ('2', 'a@x')")
    files.connection("main", "nulls").execute("INSERT INTO users VALUES ('1', NULL)")
    head = files.store.branch_head("main", "main")
    snapshot = {
        name: files.connection("main", name).execute("SELECT sql FROM sqlite_schema").fetchall()
        for name in ("clean", "dupes", "nulls")
    }
    unique = parse("CREATE UNIQUE INDEX users_email ON users (email)")
    with pytest.raises(PreflightError, match="tenant 'dupes': UNIQUE constraint failed") as caught:
        files.preflight("main", unique)
    assert [t for t, _ in caught.value.failures] == ["dupes"]
    not_null = parse("ALTER TABLE users ALTER COLUMN email SET NOT NULL")
    with pytest.raises(PreflightError, match="tenant 'nulls': NOT NULL constraint failed"):
        files.preflight("main", not_null)
    assert files.store.branch_head("main", "main") == head
    for name, before in snapshot.items():
        conn = files.connection("main", name)
        assert conn.execute("SELECT sql FROM sqlite_schema").fetchall() == before
    files.preflight("main", parse("ALTER TABLE users ADD COLUMN age INTEGER"))  # passes
