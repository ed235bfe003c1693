"""Issue 16: table output shows whole values (ids are what ``update`` and ``delete`` need),
and CSV writes a value the way JSON does, with a header even when there are no rows."""

from __future__ import annotations

import csv
import io
import json

import pytest

import cinchdb


def ok(result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def typed(cinch, project):
    """A table with a BOOLEAN, a nullable TEXT and a BLOB column, and two rows."""
    ok(cinch("table", "create", "t", "name:TEXT", "flag:BOOLEAN", "note:TEXT", "data:BLOB"))
    with cinchdb.connect(project_dir=project) as db:
        db.insert("t", [{"name": "a", "flag": True, "note": None, "data": b"\x00\xffhi"},
                        {"name": "b", "flag": False, "note": "x,y", "data": None}])  # fmt: skip
    return cinch


def test_table_output_shows_full_ids(typed):
    cinch = typed
    ids = [r["id"] for r in json.loads(ok(cinch("query", "SELECT id FROM t", "--json")))]
    shown = ok(cinch("query", "SELECT * FROM t"))
    for record_id in ids:
        assert record_id in shown
    stored = ok(cinch("data", "insert", "t", '{"name": "c", "note": "a long note to squeeze"}'))
    new_id = json.loads(ok(cinch("query", "SELECT id FROM t WHERE name = 'c'", "--json")))
    assert new_id[0]["id"] in stored
    assert "…" not in shown and "…" not in stored


def _as_csv_field(value: object) -> str:
    """What the documented CSV convention writes for a JSON value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def test_csv_writes_values_as_json_does(typed):
    cinch = typed
    sql = "SELECT name, flag, note, data FROM t ORDER BY name"
    as_json = json.loads(ok(cinch("query", sql, "--json")))
    as_csv = list(csv.DictReader(io.StringIO(ok(cinch("query", sql, "--format", "csv")))))
    assert as_json[0] == {"name": "a", "flag": True, "note": None, "data": "AP9oaQ=="}
    assert as_csv == [{k: _as_csv_field(v) for k, v in row.items()} for row in as_json]
    assert as_csv[0]["flag"] == "true" and as_csv[1]["flag"] == "false"


def test_csv_of_no_rows_has_the_header(typed):
    out = ok(typed("query", "SELECT name, flag FROM t WHERE 0", "--format", "csv"))
    assert out == "name,flag\n"
