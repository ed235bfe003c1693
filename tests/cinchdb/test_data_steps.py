"""Data steps through ``migrate``: INSERT, UPDATE and DELETE beside DDL, executed before they
are appended (on the template and as a preflight on every materialized tenant), applied to the
template and to each tenant with its cursor, counted per tenant, and reverted with their down
SQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

import cinchdb
from cinchdb._data_step_rows import data_step_rows
from cinchdb.errors import ArgumentError, PreflightError
from cinchdb.tenants import read_cursor
from journal import parse
from journal.errors import DataStepNotReversibleError, DataStepRefusedError, SQLParseError

TENANTS = 50
ROWS = 4


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return cinchdb.init(tmp_path / "project")


@pytest.fixture
def db(project: Path) -> Iterator[cinchdb.CinchDB]:
    with cinchdb.connect(project_dir=project) as handle:
        yield handle


def _tenant_file(db: cinchdb.CinchDB, tenant: str) -> Path:
    return db._files.path(db.branch, tenant)


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _fleet(project: Path, db: cinchdb.CinchDB, names: list[str]) -> None:
    """Materialized tenants with ROWS people each."""
    for name in names:
        db.create_tenant(name)
        with cinchdb.connect(tenant=name, project_dir=project) as handle:
            handle.insert(
                "people",
                [{"first": f"{name}_{i}", "last": f"L{i}"} for i in range(ROWS)],
            )


def test_backfill_then_not_null_on_50_materialized_tenants(project, db):
    db.migrate("CREATE TABLE people (first TEXT NOT NULL, last TEXT NOT NULL)")
    names = [f"t{i:02d}" for i in range(TENANTS)]
    _fleet(project, db, names)

    result = db.migrate(
        "ALTER TABLE people ADD COLUMN full_name TEXT;"
        " UPDATE people SET full_name = first || ' ' || last;",
        message="backfill full_name",
    )
    assert [e.summary for e in result][1].startswith("data: UPDATE people SET full_name")
    (step,) = result.data_steps
    assert step["total"] == TENANTS * ROWS and step["tenants"] == TENANTS
    assert set(step["per_tenant"].values()) == {ROWS}
    assert step["template"] == 0  # the template has no people: a no-op there

    db.migrate("ALTER TABLE people ALTER COLUMN full_name SET NOT NULL")
    for name in names:
        rows = _rows(_tenant_file(db, name), "SELECT first, last, full_name FROM people")
        assert len(rows) == ROWS
        assert all(full == f"{first} {last}" for first, last, full in rows)
    assert db.get_table("people").columns[-1].nullable is False


def test_a_unique_violation_on_one_tenant_names_it_and_writes_nothing(project, db):
    db.migrate("CREATE TABLE items (code TEXT, n INTEGER); CREATE UNIQUE INDEX u ON items (code)")
    names = ["alpha", "bravo", "charlie"]
    for name in names:
        db.create_tenant(name)
        with cinchdb.connect(tenant=name, project_dir=project) as handle:
            handle.insert("items", [{"code": "a", "n": 1}, {"code": "b", "n": 2}])
    with cinchdb.connect(tenant="bravo", project_dir=project) as handle:
        handle.insert("items", {"code": "B", "n": 3})
    head = db.head()
    before = {name: _rows(_tenant_file(db, name), "SELECT * FROM items") for name in names}

    with pytest.raises(PreflightError) as caught:
        db.migrate("UPDATE items SET code = upper(code) WHERE code = 'b'")
    assert [tenant for tenant, _ in caught.value.failures] == ["bravo"]
    assert str(caught.value) == (
        "The change would fail on existing data: tenant 'bravo':"
        " UNIQUE constraint failed: items.code"
    )
    assert db.head() == head
    for name in names:
        path = _tenant_file(db, name)
        assert _rows(path, "SELECT * FROM items") == before[name]
        conn = sqlite3.connect(path)
        assert read_cursor(conn) == head
        conn.close()


def test_reference_rows_reach_tenants_created_afterwards(project, db):
    db.migrate("CREATE TABLE countries (code TEXT PRIMARY KEY, name TEXT NOT NULL)")
    result = db.migrate(
        "INSERT INTO countries (code, name) VALUES ('fr', 'France'), ('jp', 'Japan')"
    )
    assert result.data_steps[0]["template"] == 2

    db.create_tenant("lazy")
    with cinchdb.connect(tenant="lazy", project_dir=project) as lazy:
        assert not _tenant_file(db, "lazy").exists()
        assert lazy.query("SELECT code FROM countries ORDER BY code") == [
            {"code": "fr"},
            {"code": "jp"},
        ]
    db.create_tenant("eager", lazy=False)
    assert _rows(_tenant_file(db, "eager"), "SELECT code FROM countries ORDER BY code") == [
        ("fr",),
        ("jp",),
    ]
    # Materialized by its first write, later: the rows are there, once.
    with cinchdb.connect(tenant="lazy", project_dir=project) as lazy:
        lazy.insert("countries", {"code": "de", "name": "Germany"})
        assert [r["code"] for r in lazy.query("SELECT code FROM countries ORDER BY code")] == [
            "de",
            "fr",
            "jp",
        ]


def test_a_duplicate_reference_insert_is_refused_by_the_template(project, db):
    db.migrate("CREATE TABLE countries (code TEXT PRIMARY KEY)")
    db.migrate("INSERT INTO countries (code) VALUES ('fr')")
    head = db.head()
    # Another handle (as another process): its check starts from the schema alone, without
    # the rows; the template holds them, and refuses.
    with cinchdb.connect(project_dir=project) as other, pytest.raises(PreflightError) as caught:
        other.migrate("INSERT INTO countries (code) VALUES ('fr')")
    assert str(caught.value) == (
        "The change would fail on existing data: the branch template (every lazy tenant):"
        " UNIQUE constraint failed: countries.code"
    )
    assert db.head() == head


def test_revert_of_a_data_step_without_down_refuses_naming_it(db):
    db.migrate("CREATE TABLE t (n INTEGER)")
    db.insert("t", {"n": 1})
    event = db.migrate("UPDATE t SET n = n + 1")[0]
    head = db.head()
    with pytest.raises(DataStepNotReversibleError) as caught:
        db.revert(event.id)
    assert str(caught.value) == (
        f"data step {event.id[:12]} (UPDATE t SET n = n + 1) has no down SQL;"
        " give one with migrate(sql, down=...)"
    )
    assert db.head() == head
    assert db.query("SELECT n FROM t") == [{"n": 2}]


def test_revert_with_down_runs_it_on_every_tenant_as_a_new_event(project, db):
    db.migrate("CREATE TABLE t (n INTEGER)")
    for name in ["a", "b"]:
        db.create_tenant(name)
        with cinchdb.connect(tenant=name, project_dir=project) as handle:
            handle.insert("t", [{"n": 1}, {"n": 10}])
    event = db.migrate("UPDATE t SET n = n + 1", down="UPDATE t SET n = n - 1")[0]
    assert event.operations[0].down == ("UPDATE t SET n = n - 1",)
    for name in ["a", "b"]:
        assert _rows(_tenant_file(db, name), "SELECT n FROM t ORDER BY n") == [(2,), (11,)]
    reverted = db.revert(event.id)
    assert reverted.id != event.id and db.head() == reverted.id
    for name in ["a", "b"]:
        path = _tenant_file(db, name)
        assert _rows(path, "SELECT n FROM t ORDER BY n") == [(1,), (10,)]
        conn = sqlite3.connect(path)
        assert read_cursor(conn) == reverted.id
        conn.close()
    # The revert of the revert applies the step again.
    again = db.revert(reverted.id)
    for name in ["a", "b"]:
        assert _rows(_tenant_file(db, name), "SELECT n FROM t ORDER BY n") == [(2,), (11,)]
    assert db.head() == again.id


@pytest.mark.parametrize(
    ("sql", "down", "message"),
    [
        (
            "CREATE TABLE t2 (n INTEGER)",
            "DELETE FROM t",
            "migrate() down SQL applies to a data step (INSERT, UPDATE or DELETE);"
            " this script has none",
        ),
        (
            "UPDATE t SET n = 1; UPDATE t SET n = 2",
            "UPDATE t SET n = 0",
            "migrate() down SQL applies to one data step; this script has 2:"
            " split it into one migrate per data step",
        ),
    ],
)
def test_down_rules(db, sql, down, message):
    db.migrate("CREATE TABLE t (n INTEGER)")
    head = db.head()
    with pytest.raises(ArgumentError) as caught:
        db.migrate(sql, down=down)
    assert str(caught.value) == message
    assert db.head() == head


def test_down_sql_is_data_steps_only(db):
    db.migrate("CREATE TABLE t (n INTEGER)")
    head = db.head()
    with pytest.raises(SQLParseError) as caught:
        db.migrate("UPDATE t SET n = 1", down="DROP TABLE t")
    assert str(caught.value) == (
        "Down SQL undoes a data step: only INSERT, UPDATE and DELETE are allowed, found a"
        " schema change (TableDropped) in statement: DROP TABLE t"
    )
    assert db.head() == head


def test_nondeterministic_functions_only_when_allowed(db):
    db.migrate("CREATE TABLE t (n INTEGER, at TEXT)")
    db.insert("t", {"n": 1})
    head = db.head()
    with pytest.raises(DataStepRefusedError):
        db.migrate("UPDATE t SET at = datetime('now')")
    assert db.head() == head
    event = db.migrate("UPDATE t SET at = datetime('now')", allow_nondeterministic=True)[0]
    assert event.operations[0].nondeterministic is True
    assert db.query("SELECT at IS NOT NULL AS set_ FROM t") == [{"set_": 1}]


def test_data_steps_apply_in_script_order_with_the_schema_steps(project, db):
    db.migrate("CREATE TABLE t (n INTEGER)")
    db.insert("t", [{"n": 1}, {"n": 2}])
    result = db.migrate(
        "ALTER TABLE t ADD COLUMN m INTEGER;"
        " UPDATE t SET m = n * 10;"
        " DELETE FROM t WHERE n = 1;"
        " CREATE INDEX t_m ON t (m);"
        " INSERT INTO t (n, m) SELECT n + 100, m + 100 FROM t"
    )
    assert [s["total"] for s in result.data_steps] == [2, 1, 1]
    assert [s["sql"] for s in result.data_steps] == [
        "UPDATE t SET m = n * 10",
        "DELETE FROM t WHERE n = 1",
        "INSERT INTO t (n, m) SELECT n + 100, m + 100 FROM t",
    ]
    assert db.query("SELECT n, m FROM t ORDER BY n") == [
        {"n": 2, "m": 20},
        {"n": 102, "m": 120},
    ]
    # Recorded locally: read back later as migrate returned it.
    store = db._changes.store
    recorded = data_step_rows(
        store, "main", result[1].id, branch="main", sql="UPDATE t SET m = n * 10"
    )
    assert recorded == [result.data_steps[0]]


def test_a_step_that_fails_on_a_tenant_after_the_preflight_leaves_it_behind(project, db):
    # Rows written between the preflight and the append (here: a step appended without one)
    # make the step fail on that tenant: the change is committed, so propagation reports the
    # tenant left behind, naming why, and brings every other file to the head.
    db.migrate("CREATE TABLE items (code TEXT UNIQUE)")
    for name, codes in [("ok", ["a", "b"]), ("clash", ["b", "B"])]:
        db.create_tenant(name)
        with cinchdb.connect(tenant=name, project_dir=project) as handle:
            handle.insert("items", [{"code": c} for c in codes])
    store = db._changes.store
    (step,) = store.append(
        "main", "main", parse("UPDATE items SET code = upper(code)"), expected_head=db.head()
    )
    done = {c.tenant: c for c in db._files.propagate("main")}
    assert done["ok"].outcome == "applied"
    assert done["clash"].outcome == "behind"
    assert done["clash"].error == (
        "ReplayError: DataMigrated failed: UNIQUE constraint failed: items.code"
    )
    assert _rows(_tenant_file(db, "ok"), "SELECT code FROM items ORDER BY code") == [
        ("A",),
        ("B",),
    ]
    assert _rows(_tenant_file(db, "clash"), "SELECT code FROM items ORDER BY code") == [
        ("B",),
        ("b",),
    ]
    assert data_step_rows(store, "main", step.id, branch="main")[0]["per_tenant"] == {"ok": 2}


def test_a_file_caught_up_when_opened_records_its_count(project, db):
    db.migrate("CREATE TABLE t (n INTEGER)")
    db.create_tenant("late")
    with cinchdb.connect(tenant="late", project_dir=project) as handle:
        handle.insert("t", [{"n": 1}, {"n": 2}, {"n": 3}])
    store = db._changes.store
    # Appended by "another process" that never propagated it: the file catches up when opened.
    (step,) = store.append(
        "main", "main", parse("DELETE FROM t WHERE n > 1"), expected_head=db.head()
    )
    assert data_step_rows(store, "main", step.id) == []
    with cinchdb.connect(tenant="late", project_dir=project) as handle:
        assert handle.query("SELECT n FROM t") == [{"n": 1}]
    assert data_step_rows(store, "main", step.id)[0]["per_tenant"] == {"late": 2}
