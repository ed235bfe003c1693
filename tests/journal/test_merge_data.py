"""The merge rules for data steps, on the merge engine itself (no project, no tenants): what
each conflict says, which operations a clean merge plans and in which order, and what the
semantic check makes of data steps. The same rules run end to end as fixtures in
``tests/fixtures/merge`` (``tests/cinchdb/test_merge_scenarios.py``)."""

from __future__ import annotations

from journal import Schema, apply, apply_all, parse
from journal.events import ColumnAdded, ColumnAltered, DataMigrated, TableRenamed
from journal.merge import DATA_DEPENDENCY, OURS, SIDES, Resolver, SideStep, plan_merge
from journal.merge_check import semantic_check


def steps(base: Schema, sql: str, side: str) -> list[SideStep]:
    out, schema = [], base
    for number, op in enumerate(parse(sql), 1):
        out.append(SideStep(f"{side} {number}", schema, op))
        schema = apply(schema, op)
    return out


def merge(base_sql: str, ours_sql: str, theirs_sql: str, resolver: Resolver | None = None):
    base = apply_all(Schema(), parse(base_sql))
    ours, theirs = steps(base, ours_sql, "ours"), steps(base, theirs_sql, "theirs")
    return plan_merge(
        base, ours, theirs,
        apply_all(base, [s.operation for s in ours]),
        apply_all(base, [s.operation for s in theirs]),
        check=semantic_check, resolver=resolver,
    )  # fmt: skip


USERS = "CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT, age INTEGER);"


def test_a_data_step_over_a_column_the_other_side_dropped():
    _, conflicts = merge(
        USERS, "ALTER TABLE users DROP COLUMN age;", "UPDATE users SET age = age + 1;"
    )
    [conflict] = conflicts
    assert conflict.kind == DATA_DEPENDENCY == "data_dependency"
    assert conflict.object == "data users"
    assert conflict.message == (
        "Data step 'UPDATE users SET age = age + 1' uses column 'users.age', which the other"
        " side dropped: the step cannot run after the drop"
    )
    assert (conflict.ours, conflict.theirs) == ("dropped column 'users.age'",
                                                "UPDATE users SET age = age + 1")  # fmt: skip
    assert conflict.events == ("ours 1", "theirs 1")
    assert conflict.sides == (OURS,)  # the step cannot be taken without its column


def test_a_renamed_column_is_a_conflict_that_theirs_resolves_by_rewriting_the_step():
    ours, theirs = "ALTER TABLE users RENAME COLUMN age TO years;", "UPDATE users SET age = 0;"
    _, [conflict] = merge(USERS, ours, theirs)
    assert conflict.kind == DATA_DEPENDENCY and conflict.sides == SIDES
    assert "renamed to 'years': the step was written for the old name" in conflict.message
    plan, conflicts = merge(USERS, ours, theirs, Resolver.of({"data users": "theirs"}, None))
    assert conflicts == []
    assert plan.operations == (DataMigrated(sql='UPDATE users SET "years" = 0'),)
    plan, conflicts = merge(USERS, ours, theirs, Resolver.of({"data users": "ours"}, None))
    assert conflicts == [] and plan.operations == ()


def test_the_other_direction_names_the_schema_object():
    _, [conflict] = merge(
        USERS, "UPDATE users SET age = 1 WHERE age IS NULL;", "ALTER TABLE users DROP COLUMN age;"
    )
    assert conflict.kind == DATA_DEPENDENCY and conflict.object == "column users.age"
    assert conflict.message == (
        "Column 'users.age' is dropped on one side while the other side's data step"
        " 'UPDATE users SET age = 1 WHERE age IS NULL' uses it: the step ran against the column"
        " before that change"
    )
    assert conflict.events == ("ours 1", "theirs 1") and conflict.sides == SIDES


def test_a_table_renamed_under_an_insert():
    _, [conflict] = merge(
        "CREATE TABLE plans (id TEXT PRIMARY KEY);",
        "ALTER TABLE plans RENAME TO tiers;",
        "INSERT INTO plans (id) VALUES ('free');",
    )
    assert conflict.object == "data plans" and conflict.ours == "renamed table 'plans' to 'tiers'"


def test_an_insert_without_columns_depends_on_every_column_but_a_named_one_does_not():
    base = "CREATE TABLE plans (id TEXT PRIMARY KEY, name TEXT);"
    ours = "ALTER TABLE plans ADD COLUMN price REAL;"
    _, conflicts = merge(base, ours, "INSERT INTO plans VALUES ('free', 'Free');")
    assert [c.kind for c in conflicts] == [DATA_DEPENDENCY]
    assert "values no longer match the table's columns" in conflicts[0].message
    plan, conflicts = merge(base, ours, "INSERT INTO plans (id, name) VALUES ('free', 'Free');")
    assert conflicts == []
    assert plan.operations == (
        DataMigrated(sql="INSERT INTO plans (id, name) VALUES ('free', 'Free')"),
    )


