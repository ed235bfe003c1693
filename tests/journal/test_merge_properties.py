"""Merges are order-independent and what they plan is what SQLite gets.

For random pairs of branches off a common random base: when merging A into B is clean, merging
B into A is clean too and gives the same schema (up to the order of added columns), and the
planned schema equals what replaying base + B + the plan into SQLite gives.
"""

from __future__ import annotations

import os
import sqlite3

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journal import Schema, apply, apply_all, apply_operations, introspect
from journal.merge import SideStep, plan_merge
from journal.merge_check import base_operations, semantic_check

from .schema_gen import valid_sequence

# Each example plans two merges, each replaying four SQLite databases: fewer examples than the
# replay test for the same time. CINCHDB_MERGE_EXAMPLES raises it for a longer hunt.
EXAMPLES = int(os.environ.get("CINCHDB_MERGE_EXAMPLES", "40"))


def steps(base: Schema, operations, event: str) -> list[SideStep]:
    out, schema = [], base
    for number, op in enumerate(operations):
        out.append(SideStep(f"{event}{number}", schema, op))
        schema = apply(schema, op)
    return out


def unordered(schema: Schema) -> dict:
    canonical = schema.canonical()
    for table in canonical["tables"]:
        table["columns"] = sorted(table["columns"], key=lambda c: c["name"])
    return canonical


@st.composite
def forks(draw: st.DrawFn):
    base_ops = draw(valid_sequence(max_size=8))
    base = apply_all(Schema(), base_ops)
    ours = draw(valid_sequence(max_size=6, start=base))
    theirs = draw(valid_sequence(max_size=6, start=base))
    return base, ours, theirs


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(fork=forks())
def test_clean_merges_commute_and_match_sqlite(fork):
    base, ours, theirs = fork
    ours_schema, theirs_schema = apply_all(base, ours), apply_all(base, theirs)
    a_into_b, conflicts_ab = plan_merge(
        base, steps(base, ours, "o"), steps(base, theirs, "t"), ours_schema, theirs_schema,
        check=semantic_check,
    )  # fmt: skip
    b_into_a, conflicts_ba = plan_merge(
        base, steps(base, theirs, "t"), steps(base, ours, "o"), theirs_schema, ours_schema,
        check=semantic_check,
    )  # fmt: skip
    assert bool(conflicts_ab) == bool(conflicts_ba), (conflicts_ab, conflicts_ba)
    if conflicts_ab:
        return
    assert unordered(a_into_b.schema) == unordered(b_into_a.schema)
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    schema = apply_operations(conn, Schema(), base_operations(base))
    schema = apply_operations(conn, schema, ours)
    schema = apply_operations(conn, schema, a_into_b.operations)
    assert introspect(conn).canonical() == a_into_b.schema.canonical()
    conn.close()
