"""``cinch data insert/update/delete`` (issue 16): typed values, tables with their own key,
a JSON array of rows, ``--where``; exit codes and exact messages."""

from __future__ import annotations

import json

import pytest


def ok(result):
    assert result.exit_code == 0, result.output
    return result


def error(result, line, code=1):
    assert result.exit_code == code, result.output
    assert result.stderr.splitlines()[-1] == line, result.stderr
    return result


def rows(cinch, sql):
    return json.loads(ok(cinch("query", sql, "--json")).stdout)


@pytest.fixture
def flags(cinch):
    ok(cinch("table", "create", "t", "name:TEXT", "flag:BOOLEAN", "n:INTEGER"))
    return cinch


def test_boolean_column_refuses_the_string_false(flags):
    # Before: exit 0, stored the text 'false' (read back as true; WHERE flag = 1 missed it).
    error(
        flags("data", "insert", "t", '{"flag": "false"}'),
        "Error: Column 'flag' of table 't' is BOOLEAN: it takes true or false (or 1 or 0),"
        ' not "false" (a string)',
    )
    error(
        flags("data", "insert", "t", '{"n": "old"}'),
        "Error: Column 'n' of table 't' is INTEGER: it takes whole numbers, not \"old\" (a string)",
    )
    assert rows(flags, "SELECT COUNT(*) AS c FROM t") == [{"c": 0}]
    ok(flags("data", "insert", "t", '{"flag": false, "n": 3}'))
    assert rows(flags, "SELECT flag, n FROM t WHERE flag = 0") == [{"flag": False, "n": 3}]


def test_insert_takes_a_json_array(flags):
    out = ok(flags("data", "insert", "t", '[{"name": "a"}, {"name": "b"}]', '{"name": "c"}',
                   "--json"))  # fmt: skip
    assert [r["name"] for r in json.loads(out.stdout)] == ["a", "b", "c"]
    error(
        flags("data", "insert", "t", '[{"name": "d"}, 5]'),
        "Error: Invalid value for 'ROWS...': expected a JSON object like '{\"name\": \"Ann\"}'"
        " or an array of them",
        code=2,
    )
    # All or none: one bad row in the array writes nothing.
    error(
        flags("data", "insert", "t", '[{"name": "d"}, {"n": 1.5}]'),
        "Error: Column 'n' of table 't' is INTEGER: it takes whole numbers, not 1.5 (a number)",
    )
    assert rows(flags, "SELECT COUNT(*) AS c FROM t") == [{"c": 3}]


def test_integer_key_from_the_command_line(cinch):
    # Before: insert failed with "datatype mismatch"; update/delete could not find row 1.
    ok(cinch("migrate", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
    out = ok(cinch("data", "insert", "notes", '{"body": "a"}', '{"body": "b"}', "--json"))
    assert [r["id"] for r in json.loads(out.stdout)] == [1, 2]
    out = ok(cinch("data", "update", "notes", "2", '{"body": "B"}', "--json"))
    assert json.loads(out.stdout) == {"id": 2, "body": "B"}
    error(
        cinch("data", "update", "notes", "two", '{"body": "x"}'),
        "Error: Column 'id' of table 'notes' is INTEGER: it takes whole numbers, not \"two\""
        " (a string)",
    )
    error(
        cinch("data", "update", "notes", "1", '{"id": 7}'),
        "Error: Table 'notes' (key: id): update cannot change key column 'id';"
        " leave it out of the data",
    )
    assert ok(cinch("data", "delete", "notes", "1")).stdout == "Deleted 1 record(s) from 'notes'\n"
    assert rows(cinch, "SELECT * FROM notes") == [{"id": 2, "body": "B"}]


def test_composite_key_from_the_command_line(cinch):
    ok(cinch("migrate", "CREATE TABLE m (team TEXT, person INTEGER, role TEXT,"
                        " PRIMARY KEY (team, person))"))  # fmt: skip
    ok(cinch("data", "insert", "m", '[{"team": "a", "person": 1}, {"team": "a", "person": 2}]'))
    ok(cinch("data", "update", "m", '["a", 2]', '{"role": "dev"}'))
    assert rows(cinch, "SELECT role FROM m WHERE person = 2") == [{"role": "dev"}]
    error(
        cinch("data", "update", "m", "a", '{"role": "x"}'),
        "Error: Invalid value for ID: not JSON: Expecting value: line 1 column 1 (char 0)",
        code=2,
    )
    error(
        cinch("data", "update", "m", '["a"]', '{"role": "x"}'),
        "Error: Invalid value for ID: table 'm' has a key of 2 columns (team, person): give it"
        ' as a JSON array like \'["...", "..."]\'',
        code=2,
    )
    ok(cinch("data", "delete", "m", '["a", 1]'))
    assert rows(cinch, "SELECT team, person FROM m") == [{"team": "a", "person": 2}]


def test_delete_where(flags):
    given = [
        {"name": "a", "flag": True, "n": 1},
        {"name": "b", "flag": False, "n": 1},
        {"name": "c", "flag": True, "n": 2},
    ]
    ok(flags("data", "insert", "t", json.dumps(given)))
    out = ok(flags("data", "delete", "t", "--where", "flag=true", "--where", "n=1"))
    assert out.stdout == "Deleted 1 record(s) from 't'\n"
    assert [r["name"] for r in rows(flags, "SELECT name FROM t ORDER BY name")] == ["b", "c"]
    error(
        flags("data", "delete", "t", "--where", "n=many"),
        "Error: Column 'n' of table 't' is INTEGER: it takes whole numbers, not \"many\""
        " (a string)",
    )
    error(
        flags("data", "delete", "t", "--where", "ghost=1"),
        "Error: Column 'ghost' does not exist in table 't'",
    )
    error(
        flags("data", "delete", "t", "--where", "n"),
        "Error: Invalid value for '--where': expected COLUMN=VALUE, not 'n'",
        code=2,
    )


def test_delete_needs_ids_or_where_not_both(flags):
    error(flags("data", "delete", "t"), "Error: Give the IDs to delete, or --where COLUMN=VALUE",
          code=2)  # fmt: skip
    error(flags("data", "delete", "t", "x", "--where", "n=1"),
          "Error: Give IDs or --where, not both", code=2)  # fmt: skip
