"""``cinch ci --base REV`` with real git in temporary repositories (no network), run as real
processes, and the workflow of docs/ci.md run as written."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import cinchdb

ROOT = Path(__file__).resolve().parents[2]
CINCH = shutil.which("cinch")
GIT = shutil.which("git")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CINCHDB_", "GIT_"))}
    env.update(COLUMNS="200", GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")  # fmt: skip
    return env


def run(
    cwd: Path, *argv: str, ok: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(argv), cwd=cwd, env={**_env(), **(env or {})},
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr
    if ok:
        assert result.returncode == 0, (argv, result.stdout, result.stderr)
    return result


def cinch(cwd: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    assert CINCH is not None, "the cinch command is not installed (pip install -e .)"
    return run(cwd, CINCH, *args, ok=ok)


def git(cwd: Path, *args: str) -> str:
    assert GIT is not None
    return run(cwd, GIT, *args).stdout


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository on main with a CinchDB project: users(name), and orders referencing
    users (a table with a foreign key)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    cinch(repo, "init")
    cinch(repo, "table", "create", "users", "name:TEXT", "email:TEXT")
    cinch(repo, "migrate", "CREATE TABLE orders (id INTEGER PRIMARY KEY,"
          " user_id INTEGER REFERENCES users(id), total REAL)")  # fmt: skip
    commit(repo, "schema")
    return repo


def ci(repo: Path, base: str = "main") -> tuple[int, dict]:
    result = cinch(repo, "ci", "--base", base, "--json", ok=False)
    return result.returncode, json.loads(result.stdout)


def main_branch(report: dict) -> dict:
    [entry] = [b for b in report["branches"] if b["branch"] == "main"]
    return entry


def test_a_pr_adding_a_column_passes(repo):
    git(repo, "switch", "-q", "-c", "add-column")
    cinch(repo, "column", "add", "orders", "note:TEXT")
    commit(repo, "add orders.note")
    code, report = ci(repo)
    assert code == 0, report
    entry = main_branch(report)
    assert entry["status"] == "fast_forward"
    assert len(entry["introduced"]) == 1 and "note" in entry["summaries"][0]
    assert entry["findings"] == [] and report["integrity"] == []
    assert report["base_commit"] == git(repo, "rev-parse", "main").strip()
    # Nothing was written in the project: git sees no change at all.
    assert git(repo, "status", "--porcelain") == ""
    text = cinch(repo, "ci", "--base", "main").stdout
    assert "main/main: 1 event(s) on top of the base, merges cleanly" in text


def test_a_pr_dropping_a_column_fails_lint(repo):
    git(repo, "switch", "-q", "-c", "drop-column")
    cinch(repo, "column", "drop", "users", "email", "--yes")
    commit(repo, "drop users.email")
    code, report = ci(repo)
    assert code == 1
    [finding] = main_branch(report)["findings"]
    assert finding["object"] == "users.email" or "email" in finding["message"]
    assert "lint:" in cinch(repo, "ci", "--base", "main", ok=False).stdout


def test_uncommitted_changes_in_the_working_tree_count(repo):
    cinch(repo, "table", "create", "tags", "label:TEXT")
    code, report = ci(repo, "HEAD")
    assert code == 0 and len(main_branch(report)["introduced"]) == 1


def _conflicting_pair(repo: Path) -> None:
    """Two PRs off main that both change users.email differently; the first is merged."""
    git(repo, "switch", "-q", "-c", "first")
    cinch(repo, "column", "rename", "users", "email", "mail")
    commit(repo, "rename email to mail")
    git(repo, "switch", "-q", "main")
    git(repo, "switch", "-q", "-c", "second")
    cinch(repo, "column", "rename", "users", "email", "address")
    commit(repo, "rename email to address")
    assert ci(repo)[0] == 0  # before the first lands, the second is fine
    git(repo, "switch", "-q", "main")
    git(repo, "merge", "-q", "--no-edit", "first")
    git(repo, "switch", "-q", "second")


def test_the_second_of_two_conflicting_prs_exits_3_naming_the_object(repo):
    _conflicting_pair(repo)
    code, report = ci(repo)
    assert code == 3, report
    entry = main_branch(report)
    assert entry["status"] == "conflict"
    [conflict] = entry["conflicts"]
    assert "users" in conflict["object"]
    assert set(conflict["events"]) & set(entry["introduced"])
    assert "cinch merge --heads main" in conflict["message"]
    text = cinch(repo, "ci", "--base", "main", ok=False)
    assert text.returncode == 3 and "conflict on" in text.stdout
    assert git(repo, "status", "--porcelain") == ""


def test_two_prs_that_both_moved_main_without_conflict_are_two_heads(repo):
    git(repo, "switch", "-q", "-c", "first")
    cinch(repo, "column", "add", "orders", "note:TEXT")
    commit(repo, "orders.note")
    git(repo, "switch", "-q", "main")
    git(repo, "switch", "-q", "-c", "second")
    cinch(repo, "table", "create", "tags", "label:TEXT")
    commit(repo, "tags")
    git(repo, "switch", "-q", "main")
    git(repo, "merge", "-q", "--no-edit", "first")
    git(repo, "switch", "-q", "second")
    code, report = ci(repo)
    assert code == 0, report
    entry = main_branch(report)
    assert entry["status"] == "two_heads" and len(entry["introduced"]) == 1


def test_not_a_git_work_tree_is_a_clear_error(tmp_path):
    cinch(tmp_path, "init")
    result = cinch(tmp_path, "ci", "--base", "main", ok=False)
    assert result.returncode == 1
    assert "is not in a git work tree" in result.stderr and result.stderr.startswith("Error:")


def test_an_unknown_revision_is_a_clear_error(repo):
    result = cinch(repo, "ci", "--base", "origin/nowhere", ok=False)
    assert result.returncode == 1
    assert "git revision 'origin/nowhere' does not exist" in result.stderr


def _workflow_steps() -> list[dict[str, str]]:
    """The workflow's steps, read off the YAML block (one-line ``run:`` values, as it has)."""
    text = (ROOT / "docs" / "ci.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", text, re.DOTALL)
    assert block is not None
    steps: list[dict[str, str]] = []
    for line in block[1].split("steps:\n", 1)[1].splitlines():
        item = re.match(r"^\s*(- )?(uses|run|name|fetch-depth): (.*?)(\s+#.*)?$", line)
        if item is None:
            continue
        if item[1]:  # "- " starts a step
            steps.append({})
        steps[-1][item[2]] = item[3]
    checkout = steps[0]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["fetch-depth"] == "0"  # the base revision must be there
    return [step for step in steps if "run" in step]


