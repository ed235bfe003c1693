"""A CinchDB branch with two heads after git merged two lines of its history, with real git:
``cinch status`` shows them, schema changes wait, ``cinch merge --heads`` joins them (clean, or
with conflicts reported and resolved as for branch merges) and local tenants catch up."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

import cinchdb
from tests.gitrepo import CinchRun, cinch_in_repo, git

FAMILY = (
    "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);"
    "CREATE TABLE child (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES parent (id),"
    " qty INTEGER CHECK (qty >= 0))"
)


@pytest.fixture
def cinch(monkeypatch: pytest.MonkeyPatch) -> CinchRun:
    return cinch_in_repo(monkeypatch)


def two_lines(tmp_path: Path, cinch, change_a: list[str], change_b: list[str]) -> Path:
    """A repository whose git branches a and b each made one schema change on CinchDB branch
    main, merged in git into git's main (no file conflicts: the history is add-only)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    cinch(repo, "init", ".")
    cinch(repo, "migrate", FAMILY)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "family")
    for branch, change in (("a", change_a), ("b", change_b)):
        git(repo, "checkout", "-q", "-b", branch, "main")
        cinch(repo, *change)
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", branch)
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "a")
    git(repo, "merge", "-q", "--no-edit", "b")
    assert git(repo, "diff", "--name-only", "--diff-filter=U") == ""
    return repo


def tenant_files(repo: Path) -> list[Path]:
    """The materialized tenants of branch main (not its template)."""
    found = (repo / ".cinchdb" / "main-main").rglob("*.db")
    return sorted((path for path in found if not path.name.startswith("__")), key=str)


def shape(path: Path) -> dict[str, list[str]]:
    conn = sqlite3.connect(path)
    try:
        names = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
            " AND name NOT LIKE 'sqlite%' AND name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY name"
        )]  # fmt: skip
        return {
            name: [row[1] for row in conn.execute(f'PRAGMA table_info("{name}")')] for name in names
        }
    finally:
        conn.close()


def test_two_heads_are_shown_refused_and_merged_and_tenants_converge(tmp_path: Path, cinch) -> None:
    repo = two_lines(
        tmp_path,
        cinch,
        ["column", "add", "child", "note:TEXT"],  # on the table with a foreign key
        ["table", "create", "posts", "title:TEXT"],
    )
    status = json.loads(cinch(repo, "status", "--json").output)
    assert len(status["heads"]) == 2
    shown = cinch(repo, "status").output
    assert "2 heads" in shown and "cinch merge --heads main" in shown
    with cinchdb.connect(project_dir=repo) as db:
        assert db.branch_heads() == status["heads"]

    refused = cinch(repo, "column", "add", "parent", "email:TEXT", code=1)
    assert "has 2 heads" in refused.output
    assert "cinch merge --heads main" in refused.output

    # Tenant data is made only now, in this working copy: no tenant followed a git branch.
    cinch(repo, "data", "insert", "parent", '{"id": 1, "name": "p"}')
    cinch(repo, "tenant", "create", "acme", "--no-lazy")
    cinch(repo, "data", "insert", "parent", '{"id": 7, "name": "q"}', "--tenant", "acme")

    preview = cinch(repo, "merge", "--heads", "main", "--check").output
    assert "Would merge the 2 heads of 'main'" in preview
    merged = cinch(repo, "merge", "--heads", "main").output
    assert "Merged the 2 heads of 'main'" in merged
    assert len(json.loads(cinch(repo, "status", "--json").output)["heads"]) == 1
    assert "Already up to date." in cinch(repo, "merge", "--heads", "main").output

    # Both lines are in the schema, and every materialized tenant has it, data intact.
    files = tenant_files(repo)
    assert sorted(path.stem for path in files) == ["acme", "main"]
    for path in files:
        tables = shape(path)
        assert tables["child"] == ["id", "pid", "qty", "note"], path
        assert "title" in tables["posts"], path
    rows = cinch(repo, "query", "SELECT name FROM parent", "--tenant", "acme", "--json").output
    assert json.loads(rows) == [{"name": "q"}]

    # The merge event joins both heads; its files make a commit whose history is complete.
    with cinchdb.connect(project_dir=repo) as db:
        top = db.log(limit=1)[0]
        assert top.type == "BranchesMerged"
        assert sorted(top.parents) == status["heads"]
    cinch(repo, "column", "add", "parent", "email:TEXT")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "joined")
    names = git(repo, "ls-tree", "-r", "--name-only", "HEAD", ".cinchdb/history").split()
    events = {Path(name).stem for name in names if "/events/" in name}
    for name in names:
        if "/events/" in name:
            body = json.loads(git(repo, "show", f"HEAD:{name}"))
            assert set(body["parents"]) <= events
    # A fresh clone sees one head and the merged schema.
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    assert len(json.loads(cinch(clone, "status", "--json").output)["heads"]) == 1
    cinch(clone, "query", "SELECT note, email FROM child JOIN parent ON parent.id = child.pid")


