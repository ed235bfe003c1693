"""Branch deletion and merge-into-main leave the user on a branch that still exists, and never
throw away schema work that no other branch has (git's ``branch -d`` / ``-D``)."""

from __future__ import annotations

import json

from tests.cli.test_commands import error, ok


def _users(cinch):
    ok(cinch("table", "create", "users", "name:TEXT"))


def _active(cinch) -> str:
    return json.loads(ok(cinch("status", "--json")))["branch"]


def test_deleting_the_active_branch_switches_to_main_and_says_so(cinch):
    _users(cinch)
    ok(cinch("branch", "create", "scratch"))  # no events of its own: merged already
    assert _active(cinch) == "scratch"
    out = ok(cinch("branch", "delete", "scratch", "--yes"))
    assert "Switched to branch 'main'" in out
    assert "Deleted branch 'scratch'" in out
    assert _active(cinch) == "main"


def test_merge_into_main_leaves_main_active_and_says_so(cinch):
    _users(cinch)
    ok(cinch("branch", "create", "feature"))
    ok(cinch("column", "add", "users", "age:INTEGER"))
    out = ok(cinch("branch", "merge-into-main", "feature"))
    assert "Switched to branch 'main'" in out
    assert _active(cinch) == "main"
    # The README's next step writes into main's tenant, not feature's copy.
    ok(cinch("data", "insert", "users", '{"name": "ann", "age": 3}'))
    rows = json.loads(ok(cinch("query", "SELECT name, age FROM users", "--json")))
    assert rows == [{"name": "ann", "age": 3}]


def test_merge_into_main_dry_run_stays_put(cinch):
    _users(cinch)
    ok(cinch("branch", "create", "feature"))
    ok(cinch("column", "add", "users", "age:INTEGER"))
    out = ok(cinch("branch", "merge-into-main", "feature", "--dry-run"))
    assert "Switched" not in out
    assert _active(cinch) == "feature"


def test_deleting_an_unmerged_branch_needs_force(cinch):
    _users(cinch)
    ok(cinch("branch", "create", "feature"))
    ok(cinch("column", "add", "users", "age:INTEGER"))
    ok(cinch("branch", "switch", "main"))
    error(
        cinch("branch", "delete", "feature", "--yes"),
        "Error: Branch 'feature' has 1 event(s) that no other branch has: use --force to"
        " delete it anyway",
    )
    assert "feature" in [b["name"] for b in json.loads(ok(cinch("branch", "list", "--json")))]
    ok(cinch("branch", "delete", "feature", "--yes", "--force"))
    assert [b["name"] for b in json.loads(ok(cinch("branch", "list", "--json")))] == ["main"]


def test_deleting_a_merged_branch_needs_no_force(cinch):
    _users(cinch)
    ok(cinch("branch", "create", "feature"))
    ok(cinch("column", "add", "users", "age:INTEGER"))
    ok(cinch("branch", "merge-into-main", "feature"))
    ok(cinch("branch", "delete", "feature", "--yes"))


def _conflicting_views(cinch):
    ok(cinch("migrate", "CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT, age INTEGER);"
                        "CREATE VIEW v AS SELECT name FROM users"))  # fmt: skip
    ok(cinch("branch", "create", "feature"))
    ok(cinch("migrate", "DROP VIEW v; CREATE VIEW v AS SELECT age FROM users"))
    ok(cinch("branch", "switch", "main"))
    ok(cinch("migrate", "DROP VIEW v; CREATE VIEW v AS SELECT id FROM users"))


def test_merge_resolve_on_the_command_line(cinch):
    _conflicting_views(cinch)
    conflicted = cinch("merge", "feature", "--into", "main")
    assert conflicted.exit_code == 3
    # The heading, then each conflict once (issue 16: it was printed twice).
    assert conflicted.stderr.splitlines()[1].endswith(
        "To resolve: cinch merge feature --into main --resolve 'view v'=theirs"
    )
    error(
        cinch("merge", "feature", "--into", "main", "--resolve", "view w=theirs"),
        "Error: Cannot resolve 'view w': the objects in conflict are 'view v'",
    )
    error(
        cinch("merge", "feature", "--resolve", "view v"),
        "Error: Invalid value for '--resolve': expected OBJECT=ours|theirs, got 'view v'",
        code=2,
    )
    out = ok(cinch("merge", "feature", "--into", "main", "--resolve", "view v=theirs"))
    assert "resolved view v=theirs" in out
    assert "resolved view v=theirs" in ok(cinch("log", "-n", "1"))
    assert ok(cinch("view", "info", "v")).count("age") >= 1


def test_merge_strategy_on_the_command_line(cinch):
    _conflicting_views(cinch)
    check = cinch("merge", "feature", "--check", "--strategy", "ours")
    assert check.exit_code == 0, check.output
    assert "resolved view v=ours" in check.stdout
    out = ok(cinch("merge", "feature", "--strategy", "ours", "--json"))
    assert json.loads(out)["resolved"] == [{"object": "view v", "side": "ours"}]
