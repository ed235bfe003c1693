"""Branches, tenants and databases through the handle (local and remote:
tests/cinchdb/conftest.py; ``local`` looks at the files either way)."""

from __future__ import annotations

import pytest

import cinchdb
from cinchdb.errors import BranchExistsError, BranchNotFoundError, DatabaseNotFoundError
from cinchdb.models import Column
from cinchdb.tenants import TenantExistsError, TenantNotFoundError

pytestmark = pytest.mark.handles("local", "remote")


def _db_files(root):
    return sorted(p for p in (root / ".cinchdb").rglob("*.db") if p.name != "metadata.db")


def test_create_branch_writes_a_row_only_and_forks_the_schema(users, project, local):
    users.insert("users", {"name": "ann"})
    files_before = _db_files(project)
    branch = users.create_branch("feature/new-tables")
    assert branch.name == "feature/new-tables"
    assert branch.head == local._catalog.store.branch_head("main", "main")
    assert _db_files(project) == files_before  # O(1): no file copied
    assert [b.name for b in users.list_branches()] == ["main", "feature/new-tables"]
    users.switch_branch("feature/new-tables")
    assert users.current_branch == "feature/new-tables"
    assert users.query("SELECT * FROM users") == []  # schema only, no data
    users.add_column("users", Column(name="age2", type="INTEGER"))
    users.insert("users", {"name": "on-branch", "age2": 1})
    users.switch_branch("main")
    assert "age2" not in [c.name for c in users.get_table("users").columns]
    assert [r["name"] for r in users.query("SELECT name FROM users")] == ["ann"]


def test_create_branch_from_another_source_and_with_data(users):
    users.insert("users", {"name": "ann"})
    users.create_branch("dev", with_data=True)
    users.create_branch("dev2", source_branch="dev")
    with pytest.raises(BranchExistsError):
        users.create_branch("dev")
    with pytest.raises(BranchNotFoundError):
        users.create_branch("x", source_branch="ghost")
    users.switch_branch("dev")
    assert [r["name"] for r in users.query("SELECT name FROM users")] == ["ann"]
    users.insert("users", {"name": "dev-only"})
    users.switch_branch("main")
    assert [r["name"] for r in users.query("SELECT name FROM users")] == ["ann"]


def test_delete_branch_removes_its_files_never_main(users, local):
    users.create_branch("tmp", with_data=True)
    users.switch_branch("tmp")
    users.insert("users", {"name": "x"})
    directory = local._files.branch_dir("tmp")
    assert directory.exists()
    with pytest.raises(ValueError, match="switch first"):
        users.delete_branch("tmp")
    users.switch_branch("main")
    users.delete_branch("tmp")
    assert not directory.exists()
    assert [b.name for b in users.list_branches()] == ["main"]
    with pytest.raises(ValueError, match="main branch cannot be deleted"):
        users.delete_branch("main")
    with pytest.raises(BranchNotFoundError):
        users.switch_branch("tmp")
    for bad in ["../x", "a..b", "-x", "a b", "x/", "/x", "a~b"]:
        with pytest.raises(ValueError):
            users.create_branch(bad)


def test_lazy_tenants_create_no_file_and_read_as_empty(users, project, connect_handle, local):
    before = _db_files(project)
    tenant = users.create_tenant("customer_123")
    assert tenant.name == "customer_123" and not tenant.encrypted
    assert _db_files(project) == before
    handle = connect_handle(tenant="customer_123")
    assert handle.query("SELECT COUNT(*) AS n FROM users") == [{"n": 0}]
    assert handle.get_table("users").row_count == 0
    assert _db_files(project) == before  # reads never materialize
    handle.insert("users", {"name": "first"})
    assert local._files.path("main", "customer_123") in _db_files(project)
    users.create_tenant("eager", lazy=False)
    assert local._files.is_materialized("main", "eager")
    assert [t.name for t in users.list_tenants()] == ["main", "customer_123", "eager"]


