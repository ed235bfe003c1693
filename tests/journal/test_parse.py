from __future__ import annotations

import pytest

from journal import (
    BranchesMerged,
    Check,
    ColumnAdded,
    ColumnAltered,
    ColumnDef,
    ColumnDropped,
    ColumnRenamed,
    DataMigrated,
    EventReverted,
    ForeignKey,
    IndexCreated,
    IndexDef,
    IndexDropped,
    IndexedColumn,
    PrimaryKey,
    SQLParseError,
    TableCreated,
    TableDef,
    TableDropped,
    TableRenamed,
    TriggerCreated,
    TriggerDef,
    TriggerDropped,
    Unique,
    ViewCreated,
    ViewDef,
    ViewDropped,
    ViewReplaced,
    parse,
    parse_statement,
    references,
    render_operation,
    render_script,
    split_statements,
)

FULL_TABLE = TableDef(
    name="order items",
    columns=(
        ColumnDef(name="order_id", type="INTEGER", not_null=True),
        ColumnDef(name="line", type="INTEGER", not_null=True, not_null_conflict="ABORT"),
        ColumnDef(name="sku", type="VARCHAR(32)", collate="NOCASE"),
        ColumnDef(name="price", type="NUMERIC", default="0"),
        ColumnDef(name="note", type="TEXT", default="'it''s'"),
        ColumnDef(name="at", type="TEXT", default="CURRENT_TIMESTAMP"),
        ColumnDef(name="doubled", type="NUMERIC", generated='"price" * 2', stored=True),
        ColumnDef(name="neg", default="-1.5"),
    ),
    primary_key=PrimaryKey(columns=("order_id", "line"), on_conflict="REPLACE"),
    uniques=(Unique(columns=("sku",), on_conflict="IGNORE", name="one_sku"),),
    foreign_keys=(
        ForeignKey(
            columns=("order_id",),
            ref_table="orders",
            ref_columns=("id",),
            on_delete="CASCADE",
            on_update="SET NULL",
            deferrable="DEFERRABLE INITIALLY DEFERRED",
        ),
    ),
    checks=(Check(expr='"price" >= 0', name="non_negative"),),
    strict=False,
    without_rowid=True,
)

VIEW = ViewDef(
    name="cheap", sql='CREATE VIEW "cheap" AS SELECT sku FROM "order items" WHERE price < 10'
)
TRIGGER = TriggerDef(
    name="audit_price",
    table="order items",
    sql=(
        'CREATE TRIGGER "audit_price" AFTER UPDATE OF price ON "order items" '
        "WHEN new.price <> old.price BEGIN "
        "INSERT INTO audit (what) VALUES ('price; changed'); "
        "UPDATE audit SET n = n + 1 WHERE what = new.sku; END"
    ),
)

OPERATIONS = [
    TableCreated(table=FULL_TABLE),
    TableCreated(
        table=TableDef(
            name="seq",
            columns=(ColumnDef(name="id", type="INTEGER"), ColumnDef(name="v", type="REAL")),
            primary_key=PrimaryKey(columns=("id",), autoincrement=True),
            strict=True,
        )
    ),
    TableDropped(table="old"),
    TableRenamed(table="a", new_name="b c"),
    ColumnAdded(table="t", column=ColumnDef(name="x", type="INTEGER", default="0", not_null=True)),
    ColumnAdded(
        table="t",
        column=ColumnDef(name="parent", type="INTEGER"),
        unique=True,
        check='"parent" > 0',
        references=ForeignKey(columns=("parent",), ref_table="t", on_delete="SET NULL"),
    ),
    ColumnDropped(table="t", column="x"),
    ColumnRenamed(table="t", column="x", new_name="y"),
    ColumnAltered(table="t", column="x", new_type="TEXT"),
    ColumnAltered(table="t", column="x", not_null=True, default="'n/a'"),
    ColumnAltered(table="t", column="x", not_null=False, drop_default=True),
    IndexCreated(
        index=IndexDef(
            name="by_sku",
            table="order items",
            columns=(
                IndexedColumn(column="sku", collate="NOCASE", desc=True),
                IndexedColumn(expr="lower(note)"),
            ),
            unique=True,
            where="price IS NOT NULL",
        )
    ),
    IndexDropped(index="by_sku"),
    ViewCreated(view=VIEW),
    ViewReplaced(view=VIEW),
    ViewDropped(view="cheap"),
    TriggerCreated(trigger=TRIGGER),
    TriggerDropped(trigger="audit_price"),
    DataMigrated(sql="UPDATE products SET price = price * 2 WHERE sku = 'a'"),
]


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.type)
def test_parse_of_render_gives_the_operation_back(operation):
    parsed = parse_statement(render_operation(operation))
    if isinstance(operation, ViewReplaced):
        # SQL has no "replace view" statement of its own: it reads back as a creation of the
        # same definition, which is what the replacement installs.
        assert parsed == ViewCreated(view=operation.view)
    else:
        assert parsed == operation


def test_every_operation_type_is_covered():
    from typing import get_args

    from journal.events import Operation

    union = get_args(get_args(Operation)[0])
    assert {cls.__name__ for cls in union} == {op.type for op in OPERATIONS}


