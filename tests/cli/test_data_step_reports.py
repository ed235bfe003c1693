"""What ``log``, ``lint`` and ``diff`` say about data steps (INSERT, UPDATE, DELETE run by
``migrate``): ``log`` shows each with the rows it changed per tenant, summarized; ``lint`` flags
every data step, and an UPDATE or DELETE without WHERE besides; ``diff`` compares schemas only
and says how many data steps lie between the two refs."""

from __future__ import annotations

import json
import sqlite3

import pytest

from .test_ci import ci, commit, git, main_branch, repo  # noqa: F401 (repo: a fixture)
from .test_ci import cinch as run_cinch
from .test_commands import ok

BACKFILL = "UPDATE users SET full_name = first || ' ' || last"


@pytest.fixture
def fleet(cinch):
    """users(first, last, full_name) with rows in tenants a (2), b (1) and c (none: lazy)."""
    ok(cinch("migrate", "CREATE TABLE users (id INTEGER PRIMARY KEY, first TEXT, last TEXT,"
             " full_name TEXT)"))  # fmt: skip
    for tenant, names in (("a", ["Ada Lovelace", "Alan Turing"]), ("b", ["Bo Diddley"]),
                          ("c", [])):  # fmt: skip
        ok(cinch("tenant", "create", tenant))
        for name in names:
            first, last = name.split()
            row = json.dumps({"first": first, "last": last})
            ok(cinch("data", "insert", "users", row, "--tenant", tenant))
    return cinch


def _log_line(output: str) -> str:
    [line] = [line for line in output.splitlines() if "data:" in line]
    return line


def test_log_shows_a_data_step_with_its_rows_per_tenant_summarized(fleet):
    cinch = fleet
    ok(cinch("migrate", BACKFILL))
    line = _log_line(ok(cinch("log", "-n", "1")))
    assert line.endswith(f"data: {BACKFILL}  [3 rows in 2 tenants (most: 2 in 'a')]"), line
    [event] = json.loads(ok(cinch("log", "-n", "1", "--json")))
    assert event["type"] == "DataMigrated"
    assert event["summary"] == f"data: {BACKFILL}"
    assert event["data_steps"] == [
        {"step": 0, "sql": BACKFILL, "total": 3, "tenants": 2, "max": 2, "max_tenant": "a",
         "template": 0}
    ]  # fmt: skip
    # Schema events carry no data steps.
    older = json.loads(ok(cinch("log", "--json")))
    assert [e["data_steps"] for e in older[1:]] == [[]]


def test_log_of_reference_rows_counts_the_template_too(fleet):
    cinch = fleet
    ok(cinch("migrate", "CREATE TABLE plans (id INTEGER PRIMARY KEY, name TEXT);"
             "INSERT INTO plans (name) VALUES ('free'), ('pro')"))  # fmt: skip
    line = _log_line(ok(cinch("log", "-n", "1")))
    assert line.endswith(
        "data: INSERT INTO plans (name) VALUES ('free'), ('pro')"
        "  [4 rows in 2 tenants (most: 2 in 'a'); 2 in the template (lazy tenants)]"
    ), line


def test_a_data_step_no_file_here_applied_says_so(fleet, project):
    cinch = fleet
    ok(cinch("migrate", BACKFILL))
    # The counts are local state in metadata.db; a clone of the history has none.
    conn = sqlite3.connect(project / ".cinchdb" / "metadata.db")
    with conn:
        conn.execute("DELETE FROM cinch_data_step_rows")
    conn.close()
    line = _log_line(ok(cinch("log", "-n", "1")))
    assert line.endswith(f"data: {BACKFILL}  [rows: not applied to any file here yet]"), line


