"""Data steps (``DataMigrated``): parsed from INSERT/UPDATE/DELETE with their refusals, stored
with stable ids, folded without a schema change, rendered, inverted with their down SQL and
counted by diff."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journal import (
    BranchesMerged,
    DataMigrated,
    DataStepNotReversibleError,
    DataStepRefusedError,
    Event,
    EventReverted,
    Schema,
    SQLParseError,
    apply,
    apply_all,
    apply_operations,
    parse,
    parse_down,
    references,
    render_operation,
)
from journal.ddl import statements
from journal.diff import count_data_steps, lint
from journal.errors import ColumnNotFoundError, TableNotFoundError
from journal.events import CHANGE_ADAPTER, summarize
from journal.inverse import inverse_operations

EXAMPLES = int(os.environ.get("CINCHDB_HYPOTHESIS_EXAMPLES", "200"))
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
USERS = "CREATE TABLE users (id INTEGER PRIMARY KEY, first TEXT, last TEXT, full_name TEXT)"


def users_schema() -> Schema:
    return apply_all(Schema(), parse(USERS))


# -- the event -------------------------------------------------------------------------------

statements_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40
).filter(lambda s: s.strip() == s and s)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    sql=statements_text,
    down=st.lists(statements_text, max_size=3).map(tuple),
    nondeterministic=st.booleans(),
)
def test_a_data_step_round_trips_through_canonical_json_with_its_id(sql, down, nondeterministic):
    step = DataMigrated(sql=sql, down=down, nondeterministic=nondeterministic)
    event = Event.create(step, parents=[], database="main", author="ann", created_at=T0)
    again = Event.from_body(event.id, event.canonical_body())
    assert again == event
    assert again.change == step
    assert again.canonical_body() == event.canonical_body()
    payload = json.loads(event.canonical_body())["payload"]
    assert ("down" in payload) == bool(down)
    assert ("nondeterministic" in payload) == nondeterministic


def test_the_common_data_step_body_holds_only_its_statement():
    step = DataMigrated(sql="  UPDATE users SET a = 1  ")
    assert step.sql == "UPDATE users SET a = 1"
    assert step.model_dump(mode="json") == {"type": "DataMigrated", "sql": step.sql}
    assert CHANGE_ADAPTER.validate_python(step.model_dump(mode="json")) == step


@pytest.mark.parametrize("fields", [{"sql": "  "}, {"sql": "DELETE FROM t", "down": ("",)}])
def test_empty_statements_are_refused(fields):
    with pytest.raises(ValueError, match=r"cannot be empty|needs a statement"):
        DataMigrated(**fields)


def test_summary_ddl_and_render():
    long = "UPDATE users SET full_name = first || ' ' || last WHERE full_name IS NULL"
    step = DataMigrated(sql=long)
    assert summarize(step) == "data: UPDATE users SET full_name = first || ' ' || last WHERE f..."
    assert summarize(DataMigrated(sql="DELETE\n  FROM users")) == "data: DELETE FROM users"
    schema = users_schema()
    assert render_operation(step) == long
    assert statements(schema, step, apply(schema, step)) == [long]


# -- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO users (first, last) VALUES ('ann', 'lee')",
        "INSERT INTO users (id, first) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET first ="
        " excluded.first",
        "INSERT OR IGNORE INTO users (first) SELECT last FROM users WHERE id > 3",
        "WITH named AS (SELECT id FROM users WHERE first = 'x') DELETE FROM users WHERE id IN"
        " (SELECT id FROM named)",
        "UPDATE users SET full_name = first || ' ' || last",
        "UPDATE users SET last = date(first, '+1 day') WHERE strftime('%Y', last) = '2020'",
        "DELETE FROM users WHERE id = 3",
    ],
)
def test_dml_becomes_a_data_step_stored_as_written(sql):
    (step,) = parse(f"  {sql} ;")
    assert step == DataMigrated(sql=sql)
    assert apply(users_schema(), step) == users_schema()


def test_data_steps_keep_their_place_among_schema_steps():
    script = (
        "ALTER TABLE users ADD COLUMN nick TEXT;\n"
        "UPDATE users SET nick = first;\n"
        "ALTER TABLE users ALTER COLUMN nick SET NOT NULL"
    )
    assert [op.type for op in parse(script)] == ["ColumnAdded", "DataMigrated", "ColumnAltered"]


NOT_ALLOWED = "gives a different result on each tenant; allow it with allow_nondeterministic=True"
OWN = "belongs to CinchDB or SQLite: a data step touches only your tables"


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("DELETE FROM sqlite_master", f"'sqlite_master' {OWN}"),
        ("INSERT INTO users (first) SELECT key FROM __cinch_kv", f"'__cinch_kv' {OWN}"),
        ("UPDATE cinch_data_step_rows SET rows = 0", f"'cinch_data_step_rows' {OWN}"),
        ("DELETE FROM __kv", f"'__kv' {OWN}"),
        ("INSERT INTO users (first) SELECT key FROM __kv_expires", f"'__kv_expires' {OWN}"),
        (
            "DELETE FROM users WHERE id IN (SELECT 1 FROM _litestream_seq)",
            f"'_litestream_seq' {OWN}",
        ),
        (
            "DELETE FROM other.users",
            "'other.users' names another database: a data step touches only the tenant's own"
            " tables (write 'users')",
        ),
        (
            "UPDATE users SET first = (SELECT x FROM aux.t)",
            "'aux.t' names another database",
        ),
        ("ATTACH 'x.db' AS x", "ATTACH is not allowed in a migration"),
        ("DETACH x", "DETACH is not allowed in a migration"),
        (
            "DELETE FROM users RETURNING id",
            "RETURNING is not allowed in a data step: a migration reports row counts",
        ),
        ("REPLACE INTO users (id) VALUES (1)", "REPLACE INTO is not supported in a data step"),
        ("UPDATE users SET first = random()", f"random() {NOT_ALLOWED}"),
        ("UPDATE users SET first = hex(RANDOMBLOB(8))", f"RANDOMBLOB() {NOT_ALLOWED}"),
        (
            "INSERT INTO users (id) VALUES (last_insert_rowid())",
            f"last_insert_rowid() {NOT_ALLOWED}",
        ),
        ("UPDATE users SET id = changes()", f"changes() {NOT_ALLOWED}"),
        ("UPDATE users SET id = total_changes()", f"total_changes() {NOT_ALLOWED}"),
        ("UPDATE users SET last = CURRENT_TIMESTAMP", f"CURRENT_TIMESTAMP {NOT_ALLOWED}"),
        ("UPDATE users SET last = current_date", f"CURRENT_DATE {NOT_ALLOWED}"),
        ("UPDATE users SET last = CURRENT_TIME", f"CURRENT_TIME {NOT_ALLOWED}"),
        ("UPDATE users SET last = datetime('now')", f"datetime('now') {NOT_ALLOWED}"),
        ("UPDATE users SET last = date('NOW', '-1 day')", f"date('NOW', '-1 day') {NOT_ALLOWED}"),
        ("UPDATE users SET last = date()", f"date() {NOT_ALLOWED}"),
        ("UPDATE users SET last = time()", f"time() {NOT_ALLOWED}"),
        ("UPDATE users SET id = julianday('now')", f"julianday('now') {NOT_ALLOWED}"),
        ("UPDATE users SET id = unixepoch()", f"unixepoch() {NOT_ALLOWED}"),
        ("UPDATE users SET last = strftime('%s')", f"strftime('%s') {NOT_ALLOWED}"),
        ("UPDATE users SET last = strftime('%s', 'now')", f"strftime('%s', 'now') {NOT_ALLOWED}"),
        ("UPDATE users SET last = timediff(last, 'now')", f"timediff(last, 'now') {NOT_ALLOWED}"),
    ],
)
def test_refused_data_steps_name_the_statement_and_the_reason(sql, message):
    with pytest.raises(DataStepRefusedError) as caught:
        parse(f"CREATE TABLE t (a);\n{sql}")
    text = str(caught.value)
    assert message in text
    assert text.endswith(f"in statement: {sql}")
    assert caught.value.line == 2
    assert "\n" not in text


@pytest.mark.parametrize(
    ("sql", "where"),
    [
        ("UPDATE users\n   SET last = datetime('now')", (2, 15)),
        ("DELETE FROM users\n WHERE id IN (SELECT id FROM sqlite_master)", (2, 30)),
        ("DELETE FROM users\n WHERE id IN (SELECT id FROM x.t)", (2, 30)),
    ],
)
def test_a_refusal_points_at_what_is_refused(sql, where):
    with pytest.raises(DataStepRefusedError) as caught:
        parse(sql)
    assert (caught.value.line, caught.value.column) == where


def test_nondeterministic_calls_are_allowed_when_asked_and_recorded():
    (step,) = parse("UPDATE users SET last = datetime('now')", allow_nondeterministic=True)
    assert step == DataMigrated(
        sql="UPDATE users SET last = datetime('now')", nondeterministic=True
    )
    # Only a statement that uses one is marked: the flag alone changes nothing.
    (plain,) = parse("UPDATE users SET last = first", allow_nondeterministic=True)
    assert plain == DataMigrated(sql="UPDATE users SET last = first")


@pytest.mark.parametrize(
    "sql",
    [
        # Strings and quoted names that only look like clock reads.
        "UPDATE users SET last = 'now'",
        'UPDATE users SET "random" = 1',
        "UPDATE users SET last = datetime(first)",
        "UPDATE users SET last = strftime('%Y', first)",
    ],
)
def test_lookalikes_are_deterministic(sql):
    assert parse(sql) == [DataMigrated(sql=sql)]


def test_a_bad_dml_statement_is_a_parse_error():
    with pytest.raises(SQLParseError, match="Invalid data step"):
        parse("UPDATE users SET = 1")


def test_down_scripts_are_data_steps_only():
    assert parse_down("DELETE FROM users WHERE id = 1; UPDATE users SET last = NULL") == (
        "DELETE FROM users WHERE id = 1",
        "UPDATE users SET last = NULL",
    )
    with pytest.raises(SQLParseError, match=r"found a schema change \(TableDropped\)"):
        parse_down("DROP TABLE users")
    with pytest.raises(SQLParseError, match="Down SQL has no statement"):
        parse_down("  -- nothing\n")
    with pytest.raises(DataStepRefusedError, match=r"random\(\)"):
        parse_down("UPDATE users SET id = random()")


# -- references and the fold ---------------------------------------------------------------


def test_references_of_a_data_step():
    columns = {"users": ["id", "first", "last"], "orders": ["id", "user_id"]}.get
    sql = (
        "UPDATE users SET last = (SELECT count(*) FROM orders o WHERE o.user_id = users.id)"
        " WHERE first IS NOT NULL"
    )
    assert references(sql, columns_of=columns) == {
        ("users", None),
        ("users", "last"),
        ("users", "id"),
        ("users", "first"),
        ("orders", None),
        ("orders", "user_id"),
    }
    assert references("INSERT INTO users (first) VALUES ('a')") == {
        ("users", None),
        ("users", "first"),
    }


@pytest.mark.parametrize(
    ("sql", "error", "message"),
    [
        ("DELETE FROM nope", TableNotFoundError, "Table 'nope' does not exist"),
        ("UPDATE users SET nick = 1", ColumnNotFoundError, "Column 'nick' does not exist"),
        (
            "INSERT INTO users (first, nick) VALUES (1, 2)",
            ColumnNotFoundError,
            "Column 'nick' does not exist",
        ),
        ("DELETE FROM users WHERE nick = 1", ColumnNotFoundError, "Column 'nick'"),
        (
            "UPDATE users SET first = (SELECT x FROM gone)",
            TableNotFoundError,
            "Table 'gone' does not exist",
        ),
    ],
)
def test_the_fold_refuses_a_data_step_on_what_is_not_there(sql, error, message):
    with pytest.raises(error, match=message):
        apply(users_schema(), DataMigrated(sql=sql))


def test_a_data_step_after_a_drop_is_refused_by_the_fold():
    script = USERS + "; ALTER TABLE users DROP COLUMN last; UPDATE users SET last = 'x'"
    with pytest.raises(ColumnNotFoundError, match="Column 'last' does not exist"):
        apply_all(Schema(), parse(script))


def test_the_backfill_pattern_runs_on_sqlite():
    conn = sqlite3.connect(":memory:", isolation_level=None)
    schema = apply_operations(conn, Schema(), parse("CREATE TABLE users (first TEXT, last TEXT)"))
    conn.executemany("INSERT INTO users VALUES (?, ?)", [("ann", "lee"), ("bo", "kim")])
    script = (
        "ALTER TABLE users ADD COLUMN full_name TEXT;"
        "UPDATE users SET full_name = first || ' ' || last;"
        "ALTER TABLE users ALTER COLUMN full_name SET NOT NULL"
    )
    after = apply_operations(conn, schema, parse(script))
    assert after.require_table("users").column("full_name").not_null
    rows = conn.execute("SELECT full_name FROM users ORDER BY 1").fetchall()
    assert rows == [("ann lee",), ("bo kim",)]


# -- inverse -------------------------------------------------------------------------------


def test_revert_of_a_data_step_without_down_names_the_step():
    step = DataMigrated(sql="UPDATE users SET full_name = first || ' ' || last WHERE id > 100")
    with pytest.raises(DataStepNotReversibleError) as caught:
        inverse_operations(users_schema(), [step], event_id="0123456789abcdef" * 4)
    assert str(caught.value) == (
        "data step 0123456789ab (UPDATE users SET full_name = first || ' ' || last WHERE i...)"
        " has no down SQL; give one with migrate(sql, down=...)"
    )


def test_a_one_statement_down_inverts_both_ways():
    step = DataMigrated(
        sql="UPDATE users SET last = upper(last)",
        down=("UPDATE users SET last = lower(last)",),
    )
    schema = users_schema()
    undo, lost = inverse_operations(schema, [step])
    assert lost == []
    assert undo == [
        DataMigrated(
            sql="UPDATE users SET last = lower(last)", down=("UPDATE users SET last = upper(last)",)
        )
    ]
    again, _ = inverse_operations(schema, undo)
    assert again == [step]


def test_a_many_statement_down_is_one_step_per_statement_in_order():
    step = DataMigrated(
        sql="INSERT INTO users (id, first) VALUES (1, 'a'), (2, 'b')",
        down=("DELETE FROM users WHERE id = 1", "DELETE FROM users WHERE id = 2"),
        nondeterministic=True,
    )
    undo, _ = inverse_operations(users_schema(), [step])
    assert undo == [
        DataMigrated(sql="DELETE FROM users WHERE id = 1", nondeterministic=True),
        DataMigrated(sql="DELETE FROM users WHERE id = 2", nondeterministic=True),
    ]


def test_the_inverse_round_trip_restores_the_rows_on_sqlite():
    conn = sqlite3.connect(":memory:", isolation_level=None)
    schema = apply_operations(conn, Schema(), parse("CREATE TABLE users (first TEXT, last TEXT)"))
    conn.execute("INSERT INTO users VALUES ('ann', 'Lee')")
    (step,) = parse("UPDATE users SET last = upper(last)")
    step = step.model_copy(update={"down": ("UPDATE users SET last = 'Lee'",)})
    before = conn.execute("SELECT * FROM users").fetchall()
    apply_operations(conn, schema, [step])
    assert conn.execute("SELECT last FROM users").fetchall() == [("LEE",)]
    undo, _ = inverse_operations(schema, [step])
    apply_operations(conn, schema, undo)
    assert conn.execute("SELECT * FROM users").fetchall() == before


# -- diff and lint ---------------------------------------------------------------------------


def test_count_data_steps_counts_reverts_and_not_merge_copies():
    step = DataMigrated(sql="DELETE FROM users")
    changes = [
        step,
        *parse("CREATE TABLE t (a)"),
        EventReverted(reverted="ab" * 32, operations=(step, step)),
        BranchesMerged(source="f", target="main", operations=(step,)),
    ]
    assert count_data_steps(changes) == 3
    # lint flags every data step for review, and one without WHERE besides.
    assert [f.kind for f in lint([step])] == ["data_step", "no_where"]
