"""diff_schemas(a, b) applied to a gives b; lint flags what can lose data."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, example, given, settings

from journal import Schema, apply_all, parse
from journal.diff import diff_schemas, lint

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
