"""The invariant everything rests on: a SQLite file that replays events has the fold's schema."""

from __future__ import annotations

import os
import sqlite3

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journal import BranchesMerged, EventReverted, Schema, apply_all, apply_operations, introspect
from journal.events import operations_of
from journal.names import quote

from .schema_gen import valid_sequence

EXAMPLES = int(os.environ.get("CINCHDB_HYPOTHESIS_EXAMPLES", "200"))


def _fresh() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _assert_usable(conn: sqlite3.Connection, schema: Schema) -> None:
    """Every view still compiles and the file is sound: no silently broken dependant."""
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    for view in schema.views:
        conn.execute(f"SELECT * FROM {quote(view.name)} LIMIT 0").fetchall()
    for table in schema.tables:
        conn.execute(f"SELECT * FROM {quote(table.name)} LIMIT 0").fetchall()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(operations=valid_sequence(), wrap=st.integers(0, 3))
def test_replay_equals_fold_all_at_once_and_one_at_a_time(operations, wrap):
    # Some runs wrap a slice of the operations in the composite events, which carry
    # operations of their own: the fold and the replay must expand them the same way.
    changes = list(operations)
    if wrap and len(changes) > 2:
        start = len(changes) // 3
        inner = tuple(changes[start : start + 2])
        composite = (
            BranchesMerged(source="feature", target="main", operations=inner)
            if wrap % 2
            else EventReverted(reverted="0" * 64, operations=inner)
        )
        changes[start : start + 2] = [composite]
    flat = [op for change in changes for op in operations_of(change)]
    folded = apply_all(Schema(), flat)

    together = _fresh()
    replayed = apply_operations(together, Schema(), flat)
    assert replayed == folded
    assert introspect(together).canonical() == folded.canonical()
    _assert_usable(together, folded)

    one_by_one = _fresh()
    schema = Schema()
    for change in changes:
        schema = apply_operations(one_by_one, schema, operations_of(change))
    assert introspect(one_by_one).canonical() == folded.canonical()
    assert introspect(one_by_one).hash() == introspect(together).hash()
