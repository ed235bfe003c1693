"""diff_schemas(a, b) applied to a gives b; lint flags what can lose data."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings

from journal import Schema, apply_all, parse
from journal.diff import diff_schemas, lint

from .schema_gen import valid_sequence

EXAMPLES = int(os.environ.get("CINCHDB_HYPOTHESIS_EXAMPLES", "200"))


def unordered(schema: Schema) -> dict:
    canonical = schema.canonical()
    for table in canonical["tables"]:
        table["columns"] = sorted(table["columns"], key=lambda c: c["name"])
    return canonical


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(first=valid_sequence(max_size=10), second=valid_sequence(max_size=10))
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
