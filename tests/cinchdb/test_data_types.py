"""Typed values (issue 16): a value must fit its column's type on insert, update and
insert_many; nothing is written when one does not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cinchdb._values import kind_of
from cinchdb.errors import ConstraintError, MissingValueError, ValueTypeError
from cinchdb.models import Column, affinity_type

pytestmark = pytest.mark.handles("local", "remote")


@pytest.fixture
def typed(db):
    db.create_table(
        "t",
        [
            Column(name="name", type="TEXT", nullable=False),
            Column(name="flag", type="BOOLEAN"),
            Column(name="n", type="INTEGER"),
            Column(name="x", type="REAL"),
            Column(name="amount", type="NUMERIC"),
            Column(name="data", type="BLOB"),
        ],
    )
    return db


def count(db, table="t"):
    return db.query(f"SELECT COUNT(*) AS c FROM {table}")[0]["c"]


def test_boolean_refuses_the_text_false(typed):
    # Before: stored the text 'false', which read back as True and did not match flag = 1.
    with pytest.raises(ValueTypeError) as caught:
        typed.insert("t", {"name": "a", "flag": "false"})
    error = caught.value
    assert str(error) == (
        "Column 'flag' of table 't' is BOOLEAN: it takes True or False (or 1 or 0),"
        " not 'false' (str)"
    )
    assert (error.table, error.column, error.value, error.type) == ("t", "flag", "false", "BOOLEAN")
    assert isinstance(error, ValueError)
    assert count(typed) == 0


def test_integer_refuses_text(typed):
    with pytest.raises(ValueTypeError, match=r"Column 'n' of table 't' is INTEGER: .*'old'"):
        typed.insert("t", {"name": "a", "n": "old"})
    assert count(typed) == 0


@pytest.mark.parametrize(
    ("column", "good", "bad"),
    [
        ("flag", [True, False, 0, 1, None], ["true", 2, 1.0, b"1"]),
        ("n", [0, -5, 2**62, True, None], ["1", 1.5, b"x"]),
        ("x", [1, 2.5, None], ["1.5", True, b"x"]),
        ("amount", [1, 2.5, None], ["12.50", b"x"]),
        ("name", ["", "ünï"], [1, b"a", None]),
        ("data", [b"x", bytearray(b"y"), memoryview(b"z"), None], ["x", 1]),
    ],
)
def test_each_type_takes_its_values_and_nothing_else(typed, column, good, bad):
    base = {"name": "a"}
    for value in good:
        row = typed.insert("t", {**base, column: value})
        assert row[column] is None if value is None else row[column] == value
    stored = count(typed)
    for value in bad:
        with pytest.raises((ValueTypeError, MissingValueError)):
            typed.insert("t", {**base, column: value})
        with pytest.raises((ValueTypeError, MissingValueError)):
            typed.insert("t", [{**base}, {**base, column: value}])
    assert count(typed) == stored


@pytest.mark.local_only("float('inf') has no JSON form, so it cannot cross the wire")
def test_real_takes_infinity(typed):
    assert typed.insert("t", {"name": "a", "x": float("inf")})["x"] == float("inf")


def test_a_bad_row_in_a_batch_writes_nothing(typed):
    rows = [{"name": f"r{i}", "n": i} for i in range(600)] + [{"name": "bad", "n": "x"}]
    with pytest.raises(ValueTypeError):
        typed.insert("t", rows)
    assert count(typed) == 0


def test_update_checks_values(typed):
    row = typed.insert("t", {"name": "a", "flag": True})
    with pytest.raises(ValueTypeError, match="'flag'"):
        typed.update("t", row["id"], {"flag": "false"})
    with pytest.raises(MissingValueError, match="Column 'name' of table 't' cannot be None"):
        typed.update("t", row["id"], {"name": None})
    assert typed.query("SELECT flag, n, name FROM t") == [{"flag": True, "n": None, "name": "a"}]


@pytest.mark.local_only("update_where has no endpoint in cinchdb/api.py")
def test_update_where_checks_values(typed):
    typed.insert("t", {"name": "a", "flag": True})
    with pytest.raises(ValueTypeError, match="'n'"):
        typed.update_where("t", {"n": "old"}, name="a")
    assert typed.query("SELECT n FROM t") == [{"n": None}]


def test_not_null_without_a_value_names_the_column(typed):
    with pytest.raises(MissingValueError) as caught:
        typed.insert("t", {"flag": True})
    assert str(caught.value) == "Column 'name' of table 't' needs a value (it is NOT NULL)"
    # Still a NOT NULL ConstraintError for code that catches that.
    assert isinstance(caught.value, ConstraintError) and caught.value.kind == "NOT NULL"
    with pytest.raises(MissingValueError, match="cannot be None"):
        typed.insert("t", {"name": None})


def test_migrate_types_check_by_affinity(db):
    db.migrate(
        "CREATE TABLE m (id INTEGER PRIMARY KEY, title VARCHAR(255), seen DATETIME,"
        " score DOUBLE, anything, n BIGINT NOT NULL DEFAULT 0)"
    )
    seen = "2026-01-01T00:00:00Z"
    row = db.insert("m", {"title": "a", "seen": seen, "score": 1, "anything": "x"})
    assert row["id"] == 1 and row["n"] == 0
    db.insert("m", {"anything": b"raw", "seen": 1767225600})
    with pytest.raises(ValueTypeError, match=r"is VARCHAR\(255\) \(TEXT\): it takes text"):
        db.insert("m", {"title": 5})
    with pytest.raises(ValueTypeError, match=r"is BIGINT \(INTEGER\)"):
        db.insert("m", {"n": "many"})
    with pytest.raises(MissingValueError, match="'n'"):
        db.insert("m", {"n": None})
    assert count(db, "m") == 2


@pytest.mark.parametrize(
    "declared",
    ["TEXT", "int", "VARCHAR(20)", "BIGINT", "DOUBLE PRECISION", "FLOAT", "BLOB", "NUMERIC",
     "DECIMAL(10,2)", "BOOLEAN", "bool", "CLOB", "string", "DATETIME"],
)  # fmt: skip
def test_kinds_agree_with_the_models_affinity(declared):
    assert kind_of(declared) == affinity_type(declared)


# -- insert_many ---------------------------------------------------------------------------


def test_insert_many_streams_rows_in_one_transaction(typed):
    rows = ({"name": f"r{i}", "flag": i % 2 == 0, "n": i} for i in range(10_000))
    assert typed.insert_many("t", rows) == 10_000
    assert count(typed) == 10_000
    assert typed.query("SELECT COUNT(*) AS c FROM t WHERE flag = 1")[0]["c"] == 5_000
    ids = typed.query("SELECT COUNT(DISTINCT id) AS c, MIN(created_at) AS at FROM t")[0]
    assert ids["c"] == 10_000 and ids["at"]
    assert typed.insert_many("t", iter([])) == 0


def test_insert_many_mixed_keys(typed):
    rows = [{"name": "a"}, {"name": "b", "n": 2}, {"n": 3, "name": "c"}, {"name": "d"}]
    assert typed.insert_many("t", rows) == 4
    assert typed.query("SELECT name, n FROM t ORDER BY name") == [
        {"name": "a", "n": None},
        {"name": "b", "n": 2},
        {"name": "c", "n": 3},
        {"name": "d", "n": None},
    ]


@pytest.mark.local_only(
    "row_index: a remote insert_many is one insert request, whose errors do not carry it"
)
@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ({"name": "x", "flag": "false"}, ValueTypeError),
        ({"name": "x", "n": "old"}, ValueTypeError),
        ({"flag": True}, MissingValueError),
        ({"name": None}, MissingValueError),
        ({"name": "x", "ghost": 1}, ValueError),
        (["not", "a", "dict"], ValueError),
    ],
)
def test_insert_many_failing_row_carries_its_index(typed, bad, error):
    def rows():
        for i in range(9_000):
            yield {"name": f"r{i}"}
        yield bad
        yield {"name": "after"}

    with pytest.raises(error) as caught:
        typed.insert_many("t", rows())
    assert caught.value.row_index == 9_000
    assert count(typed) == 0


@pytest.mark.local_only(
    "row_index: a remote insert_many is one insert request, whose errors do not carry it"
)
def test_insert_many_constraint_failure_carries_its_index(db):
    db.create_table("u", [Column(name="email", type="TEXT", unique=True)])
    rows = [{"email": f"e{i}"} for i in range(5_000)] + [{"email": "e17"}]
    with pytest.raises(ConstraintError, match="UNIQUE") as caught:
        db.insert_many("u", rows)
    assert caught.value.row_index == 5_000
    assert count(db, "u") == 0


@pytest.mark.local_only(
    "row_index: a remote insert_many is one insert request, whose errors do not carry it"
)
def test_insert_many_with_a_trigger_still_names_the_row(db):
    db.migrate(
        "CREATE TABLE a (k INTEGER PRIMARY KEY, v TEXT UNIQUE);"
        " CREATE TABLE audit (k INTEGER);"
        " CREATE TRIGGER a_log AFTER INSERT ON a BEGIN INSERT INTO audit VALUES (NEW.k); END;"
    )
    with pytest.raises(ConstraintError) as caught:
        db.insert_many("a", [{"v": "x"}, {"v": "y"}, {"v": "x"}])
    assert caught.value.row_index == 2
    assert count(db, "a") == 0 and count(db, "audit") == 0
    assert db.insert_many("a", [{"v": "x"}, {"v": "y"}]) == 2
    assert db.query("SELECT k FROM audit ORDER BY k") == [{"k": 1}, {"k": 2}]


@pytest.mark.local_only(
    "row_index: a remote insert_many is one insert request, whose errors do not carry it"
)
def test_insert_many_counts_rows_an_on_conflict_clause_left_out(db):
    db.migrate("CREATE TABLE tags (name TEXT UNIQUE ON CONFLICT IGNORE, n INTEGER CHECK (n > 0))")
    assert db.insert_many("tags", [{"name": "a", "n": 1}, {"name": "a", "n": 2}]) == 1
    rows = [{"name": "b", "n": 1}, {"name": "b", "n": 1}, {"name": "c", "n": -1}]
    with pytest.raises(ConstraintError, match="CHECK") as caught:
        db.insert_many("tags", rows)
    assert caught.value.row_index == 2
    assert db.query("SELECT name, n FROM tags") == [{"name": "a", "n": 1}]


# -- docs/sdk.md's examples ----------------------------------------------------------------

SDK_DOC = Path(__file__).resolve().parent.parent.parent / "docs" / "sdk.md"


def doc_examples() -> list[tuple[str, str]]:
    """Each python block of the sections this issue added, with the output block after it."""
    text = SDK_DOC.read_text()
    sections = re.split(r"\n### ", text)
    wanted = [s for s in sections if s.startswith(("Typed values", "Tables with their own key",
                                                   "Loading many rows"))]  # fmt: skip
    pairs = []
    for section in wanted:
        pairs += re.findall(r"```python\n(.*?)```\n\nprints\n\n```\n(.*?)```", section, re.DOTALL)
    return pairs


def test_sdk_doc_examples_run_and_print_what_the_doc_says(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CINCHDB_PROJECT_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    examples = doc_examples()
    assert len(examples) == 3
    for code, expected in examples:
        exec(compile(code, str(SDK_DOC), "exec"), {"__name__": "sdk_doc"})
        assert capsys.readouterr().out == expected
