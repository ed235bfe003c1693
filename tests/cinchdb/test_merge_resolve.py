"""Conflicts a person can resolve: ``merge_branches(..., resolve=..., strategy=...)``, and
``delete_branch`` refusing a branch whose events no other branch has unless ``force``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import cinchdb
from cinchdb.errors import ConflictError
from cinchdb.models import Column
from journal import Schema, apply_all, introspect, parse
from journal.events import BranchesMerged, Event
from tests.cinchdb.test_merge_scenarios import FIXTURES, load, unordered


def test_delete_branch_refuses_unmerged_work_unless_forced(users):
    users.create_branch("feature")
    users.switch_branch("feature")
    users.add_column("users", Column(name="plan", type="TEXT"))
    users.switch_branch("main")
    with pytest.raises(ValueError, match="no other branch has") as caught:
        users.delete_branch("feature")
    assert type(caught.value).__name__ == "UnmergedBranchError"
    assert [b.name for b in users.list_branches()] == ["main", "feature"]
    users.delete_branch("feature", force=True)
    assert [b.name for b in users.list_branches()] == ["main"]


def test_delete_branch_of_merged_or_untouched_branches(users):
    users.create_branch("untouched")
    users.delete_branch("untouched")
    users.create_branch("feature")
    users.switch_branch("feature")
    users.add_column("users", Column(name="plan", type="TEXT"))
    users.switch_branch("main")
    users.merge_branches("feature", "main")
    users.delete_branch("feature")
    # Work another branch has (a fork of the feature) keeps the feature deletable.
    users.create_branch("a")
    users.switch_branch("a")
    users.add_column("users", Column(name="x", type="TEXT"))
    users.create_branch("b")
    users.switch_branch("main")
    users.delete_branch("a")
    with pytest.raises(ValueError, match="Branch 'b' has 1 event"):
        users.delete_branch("b")


# -- resolving conflicts ---------------------------------------------------------------------

BASE_USERS = "CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT, age INTEGER);"

#: (fixture, object as the conflict names it, side, the merged schema expected)
RESOLUTIONS = [
    ("26_both_replace_view_differently", "view v", "ours",
     BASE_USERS + "CREATE VIEW v AS SELECT name, age FROM users;"),
    ("26_both_replace_view_differently", "view v", "theirs",
     BASE_USERS + "CREATE VIEW v AS SELECT age FROM users;"),
    ("21_alter_column_differently", "column users.age", "ours",
     "CREATE TABLE users (id TEXT PRIMARY KEY, age INTEGER DEFAULT 0);"),
    ("21_alter_column_differently", "column users.age", "theirs",
     "CREATE TABLE users (id TEXT PRIMARY KEY, age INTEGER DEFAULT 18);"),
    ("12_both_create_same_table_differently", "table tags", "ours",
     "CREATE TABLE users (id TEXT PRIMARY KEY);"
     "CREATE TABLE tags (id TEXT PRIMARY KEY, label TEXT);"),
    ("12_both_create_same_table_differently", "table tags", "theirs",
     "CREATE TABLE users (id TEXT PRIMARY KEY);"
     "CREATE TABLE tags (id TEXT PRIMARY KEY, name TEXT);"),
    ("08_two_renames_of_a_table", "table users", "ours",
     "CREATE TABLE people (id TEXT PRIMARY KEY);"),
    ("08_two_renames_of_a_table", "table users", "theirs",
     "CREATE TABLE members (id TEXT PRIMARY KEY);"),
    ("28_both_create_index_same_name_differently", "index idx_lookup", "ours",
     "CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT, email TEXT);"
     "CREATE INDEX idx_lookup ON users (name);"),
    ("28_both_create_index_same_name_differently", "index idx_lookup", "theirs",
     "CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT, email TEXT);"
     "CREATE INDEX idx_lookup ON users (email);"),
    ("19_drop_column_vs_alter_column", "column users.age", "ours",
     "CREATE TABLE users (id TEXT PRIMARY KEY, age INTEGER DEFAULT 0);"),
    ("19_drop_column_vs_alter_column", "column users.age", "theirs",
     "CREATE TABLE users (id TEXT PRIMARY KEY);"),
    ("14_name_collision_table_vs_view", "view summary", "ours",
     "CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT);"
     "CREATE TABLE summary (id TEXT PRIMARY KEY);"),
    ("14_name_collision_table_vs_view", "view summary", "theirs",
     "CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT);"
     "CREATE VIEW summary AS SELECT name FROM users;"),
    ("01_feature_view_over_column_main_drops", "view adults", "ours",
     "CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT);"),
]  # fmt: skip


def scenario_db(root: Path, name: str) -> cinchdb.CinchDB:
    """A project at fixture ``name``'s two sides: main (ours) and feature (theirs), with
    tenants materialized before and after the fork, each holding a row where it can."""
    scenario = load(FIXTURES / f"{name}.sql")
    db = cinchdb.connect(project_dir=root)
    db.migrate(scenario["base"])
    db.create_tenant("acme", lazy=False)
    db.create_branch("feature")
    db.switch_branch("feature")
    db.migrate(scenario["theirs"])
    db.switch_branch("main")
    db.migrate(scenario["ours"])
    db.create_tenant("late", lazy=False)
    return db


def assert_schema_everywhere(db: cinchdb.CinchDB, expected_sql: str) -> None:
    expected = unordered(apply_all(Schema(), parse(expected_sql)))
    assert unordered(db.schema()) == expected
    files = db._files
    for tenant in ("main", "acme", "late"):
        files.connection("main", tenant)  # caught up
        conn = sqlite3.connect(files.path("main", tenant))
        try:
            assert unordered(introspect(conn)) == expected, tenant
        finally:
            conn.close()


@pytest.mark.parametrize(
    ("fixture", "what", "side", "expected"),
    RESOLUTIONS,
    ids=[f"{f[:2]}-{s}" for f, _, s, _ in RESOLUTIONS],
)
def test_resolving_a_conflict_each_way(tmp_path, fixture, what, side, expected):
    with scenario_db(cinchdb.init(tmp_path / "p"), fixture) as db:
        preview = db.merge_preview("feature", "main")
        assert what in [c["object"] for c in preview["conflicts"]]
        result = db.merge_branches("feature", "main", resolve={what: side})
        assert result["status"] == "success", result
        assert result["resolved"] == [{"object": what, "side": side}]
        assert_schema_everywhere(db, expected)
        merge_event = db.log(limit=1)[0]
        assert merge_event.change.resolutions[0].object == what
        assert f"resolved {what}={side}" in merge_event.summary
        assert db.merge_branches("feature", "main")["status"] == "up_to_date"


def test_a_resolution_that_cannot_apply_stays_a_conflict(tmp_path):
    # Ours dropped the column theirs' view reads: taking theirs' view leaves a broken schema.
    with scenario_db(cinchdb.init(tmp_path / "p"), "01_feature_view_over_column_main_drops") as db:
        head = db.log(limit=1)[0].id
        with pytest.raises(ConflictError) as caught:
            db.merge_branches("feature", "main", resolve={"view adults": "theirs"})
        assert [c.object for c in caught.value.conflicts] == ["view adults"]
        assert "cannot be resolved as theirs" in caught.value.conflicts[0].message
        assert db.log(limit=1)[0].id == head


def test_unknown_objects_and_sides_are_clear_errors(tmp_path):
    with scenario_db(cinchdb.init(tmp_path / "p"), "26_both_replace_view_differently") as db:
        with pytest.raises(ValueError, match="Cannot resolve 'view w': the objects in conflict"
                           " are 'view v'") as caught:  # fmt: skip
            db.merge_branches("feature", "main", resolve={"view w": "ours"})
        assert type(caught.value).__name__ == "UnknownResolutionError"
        with pytest.raises(ValueError, match="'view v'=mine: the side must be 'ours' or 'theirs'"):
            db.merge_branches("feature", "main", resolve={"view v": "mine"})
        with pytest.raises(ValueError, match="strategy 'both'"):
            db.merge_branches("feature", "main", strategy="both")
        # The object's name is matched as SQLite matches names: case-insensitively.
        assert db.merge_branches("feature", "main", resolve={"VIEW V": "ours"})["status"] == (
            "success"
        )


def test_strategy_applies_to_every_conflict(tmp_path):
    root = cinchdb.init(tmp_path / "p")
    with cinchdb.connect(project_dir=root) as db:
        db.migrate(BASE_USERS + "CREATE VIEW v AS SELECT name FROM users;")
        db.create_tenant("acme", lazy=False)
        db.create_tenant("late", lazy=False)
        db.create_branch("feature")
        db.switch_branch("feature")
        db.migrate("DROP VIEW v; CREATE VIEW v AS SELECT age FROM users;"
                   "ALTER TABLE users ALTER COLUMN age SET DEFAULT 18;")  # fmt: skip
        db.switch_branch("main")
        db.migrate("DROP VIEW v; CREATE VIEW v AS SELECT id FROM users;"
                   "ALTER TABLE users ALTER COLUMN age SET DEFAULT 1;")  # fmt: skip
        conflicts = db.merge_preview("feature", "main")["conflicts"]
        assert sorted(c["object"] for c in conflicts) == ["column users.age", "view v"]
        result = db.merge_branches("feature", "main", strategy="theirs")
        assert sorted(r["object"] for r in result["resolved"]) == ["column users.age", "view v"]
        assert_schema_everywhere(
            db,
            "CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT, age INTEGER DEFAULT 18);"
            "CREATE VIEW v AS SELECT age FROM users;",
        )


def test_conflict_messages_end_with_the_command_that_resolves_them(tmp_path):
    with scenario_db(cinchdb.init(tmp_path / "p"), "26_both_replace_view_differently") as db:
        with pytest.raises(ConflictError) as caught:
            db.merge_branches("feature", "main")
        message = caught.value.conflicts[0].message
        assert message.endswith("cinch merge feature --into main --resolve 'view v'=theirs")


def test_old_merge_events_read_back_unchanged():
    # A merge event written before resolutions existed keeps its id and reads back.
    merged = BranchesMerged(source="f", target="main", operations=())
    event = Event.create(merged, parents=["a" * 64, "b" * 64], database="main")
    assert '"resolutions"' not in event.canonical_body()
    again = Event.from_body(event.id, event.canonical_body())
    assert again.change.resolutions == () and again.canonical_body() == event.canonical_body()


#: Data step conflicts (fixture, object, side, the merged schema, a query and the rows every
#: tenant of main must then hold).
DATA_RESOLUTIONS = [
    ("37_data_step_vs_renamed_column", "data users", "ours",
     "CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT, years INTEGER);",
     "SELECT id, years FROM users ORDER BY id", [("u1", 36), ("u2", None)]),
    # Theirs: the step is rewritten for the target's rename, as a view would be.
    ("37_data_step_vs_renamed_column", "data users", "theirs",
     "CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT, years INTEGER);",
     "SELECT id, years FROM users ORDER BY id", [("u1", 36), ("u2", 0)]),
    ("43_data_steps_on_one_table_differ", "data users", "ours",
     "CREATE TABLE users (id TEXT PRIMARY KEY, status TEXT);",
     "SELECT id, status FROM users", [("u1", "active")]),
    # Theirs: the source's step runs after the target's.
    ("43_data_steps_on_one_table_differ", "data users", "theirs",
     "CREATE TABLE users (id TEXT PRIMARY KEY, status TEXT);",
     "SELECT id, status FROM users", [("u1", "pending")]),
    ("41_schema_change_vs_data_step_of_ours", "column users.score", "ours",
     "CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT, score INTEGER);",
     "SELECT id, score FROM users", [("u1", 10)]),
    ("41_schema_change_vs_data_step_of_ours", "column users.score", "theirs",
     "CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT);",
     "SELECT id, name FROM users", [("u1", "Ada")]),
    ("36_data_step_vs_dropped_column", "data users", "ours",
     "CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT);",
     "SELECT id, name FROM users ORDER BY id", [("u1", "Ada"), ("u2", "Alan")]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("fixture", "what", "side", "expected", "query", "rows"),
    DATA_RESOLUTIONS,
    ids=[f"{f[:2]}-{s}" for f, _, s, *_ in DATA_RESOLUTIONS],
)
def test_resolving_a_data_step_conflict_each_way(
    tmp_path, fixture, what, side, expected, query, rows
):
    with scenario_db(cinchdb.init(tmp_path / "p"), fixture) as db:
        preview = db.merge_preview("feature", "main")
        assert [(c["kind"], c["object"]) for c in preview["conflicts"]] == [
            ("data_dependency", what)
        ]
        result = db.merge_branches("feature", "main", resolve={what: side})
        assert result["status"] == "success", result
        assert result["resolved"] == [{"object": what, "side": side}]
        assert_schema_everywhere(db, expected)
        for tenant in ("main", "acme", "late"):
            conn = sqlite3.connect(db._files.path("main", tenant))
            try:
                assert conn.execute(query).fetchall() == rows, tenant
            finally:
                conn.close()


def test_a_data_step_over_a_dropped_column_cannot_be_taken_as_theirs(tmp_path):
    with scenario_db(cinchdb.init(tmp_path / "p"), "36_data_step_vs_dropped_column") as db:
        with pytest.raises(ConflictError) as caught:
            db.merge_branches("feature", "main", resolve={"data users": "theirs"})
        [conflict] = caught.value.conflicts
        assert conflict.kind == "data_dependency" and conflict.sides == ("ours",)
        assert conflict.message == (
            "Data step 'UPDATE users SET age = age + 1 WHERE age IS NOT NULL' uses column"
            " 'users.age', which the other side dropped: the step cannot run after the drop;"
            " it cannot be resolved as theirs. To resolve: cinch merge feature --into main"
            " --resolve 'data users'=ours"
        )