def test_data_steps_on_one_table_conflict_unless_identical():
    base = "CREATE TABLE c (id TEXT PRIMARY KEY, n INTEGER);"
    _, [conflict] = merge(base, "UPDATE c SET n = 1;", "UPDATE c SET n = 2;")
    assert conflict.kind == DATA_DEPENDENCY and conflict.object == "data c"
    assert (conflict.ours, conflict.theirs) == ("UPDATE c SET n = 1", "UPDATE c SET n = 2")
    assert conflict.sides == SIDES
    plan, conflicts = merge(base, "UPDATE c SET n = n + 1;", 'update "c" set n = n+1;')
    assert conflicts == [] and plan.operations == () and plan.skipped == 1
    # One side has the identical step and one more: the extra one still lands, once.
    plan, conflicts = merge(base, "UPDATE c SET n = n + 1;", "UPDATE c SET n = n + 1;"
                            "UPDATE c SET n = n * 2;")  # fmt: skip
    assert conflicts == [] and plan.operations == (DataMigrated(sql="UPDATE c SET n = n * 2"),)


def test_a_step_reading_what_the_other_side_writes_conflicts():
    base = "CREATE TABLE a (id TEXT PRIMARY KEY, n INTEGER); CREATE TABLE b (id TEXT, m INTEGER);"
    _, conflicts = merge(base, "DELETE FROM b;", "UPDATE a SET n = (SELECT count(*) FROM b);")
    assert [(c.kind, c.object, c.events) for c in conflicts] == [
        (DATA_DEPENDENCY, "data a", ("ours 1", "theirs 1"))
    ]
    # Both only read b: the order does not matter.
    plan, conflicts = merge(base, "UPDATE a SET n = (SELECT count(*) FROM b) WHERE id = 'x';",
                            "UPDATE b SET m = 0 WHERE id = 'y';")  # fmt: skip
    assert len(conflicts) == 1  # b is written by theirs and read by ours
    plan, conflicts = merge(base, "UPDATE a SET n = 1;", "UPDATE b SET m = 0;")
    assert conflicts == [] and len(plan.operations) == 1


def test_a_backfill_lands_in_order_after_the_other_sides_work():
    base = "CREATE TABLE users (id TEXT PRIMARY KEY, first TEXT, last TEXT);"
    theirs = (
        "ALTER TABLE users ADD COLUMN full_name TEXT;"
        "UPDATE users SET full_name = first || ' ' || last;"
        "ALTER TABLE users ALTER COLUMN full_name SET NOT NULL;"
    )
    plan, conflicts = merge(base, "CREATE INDEX idx_last ON users (last);", theirs)
    assert conflicts == []
    assert [type(op) for op in plan.operations] == [ColumnAdded, DataMigrated, ColumnAltered]


def test_the_semantic_check_compiles_data_steps_without_rows():
    # The order references a user that only the tenants' rows hold: run for real in an empty
    # in-memory database the insert would break the foreign key; compiled, it is sound.
    base = (
        "CREATE TABLE users (id TEXT PRIMARY KEY);"
        "CREATE TABLE orders (id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users (id));"
    )
    plan, conflicts = merge(
        base,
        "ALTER TABLE users ADD COLUMN email TEXT;",
        "INSERT INTO orders (id, user_id) VALUES ('o1', 'u1');",
    )
    assert conflicts == [] and len(plan.operations) == 1


def test_a_step_through_the_replayed_sides_own_rename_is_followed_by_identity():
    base = "CREATE TABLE users (id TEXT PRIMARY KEY, age INTEGER);"
    theirs = "ALTER TABLE users RENAME TO people; UPDATE people SET age = 0;"
    _, [conflict] = merge(base, "ALTER TABLE users DROP COLUMN age;", theirs)
    assert conflict.kind == DATA_DEPENDENCY and conflict.object == "data people"
    plan, conflicts = merge(base, "ALTER TABLE users ADD COLUMN x TEXT;", theirs)
    assert conflicts == []
    assert plan.operations == (
        TableRenamed(table="users", new_name="people"),
        DataMigrated(sql="UPDATE people SET age = 0"),
    )


