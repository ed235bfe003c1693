from __future__ import annotations

import json

import pytest

from cinchdb.errors import CinchError, ProjectExistsError, ProjectNotFoundError
from cinchdb.project import (
    CINCHDB_DIR,
    Config,
    branch_directory,
    find_project,
    init_project,
    read_config,
)
from journal import InvalidNameError, JournalStore


def test_init_creates_metadata_database_main_branch_and_config(tmp_path):
    root = init_project(tmp_path / "my_app", database="myapp")
    meta = root / CINCHDB_DIR
    with JournalStore(meta / "metadata.db") as store:
        assert store.list_databases() == ["myapp"]
        assert [b.name for b in store.list_branches("myapp")] == ["main"]
    assert json.loads((meta / "config.json").read_text()) == {
        "active_database": "myapp",
        "active_branch": "main",
    }
    assert read_config(meta) == Config("myapp", "main")
    assert [p.name for p in root.iterdir()] == [CINCHDB_DIR]


def test_init_twice_is_refused_and_changes_nothing(tmp_path):
    init_project(tmp_path)
    before = sorted(p.name for p in (tmp_path / CINCHDB_DIR).iterdir())
    with pytest.raises(ProjectExistsError, match="already exists"):
        init_project(tmp_path)
    assert sorted(p.name for p in (tmp_path / CINCHDB_DIR).iterdir()) == before


def test_find_walks_up_and_honours_explicit_dir_and_environment(tmp_path, monkeypatch):
    root = init_project(tmp_path / "proj")
    nested = root / "src" / "pkg"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    monkeypatch.delenv("CINCHDB_PROJECT_DIR", raising=False)
    assert find_project() == root
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert find_project(root) == root
    monkeypatch.setenv("CINCHDB_PROJECT_DIR", str(root))
    assert find_project() == root


def test_no_project_is_a_clear_error_saying_to_run_init(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CINCHDB_PROJECT_DIR", raising=False)
    with pytest.raises(ProjectNotFoundError, match="run 'cinch init'") as caught:
        find_project()
    assert isinstance(caught.value, CinchError) and isinstance(caught.value, LookupError)
    with pytest.raises(ProjectNotFoundError, match=str(tmp_path / "nope")):
        find_project(tmp_path / "nope")


@pytest.mark.parametrize(
    ("database", "branch", "expected"),
    [("main", "main", "main-main"), ("prod", "feature/new-tables", "prod-feature~new-tables")],
)
def test_branch_directories_are_flat_and_distinct(tmp_path, database, branch, expected):
    assert branch_directory(tmp_path, database, branch) == tmp_path / expected


@pytest.mark.parametrize(("database", "branch"), [("a-b", "c"), ("x", "../up"), ("x", "a/../b")])
def test_names_that_could_escape_or_collide_are_refused(tmp_path, database, branch):
    with pytest.raises(InvalidNameError):
        branch_directory(tmp_path, database, branch)
