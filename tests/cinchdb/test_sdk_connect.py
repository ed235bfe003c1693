"""Opening a project: discovery, creation of missing databases, handles, init."""

from __future__ import annotations

import sqlite3

import pytest

import cinchdb
import cinchdb.catalog as cinchdb_catalog
import cinchdb.project as cinchdb_project
from cinchdb.errors import (
    BranchNotFoundError,
    ProjectExistsError,
    ProjectNotFoundError,
)
from cinchdb.tenants import TenantNotFoundError

_WRITE_WORDS = {"CREATE", "ALTER", "INSERT", "UPDATE", "DELETE", "DROP", "REPLACE"}


def test_no_project_says_to_run_cinch_init(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CINCHDB_PROJECT_DIR", raising=False)
    with pytest.raises(ProjectNotFoundError, match="run 'cinch init'"):
        cinchdb.connect()


def test_connect_finds_the_project_from_a_subdirectory_and_creates_the_database(
    project, monkeypatch
):
    sub = project / "src" / "app"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    monkeypatch.delenv("CINCHDB_PROJECT_DIR", raising=False)
    with cinchdb.connect("myapp") as db:
        assert db.project_dir == project
        assert db.current_database == "myapp"
        assert db.current_branch == "main" and db.current_tenant == "main"
        assert db.list_databases() == ["main", "myapp"]
        assert [t.name for t in db.list_tenants()] == ["main"]
        assert [b.name for b in db.list_branches()] == ["main"]


def test_project_dir_from_the_environment(project, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CINCHDB_PROJECT_DIR", str(project))
    with cinchdb.CinchDB(database="main", branch="main") as db:
        assert db.project_dir == project


def test_init_twice_is_refused_and_changes_nothing(project):
    with pytest.raises(ProjectExistsError):
        cinchdb.init(project)


def test_unknown_branch_or_tenant_is_a_clear_error(project):
    with pytest.raises(BranchNotFoundError, match="nope"):
        cinchdb.connect(branch="nope", project_dir=project)
    with pytest.raises(TenantNotFoundError, match="Tenant 'ghost' does not exist"):
        cinchdb.connect(tenant="ghost", project_dir=project)


def test_a_key_for_a_plain_tenant_or_a_missing_key_is_refused(project, db):
    from cinchdb.crypto import EncryptionError

    with pytest.raises(EncryptionError, match="not encrypted"):
        cinchdb.connect(project_dir=project, encryption_key="secret")
    with pytest.raises(EncryptionError, match="together with encryption_key"):
        db.create_tenant("vault", encrypt=True)
    with pytest.raises(EncryptionError, match="together with encryption_key"):
        db.create_tenant("vault", encryption_key="k")
    assert "vault" not in [t.name for t in db.list_tenants()]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"database": "../evil"},
        {"database": "a/b"},
        {"database": ""},
        {"branch": "../x"},
        {"branch": "a..b"},
        {"tenant": "../x"},
        {"tenant": "a/b"},
        {"tenant": "x\x00"},
        {"tenant": "__template"},
    ],
)
def test_hostile_names_are_refused_with_value_error(project, kwargs):
    with pytest.raises(ValueError):
        cinchdb.connect(project_dir=project, **kwargs)
    assert not any(p.name.startswith("evil") for p in project.rglob("*"))


def test_close_and_context_manager(project):
    db = cinchdb.connect(project_dir=project)
    db.close()
    with cinchdb.connect(project_dir=project) as again:
        assert "main" in repr(again)


def _trace_metadata(monkeypatch) -> list[str]:
    """Statements run on connections to metadata.db opened from now on (the real driver,
    with a trace callback added)."""
    statements: list[str] = []
    connect = sqlite3.connect

    def traced(database, *args, **kwargs):
        conn = connect(database, *args, **kwargs)
        if str(database).endswith("metadata.db"):
            conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(sqlite3, "connect", traced)
    return statements


def _count_project_lookups(monkeypatch) -> list[object]:
    calls: list[object] = []
    for module in (cinchdb_catalog, cinchdb_project):
        find = module.find_project

        def counted(*args, _find=find, **kwargs):
            calls.append(args)
            return _find(*args, **kwargs)

        monkeypatch.setattr(module, "find_project", counted)
    return calls


def test_opening_a_handle_does_each_thing_once(project, monkeypatch):
    cinchdb.connect(project_dir=project).close()  # the first open may create or upgrade
    statements = _trace_metadata(monkeypatch)
    lookups = _count_project_lookups(monkeypatch)
    cinchdb.connect(project_dir=project).close()
    assert len(lookups) == 1
    head_reads = [s for s in statements if "FROM journal_branches" in s]
    assert len(head_reads) == 1, head_reads
    writes = [
        s
        for s in statements
        if s.split()[0].upper() in _WRITE_WORDS or s.upper().startswith("BEGIN IMMEDIATE")
    ]
    assert writes == [], "no DDL or write transaction on opening a ready project"


def test_a_project_made_before_the_registry_was_versioned_is_upgraded_once(project):
    path = project / ".cinchdb" / "metadata.db"
    conn = sqlite3.connect(path, isolation_level=None)
    # The registry as the first release made it: no crypto columns, no version.
    conn.execute("DROP TABLE IF EXISTS cinch_meta")
    conn.execute(
        "CREATE TABLE old AS SELECT database, name, encrypted, created_at FROM cinch_tenants"
    )
    conn.execute("DROP TABLE cinch_tenants")
    conn.execute(
        "CREATE TABLE cinch_tenants (database TEXT NOT NULL, name TEXT NOT NULL,"
        " encrypted INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL,"
        " PRIMARY KEY (database, name))"
    )
    conn.execute("INSERT INTO cinch_tenants SELECT * FROM old")
    conn.execute("DROP TABLE old")
    conn.close()
    with cinchdb.connect(project_dir=project) as db:
        db.create_tenant("secret", encrypt=True, encryption_key="k" * 12)
        assert {t.name for t in db.list_tenants()} == {"main", "secret"}
    with cinchdb.connect(project_dir=project, tenant="secret", encryption_key="k" * 12) as db:
        assert db.current_tenant == "secret"
