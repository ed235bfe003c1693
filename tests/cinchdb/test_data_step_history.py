"""What history says about data steps through the SDK: ``data_step_rows`` (the rows each step of
an event changed, per tenant, as recorded on this machine) and ``diff_range``'s ``data_steps``
(the data steps a schema diff leaves out, along history, from a merge base, between diverged
heads and across merges, each counted once)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import cinchdb
from journal.errors import EventNotFoundError

BACKFILL = "UPDATE people SET full = first || ' ' || last"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return cinchdb.init(tmp_path / "project")


@pytest.fixture
def db(project: Path) -> Iterator[cinchdb.CinchDB]:
    with cinchdb.connect(project_dir=project) as handle:
        handle.migrate("CREATE TABLE people (first TEXT, last TEXT, full TEXT)")
        for name, count in (("acme", 3), ("beta", 1)):
            handle.create_tenant(name)
            with cinchdb.connect(tenant=name, project_dir=project) as tenant:
                tenant.insert("people", [{"first": f"f{i}", "last": "l"} for i in range(count)])
        yield handle


def test_data_step_rows_per_step_of_an_event(db):
    [event] = db.migrate(BACKFILL)
    assert db.data_step_rows(event.id) == [
        {
            "event_id": event.id,
            "step": 0,
            "sql": BACKFILL,
            "total": 4,
            "tenants": 2,
            "max": 3,
            "max_tenant": "acme",
            "template": 0,
            "per_tenant": {"acme": 3, "beta": 1},
        }
    ]
    # A ref works as for every history call; another branch's files are counted apart.
    assert db.data_step_rows("main", branch="main")[0]["total"] == 4
    assert db.data_step_rows(event.short_id, branch="elsewhere")[0]["tenants"] == 0
    # A schema event has no data steps.
    assert db.data_step_rows("main~1") == []
    with pytest.raises(EventNotFoundError):
        db.data_step_rows("feedbeef")


def test_a_merge_carries_the_counts_of_the_steps_it_applied(db):
    db.create_branch("backfill")
    db.switch_branch("backfill")
    db.migrate(BACKFILL)
    db.switch_branch("main")
    db.migrate("CREATE TABLE other (x TEXT)")  # main moved on: a three-way merge
    result = db.merge_branches("backfill", "main")
    [rows] = db.data_step_rows(result["event_id"], branch="main")
    assert (rows["sql"], rows["total"], rows["tenants"]) == (BACKFILL, 4, 2)


def test_diff_counts_the_data_steps_between_two_refs_each_once(db):
    def steps(a: str, b: str | None = None) -> int:
        return db.diff_range(a, b)[0]["data_steps"]

    start = db.log(limit=1)[0].id
    db.create_branch("feature")
    db.switch_branch("feature")
    db.migrate(BACKFILL)
    db.migrate("ALTER TABLE people ADD COLUMN nick TEXT")
    db.migrate("DELETE FROM people WHERE first = 'f0'")
    # Along history, both ways, and from the merge base.
    assert (steps("main", "feature"), steps("feature", "main")) == (2, 2)
    assert (steps("feature~1", "feature"), steps("feature~2..feature~1")) == (1, 0)
    assert steps("main", "main") == 0
    # Diverged: main's own step counts too between the two heads, not from the merge base.
    # (On another table: data steps on both sides over one table would not merge.)
    db.switch_branch("main")
    db.migrate("CREATE TABLE plans (name TEXT); INSERT INTO plans (name) VALUES ('free')")
    assert (steps("main", "feature"), steps("main...feature")) == (3, 2)
    # After the merge, the merge event is not counted again: main has what feature has.
    db.merge_branches("feature", "main")
    assert (steps("feature", "main"), steps(start, "main")) == (1, 3)
