"""lint on data steps: every one needs review (``data_step``), and an UPDATE or DELETE without a
WHERE of its own changes every row (``no_where`` as well); the statement's shape is read from
its tokens, SQLite forms sqlglot's parser refuses included."""

from __future__ import annotations

import pytest

from journal._dml_shape import DmlShape, dml_shape
from journal.diff import Finding, lint
from journal.events import DataMigrated


@pytest.mark.parametrize(
    ("sql", "shape"),
    [
        ("UPDATE users SET a = 1", DmlShape("UPDATE", "users", where=False)),
        ('DELETE FROM "my users" WHERE x = 1', DmlShape("DELETE", "my users", where=True)),
        ("INSERT INTO plans (name) VALUES ('free')", DmlShape("INSERT", "plans", where=False)),
        # A WHERE inside a leading WITH, a subquery or a CASE is not the statement's own.
        ("WITH x AS (SELECT 1 WHERE 1) UPDATE t SET a = 1", DmlShape("UPDATE", "t", False)),
        ("UPDATE t SET a = (SELECT max(x) FROM u WHERE u.y = t.y)", DmlShape("UPDATE", "t", False)),
        ("WITH x AS (SELECT 1) DELETE FROM t", DmlShape("DELETE", "t", where=False)),
        # sqlglot's parser refuses these SQLite forms; the tokens read them.
        ("UPDATE OR IGNORE t SET a = 1 WHERE b IN (SELECT 1)", DmlShape("UPDATE", "t", True)),
        ("insert or replace into [x y] values (1)", DmlShape("INSERT", "x y", where=False)),
        ("update `t` set a = case when b then 1 end", DmlShape("UPDATE", "t", where=False)),
        ("SELECT 1", None),
    ],
)
def test_the_shape_of_a_statement(sql, shape):
    assert dml_shape(sql) == shape


def test_every_data_step_needs_review_and_one_without_where_says_it_changes_every_row():
    found = lint(
        [
            DataMigrated(sql="UPDATE users SET full_name = first || ' ' || last"),
            DataMigrated(sql="DELETE FROM sessions WHERE expires_at < '2026-01-01'"),
            DataMigrated(sql="INSERT INTO plans (name) VALUES ('free'), ('pro')"),
        ]
    )
    assert found == [
        Finding(
            "data_step",
            "users",
            "UPDATE changes rows of 'users' in every tenant: review it"
            " (UPDATE users SET full_name = first || ' ' || last)",
        ),
        Finding(
            "no_where", "users", "UPDATE without WHERE changes every row of 'users' in every tenant"
        ),
        Finding(
            "data_step",
            "sessions",
            "DELETE changes rows of 'sessions' in every tenant: review it"
            " (DELETE FROM sessions WHERE expires_at < '2026-01-01')",
        ),
        Finding(
            "data_step",
            "plans",
            "INSERT changes rows of 'plans' in every tenant: review it"
            " (INSERT INTO plans (name) VALUES ('free'), ('pro'))",
        ),
    ]


def test_a_long_statement_is_cut_to_one_line_in_the_message():
    sql = "DELETE FROM t\nWHERE " + " OR ".join(f"x = {n}" for n in range(20))
    [finding] = lint([DataMigrated(sql=sql)])
    assert finding.message == (
        "DELETE changes rows of 't' in every tenant: review it"
        " (DELETE FROM t WHERE x = 0 OR x = 1 OR x = 2 OR x = 3 OR x...)"
    )
