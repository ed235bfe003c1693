"""Query shapes: a statement's SQL with its values taken out (cinchdb._query_shapes)."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cinchdb._query_shapes import CACHE_SIZE, operation_shape, shape_of

# (SQL, its shape's text, its kind)
CASES = [
    ("SELECT * FROM t WHERE id = 1", "SELECT * FROM t WHERE id = ?", "select"),
    ("select *\n  from t\twhere   id=2", "SELECT * FROM t WHERE id = ?", "select"),
    ("SELECT * FROM t WHERE name = 'O''Brien'", "SELECT * FROM t WHERE name = ?", "select"),
    ("SELECT * FROM t WHERE b = X'00ff'", "SELECT * FROM t WHERE b = ?", "select"),
    ("SELECT * FROM t WHERE b = x''", "SELECT * FROM t WHERE b = ?", "select"),
    ("SELECT * FROM t WHERE f = 1.5e-3", "SELECT * FROM t WHERE f = ?", "select"),
    ("SELECT * FROM t WHERE f = .5", "SELECT * FROM t WHERE f = ?", "select"),
    ("SELECT * FROM t WHERE h = 0x1F", "SELECT * FROM t WHERE h = ?", "select"),
    ("SELECT * FROM t WHERE n = -42", "SELECT * FROM t WHERE n = ?", "select"),
    ("SELECT a - 1 FROM t", "SELECT a - ? FROM t", "select"),
    ("SELECT * FROM t LIMIT 10 OFFSET 20", "SELECT * FROM t LIMIT ? OFFSET ?", "select"),
    ("SELECT * FROM t WHERE a = ? AND b = ?7", "SELECT * FROM t WHERE a = ? AND b = ?", "select"),
    (
        "SELECT * FROM t WHERE a = :a AND b = @b AND c = $c",
        "SELECT * FROM t WHERE a = ? AND b = ? AND c = ?",
        "select",
    ),
    ("SELECT * FROM t WHERE id IN (1)", "SELECT * FROM t WHERE id IN (?...)", "select"),
    ("SELECT * FROM t WHERE id IN (1, 2, 3)", "SELECT * FROM t WHERE id IN (?...)", "select"),
    ("SELECT * FROM t WHERE id in (?,?,?,?)", "SELECT * FROM t WHERE id IN (?...)", "select"),
    ("SELECT * FROM t WHERE s IN ('a', 'b')", "SELECT * FROM t WHERE s IN (?...)", "select"),
    (
        "SELECT * FROM t WHERE id IN (SELECT id FROM u WHERE x = 3)",
        "SELECT * FROM t WHERE id IN (SELECT id FROM u WHERE x = ?)",
        "select",
    ),
    ("SELECT count(*) FROM t -- trailing", "SELECT count(*) FROM t", "select"),
    ("SELECT /* why */ a FROM t", "SELECT a FROM t", "select"),
    ('SELECT "Mixed Case" FROM "My""T"', 'SELECT "Mixed Case" FROM "My""T"', "select"),
    ("SELECT [a b] FROM `t`", "SELECT [a b] FROM `t`", "select"),
    ("SELECT Name FROM Users", "SELECT Name FROM Users", "select"),
    ("INSERT INTO t (a, b) VALUES (1, 'x')", "INSERT INTO t(a, b) VALUES (?, ?)", "insert"),
    ("REPLACE INTO t VALUES (1)", "REPLACE INTO t VALUES (?)", "insert"),
    ("update t set a = 'z' where id = 9", "UPDATE t SET a = ? WHERE id = ?", "update"),
    ("DELETE FROM t WHERE id = 3", "DELETE FROM t WHERE id = ?", "delete"),
    ("WITH c AS (SELECT 1) SELECT * FROM c", "WITH c AS (SELECT ?) SELECT * FROM c", "select"),
    ("WITH c AS (SELECT 1) DELETE FROM t", "WITH c AS (SELECT ?) DELETE FROM t", "delete"),
    ("CREATE TABLE x (a TEXT)", "CREATE TABLE x(a TEXT)", "schema"),
    ("PRAGMA table_info(t)", "PRAGMA table_info(t)", "other"),
    ("", "", "other"),
]


@pytest.mark.parametrize(("sql", "text", "kind"), CASES)
def test_a_statement_normalizes_to_its_shape(sql: str, text: str, kind: str) -> None:
    shape = shape_of(sql)
    assert (shape.text, shape.kind) == (text, kind)
    assert re.fullmatch(r"[0-9a-f]{16}", shape.id)


def test_statements_differing_only_in_values_spacing_case_or_comments_are_one_shape() -> None:
    same = [
        "SELECT * FROM users WHERE id = 1 AND email = 'a@b.c'",
        "select * from users where id=2 and email='zed@example.org'",
        "SELECT *\n FROM users -- by id\n WHERE id = :id AND email = ?",
        "SELECT * /* hot */ FROM users WHERE id = -7 AND email = x'ab'",
    ]
    assert len({shape_of(sql) for sql in same}) == 1
    lists = [f"SELECT * FROM t WHERE id IN ({', '.join(['?'] * n)})" for n in range(1, 40)]
    assert len({shape_of(sql).id for sql in lists}) == 1
    # Identifiers are kept: another column or table is another shape.
    assert shape_of("SELECT * FROM users WHERE id = 1") != shape_of(
        "SELECT * FROM users WHERE x = 1"
    )


def test_an_unclosed_literal_or_comment_never_leaks_its_value() -> None:
    for sql in [
        "SELECT * FROM t WHERE a = 'hunter2",
        "SELECT * FROM t WHERE a = X'dead",
        "SELECT * FROM t /* hunter2",
        'SELECT * FROM t WHERE "hunter2',
    ]:
        assert "hunter2" not in shape_of(sql).text
        assert "dead" not in shape_of(sql).text


def test_operation_shapes_name_kv_and_schema_calls() -> None:
    shape = operation_shape("kv", "KV GET")
    assert (shape.text, shape.kind) == ("KV GET", "kv")
    assert shape.id == shape_of("KV GET").id  # one id per text, whatever made it
    assert CACHE_SIZE >= 1024


def _sql_literal(value: object) -> str:
    match value:
        case bool():
            return "1" if value else "0"
        case int() | float():
            return repr(value)
        case str():
            return "'" + value.replace("'", "''") + "'"
        case bytes():
            return "X'" + value.hex() + "'"
    raise AssertionError(value)


_values = st.one_of(
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(min_size=0, max_size=40),
    st.binary(max_size=20),
)
_TEMPLATES = [
    "SELECT * FROM users WHERE email = {0}",
    "select a, b from t where a > {0} and b <> {1} order by a limit 5",
    "INSERT INTO t (a, b) VALUES ({0}, {1})",
    "UPDATE t SET a = {0} WHERE b = {1} -- note",
    "DELETE FROM t WHERE a IN ({0}, {1}) OR a = {0}",
    "SELECT * FROM t WHERE a BETWEEN {0} AND {1}",
]


@settings(max_examples=300, deadline=None)
@given(
    template=st.sampled_from(_TEMPLATES),
    first=st.tuples(_values, _values),
    second=st.tuples(_values, _values),
)
def test_a_value_never_survives_normalization(
    template: str, first: tuple[object, object], second: tuple[object, object]
) -> None:
    """Two statements differing only in values are one shape, and no value is in its text."""
    a = shape_of(template.format(*map(_sql_literal, first)))
    b = shape_of(template.format(*map(_sql_literal, second)))
    assert a == b
    for value in first:
        literal = _sql_literal(value)
        assert literal not in a.text or literal in template
        if isinstance(value, str) and len(value) >= 3 and value not in template:
            assert value not in a.text
        big = isinstance(value, int | float) and math.isfinite(value) and abs(value) >= 1000
        if big and not isinstance(value, bool):
            assert str(abs(value)).split("e")[0] not in a.text
