"""No pydantic or SQLite internals reach a user: validation errors are one clear line naming
the field, and a failed precheck names the user's table, not CinchDB's scratch table."""

from __future__ import annotations

import pytest

import cinchdb
from cinchdb.errors import CinchError
from cinchdb.models import Column, ForeignKey, Index
from journal.names import NAME_RULE

INTERNALS = ("pydantic", "https://", "__cinch", "validation error", "[type=", "sqlglot")


def _clean(text: str) -> None:
    for word in INTERNALS:
        assert word not in text, text


def test_duplicate_column_is_one_line(cinch):
    result = cinch("table", "create", "t", "x:TEXT", "x:INTEGER")
    assert result.exit_code == 1
    assert result.output == "Error: Column 'x' already exists in table 't'\n"


def test_alter_with_no_change_is_a_usage_error(cinch):
    assert cinch("table", "create", "users", "name:TEXT").exit_code == 0
    result = cinch("column", "alter", "users", "name")
    assert result.exit_code == 2, result.output
    _clean(result.output)
    assert result.output.endswith(
        "Error: give at least one of --type, --nullable/--not-null, --default, --drop-default\n"
    )


def test_failed_precheck_names_the_users_table(cinch):
    assert cinch("table", "create", "p", "a:TEXT").exit_code == 0
    assert cinch("data", "insert", "p", '{"a": null}').exit_code == 0
    result = cinch("column", "alter", "p", "a", "--not-null")
    assert result.exit_code == 1
    assert result.output == (
        "Error: The change would fail on existing data: tenant 'main':"
        " NOT NULL constraint failed: p.a\n"
    )


def test_cli_table_create_refuses_a_name_outside_the_rule(cinch):
    result = cinch("table", "create", "bad name", "a:TEXT")
    assert result.exit_code == 1, result.output
    assert result.output == f"Error: Invalid table name 'bad name': use {NAME_RULE}\n"


@pytest.fixture
def db(tmp_path):
    with cinchdb.connect(project_dir=cinchdb.init(tmp_path / "p")) as handle:
        handle.create_table("users", [Column(name="name")])
        yield handle


SDK_CASES = {
    "Column(type)": (lambda db: Column(name="x", type="WHAT"), "type"),
    "Column(name='')": (lambda db: Column(name=""), "name"),
    "Column(name=5)": (lambda db: Column(name=5), "name"),
    "Column(unknown field)": (lambda db: Column(name="x", nullabel=True), "nullabel"),
    "Column(default)": (lambda db: Column(name="x", default=[1]), "default"),
    "Column()": (lambda db: Column(), "name"),
    "ForeignKey(on_delete)": (lambda db: ForeignKey(table="t", on_delete="BOOM"), "on_delete"),
    "Index(columns)": (lambda db: Index(columns="a"), "columns"),
    "rename_table": (lambda db: db.rename_table("users", ""), "table"),
    "drop_table": (lambda db: db.drop_table(5), "table"),
    "rename_column": (lambda db: db.rename_column("users", "name", ""), "column"),
    "drop_column": (lambda db: db.drop_column("users", ""), "column"),
    "alter_column(no change)": (lambda db: db.alter_column("users", "name"), "alter_column"),
    "alter_column(type)": (lambda db: db.alter_column("users", "name", type="WHAT"), "type"),
    "create_index(where)": (
        lambda db: db.create_index("ix", "users", ["name"], where=5),
        "where",
    ),
    "drop_index": (lambda db: db.drop_index(""), "index"),
    "drop_view": (lambda db: db.drop_view(""), "view"),
    "create_view": (lambda db: db.create_view("", "SELECT 1"), "view"),
    "Column(check)": (
        lambda db: db.add_column("users", Column(name="a", check="a >")),
        "expression is incomplete",
    ),
}


@pytest.mark.parametrize("case", SDK_CASES.values(), ids=SDK_CASES.keys())
def test_sdk_entry_points_raise_clean_errors(db, case):
    call, field = case
    with pytest.raises(CinchError) as excinfo:
        call(db)
    assert isinstance(excinfo.value, ValueError)
    message = str(excinfo.value)
    _clean(message)
    assert "\n" not in message
    assert field in message
