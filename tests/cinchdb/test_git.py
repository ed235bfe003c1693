"""The schema history in git, with real git in temporary repositories: two git branches that
both change the schema in one working copy, commands after each switch, a merge without
conflicts, and a fresh clone that works with nothing but the command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cinchdb
from cinchdb.project import GITIGNORE_LINES
from tests.gitrepo import CinchRun, cinch_in_repo, git


@pytest.fixture
def cinch(monkeypatch: pytest.MonkeyPatch) -> CinchRun:
    return cinch_in_repo(monkeypatch)


def columns(repo: Path, table: str) -> list[str]:
    with cinchdb.connect(project_dir=repo) as db:
        return [column.name for column in db.get_table(table).columns]


def tables(repo: Path) -> list[str]:
    with cinchdb.connect(project_dir=repo) as db:
        return [table.name for table in db.list_tables()]


def assert_history_complete(repo: Path, commit: str) -> None:
    """Every event in the commit's history files has its parents in the same commit."""
    names = git(repo, "ls-tree", "-r", "--name-only", commit, ".cinchdb/history").split()
    events = {Path(name).stem: name for name in names if "/events/" in name}
    for event_id, name in events.items():
        body = json.loads(git(repo, "show", f"{commit}:{name}"))
        missing = [parent for parent in body["parents"] if parent not in events]
        assert not missing, f"{commit[:8]}: {event_id[:12]} lacks parents {missing}"


def test_two_git_branches_change_the_schema_in_one_working_copy(tmp_path: Path, cinch) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    cinch(repo, "init", ".")
    cinch(repo, "table", "create", "users", "name:TEXT")
    cinch(repo, "table", "create", "orders", "user_id:INTEGER")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "schema")
    # The .gitignore keeps metadata.db, its WAL and the tenant files out of git.
    assert git(repo, "status", "--porcelain") == ""
    ignored = git(repo, "status", "--porcelain", "--ignored")
    assert ".cinchdb/metadata.db" in ignored or ".cinchdb/" in ignored
    committed = git(repo, "ls-files").split()
    assert all(name.startswith(".cinchdb/history/") or name == ".cinchdb/.gitignore"
               for name in committed)  # fmt: skip

    git(repo, "checkout", "-q", "-b", "feature-a")
    cinch(repo, "column", "add", "users", "age:INTEGER")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "age")

    git(repo, "checkout", "-q", "main")
    cinch(repo, "log")
    assert "age" not in columns(repo, "users")
    git(repo, "checkout", "-q", "-b", "feature-b")
    cinch(repo, "table", "create", "posts", "title:TEXT")
    cinch(repo, "column", "add", "orders", "note:TEXT")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "posts")
    assert git(repo, "status", "--porcelain") == ""

    git(repo, "checkout", "-q", "feature-a")
    log = cinch(repo, "log").output
    assert "age" in log and "posts" not in log
    assert "age" in columns(repo, "users")
    assert "posts" not in tables(repo)
    cinch(repo, "query", "SELECT * FROM users")
    # An append takes its parent from the checked-out history, so this commit is complete.
    cinch(repo, "column", "add", "users", "email:TEXT")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "email")

    git(repo, "checkout", "-q", "feature-b")
    assert "posts" in tables(repo)
    assert columns(repo, "users") == columns(repo, "users")  # reads twice, no error
    assert "age" not in columns(repo, "users")
    cinch(repo, "query", "SELECT * FROM posts")

    for commit in git(repo, "rev-list", "--all").split():
        assert_history_complete(repo, commit)

    # git merges the two lines without a conflict in any file: they only added files.
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "feature-a", "-m", "merge a")
    git(repo, "merge", "-q", "--no-edit", "feature-b", "-m", "merge b")
    assert git(repo, "diff", "--name-only", "--diff-filter=U") == ""
    assert_history_complete(repo, "HEAD")
    # CinchDB's main now has two heads: reading works, schema changes are refused until
    # they are merged.
    cinch(repo, "log")
    cinch(repo, "query", "SELECT * FROM users")
    refused = cinch(repo, "column", "add", "users", "x:TEXT", code=1)
    assert "has 2 heads" in refused.output
    assert "cinch merge --heads main" in refused.output


def test_a_fresh_clone_runs_log_and_query_with_nothing_else(tmp_path: Path, cinch) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    cinch(repo, "init", ".")
    cinch(repo, "table", "create", "users", "name:TEXT")
    cinch(repo, "branch", "create", "feature")
    cinch(repo, "data", "insert", "users", '{"name": "local only"}')
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "schema")

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    assert not (clone / ".cinchdb" / "metadata.db").exists()
    log = cinch(clone, "log").output
    assert "create table users" in log
    # Tenant data is local: the clone has the schema and an empty main tenant.
    assert "local only" not in cinch(clone, "query", "SELECT * FROM users").output
    assert "local only" in cinch(repo, "query", "SELECT * FROM users").output
    assert "feature" in cinch(clone, "branch", "list").output
    # What the clone made locally stays out of git.
    assert git(clone, "status", "--porcelain") == ""


def test_an_edited_gitignore_keeps_its_lines_and_gains_the_missing_ones(
    tmp_path: Path, cinch
) -> None:
    cinch(tmp_path, "init", "app")
    path = tmp_path / "app" / ".cinchdb" / ".gitignore"
    path.write_text("# mine\n/*\nextra-line")
    cinch(tmp_path / "app", "log")
    lines = path.read_text().splitlines()
    assert lines[:3] == ["# mine", "/*", "extra-line"]
    assert set(GITIGNORE_LINES) <= set(lines)
    assert lines.count("/*") == 1
