"""Merges through the SDK, log with schema blame, diff, time travel, migrate and revert."""

from __future__ import annotations

import pytest

import cinchdb
from cinchdb.errors import ConflictError, EventNotFoundError, MergeConflictError, SQLParseError
from cinchdb.history import RevertLosesDataError
from cinchdb.models import Column
from cinchdb.tenants import PreflightError
from journal.events import ColumnAdded, ColumnDropped, TableCreated, ViewCreated, ViewDropped


def test_conflict_error_names(db):
    assert ConflictError is MergeConflictError is cinchdb.ConflictError
    assert issubclass(ConflictError, cinchdb.CinchError)


def test_fast_forward_merge_moves_the_head_and_tenants_follow(users, project):
    users.insert("users", {"name": "ann"})
    users.create_branch("feature")
    users.switch_branch("feature")
    users.add_column("users", Column(name="plan", type="TEXT", default="free"))
    users.create_index("idx_plan", "users", ["plan"])
    users.switch_branch("main")
    preview = users.merge_preview("feature")
    assert preview["fast_forward"] and preview["changes_applied"] == 2
    assert "plan" not in [c.name for c in users.get_table("users").columns]  # nothing written
    result = users.merge_branches("feature", "main")
    assert result["status"] == "success" and result["fast_forward"]
    assert result["conflicts"] == [] and result["changes_applied"] == 2
    assert users.query("SELECT name, plan FROM users") == [{"name": "ann", "plan": "free"}]
    assert users.merge_branches("feature")["status"] == "up_to_date"


def test_three_way_merge_into_main_after_main_moved_on(users):
    users.create_branch("feature/new-tables")
    users.switch_branch("feature/new-tables")
    users.create_table("products", [Column(name="price", type="REAL")])
    users.create_index("idx_users_email_age", "users", ["email", "age"])
    users.switch_branch("main")
    users.rename_column("users", "age", "years")
    users.insert("users", {"name": "bob", "years": 3})
    result = users.merge_branches("feature/new-tables", "main")
    assert result["status"] == "success" and not result["fast_forward"]
    assert result["changes_applied"] == 2 and result["event_id"]
    assert any("idx_users_email_age" in r for r in result["resolutions"])
    assert users.list_indexes("users")[0]["columns"] == ["email", "years"]
    assert [t.name for t in users.list_tables()] == ["users", "products"]
    [merge_event] = users.log(limit=1)
    assert merge_event.type == "BranchesMerged" and len(merge_event.parents) == 2
    assert users.query("SELECT name, years FROM users") == [{"name": "bob", "years": 3}]


def test_merge_between_feature_branches_and_back(users):
    users.create_branch("a")
    users.create_branch("b")
    users.switch_branch("a")
    users.add_column("users", Column(name="x", type="INTEGER"))
    users.switch_branch("b")
    users.add_column("users", Column(name="y", type="INTEGER"))
    assert users.merge_branches("a", "b")["status"] == "success"
    # a's head is b's merge's second parent, not on b's first-parent chain, so this is a
    # three-way merge in which a's own change comes back as an identical change, applied once.
    back = users.merge_branches("b", "a")
    assert back["status"] == "success" and back["changes_applied"] == 1
    users.switch_branch("main")
    assert users.merge_branches("a", "main")["status"] == "success"
    names = [c.name for c in users.get_table("users").columns]
    assert "x" in names and "y" in names


def test_conflict_writes_nothing_and_explains(users):
    users.create_branch("feature")
    users.switch_branch("feature")
    users.create_view("adults", "SELECT name FROM users WHERE age >= 18")
    users.switch_branch("main")
    users.drop_column("users", "age")
    head = users._catalog.store.branch_head("main", "main")
    with pytest.raises(ConflictError) as caught:
        users.merge_branches("feature", "main")
    [conflict] = caught.value.conflicts
    assert conflict.kind == "dependency" and conflict.object == "view adults"
    assert "users.age" in conflict.message and len(conflict.events) == 2
    assert users._catalog.store.branch_head("main", "main") == head
    preview = users.merge_preview("feature")
    assert preview["status"] == "conflict" and preview["conflicts"][0]["kind"] == "dependency"
    assert users.can_merge("feature")["can_merge"] is False


def test_merge_preflight_failure_names_the_tenant(users, project):
    users.create_tenant("acme")
    with cinchdb.connect(tenant="acme", project_dir=project) as acme:
        acme.insert("users", {"name": "x", "email": "dup"})
    users.create_branch("feature")
    users.switch_branch("feature")
    users.create_index("idx_name", "users", ["name"], unique=True)
    users.switch_branch("main")
    with cinchdb.connect(tenant="acme", project_dir=project) as acme:
        acme.insert("users", {"name": "x", "email": "dup2"})
    users.add_column("users", Column(name="z"))  # main moved on: a real three-way merge
    with pytest.raises(PreflightError, match="acme"):
        users.merge_branches("feature", "main")
    assert users.list_indexes() == []


def test_log_newest_first_with_summaries_and_blame_across_renames(db):
    db.create_table("users", [Column(name="email")])
    db.create_table("orders", [Column(name="total", type="REAL")])
    db.rename_column("users", "email", "mail")
    db.add_column("orders", Column(name="note"))
    db.rename_table("users", "people")
    events = db.log()
    assert [e.summary for e in events] == [
        "rename table users to people",
        "add column orders.note TEXT",
        "rename column users.email to mail",
        "create table orders (4 columns)",
        "create table users (4 columns)",
    ]
    assert all(e.author and e.short_id == e.id[:12] for e in events)
    assert [e.summary for e in db.log(limit=2)] == [e.summary for e in events[:2]]
    blame = [e.summary for e in db.log(path="people.mail")]
    assert blame == [
        "rename table users to people",
        "rename column users.email to mail",
        "create table users (4 columns)",
    ]
    assert len(db.log(path="orders")) == 2


