"""Opening a project: discovery, creation of missing databases, handles, init."""

from __future__ import annotations

import pytest

import cinchdb
from cinchdb.errors import (
    BranchNotFoundError,
    ProjectExistsError,
    ProjectNotFoundError,
)
from cinchdb.tenants import TenantNotFoundError


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
