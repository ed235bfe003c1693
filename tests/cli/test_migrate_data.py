"""``cinch migrate`` with data steps: the rows each one changed printed under it (and in
--json), ``--down FILE`` recorded for ``cinch revert``, ``--allow-nondeterministic``."""

from __future__ import annotations

import json

import pytest

import cinchdb


def ok(result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def error(result, line: str, code: int = 1) -> None:
    assert result.exit_code == code, result.output
    assert line in result.stderr.splitlines(), result.stderr
    assert "Traceback" not in result.output


@pytest.fixture
def people(cinch, project):
    """A table of people in tenants main (2 rows), acme (3) and beta (1)."""
    ok(cinch("migrate", "CREATE TABLE people (first TEXT NOT NULL, last TEXT NOT NULL)"))
    with cinchdb.connect(project_dir=project) as db:
        for tenant, count in [("main", 2), ("acme", 3), ("beta", 1)]:
            if tenant != "main":
                db.create_tenant(tenant)
            with cinchdb.connect(tenant=tenant, project_dir=project) as handle:
                handle.insert("people", [{"first": f"f{i}", "last": f"l{i}"} for i in range(count)])
    return cinch


def test_migrate_prints_the_rows_of_each_data_step(people, project):
    out = ok(
        people(
            "migrate",
            "ALTER TABLE people ADD COLUMN full_name TEXT;"
            " UPDATE people SET full_name = first || ' ' || last",
        )
    )
    lines = out.splitlines()
    assert len(lines) == 3
    assert lines[0].endswith("  add column people.full_name TEXT")
    assert lines[1].endswith("  data: UPDATE people SET full_name = first || ' ' || last")
    assert lines[2] == f"{'':12}  6 rows in 3 tenants (most: 3 in 'acme')"
    with cinchdb.connect(tenant="acme", project_dir=project) as db:
        assert {r["full_name"] for r in db.query("SELECT full_name FROM people")} == {
            "f0 l0",
            "f1 l1",
            "f2 l2",
        }


def test_migrate_json_includes_the_rows(people):
    events = json.loads(ok(people("migrate", "--json", "DELETE FROM people WHERE first = 'f0'")))
    (event,) = events
    assert event["summary"] == "data: DELETE FROM people WHERE first = 'f0'"
    assert event["rows"] == {
        "event_id": event["id"],
        "step": 0,
        "sql": "DELETE FROM people WHERE first = 'f0'",
        "total": 3,
        "tenants": 3,
        "max": 1,
        "max_tenant": "acme",
        "template": 0,
        "per_tenant": {"acme": 1, "beta": 1, "main": 1},
    }
    # A schema-only migration's events carry no rows.
    (ddl,) = json.loads(ok(people("migrate", "--json", "CREATE INDEX p_last ON people (last)")))
    assert set(ddl) == {"id", "summary"}


def test_down_file_is_what_revert_runs(people, project, tmp_path):
    undo = tmp_path / "undo.sql"
    undo.write_text("UPDATE people SET last = substr(last, 2)\n")
    out = ok(people("migrate", "UPDATE people SET last = 'x' || last", "--down", str(undo)))
    short_id = out.split()[0]
    with cinchdb.connect(tenant="acme", project_dir=project) as db:
        assert [r["last"] for r in db.query("SELECT last FROM people ORDER BY last")] == [
            "xl0",
            "xl1",
            "xl2",
        ]
    ok(people("revert", short_id))
    with cinchdb.connect(tenant="acme", project_dir=project) as db:
        assert [r["last"] for r in db.query("SELECT last FROM people ORDER BY last")] == [
            "l0",
            "l1",
            "l2",
        ]


def test_revert_without_down_is_refused_naming_the_step(people):
    out = ok(people("migrate", "UPDATE people SET last = 'x' || last"))
    full = json.loads(ok(people("log", "--json", "-n", "1")))[0]["id"]
    error(
        people("revert", out.split()[0]),
        f"Error: data step {full[:12]} (UPDATE people SET last = 'x' || last) has no down SQL;"
        " give one with migrate(sql, down=...)",
    )


def test_down_rules_at_the_command_line(people, tmp_path):
    undo = tmp_path / "undo.sql"
    undo.write_text("DELETE FROM people")
    error(
        people("migrate", "CREATE INDEX p_first ON people (first)", "--down", str(undo)),
        "Error: migrate() down SQL applies to a data step (INSERT, UPDATE or DELETE); this"
        " script has none",
    )
    error(
        people("migrate", "DELETE FROM people; DELETE FROM people", "--down", str(undo)),
        "Error: migrate() down SQL applies to one data step; this script has 2: split it into"
        " one migrate per data step",
    )
    empty = tmp_path / "empty.sql"
    empty.write_text("  \n")
    error(
        people("migrate", "DELETE FROM people", "--down", str(empty)),
        f"Error: no down SQL given: {empty} is empty",
        code=2,
    )


def test_allow_nondeterministic(people, project):
    ok(people("migrate", "ALTER TABLE people ADD COLUMN seen TEXT"))
    error(
        people("migrate", "UPDATE people SET seen = datetime('now')"),
        "Error: datetime('now') gives a different result on each tenant; allow it with"
        " allow_nondeterministic=True (cinch migrate --allow-nondeterministic) (line 1,"
        " column 26) in statement: UPDATE people SET seen = datetime('now')",
    )
    ok(people("migrate", "--allow-nondeterministic", "UPDATE people SET seen = datetime('now')"))
    with cinchdb.connect(tenant="beta", project_dir=project) as db:
        assert db.query("SELECT count(*) AS n FROM people WHERE seen IS NULL") == [{"n": 0}]
