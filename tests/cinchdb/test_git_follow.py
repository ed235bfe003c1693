"""Tenant files after a git checkout, with real git in temporary repositories: a file that
followed another git branch is brought back onto the checked-out history (the inverse of its
extra events, then forward), refused when that would lose data, and `cinch tenant reset`
rebuilds it at the head."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cinchdb
from cinchdb.errors import TenantCheckoutLosesDataError
from cinchdb.models import Column
from tests.gitrepo import CinchRun, cinch_in_repo, git


@pytest.fixture
def cinch(monkeypatch: pytest.MonkeyPatch) -> CinchRun:
    return cinch_in_repo(monkeypatch)


@pytest.fixture
def repo(tmp_path: Path, cinch) -> Path:
    """A git repository with a CinchDB project: table users(name), tenant acme with two rows,
    committed on git branch main."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    cinch(repo, "init", ".")
    cinch(repo, "table", "create", "users", "name:TEXT")
    cinch(repo, "tenant", "create", "acme")
    cinch(repo, "data", "insert", "users", '{"name": "Ann"}', '{"name": "Bob"}', "-t", "acme")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "users")
    return repo


def rows(repo: Path, cinch, sql: str = "SELECT * FROM users ORDER BY name") -> list[dict]:
    out = cinch(repo, "query", sql, "-t", "acme", "--json").output
    return json.loads(out)


def test_a_column_with_values_from_another_git_branch_is_refused_then_reset(
    repo: Path, cinch
) -> None:
    git(repo, "switch", "-q", "-c", "feature")
    cinch(repo, "column", "add", "users", "email:TEXT")
    cinch(repo, "data", "insert", "users", '{"name": "Cy", "email": "c@x"}', "-t", "acme")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "email")

    git(repo, "switch", "-q", "main")
    refused = cinch(repo, "query", "SELECT * FROM users", "-t", "acme", code=1)
    assert "acme" in refused.output and "users.email" in refused.output
    assert "cinch tenant reset acme" in refused.output
    # Refused means untouched: the SDK says the same, and the file still holds its rows.
    with (
        cinchdb.connect(project_dir=repo, tenant="acme") as db,
        pytest.raises(TenantCheckoutLosesDataError) as caught,
    ):
        db.query("SELECT * FROM users")
    assert caught.value.tenant == "acme"
    assert any("users.email" in loss for loss in caught.value.losses)
    git(repo, "switch", "-q", "feature")
    assert [r["email"] for r in rows(repo, cinch)] == [None, None, "c@x"]

    git(repo, "switch", "-q", "main")
    cinch(repo, "tenant", "reset", "acme", code=1)  # no --yes, no terminal: not confirmed
    done = cinch(repo, "tenant", "reset", "acme", "--yes")
    assert "acme" in done.output
    assert rows(repo, cinch) == []
    cinch(repo, "data", "insert", "users", '{"name": "Dee"}', "-t", "acme")
    assert [r["name"] for r in rows(repo, cinch)] == ["Dee"]


def test_a_column_holding_only_nulls_goes_and_comes_back(repo: Path, cinch) -> None:
    git(repo, "switch", "-q", "-c", "feature")
    cinch(repo, "column", "add", "users", "email:TEXT")
    rows(repo, cinch)  # the file follows the feature branch: the new column, all NULL
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "email")

    git(repo, "switch", "-q", "main")
    back = rows(repo, cinch)
    assert [r["name"] for r in back] == ["Ann", "Bob"]
    assert all("email" not in r for r in back)

    git(repo, "switch", "-q", "feature")
    forward = rows(repo, cinch)
    assert [(r["name"], r["email"]) for r in forward] == [("Ann", None), ("Bob", None)]


def test_an_index_and_a_view_from_another_git_branch_go_silently(repo: Path, cinch) -> None:
    git(repo, "switch", "-q", "-c", "feature")
    cinch(repo, "index", "create", "ix_name", "users", "name")
    cinch(repo, "view", "create", "names", "SELECT name FROM users")
    rows(repo, cinch)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "index and view")

    git(repo, "switch", "-q", "main")
    cinch(repo, "table", "create", "posts", "title:TEXT")  # main moves on meanwhile
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "posts")
    assert [r["name"] for r in rows(repo, cinch)] == ["Ann", "Bob"]
    objects = rows(repo, cinch, "SELECT name FROM sqlite_master WHERE type IN ('view','table')")
    names = {r["name"] for r in objects}
    assert "names" not in names and "posts" in names
    cinch(repo, "data", "insert", "posts", '{"title": "hi"}', "-t", "acme")

    git(repo, "switch", "-q", "feature")  # back: posts goes (it holds a row: refused)
    refused = cinch(repo, "query", "SELECT 1", "-t", "acme", code=1)
    assert "table 'posts'" in refused.output and "acme" in refused.output