def test_a_change_both_sides_made_alike_leaves_the_step_as_it_was_written():
    base = "CREATE TABLE users (id TEXT PRIMARY KEY, age INTEGER);"
    # The same rename on both sides: the step already uses the new name.
    rename = "ALTER TABLE users RENAME COLUMN age TO years;"
    plan, conflicts = merge(base, rename, rename + "UPDATE users SET years = 0;")
    assert conflicts == [] and plan.operations == (DataMigrated(sql="UPDATE users SET years = 0"),)
    rename = "ALTER TABLE users RENAME TO people;"
    plan, conflicts = merge(base, rename, rename + "UPDATE people SET age = 0;")
    assert conflicts == [] and plan.operations == (DataMigrated(sql="UPDATE people SET age = 0"),)
    # The same alteration, the same column added under an INSERT without a column list.
    alter = "ALTER TABLE users ALTER COLUMN age SET DEFAULT 0;"
    plan, conflicts = merge(base, alter, alter + "UPDATE users SET age = NULL;")
    assert conflicts == [] and len(plan.operations) == 1
    add = "ALTER TABLE users ADD COLUMN plan TEXT;"
    plan, conflicts = merge(base, add, add + "INSERT INTO users VALUES ('u1', 3, 'free');")
    assert conflicts == [] and len(plan.operations) == 1
    # Altered differently: still a conflict (the column's own, and the step's).
    _, conflicts = merge(
        base, alter, "ALTER TABLE users ALTER COLUMN age SET DEFAULT 1; UPDATE users SET age = 2;"
    )
    assert conflicts and conflicts[0].kind == "both_changed"


VIEWED = (
    "CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT, active INTEGER);"
    "CREATE TABLE mailing (id TEXT PRIMARY KEY, name TEXT);"
    "CREATE VIEW active_users AS SELECT id, name FROM users WHERE active = 1;"
    "CREATE VIEW first_active AS SELECT id, name FROM active_users LIMIT 1;"
)
FILL = "INSERT INTO mailing (id, name) SELECT id, name FROM first_active;"
REDEFINE = (
    "DROP VIEW first_active; DROP VIEW active_users;"
    "CREATE VIEW active_users AS SELECT id, name FROM users;"
    "CREATE VIEW first_active AS SELECT id, name FROM active_users LIMIT 1;"
)


def test_a_step_reading_a_view_follows_it_to_the_views_and_tables_under_it():
    # Through first_active to active_users: redefining the inner view is a conflict.
    inner = (
        "DROP VIEW first_active; DROP VIEW active_users;"
        "CREATE VIEW active_users AS SELECT id, name FROM users;"
        "CREATE VIEW first_active AS SELECT id, name FROM active_users LIMIT 1;"
    )
    _, conflicts = merge(VIEWED, inner, FILL)
    assert [c.object for c in conflicts] == ["data mailing"]
    assert "uses view 'active_users', which the other side redefined" in conflicts[0].message
    # And a step on the other side writing the table under both views clashes with it.
    _, conflicts = merge(VIEWED, "UPDATE users SET active = 0;", FILL)
    assert [c.kind for c in conflicts] == [DATA_DEPENDENCY]
    assert "both use table 'users'" in conflicts[0].message


def test_a_view_redefined_alike_on_both_sides_leaves_the_step_clean():
    plan, conflicts = merge(VIEWED, REDEFINE, REDEFINE + FILL)
    assert conflicts == [] and plan.operations == (DataMigrated(sql=FILL.rstrip(";")),)


def test_a_trigger_on_the_written_table_conflicts_and_either_side_resolves_it():
    base = (
        "CREATE TABLE users (id TEXT PRIMARY KEY, plan TEXT);"
        "CREATE TABLE audit (id INTEGER PRIMARY KEY, what TEXT);"
    )
    trigger = (
        "CREATE TRIGGER users_audit AFTER UPDATE ON users"
        " BEGIN INSERT INTO audit (what) VALUES (new.id); END;"
    )
    step = "UPDATE users SET plan = 'free' WHERE plan IS NULL;"
    _, [conflict] = merge(base, trigger, step)
    assert (conflict.kind, conflict.object) == (DATA_DEPENDENCY, "data users")
    assert conflict.ours == "created trigger 'users_audit' on table 'users'"
    plan, conflicts = merge(base, trigger, step, Resolver.of({"data users": "theirs"}, None))
    assert conflicts == [] and plan.operations == (DataMigrated(sql=step.rstrip(";")),)
    # The other direction: the replayed side's trigger, taken, follows a renamed table.
    _, [conflict] = merge(base, step, trigger)
    assert conflict.object == "trigger users_audit" and conflict.sides == SIDES
    plan, conflicts = merge(
        base, step, trigger, Resolver.of({"trigger users_audit": "theirs"}, None)
    )
    assert conflicts == [] and [type(op).__name__ for op in plan.operations] == ["TriggerCreated"]
    # The same trigger on both sides: the step ran with it on both.
    plan, conflicts = merge(base, trigger, trigger + step)
    assert conflicts == [] and plan.operations == (DataMigrated(sql=step.rstrip(";")),)
