"""Changing one column of a fully constrained table keeps every other constraint working."""

from __future__ import annotations

import sqlite3

import pytest

from journal import Schema, apply_operations, introspect, parse, statements
from journal.fold import apply

SETUP = """
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE orders (
  region TEXT NOT NULL,
  number INTEGER NOT NULL,
  code TEXT UNIQUE,
  customer_id INTEGER REFERENCES customers (id) ON DELETE CASCADE,
  amount REAL CHECK (amount >= 0),
  note TEXT DEFAULT 'none',
  legacy TEXT,
  legacy_code TEXT UNIQUE,
  checked INTEGER CHECK (checked > 0),
  PRIMARY KEY (region, number)
);
CREATE INDEX orders_by_customer ON orders (customer_id);
CREATE INDEX orders_big ON orders (amount) WHERE amount > 100;
CREATE TABLE audit (what TEXT);
CREATE TRIGGER orders_audit AFTER INSERT ON orders BEGIN
  INSERT INTO audit (what) VALUES (new.code);
END;
CREATE VIEW big_orders AS SELECT region, number, amount FROM orders WHERE amount > 100;
"""

CHANGES = {
    "drop plain column (native)": "ALTER TABLE orders DROP COLUMN legacy",
    "drop unique column (rebuild)": "ALTER TABLE orders DROP COLUMN legacy_code",
    "alter column type (rebuild)": "ALTER TABLE orders ALTER COLUMN note SET DATA TYPE VARCHAR(9)",
    "add unique column (rebuild)": "ALTER TABLE orders ADD COLUMN ref TEXT UNIQUE",
    "drop column with its own CHECK (rebuild)": "ALTER TABLE orders DROP COLUMN checked",
}


@pytest.fixture
def db(tmp_path):
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    schema = apply_operations(conn, Schema(), parse(SETUP))
    conn.execute("INSERT INTO customers (id, name) VALUES (1, 'ann'), (2, 'bob')")
    conn.execute(
        "INSERT INTO orders (region, number, code, customer_id, amount, legacy, legacy_code)"
        " VALUES ('eu', 1, 'A', 1, 50, 'x', 'L1'), ('eu', 2, 'B', 2, 500, 'y', 'L2'),"
        " ('us', 1, 'C', 1, 150, 'z', 'L3')"
    )
    yield conn, schema
    conn.close()


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_every_constraint_index_trigger_and_view_survives(db, change):
    conn, schema = db
    (operation,) = parse(change)
    after = apply(schema, operation)
    uses_rebuild = any("__cinch_rebuild_" in s for s in statements(schema, operation, after))
    assert uses_rebuild == ("rebuild" in next(k for k, v in CHANGES.items() if v == change))

    schema = apply_operations(conn, schema, [operation])
    assert introspect(conn).canonical() == schema.canonical()

    # Rows kept.
    rows = conn.execute("SELECT region, number, code, amount FROM orders ORDER BY code").fetchall()
    assert rows == [("eu", 1, "A", 50.0), ("eu", 2, "B", 500.0), ("us", 1, "C", 150.0)]
    # Composite primary key still refuses duplicates.
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        conn.execute("INSERT INTO orders (region, number, code) VALUES ('eu', 1, 'Z')")
    # UNIQUE column still unique.
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        conn.execute("INSERT INTO orders (region, number, code) VALUES ('eu', 9, 'A')")
    # Foreign key still enforced, and its ON DELETE action still runs.
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        conn.execute("INSERT INTO orders (region, number, customer_id) VALUES ('eu', 9, 99)")
    # CHECK still enforced.
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        conn.execute("INSERT INTO orders (region, number, amount) VALUES ('eu', 9, -1)")
    # NOT NULL still enforced.
    with pytest.raises(sqlite3.IntegrityError, match="NOT NULL"):
        conn.execute("INSERT INTO orders (number) VALUES (9)")
    # Both indexes exist and the planner uses them.
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'index'")}
    assert {"orders_by_customer", "orders_big"} <= names
    # INDEXED BY fails unless the named index exists and can serve the query.
    by_customer = "SELECT code FROM orders INDEXED BY orders_by_customer WHERE customer_id = 1"
    assert len(conn.execute(by_customer).fetchall()) == 2
    big = "SELECT code FROM orders INDEXED BY orders_big WHERE amount > 100 AND amount > 200"
    assert conn.execute(big).fetchall() == [("B",)]
    # The trigger still fires, and copying rows during a rebuild did not fire it again.
    conn.execute("INSERT INTO orders (region, number, code, customer_id) VALUES ('us', 2, 'D', 2)")
    audit = conn.execute("SELECT what FROM audit ORDER BY rowid").fetchall()
    assert audit == [("A",), ("B",), ("C",), ("D",)]
    # The view still works.
    assert conn.execute("SELECT number FROM big_orders ORDER BY number").fetchall() == [(1,), (2,)]
    # The cascade still runs.
    conn.execute("DELETE FROM customers WHERE id = 2")
    assert conn.execute("SELECT count(*) FROM orders WHERE customer_id = 2").fetchone() == (0,)


def test_a_change_that_existing_rows_violate_leaves_the_file_untouched(db):
    conn, schema = db
    from journal import ReplayError

    before = conn.execute("SELECT sql FROM sqlite_schema ORDER BY name").fetchall()
    (operation,) = parse("ALTER TABLE orders ALTER COLUMN legacy SET NOT NULL")
    conn.execute("UPDATE orders SET legacy = NULL WHERE code = 'A'")
    with pytest.raises(ReplayError, match="NOT NULL"):
        apply_operations(conn, schema, [operation])
    assert conn.execute("SELECT sql FROM sqlite_schema ORDER BY name").fetchall() == before
    assert conn.execute("SELECT count(*) FROM orders").fetchone() == (3,)
    assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)


def test_autoincrement_high_water_mark_survives_a_rebuild(tmp_path):
    conn = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    schema = apply_operations(
        conn, Schema(), parse("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)")
    )
    conn.execute("INSERT INTO t (v) VALUES ('a'), ('b'), ('c')")
    conn.execute("DELETE FROM t WHERE id = 3")
    schema = apply_operations(conn, schema, parse("ALTER TABLE t ALTER COLUMN v SET NOT NULL"))
    conn.execute("INSERT INTO t (v) VALUES ('d')")
    assert conn.execute("SELECT max(id) FROM t").fetchone() == (4,)


def test_dropping_what_a_view_or_trigger_uses_is_refused_naming_them(db):
    _conn, schema = db
    from journal import DependencyError

    with pytest.raises(DependencyError) as caught:
        apply(schema, parse("ALTER TABLE orders DROP COLUMN amount")[0])
    assert caught.value.dependents == (("view", "big_orders"), ("index", "orders_big"))
    with pytest.raises(DependencyError, match="trigger 'orders_audit'"):
        apply(schema, parse("DROP TABLE audit")[0])
    with pytest.raises(DependencyError, match="foreign key of table 'orders'"):
        apply(schema, parse("DROP TABLE customers")[0])