def test_a_renamed_table_from_another_git_branch_is_named_as_the_file_has_it(
    repo: Path, cinch
) -> None:
    git(repo, "switch", "-q", "-c", "feature")
    cinch(repo, "table", "create", "drafts", "body:TEXT")
    cinch(repo, "table", "rename", "drafts", "notes")
    cinch(repo, "data", "insert", "notes", '{"body": "keep me"}', "-t", "acme")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "notes")

    git(repo, "switch", "-q", "main")
    with cinchdb.connect(project_dir=repo, tenant="acme") as db:
        # A schema change on main meanwhile: propagation reports the file, never raises.
        db.create_table("tags", [Column(name="label", type="TEXT")])
        behind = [s for s in db.tenant_status() if s["name"] == "acme"]
        assert behind and behind[0]["behind"]
        with pytest.raises(TenantCheckoutLosesDataError) as caught:
            db.query("SELECT * FROM users")
        assert caught.value.losses == ["table 'notes' and its 1 row(s)"]
        db.reset_tenant("acme")
        assert db.query("SELECT * FROM tags") == []
        assert db.query("SELECT * FROM users") == []


def test_a_column_the_other_git_branch_dropped_comes_back_and_rows_stay(repo: Path, cinch) -> None:
    cinch(repo, "column", "add", "users", "city:TEXT")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "city")
    git(repo, "switch", "-q", "-c", "feature")
    cinch(repo, "column", "drop", "users", "city", "--yes")
    cinch(repo, "data", "insert", "users", '{"name": "Cy"}', "-t", "acme")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "no city")

    git(repo, "switch", "-q", "main")
    back = rows(repo, cinch)
    assert [(r["name"], r["city"]) for r in back] == [("Ann", None), ("Bob", None), ("Cy", None)]


def test_a_way_back_sqlite_refuses_is_refused_naming_the_tenant(repo: Path, cinch) -> None:
    cinch(repo, "column", "add", "users", "city:TEXT:not_null:default=x")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "city")
    git(repo, "switch", "-q", "-c", "feature")
    cinch(repo, "column", "alter", "users", "city", "--nullable")
    cinch(repo, "data", "insert", "users", '{"name": "Cy", "city": null}', "-t", "acme")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "nullable city")

    git(repo, "switch", "-q", "main")
    refused = cinch(repo, "query", "SELECT * FROM users", "-t", "acme", code=1)
    assert "Tenant 'acme'" in refused.output
    assert "SQLite refuses to bring it to the head" in refused.output
    git(repo, "switch", "-q", "feature")
    assert len(rows(repo, cinch)) == 3  # refused means untouched


def test_a_data_step_without_down_from_another_git_branch_is_refused_naming_it(
    repo: Path, cinch
) -> None:
    """A data step has no inverse without its down SQL: the file stays as it is, and the
    message names the step and the way out, as for a column with values."""
    git(repo, "switch", "-q", "-c", "feature")
    cinch(repo, "migrate", "UPDATE users SET name = upper(name)")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "upper")
    assert [r["name"] for r in rows(repo, cinch)] == ["ANN", "BOB"]

    git(repo, "switch", "-q", "main")
    refused = cinch(repo, "query", "SELECT * FROM users", "-t", "acme", code=1)
    assert "acme" in refused.output and "cinch tenant reset acme" in refused.output
    assert "UPDATE users SET name = upper(name)" in refused.output
    assert "no down SQL" in refused.output
    git(repo, "switch", "-q", "feature")
    assert [r["name"] for r in rows(repo, cinch)] == ["ANN", "BOB"]


def test_a_data_step_with_down_from_another_git_branch_is_undone(repo: Path, cinch) -> None:
    git(repo, "switch", "-q", "-c", "feature")
    down = repo / "down.sql"
    down.write_text("UPDATE users SET name = substr(name, 1, 1) || lower(substr(name, 2))")
    cinch(repo, "migrate", "UPDATE users SET name = upper(name)", "--down", str(down))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "upper")

    git(repo, "switch", "-q", "main")
    assert [r["name"] for r in rows(repo, cinch)] == ["Ann", "Bob"]
