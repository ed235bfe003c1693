"""The error mapping: CinchDB's errors and SQLite's become one ``Error:`` line and the class's
exit code; anything else is a bug and keeps its traceback."""

from __future__ import annotations

import sqlite3

import click
import pytest
from click.testing import CliRunner

from cinchdb.cli._app import CinchGroup
from cinchdb.errors import CinchError, MergeConflictError, ProtectedError


def _group_raising(error: BaseException) -> click.Group:
    """A root group of the real class with one command that raises ``error``."""

    @click.group(cls=CinchGroup)
    @click.option("--traceback", is_flag=True)
    def root(traceback: bool) -> None:
        pass

    @root.command("boom")
    def boom() -> None:
        raise error

    return root


@pytest.mark.parametrize(
    "error", [ValueError("bug"), LookupError("bug"), OSError("bug"), TypeError("bug")]
)
def test_a_programming_error_shows_its_traceback(error):
    result = CliRunner().invoke(_group_raising(error), ["boom"])
    assert result.exception is error
    assert "Error:" not in result.output


@pytest.mark.parametrize(
    "error, code",
    [
        (ProtectedError("branch", "main", "deleted"), 1),
        (MergeConflictError([]), 3),
        (sqlite3.OperationalError('near "SELEC": syntax error'), 1),
    ],
)
def test_cinch_and_driver_errors_are_one_line_and_the_class_exit_code(error, code):
    result = CliRunner().invoke(_group_raising(error), ["boom"])
    assert result.exit_code == code
    assert result.stderr.splitlines()[0] == f"Error: {str(error).strip()}"
    assert code == getattr(error, "exit_code", 1)


def test_traceback_flag_re_raises_a_cinch_error():
    error = ProtectedError("branch", "main", "deleted")
    result = CliRunner().invoke(_group_raising(error), ["--traceback", "boom"])
    assert result.exception is error
    assert isinstance(error, CinchError)


def test_a_conflicting_merge_exits_3(cinch):
    for args in (
        ("table", "create", "users", "name:TEXT"),
        ("branch", "create", "feature"),
        ("column", "add", "users", "email:TEXT"),
        ("branch", "switch", "main"),
        ("column", "add", "users", "email:INTEGER"),
    ):
        assert cinch(*args).exit_code == 0, args
    result = cinch("merge", "feature", "--into", "main")
    assert result.exit_code == MergeConflictError.exit_code == 3
    assert result.stderr.startswith("Error: 1 conflict(s) merging 'feature' into 'main'")


def test_an_unreadable_migration_file_is_a_usage_error(cinch, tmp_path):
    binary = tmp_path / "binary.sql"
    binary.write_bytes(b"\xff\xfe\x00")
    result = cinch("migrate", "-f", str(binary))
    assert result.exit_code == 2
    assert "Invalid value for '-f' / '--file': cannot read" in result.stderr


def test_file_errors_from_the_sdk_are_cinch_errors(cinch, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    result = cinch("codegen", "generate", "python", str(a_file / "out"))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: Cannot write generated code to {a_file / 'out'}:")
    result = cinch("init", str(a_file / "project"))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: Cannot create a CinchDB project in {a_file}")


def test_a_repeated_column_is_an_error_line(cinch):
    result = cinch("table", "create", "users", "name:TEXT", "NAME:TEXT")
    assert result.exit_code == 1
    assert result.stderr == "Error: Column 'NAME' already exists in table 'users'\n"
