"""``cinch data import`` and ``cinch data export``: exit codes and exact messages."""

from __future__ import annotations

import json

import pytest

USERS = ["table", "create", "users", "name:TEXT", "age:INTEGER", "active:BOOLEAN"]


@pytest.fixture
def users(cinch, project):
    result = cinch(*USERS)
    assert result.exit_code == 0, result.output
    return cinch


def names(cinch) -> list[list[object]]:
    result = cinch("query", "SELECT name, age, active FROM users ORDER BY rowid", "--json")
    assert result.exit_code == 0, result.output
    return [[r["name"], r["age"], r["active"]] for r in json.loads(result.stdout)]


def test_import_a_csv_file(users, project):
    (project / "users.csv").write_text("name,age,active\nAnn,31,true\nBob,,false\n")
    result = users("data", "import", "users", "users.csv")
    assert (result.exit_code, result.stdout) == (0, "Imported 2 row(s) into 'users'\n")
    assert names(users) == [["Ann", 31, True], ["Bob", None, False]]


def test_import_json_with_json_output(users, project):
    (project / "users.json").write_text('[{"name": "Ann", "age": 31}]')
    result = users("data", "import", "users", "users.json", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"imported": 1, "table": "users"}


def test_import_from_stdin_is_sniffed_or_told(users):
    result = users("data", "import", "users", "-", input='{"name": "Ann", "active": true}\n')
    assert (result.exit_code, result.stdout) == (0, "Imported 1 row(s) into 'users'\n")
    result = users("data", "import", "users", "-", "--format", "csv", input="name\nBob\n")
    assert (result.exit_code, result.stdout) == (0, "Imported 1 row(s) into 'users'\n")
    assert names(users) == [["Ann", None, True], ["Bob", None, None]]


def test_a_bad_row_is_an_error_naming_its_line_and_nothing_is_imported(users, project):
    (project / "users.csv").write_text("name,age\nAnn,31\nBob,old\n")
    result = users("data", "import", "users", "users.csv")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: users.csv line 3, column 'age': 'old' is not an integer; nothing was imported\n"
    )
    (project / "users.ndjson").write_text('{"name": "Ann"}\n{"name": 5}\n')
    result = users("data", "import", "users", "users.ndjson")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: users.ndjson line 2: Column 'name' of table 'users' is TEXT: it takes text"
        " (str), not 5 (int); nothing was imported\n"
    )
    assert names(users) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["users.txt"],
            "Error: Cannot tell the format of 'users.txt' from its extension; give --format"
            " csv|json|ndjson",
        ),
        (["nope.csv"], "Error: Invalid value for FILE: file 'nope.csv' does not exist"),
        (["users.txt", "--format", "xml"], "Error: Invalid value for '--format': 'xml' is not"),
    ],
)
def test_import_usage_errors(users, project, args, message):
    (project / "users.txt").write_text("name\nAnn\n")
    result = users("data", "import", "users", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_import_into_a_missing_table(users, project):
    (project / "rows.csv").write_text("name\nAnn\n")
    result = users("data", "import", "nope", "rows.csv")
    assert (result.exit_code, result.stderr) == (1, "Error: Table 'nope' does not exist\n")


@pytest.fixture
def filled(users):
    rows = ['{"name": "Ann, \\"A\\"", "age": 31, "active": true}', '{"name": "Bob"}']
    result = users("data", "insert", "users", *rows)
    assert result.exit_code == 0, result.output
    return users


def test_export_a_query_to_stdout_in_each_format(filled):
    sql = "SELECT name, age, active FROM users ORDER BY rowid"
    result = filled("data", "export", "--query", sql)
    assert (result.exit_code, result.stdout) == (
        0,
        'name,age,active\n"Ann, ""A""",31,true\nBob,,\n',
    )
    result = filled("data", "export", "--query", sql, "--format", "ndjson")
    assert result.stdout == (
        '{"name": "Ann, \\"A\\"", "age": 31, "active": true}\n'
        '{"name": "Bob", "age": null, "active": null}\n'
    )
    result = filled("data", "export", "--query", sql, "--format", "json")
    assert json.loads(result.stdout) == [
        {"name": 'Ann, "A"', "age": 31, "active": True},
        {"name": "Bob", "age": None, "active": None},
    ]
    result = filled("data", "export", "--query", "SELECT name FROM users WHERE age > ?",
                    "--param", "30")  # fmt: skip
    assert (result.exit_code, result.stdout) == (0, 'name\n"Ann, ""A"""\n')


def test_export_to_a_file_then_import_it_back(filled, project):
    for fmt in ("csv", "json", "ndjson"):
        result = filled("data", "export", "users", "-o", f"users.{fmt}")
        assert (result.exit_code, result.stderr) == (0, f"Exported 2 row(s) to users.{fmt}\n")
        assert result.stdout == ""
    before = filled("data", "export", "users", "--format", "ndjson").stdout
    for fmt in ("csv", "json", "ndjson"):
        assert filled("table", "create", f"copy_{fmt}", *USERS[3:]).exit_code == 0
        result = filled("data", "import", f"copy_{fmt}", f"users.{fmt}")
        assert (result.exit_code, result.stdout) == (
            0,
            f"Imported 2 row(s) into 'copy_{fmt}'\n",
        )
        assert filled("data", "export", f"copy_{fmt}", "--format", "ndjson").stdout == before


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ([], 2, "Error: Give TABLE or --query SQL (one of them)\n"),
        (["users", "--query", "SELECT 1"], 2, "Error: Give TABLE or --query SQL (one of them)\n"),
        (["users", "--param", "1"], 2, "Error: --param goes with --query\n"),
        (
            ["--query", "DELETE FROM users"],
            1,
            "Error: --query only runs reads (SELECT, WITH ... SELECT, EXPLAIN, VALUES); refused"
            " DELETE\n",
        ),
        (["nope"], 1, "Error: Table 'nope' does not exist\n"),
    ],
)
def test_export_errors(filled, args, code, message):
    result = filled("data", "export", *args)
    assert result.exit_code == code
    assert result.stderr.endswith(message), result.stderr
    assert len(names(filled)) == 2


def test_export_into_a_missing_directory_is_a_usage_error(filled):
    result = filled("data", "export", "users", "-o", "nowhere/users.csv")
    assert result.exit_code == 2
    assert "Error: Invalid value for '--output': directory 'nowhere' does not exist" in (
        result.stderr
    )


def test_export_json_flag_is_format_json(users):
    """--json on export is --format json, as on `cinch query`; with another --format it is a
    usage error."""
    assert users("data", "insert", "users", '{"name": "Ann"}').exit_code == 0
    out = users("data", "export", "users", "--json")
    assert out.exit_code == 0, out.output
    assert [row["name"] for row in json.loads(out.stdout)] == ["Ann"]
    bad = users("data", "export", "users", "--json", "--format", "csv")
    assert bad.exit_code == 2
    assert bad.stderr.splitlines()[-1] == "Error: --json means --format json, not --format csv"