def test_diff_and_time_travel(db):
    db.create_table("users", [Column(name="email")])
    db.add_column("users", Column(name="age", type="INTEGER", default=0))
    db.create_view("emails", "SELECT email FROM users")
    ops = db.diff("main~2", "main")
    assert [type(op) for op in ops] == [ColumnAdded, ViewCreated]
    assert db.diff("main", "main") == []
    first = db.log()[-1]
    assert [type(op) for op in db.diff(first.id[:8], "main~2")] == []
    assert next(type(op) for op in db.diff("main~3", "main")) is TableCreated
    old = db.schema_at("main~1")
    assert old.view("emails") is None and old.table("users").column("age") is not None
    assert 'CREATE TABLE "users"' in old.sql()
    with pytest.raises(EventNotFoundError):
        db.schema_at("main~9")
    with pytest.raises(EventNotFoundError):
        db.schema_at("nope")
    backwards = [type(op) for op in db.diff("main", "main~2")]
    assert backwards == [ViewDropped, ColumnDropped]


def test_migrate_is_all_or_nothing_and_never_bypasses_the_journal(db):
    events = db.migrate(
        """
        CREATE TABLE audit (id INTEGER PRIMARY KEY, what TEXT);
        CREATE TABLE t (id TEXT PRIMARY KEY, x INTEGER CHECK (x >= 0));
        CREATE INDEX idx_t_x ON t (x);
        CREATE TRIGGER t_audit AFTER INSERT ON t BEGIN
            INSERT INTO audit (what) VALUES (new.id);
        END;
        """
    )
    assert [e.type for e in events] == ["TableCreated", "TableCreated", "IndexCreated",
                                        "TriggerCreated"]  # fmt: skip
    before = len(db.log())
    with pytest.raises(ValueError):
        db.migrate("CREATE TABLE u (a); CREATE INDEX i ON nope (a)")
    with pytest.raises(SQLParseError):
        db.migrate("CREATE TABLE v (a); DELETE FROM sqlite_master")
    assert len(db.log()) == before
    assert "u" not in [t.name for t in db.list_tables()]


def test_revert_is_a_new_event_and_refuses_to_lose_data_unless_forced(users):
    users.insert("users", {"name": "ann", "age": 3})
    users.rename_column("users", "age", "years")
    rename = users.log(limit=1)[0]
    reverted = users.revert(rename.id[:10])
    assert reverted.type == "EventReverted" and reverted.change.reverted == rename.id
    assert users.query("SELECT age FROM users") == [{"age": 3}]
    users.add_column("users", Column(name="plan", default="free"))
    add = users.log(limit=1)[0]
    users.insert("users", {"name": "bo", "plan": "pro"})  # a value that is not the default
    with pytest.raises(RevertLosesDataError, match="dropped with the values") as caught:
        users.revert(add.id)
    assert caught.value.losses
    assert "plan" in [c.name for c in users.get_table("users").columns]
    users.revert(add.id, force=True)
    assert "plan" not in [c.name for c in users.get_table("users").columns]
    users.drop_column("users", "email")
    drop = users.log(limit=1)[0]
    users.revert(drop.id, force=True)
    assert users.query("SELECT name, email FROM users ORDER BY name") == [
        {"name": "ann", "email": None},
        {"name": "bo", "email": None},
    ]
    email = next(c for c in users.get_table("users").columns if c.name == "email")
    assert email.unique  # the definition comes back, the values do not


def test_sdk_diff_of_one_added_column_on_a_table_with_a_foreign_key_is_that_column(db):
    db.migrate(
        "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
        "CREATE TABLE child (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES parent (id))"
    )
    db.add_column("child", Column(name="note", type="TEXT"))
    assert [type(op) for op in db.diff("main~1", "main")] == [ColumnAdded]
    assert db.lint("main~1", "main") == []


def test_sdk_ranges_follow_git(db):
    db.migrate("CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT)")
    db.create_branch("feature")
    db.add_column("parent", Column(name="email", type="TEXT"))  # main, after the fork
    db.switch_branch("feature")
    db.create_index("idx_name", "parent", ["name"], unique=True)
    db.switch_branch("main")
    # What feature introduces: its unique index only (not the drop of main's column).
    assert [f["kind"] for f in db.lint("main..feature")] == ["unique_index"]
    assert [f["kind"] for f in db.lint("main", "feature")] == ["unique_index"]
    assert [e.summary for e in db.log("main..feature")] == [
        "create unique index idx_name on parent"
    ]
    assert [e.summary for e in db.log("feature..main")] == ["add column parent.email TEXT"]
    assert [type(op).__name__ for op in db.diff("main...feature")] == ["IndexCreated"]
    assert [type(op).__name__ for op in db.diff("main", "feature")] == [
        "ColumnDropped",
        "IndexCreated",
    ]


def test_sdk_merging_a_branch_into_itself_or_again_is_up_to_date(db):
    db.migrate("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    assert db.merge_branches("main", "main")["status"] == "up_to_date"
    db.create_branch("feature")
    db.switch_branch("feature")
    db.add_column("t", Column(name="x", type="TEXT"))
    assert db.merge_branches("feature", "main")["status"] == "success"
    assert db.merge_branches("feature", "main")["status"] == "up_to_date"
    assert db.merge_branches("main", "feature")["status"] == "up_to_date"
