"""diff_schemas(a, b) applied to a gives b; lint flags what can lose data."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from journal import (
    ColumnAdded,
    ColumnDef,
    ColumnDropped,
    ColumnRenamed,
    Schema,
    TableRenamed,
    ViewDropped,
    apply,
    apply_all,
    parse,
)
from journal.diff import diff_schemas, lint, net_renames

from .schema_gen import valid_sequence

EXAMPLES = int(os.environ.get("CINCHDB_HYPOTHESIS_EXAMPLES", "200"))


WITH_FOREIGN_KEY = (
    "CREATE TABLE orders (id INTEGER PRIMARY KEY);"
    "CREATE TABLE users (a TEXT, b INTEGER REFERENCES orders (id))"
)
WITHOUT_ORDERS = "CREATE TABLE users (a TEXT)"


def unordered(schema: Schema) -> dict:
    canonical = schema.canonical()
    for table in canonical["tables"]:
        table["columns"] = sorted(table["columns"], key=lambda c: c["name"])
    return canonical


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(first=valid_sequence(max_size=10), second=valid_sequence(max_size=10))
# Once falsified: 'orders' went while 'users' still had its foreign key column to it.
@example(first=parse(WITH_FOREIGN_KEY), second=parse(WITHOUT_ORDERS))
def test_applying_the_diff_gives_the_target(first, second):
    a, b = apply_all(Schema(), first), apply_all(Schema(), second)
    assert unordered(apply_all(a, diff_schemas(a, b))) == unordered(b)
    assert diff_schemas(a, a) == []


def test_lint_flags_destructive_and_data_dependent_changes():
    a = apply_all(Schema(), parse("CREATE TABLE t (id TEXT PRIMARY KEY, x INT, y TEXT)"))
    b = apply_all(
        Schema(),
        parse(
            "CREATE TABLE t (id TEXT PRIMARY KEY, x TEXT NOT NULL, z INT NOT NULL);"
            "CREATE UNIQUE INDEX ux ON t (x)"
        ),
    )
    kinds = sorted(f.kind for f in lint(diff_schemas(a, b)))
    assert kinds == ["drop_column", "not_null", "not_null", "type_change", "unique_index"]
    assert lint(diff_schemas(b, Schema()))[0].kind == "drop_table"


def test_a_table_loses_its_foreign_key_before_the_table_it_points_at_is_dropped():
    a = apply_all(Schema(), parse(WITH_FOREIGN_KEY))
    b = apply_all(Schema(), parse(WITHOUT_ORDERS))
    operations = diff_schemas(a, b)
    assert [type(op).__name__ for op in operations] == ["ColumnDropped", "TableDropped"]
    assert apply_all(a, operations) == b
    # And the other way: the table is created before anything refers to it.
    assert unordered(apply_all(b, diff_schemas(b, a))) == unordered(a)


def test_a_table_re_created_takes_the_tables_pointing_at_it_along():
    # Once falsified: 'users' became WITHOUT ROWID (only a re-create does that) while 'orders',
    # unchanged, kept its foreign key to it, so dropping 'users' was refused.
    a = apply_all(
        Schema(),
        parse(
            "CREATE TABLE users (a INTEGER PRIMARY KEY, b INT);"
            "CREATE TABLE orders (qty TEXT REFERENCES users)"
        ),
    )
    b = apply_all(
        Schema(),
        parse(
            "CREATE TABLE users (a INTEGER PRIMARY KEY, b INT) WITHOUT ROWID;"
            "CREATE TABLE orders (qty TEXT REFERENCES users)"
        ),
    )
    operations = diff_schemas(a, b)
    assert [(type(op).__name__, getattr(op, "table", None)) for op in operations][:2] == [
        ("TableDropped", "orders"),
        ("TableDropped", "users"),
    ]
    assert unordered(apply_all(a, operations)) == unordered(b)


ONE_STEP_EXAMPLES = int(os.environ.get("CINCHDB_HYPOTHESIS_EXAMPLES", "150"))


@st.composite
def schema_and_operation(draw):
    """A random schema from the generator and one more operation the fold accepts on it."""
    before = apply_all(Schema(), draw(valid_sequence(max_size=10)))
    [op] = draw(valid_sequence(max_size=1, start=before).filter(lambda ops: len(ops) == 1))
    return before, op


def equivalent(found: list, op, before: Schema, after: Schema) -> bool:
    """``found`` is ``[op]`` up to spelling: one operation of the same type on the same object,
    with the same result (or nothing, when ``op`` changed nothing)."""
    if unordered(after) == unordered(before):
        return found == []
    if len(found) != 1 or type(found[0]) is not type(op):
        return False
    return unordered(apply_all(before, found)) == unordered(after)


@settings(max_examples=ONE_STEP_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])  # fmt: skip
@given(case=schema_and_operation())
def test_one_operation_diffs_to_that_operation(case):
    before, op = case
    after = apply(before, op)
    found = diff_schemas(before, after)
    assert equivalent(found, op, before, after), (op, found)


def test_a_table_rename_is_a_rename_and_what_sqlite_rewrote_is_not_a_change():
    a = apply_all(
        Schema(),
        parse(
            "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);"
            "CREATE TABLE child (id INTEGER PRIMARY KEY, pid INT REFERENCES parent (id),"
            " CHECK (pid > 0));"
            "CREATE INDEX ix ON child (pid);"
            "CREATE VIEW v AS SELECT c.pid, p.name FROM child AS c JOIN parent AS p"
            " ON c.pid = p.id;"
            "CREATE TRIGGER tr AFTER INSERT ON child BEGIN"
            " UPDATE parent SET name = name WHERE id = new.pid; END"
        ),
    )
    for op in (
        TableRenamed(table="parent", new_name="folks"),
        ColumnRenamed(table="parent", column="name", new_name="title"),
        ColumnRenamed(table="child", column="pid", new_name="parent_id"),
        TableRenamed(table="child", new_name="kid"),
    ):
        b = apply(a, op)
        assert diff_schemas(a, b) == [op]
        back = diff_schemas(b, a)
        assert [type(x) for x in back] == [type(op)]
        assert apply_all(b, back).canonical() == a.canonical()


def test_renames_known_from_the_journal_win_over_guessing():
    a = apply_all(Schema(), parse("CREATE TABLE t (a TEXT, b TEXT)"))
    # Dropping b and adding c (same type, same place) looks like a rename; the journal knows.
    path = [ColumnDropped(table="t", column="b"),
            ColumnAdded(table="t", column=ColumnDef(name="c", type="TEXT"))]  # fmt: skip
    b = apply_all(a, path)
    assert [type(op) for op in diff_schemas(a, b, renames=net_renames(a, path))] == [
        ColumnDropped,
        ColumnAdded,
    ]
    renamed = [ColumnRenamed(table="t", column="b", new_name="x"),
               TableRenamed(table="t", new_name="u"),
               ColumnRenamed(table="u", column="x", new_name="c")]  # fmt: skip
    b = apply_all(a, renamed)
    assert diff_schemas(a, b, renames=net_renames(a, renamed)) == [
        TableRenamed(table="t", new_name="u"),
        ColumnRenamed(table="u", column="b", new_name="c"),
    ]


def test_a_trigger_named_like_a_dropped_view_stays():
    # Once falsified: trigger 'o1' was re-made because its own name matched the view 'o1'.
    a = apply_all(
        Schema(),
        parse(
            "CREATE TABLE users (a INTEGER, b INTEGER);"
            "CREATE VIEW o1 AS SELECT a FROM users;"
            "CREATE TRIGGER o1 AFTER INSERT ON users BEGIN UPDATE users SET a = new.a; END"
        ),
    )
    op = ViewDropped(view="o1")
    assert diff_schemas(a, apply(a, op)) == [op]