def test_lint_flags_every_data_step_and_an_update_without_where(fleet):
    cinch = fleet
    ok(cinch("branch", "create", "backfill"))
    ok(cinch("migrate", BACKFILL))
    ok(cinch("migrate", "DELETE FROM users WHERE first = 'Bo'"))
    result = cinch("lint", "main..backfill", "--json")
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["findings"] == [
        {"kind": "data_step", "object": "users",
         "message": f"UPDATE changes rows of 'users' in every tenant: review it ({BACKFILL})"},
        {"kind": "no_where", "object": "users",
         "message": "UPDATE without WHERE changes every row of 'users' in every tenant"},
        {"kind": "data_step", "object": "users",
         "message": "DELETE changes rows of 'users' in every tenant: review it"
                    " (DELETE FROM users WHERE first = 'Bo')"},
    ]  # fmt: skip
    text = cinch("lint", "main..backfill")
    assert text.exit_code == 1
    assert "no_where" in text.stdout and "data_step" in text.stdout
    # What main introduces over the branch is nothing: it is not blamed for the branch's steps.
    assert cinch("lint", "backfill..main").exit_code == 0


def test_diff_compares_schemas_only_and_counts_the_data_steps_between(fleet):
    cinch = fleet
    ok(cinch("branch", "create", "backfill"))
    ok(cinch("migrate", BACKFILL))
    ok(cinch("migrate", "DELETE FROM users WHERE first = 'Bo'"))
    result = cinch("diff", "main", "backfill", "--exit-code")
    assert result.exit_code == 0, result.output  # no schema difference
    assert result.stdout.splitlines()[1:] == [
        "# 2 data steps lie between main and backfill (not shown: diff compares schemas;"
        " cinch log shows them)",
        "No differences",
    ]
    data = json.loads(ok(cinch("diff", "main", "backfill", "--json")))
    assert data["operations"] == [] and data["data_steps"] == 2
    sql = ok(cinch("diff", "main...backfill", "--format", "sql")).splitlines()
    assert sql[1] == (
        "-- 2 data steps lie between the merge base of main and backfill and backfill"
        " (not shown: diff compares schemas; cinch log shows them)"
    )
    # One step, and a schema change beside it.
    ok(cinch("column", "add", "users", "nick:TEXT"))
    lines = ok(cinch("diff", "backfill~2", "backfill")).splitlines()
    assert lines[1:] == [
        "# 1 data step lies between backfill~2 and backfill (not shown: diff compares schemas;"
        " cinch log shows them)",
        "add column users.nick TEXT",
    ]
    # No data steps: no line, and the count is 0 in JSON.
    assert json.loads(ok(cinch("diff", "backfill~1", "backfill", "--json")))["data_steps"] == 0
    assert "data step" not in ok(cinch("diff", "backfill~1", "backfill"))


def test_cinch_ci_fails_a_pull_request_with_a_data_step_naming_it(repo):  # noqa: F811
    git(repo, "switch", "-q", "-c", "backfill")
    run_cinch(repo, "migrate", "ALTER TABLE users ADD COLUMN full_name TEXT;"
              "UPDATE users SET full_name = name")  # fmt: skip
    commit(repo, "backfill users.full_name")
    code, report = ci(repo)
    assert code == 1, report
    entry = main_branch(report)
    assert entry["status"] == "fast_forward"
    assert entry["findings"] == [
        {"kind": "data_step", "object": "users",
         "message": "UPDATE changes rows of 'users' in every tenant: review it"
                    " (UPDATE users SET full_name = name)"},
        {"kind": "no_where", "object": "users",
         "message": "UPDATE without WHERE changes every row of 'users' in every tenant"},
    ]  # fmt: skip
    text = run_cinch(repo, "ci", "--base", "main", ok=False)
    assert text.returncode == 1
    assert text.stdout.splitlines()[-4:] == [
        "  + " + entry["summaries"][1],
        "  lint: data_step users: UPDATE changes rows of 'users' in every tenant: review it"
        " (UPDATE users SET full_name = name)",
        "  lint: no_where users: UPDATE without WHERE changes every row of 'users' in every tenant",
        "failed",
    ]