def test_conflicting_heads_exit_3_and_resolve_like_a_branch_merge(tmp_path: Path, cinch) -> None:
    repo = two_lines(
        tmp_path,
        cinch,
        ["view", "create", "v", "SELECT id FROM parent"],
        ["view", "create", "v", "SELECT name FROM parent"],
    )
    cinch(repo, "data", "insert", "parent", '{"id": 1, "name": "p"}')
    with cinchdb.connect(project_dir=repo) as db:
        ours = {v.name: v.sql for v in db.list_views()}["v"]
    for both_or_neither in ([], ["main", "--heads", "main"]):
        usage = cinch(repo, "merge", *both_or_neither, code=2).output
        assert "give a SOURCE branch or --heads BRANCH (one of them)" in usage
    checked = cinch(repo, "merge", "--heads", "main", "--check", code=3).output
    assert "Conflicts merging the 2 heads of 'main':" in checked
    refused = cinch(repo, "merge", "--heads", "main", code=3).output
    assert "Error: 1 conflict(s):\n" in refused  # then each conflict once
    assert "view v" in refused
    assert "To resolve: cinch merge --heads main --resolve 'view v'=theirs" in refused
    assert len(json.loads(cinch(repo, "status", "--json").output)["heads"]) == 2

    cinch(repo, "merge", "--heads", "main", "--resolve", "view v=theirs")
    with cinchdb.connect(project_dir=repo) as db:
        assert len(db.branch_heads()) == 1
        taken = {v.name: v.sql for v in db.list_views()}["v"]
        assert taken != ours
        assert db.log(limit=1)[0].type == "BranchesMerged"
    for path in tenant_files(repo):
        assert shape(path)["v"] == (["name"] if "name" in taken else ["id"])
    assert "resolved" in cinch(repo, "log", "-n", "1").output


def test_two_clones_that_both_joined_the_heads_join_again_with_no_change(
    tmp_path: Path, cinch
) -> None:
    repo = two_lines(
        tmp_path,
        cinch,
        ["column", "add", "child", "note:TEXT"],
        ["table", "create", "posts", "title:TEXT"],
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "two heads", "--allow-empty")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    for where in (repo, clone):
        cinch(where, "merge", "--heads", "main")
        git(where, "add", "-A")
        git(where, "commit", "-qm", f"joined in {where.name}")
    git(repo, "pull", "-q", "--no-rebase", "--no-edit", str(clone), "main")
    assert git(repo, "diff", "--name-only", "--diff-filter=U") == ""
    assert len(json.loads(cinch(repo, "status", "--json").output)["heads"]) == 2
    again = cinch(repo, "merge", "--heads", "main").output
    assert "Merged the 2 heads of 'main' (merge, 0 changes)" in again
    with cinchdb.connect(project_dir=repo) as db:
        assert len(db.branch_heads()) == 1
        assert {"note"} <= {c.name for c in db.get_table("child").columns}
        assert "posts" in {t.name for t in db.list_tables()}
