"""``log``, ``diff`` and ``lint`` ranges as git means them, and merges that are already done.

Each of the first three tests is a wrong result a new user met (issue 15): a harmless change
failing lint, lint blaming a feature for what main did, and renames shown as drop + create.
"""

from __future__ import annotations

import json

import pytest

from .test_commands import ok

PARENT_CHILD = (
    "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);"
    "CREATE TABLE child (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES parent (id),"
    " qty INTEGER CHECK (qty >= 0));"
    "CREATE INDEX idx_child_pid ON child (pid);"
    "CREATE VIEW child_names AS SELECT child.id, parent.name FROM child"
    " JOIN parent ON child.pid = parent.id;"
    "CREATE TRIGGER child_audit AFTER INSERT ON child BEGIN"
    " UPDATE parent SET name = name WHERE id = new.pid; END"
)


@pytest.fixture
def family(cinch):
    ok(cinch("migrate", PARENT_CHILD))
    return cinch


def test_a_nullable_column_on_a_table_with_a_foreign_key_is_just_that(family):
    cinch = family
    ok(cinch("column", "add", "child", "note:TEXT"))
    lint = cinch("lint", "main~1..main")
    assert lint.exit_code == 0, lint.output
    assert "No destructive or data-dependent changes" in lint.stdout
    diff = cinch("diff", "main~1", "main")
    assert diff.exit_code == 0
    assert diff.stdout.splitlines()[-1:] == ["add column child.note TEXT"]
    assert "drop table" not in diff.stdout
    as_json = json.loads(ok(cinch("diff", "main~1", "main", "--format", "json")))
    assert [op["type"] for op in as_json["operations"]] == ["ColumnAdded"]


def test_lint_judges_only_what_the_feature_introduces(family):
    cinch = family
    ok(cinch("branch", "create", "feature", "--no-switch"))
    ok(cinch("column", "add", "parent", "email:TEXT"))  # main moves on after the fork
    ok(cinch("branch", "switch", "feature"))
    ok(cinch("index", "create", "idx_parent_name", "parent", "name"))
    for range_ in ("main..feature", "main...feature"):
        result = cinch("lint", range_, "--json")
        assert result.exit_code == 0, (range_, result.output)
        assert json.loads(result.stdout)["findings"] == []
    # What main introduces over feature is main's own column: nothing destructive either.
    assert cinch("lint", "feature..main").exit_code == 0
    # The two heads differ by both changes; the three-dot diff shows the feature's alone.
    assert ok(cinch("diff", "main...feature")).splitlines()[-1:] == [
        "create index idx_parent_name on parent"
    ]
    two_heads = ok(cinch("diff", "main", "feature")).splitlines()
    assert "drop column parent.email" in two_heads


def test_a_rename_diffs_as_a_rename_and_dependants_do_not_change(family):
    cinch = family
    ok(cinch("column", "rename", "parent", "name", "title"))
    ok(cinch("table", "rename", "child", "kid"))
    lines = ok(cinch("diff", "main~2", "main")).splitlines()
    assert lines[-2:] == ["rename table child to kid", "rename column parent.name to title"]
    # The view and the trigger SQLite rewrote for the renames are not changes of their own.
    assert not any("view" in line or "trigger" in line or "index" in line for line in lines)
    assert (
        ok(cinch("lint", "main~2..main"))
        .strip()
        .endswith("No destructive or data-dependent changes")
    )


def test_merging_what_is_already_there_is_up_to_date(family):
    cinch = family
    for args in (
        ("merge", "main", "--into", "main"),
        ("branch", "merge", "main", "--into", "main"),
    ):
        result = cinch(*args)
        assert (result.exit_code, result.stdout) == (0, "Already up to date.\n"), result.output
    ok(cinch("branch", "create", "feature"))
    ok(cinch("column", "add", "parent", "email:TEXT"))
    assert "Merged 'feature' into 'main'" in ok(cinch("merge", "feature", "--into", "main"))
    again = cinch("merge", "feature", "--into", "main")
    assert (again.exit_code, again.stdout) == (0, "Already up to date.\n")
    as_json = json.loads(ok(cinch("merge", "main", "--into", "main", "--json")))
    assert as_json["status"] == "up_to_date"