def test_the_documented_workflow_runs_as_written(repo):
    steps = _workflow_steps()
    install = [s for s in steps if "pip install" in s["run"]]
    # CinchDB comes from its repository, never by the package index's (unrelated) name.
    assert len(install) == 1 and '"cinchdb @ $CINCHDB_SOURCE"' in install[0]["run"]
    checks = [s for s in steps if s not in install]
    assert len(checks) == 1  # one step for the check
    # What actions/checkout with fetch-depth: 0 leaves: the PR's commit checked out, the base
    # as origin/main; GitHub names the base branch in GITHUB_BASE_REF.
    env = {"GITHUB_BASE_REF": "main"}

    def run_checks() -> subprocess.CompletedProcess[str]:
        git(repo, "update-ref", "refs/remotes/origin/main", "main")
        [step] = checks
        return run(repo, "bash", "-e", "-c", step["run"], ok=False, env=env)

    git(repo, "switch", "-q", "-c", "add-column")
    cinch(repo, "column", "add", "orders", "note:TEXT")
    commit(repo, "add orders.note")
    passed = run_checks()
    assert passed.returncode == 0, (passed.stdout, passed.stderr)
    assert "merges cleanly" in passed.stdout and "add column orders.note" in passed.stdout
    git(repo, "switch", "-q", "main")
    git(repo, "switch", "-q", "-c", "drop-column")
    cinch(repo, "column", "drop", "users", "email", "--yes")
    commit(repo, "drop users.email")
    failed = run_checks()
    assert failed.returncode == 1 and "lint:" in failed.stdout, (failed.stdout, failed.stderr)


def test_an_edited_history_file_fails_integrity(repo):
    git(repo, "switch", "-q", "-c", "edited")
    [event] = sorted((repo / ".cinchdb" / "history" / "main" / "events").glob("*.json"))[:1]
    event.write_text(event.read_text().replace("users", "people"))
    code, report = ci(repo)
    assert code == 1 and report["branches"] == []
    assert (
        event.name in report["integrity"][0]
        and "does not match its name" in (report["integrity"][0])
    )


def test_the_sdk_report_writes_nothing_local(repo):
    git(repo, "switch", "-q", "-c", "add-column")
    cinch(repo, "column", "add", "orders", "note:TEXT")
    commit(repo, "add orders.note")
    meta = repo / ".cinchdb"
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in meta.rglob("*") if p.is_file()}
    report = cinchdb.ci_report(repo, "main")
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in meta.rglob("*") if p.is_file()}
    assert report["ok"] and report["exit_code"] == 0
    assert after == before