def test_tenants_are_isolated(users, connect_handle, local):
    users.create_tenant("a")
    users.create_tenant("b")
    a = connect_handle(tenant="a")
    a.insert("users", {"name": "secret"})
    path_b = local._files.path("main", "b")
    with pytest.raises(ValueError):
        a.query(f"ATTACH DATABASE '{path_b}' AS other")
    with pytest.raises(ValueError):
        a.query("DELETE FROM __cinch_state")
    with pytest.raises(ValueError):
        a.query("PRAGMA writable_schema = ON")
    assert connect_handle(tenant="b").query("SELECT * FROM users") == []
    assert users.query("SELECT * FROM users") == []


def test_delete_copy_rename_tenants(users, connect_handle, local):
    users.create_tenant("src")
    connect_handle(tenant="src").insert("users", {"name": "kept"})
    users.create_branch("dev", with_data=True)
    copy = users.copy_tenant("src", "dst")
    assert copy.name == "dst"
    dst = connect_handle(tenant="dst")
    assert [r["name"] for r in dst.query("SELECT name FROM users")] == ["kept"]
    dst.insert("users", {"name": "only-dst"})
    dst_dev = connect_handle(tenant="dst", branch="dev")
    assert [r["name"] for r in dst_dev.query("SELECT name FROM users")] == ["kept"]
    with pytest.raises(TenantExistsError):
        users.copy_tenant("src", "dst")
    users.rename_tenant("src", "renamed")
    assert "src" not in [t.name for t in users.list_tenants()]
    assert not local._files.path("main", "src").exists()
    renamed = connect_handle(tenant="renamed")
    assert [r["name"] for r in renamed.query("SELECT name FROM users")] == ["kept"]
    users.delete_tenant("renamed")
    assert not local._files.path("main", "renamed").exists()
    assert not local._files.path("dev", "renamed").exists()
    with pytest.raises(TenantNotFoundError):
        users.delete_tenant("renamed")
    # A tenant created again under a deleted name starts empty.
    users.create_tenant("renamed")
    assert connect_handle(tenant="renamed").query("SELECT * FROM users") == []
    with pytest.raises(ValueError, match="main tenant"):
        users.delete_tenant("main")
    for bad in ["../x", "a/b", "", "x" * 65, "__template", "a b"]:
        with pytest.raises(ValueError):
            users.create_tenant(bad)


@pytest.mark.local_only("sync_tenants has no endpoint in cinchdb/api.py (the server syncs)")
def test_tenant_status_and_sync(users, project):
    users.create_tenant("behind")
    users.create_tenant("lazy")
    with cinchdb.connect(tenant="behind", project_dir=project) as behind:
        behind.insert("users", {"name": "x"})
    # A change appended without propagation, as if the writer crashed right after appending.
    store = users._catalog.store
    from journal import parse

    head = store.branch_head("main", "main")
    store.append(
        "main", "main", parse("ALTER TABLE users ADD COLUMN late TEXT"), expected_head=head
    )
    status = {s["name"]: s for s in users.tenant_status()}
    assert status["behind"]["materialized"] and status["behind"]["behind"] == 1
    assert status["lazy"] == {
        "name": "lazy", "materialized": False, "cursor": None, "behind": 0, "needs_key": False
    }  # fmt: skip
    result = users.sync_tenants()
    assert result["events_applied"] == 1 and result["updated"] == ["behind"]
    assert all(s["behind"] == 0 for s in users.tenant_status())
    with cinchdb.connect(tenant="behind", project_dir=project) as behind:
        assert behind.query("SELECT name, late FROM users") == [{"name": "x", "late": None}]


@pytest.mark.local_only("databases are created and listed on the server (no API endpoint)")
def test_databases_create_list_delete(db, project):
    db.create_database("analytics")
    assert db.list_databases() == ["analytics", "main"]
    with cinchdb.connect("analytics", project_dir=project) as other:
        other.create_table("events", [Column(name="kind")])
        other.insert("events", {"kind": "click"})
        assert [t.name for t in other.list_tenants()] == ["main"]
    assert db.list_tables() == []  # databases do not share schema
    with pytest.raises(ValueError, match="connected to it"):
        db.delete_database("main")
    db.delete_database("analytics")
    assert db.list_databases() == ["main"]
    assert not any(p.name.startswith("analytics-") for p in (project / ".cinchdb").iterdir())
    with pytest.raises(DatabaseNotFoundError):
        db.delete_database("analytics")
    with pytest.raises(ValueError):
        db.create_database("bad-name")