@pytest.mark.parametrize(
    "change",
    [
        BranchesMerged(source="feature", target="main", operations=tuple(OPERATIONS[:4])),
        EventReverted(
            reverted="ab" * 32,
            operations=(TableDropped(table="x"), TriggerCreated(trigger=TRIGGER)),
        ),
    ],
    ids=["BranchesMerged", "EventReverted"],
)
def test_composite_events_render_as_scripts_of_their_operations(change):
    assert parse(render_script(change)) == list(change.operations)


def test_declared_types_and_options_are_kept_verbatim():
    (op,) = parse(
        "CREATE TABLE m (a NUMERIC PRIMARY KEY, b DECIMAL(10,2), c UNSIGNED BIG INT, d)"
        " WITHOUT ROWID"
    )
    table = op.table
    assert [c.type for c in table.columns] == ["NUMERIC", "DECIMAL(10,2)", "UNSIGNED BIG INT", ""]
    assert table.without_rowid and not table.strict
    (op,) = parse("CREATE TABLE s (a INTEGER PRIMARY KEY, b ANY, c text) WITHOUT ROWID, STRICT")
    assert op.table.strict and op.table.without_rowid
    assert [c.type for c in op.table.columns] == ["INTEGER", "ANY", "text"]


def test_column_on_conflict_and_column_level_constraints_become_table_level():
    (op,) = parse(
        "CREATE TABLE t (id INTEGER PRIMARY KEY ON CONFLICT REPLACE AUTOINCREMENT,"
        " e TEXT NOT NULL ON CONFLICT IGNORE UNIQUE ON CONFLICT FAIL CHECK (e <> ''),"
        " p INTEGER REFERENCES t)"
    )
    table = op.table
    assert table.primary_key == PrimaryKey(
        columns=("id",), autoincrement=True, on_conflict="REPLACE"
    )
    assert table.columns[1].not_null_conflict == "IGNORE"
    assert table.uniques == (Unique(columns=("e",), on_conflict="FAIL"),)
    assert table.checks == (Check(expr="e <> ''"),)
    assert table.foreign_keys == (ForeignKey(columns=("p",), ref_table="t"),)


def test_scripts_split_on_complete_statements_not_on_every_semicolon():
    script = (
        "-- a comment; with a semicolon\n"
        "CREATE TABLE t (a TEXT DEFAULT ';');\n"
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n"
        "  UPDATE t SET a = 'x;y' WHERE a = new.a;\n"
        "  DELETE FROM t WHERE a IS NULL;\n"
        "END;\n"
        "DROP TABLE t"
    )
    statements = [text for _, text in split_statements(script)]
    assert len(statements) == 3
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END")
    assert [op.type for op in parse(script)] == ["TableCreated", "TriggerCreated", "TableDropped"]


@pytest.mark.parametrize(
    ("sql", "message", "line", "column"),
    [
        ("VACUUM", "Unsupported statement 'VACUUM'", 1, 1),
        ("CREATE TABLE t (a INT,\n  b TEXT DEFAULT (1 +))", "Invalid expression", 2, None),
        ("CREATE TABLE t (a INT)\nCREATE TABLE u (b INT)", "Unexpected text", 2, 1),
        (
            "CREATE TABLE t (a INT);\nPRAGMA writable_schema = ON",
            "Unsupported statement 'PRAGMA'",
            2,
            1,
        ),
        ("CREATE TEMP TABLE t (a)", "Temporary objects", 1, 8),
        ("CREATE TABLE IF NOT EXISTS t (a)", "IF NOT EXISTS is not supported", 1, 14),
        ("CREATE VIEW v AS SELEC 1", "Invalid query", 1, 24),
        ("CREATE VIEW v AS DELETE FROM t", "Expected a SELECT query", 1, 18),
        ("ATTACH 'x.db' AS x", "ATTACH is not allowed in a migration", 1, 1),
        ("CREATE TABLE main.t (a)", "Schema-qualified", 1, None),
        (
            "CREATE TABLE t (a INT PRIMARY KEY, b INT PRIMARY KEY)",
            "more than one primary key",
            1,
            None,
        ),
    ],
)
def test_bad_sql_is_an_error_naming_statement_line_and_column(sql, message, line, column):
    with pytest.raises(SQLParseError) as caught:
        parse(sql)
    error = caught.value
    assert message in str(error)
    assert "in statement:" in str(error)
    assert error.line == line
    if column is not None:
        assert error.column == column


def test_references_of_views_triggers_indexes_and_checks():
    columns = {"users": ["id", "email"], "orders": ["id", "user_id", "total"]}.get
    view = (
        "CREATE VIEW big AS SELECT u.email, o.total FROM users AS u"
        " JOIN orders o ON o.user_id = u.id WHERE total > 100"
    )
    assert references(view, columns_of=columns) == {
        ("users", None),
        ("orders", None),
        ("users", "email"),
        ("orders", "total"),
        ("orders", "user_id"),
        ("users", "id"),
    }
    trigger = (
        "CREATE TRIGGER t AFTER DELETE ON users BEGIN "
        "DELETE FROM orders WHERE user_id = old.id; END"
    )
    assert references(trigger, columns_of=columns) == {
        ("users", None),
        ("orders", None),
        ("orders", "user_id"),
        ("users", "id"),
    }
    index = "CREATE INDEX i ON orders (lower(total), user_id) WHERE total > 0"
    assert references(index) == {("orders", None), ("orders", "total"), ("orders", "user_id")}
    assert references("length(email) > 3", table="users") == {("users", "email")}
