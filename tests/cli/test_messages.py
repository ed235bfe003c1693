"""Issue 16: the CLI speaks CLI, and wrong things are errors. Each case asserts the exit code
and the exact message a newcomer sees."""

from __future__ import annotations

import json
import pathlib
import re

import click
import pytest
from click.testing import CliRunner

import cinchdb
from cinchdb.cli import cli
from cinchdb.project import list_databases


def error(result, message: str, code: int = 1) -> None:
    assert result.exit_code == code, (result.exit_code, result.output)
    assert result.stderr.splitlines()[-1] == message, result.stderr


def ok(result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def users(cinch):
    ok(cinch("table", "create", "users", "name:TEXT"))
    return cinch


# -- A: the CLI speaks CLI ------------------------------------------------------------------


def test_revert_says_use_force(users):
    cinch = users
    ok(cinch("column", "add", "users", "y:TEXT"))
    ok(cinch("data", "insert", "users", '{"name": "a", "y": "v"}'))
    ok(cinch("column", "drop", "users", "y", "--yes"))
    dropped = json.loads(ok(cinch("log", "-n", "1", "--json")))[0]["id"]
    result = cinch("revert", dropped[:8])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: Reverting {dropped[:12]} cannot restore everything: column 'users.y' comes"
        " back with its default, not its old values. Use --force to revert anyway\n"
    )
    assert "force=True" not in result.output
    ok(cinch("revert", dropped[:8], "--force"))


@pytest.mark.parametrize(
    "sql, hint",
    [
        ("DELETE FROM users", "use 'cinch data delete' to change data"),
        ("INSERT INTO users (name) VALUES ('x')", "use 'cinch data insert' to change data"),
        ("UPDATE users SET name = 'x'", "use 'cinch data update' to change data"),
        ("DROP TABLE users", "use 'cinch migrate' (or 'cinch table', 'cinch column', ...);"
         " schema changes go through the journal"),
    ],
)  # fmt: skip
def test_a_refused_write_in_query_names_the_cli_command(users, sql, hint):
    action = sql.split()[0]
    result = users("query", sql)
    assert result.stderr == (
        "Error: 'cinch query' only runs reads (SELECT, WITH ... SELECT, EXPLAIN, VALUES);"
        f" refused {action}: {hint}\n"
    )
    assert result.exit_code == 1


def test_usage_errors_name_the_argument_as_help_shows_it(users):
    cinch = users
    error(cinch("data", "insert", "users", "{not json"),
          "Error: Invalid value for 'ROWS...': not JSON: Expecting property name enclosed in"
          " double quotes: line 1 column 2 (char 1)", 2)  # fmt: skip
    error(cinch("column", "add", "users", "x:WEIRD"),
          "Error: Invalid value for 'SPEC': 'x:WEIRD': Unknown column type 'WEIRD'; use one of"
          " TEXT, INTEGER, REAL, BLOB, NUMERIC, BOOLEAN (or an alias such as int, str, float,"
          " bool) or an SQL type such as DATETIME, DATE, BIGINT, VARCHAR(255), DECIMAL(10,2)",
          2)  # fmt: skip
    error(cinch("table", "create", "t", "x:TEXT:bogus"),
          "Error: Invalid value for 'COLUMNS...': unknown column option 'bogus' in"
          " 'x:TEXT:bogus'; use not_null, unique, default=V, check=EXPR, ref=TABLE[.COLUMN],"
          " on_delete=ACTION or on_update=ACTION", 2)  # fmt: skip


def test_every_hard_coded_param_hint_is_a_metavar_help_shows():
    """An audit over the whole command tree: a parameter named in a usage error by hand
    (param_hint=) must be one that --help shows for a command that raises it."""

    shown: set[str] = set()
    ctx = click.Context(cli)

    def walk(command):
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                yield from walk(command.get_command(ctx, name))
        else:
            yield command

    for command in walk(cli):
        for param in command.params:
            shown.add(param.make_metavar(ctx) if isinstance(param, click.Argument) else "")
            shown.update(f"'{opt}'" for opt in getattr(param, "opts", []))
            shown.add(" / ".join(f"'{opt}'" for opt in getattr(param, "opts", [])))
    root = pathlib.Path(__file__).parents[2] / "cinchdb" / "cli"
    hints = {m for path in root.rglob("*.py")
             for m in re.findall(r'param_hint="([^"]+)"', path.read_text())}  # fmt: skip
    assert hints <= shown, hints - shown


def test_a_merge_conflict_is_printed_once(users):
    cinch = users
    ok(cinch("branch", "create", "f"))
    ok(cinch("column", "add", "users", "x:TEXT"))
    ok(cinch("branch", "switch", "main"))
    ok(cinch("column", "add", "users", "x:INTEGER"))
    conflict = (
        "  both_changed: Both sides added column 'x' to table 'users' with different"
        ' definitions ("x" INTEGER / "x" TEXT). To resolve: cinch merge f --into main'
        " --resolve 'column users.x'=theirs"
    )
    for args in (["merge", "f"], ["branch", "merge", "f"]):
        result = cinch(*args)
        assert result.exit_code == 3
        assert result.stderr.splitlines() == [
            "Error: 1 conflict(s) merging 'f' into 'main':",
            conflict,
        ]


def test_a_data_step_conflict_is_printed_like_the_others(users):
    cinch = users
    ok(cinch("migrate", "INSERT INTO users (id, name) VALUES ('u1', 'Ada')"))
    ok(cinch("branch", "create", "f"))
    ok(cinch("migrate", "UPDATE users SET name = upper(name)"))
    ok(cinch("branch", "switch", "main"))
    ok(cinch("column", "rename", "users", "name", "full_name"))
    result = cinch("merge", "f")
    assert result.exit_code == 3
    assert result.stderr.splitlines() == [
        "Error: 1 conflict(s) merging 'f' into 'main':",
        "  data_dependency: Data step 'UPDATE users SET name = upper(name)' uses column"
        " 'users.name', which the other side renamed to 'full_name': the step was written for"
        " the old name. To resolve: cinch merge f --into main --resolve 'data users'=theirs",
    ]
    ok(cinch("merge", "f", "--resolve", "data users=theirs"))
    rows = json.loads(ok(cinch("query", "SELECT full_name FROM users", "--format", "json")))
    assert rows == [{"full_name": "ADA"}]


def test_no_project_found_is_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("CINCHDB_PROJECT_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["status"])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: No CinchDB project found in {tmp_path.resolve()} or any parent directory;"
        " run 'cinch init' to create one, or set CINCHDB_PROJECT_DIR to its directory\n"
    )


# -- B: wrong things are errors -------------------------------------------------------------


def test_migrate_without_sql_says_so(cinch):
    error(cinch("migrate"), "Error: no SQL given: pass DDL as SQL or with -f FILE", 2)
    error(cinch("migrate", ""), "Error: no SQL given: pass DDL as SQL or with -f FILE", 2)
    error(cinch("migrate", "  \n"), "Error: no SQL given: pass DDL as SQL or with -f FILE", 2)


def test_migrate_of_an_empty_file_is_an_error(cinch, tmp_path):
    empty = tmp_path / "empty.sql"
    empty.write_text("")
    error(cinch("migrate", "-f", str(empty)),
          f"Error: no SQL given: {empty} is empty", 2)  # fmt: skip


def test_log_of_an_unknown_name_is_an_error(users):
    cinch = users
    error(cinch("log", "nosuch"),
          "Error: No branch, table or column is called 'nosuch' (branches: main)")  # fmt: skip
    ok(cinch("branch", "create", "feature"))
    ok(cinch("column", "add", "users", "extra:TEXT"))
    ok(cinch("branch", "switch", "main"))
    # A branch name logs that branch, as `git log feature` does.
    assert "add column users.extra" in ok(cinch("log", "feature"))
    assert "create table users" in ok(cinch("log", "users"))


@pytest.mark.parametrize(
    "args",
    [("diff", "nope"), ("diff", "main..nope"), ("log", "main..nope"), ("revert", "nope"),
     ("lint", "nope..main"), ("branch", "reset", "main", "nope")],
)  # fmt: skip
def test_a_bad_branch_is_reported_as_a_branch(users, args):
    error(users(*args), "Error: Branch 'nope' does not exist in database 'main'")


def test_revert_of_a_short_prefix_says_four_characters(users):
    error(users("revert", "8b"), "Error: Event '8b': an event id prefix needs at least 4"
          " characters")  # fmt: skip


@pytest.mark.parametrize(
    "args, option",
    [(("log", "-n", "-1"), "'-n'"), (("query", "SELECT 1", "--limit", "-1"), "'--limit'")],
)
def test_a_negative_limit_is_refused(users, args, option):
    error(users(*args), f"Error: Invalid value for {option}: -1 is not in the range x>=0.", 2)


def test_branch_list_marks_the_active_branch_and_takes_no_b(users):
    cinch = users
    ok(cinch("branch", "create", "feature", "--no-switch"))
    rows = json.loads(ok(cinch("branch", "list", "--json")))
    assert [(r["name"], r["active"]) for r in rows] == [("main", True), ("feature", False)]
    error(cinch("branch", "list", "-b", "feature"), "Error: No such option '-b'.", 2)


def test_branch_create_names_its_source_one_way(users):
    cinch = users
    ok(cinch("branch", "create", "feature", "--no-switch"))
    assert ok(cinch("branch", "create", "f2", "--from", "feature", "--no-switch")) == (
        "Created branch 'f2' from 'feature'\n"
    )
    error(cinch("branch", "create", "f3", "-b", "feature"), "Error: No such option '-b'.", 2)


# -- C: a typo in -d is an error ------------------------------------------------------------


def test_a_typo_in_database_is_an_error_with_did_you_mean(users, project):
    cinch = users
    ok(cinch("db", "create", "analytics"))
    error(cinch("table", "list", "-d", "mian"),
          "Error: Database 'mian' does not exist; did you mean 'main'?")  # fmt: skip
    error(cinch("table", "list", "-d", "analytic"),
          "Error: Database 'analytic' does not exist; did you mean 'analytics'?")  # fmt: skip
    error(cinch("table", "list", "-d", "zzzzzz"),
          "Error: Database 'zzzzzz' does not exist (databases: analytics, main)")  # fmt: skip
    error(cinch("db", "switch", "mian"),
          "Error: Database 'mian' does not exist; did you mean 'main'?")  # fmt: skip
    assert sorted(json.loads(ok(cinch("db", "list", "--json"))), key=str) == sorted(
        [{"name": "main", "active": True}, {"name": "analytics", "active": False}], key=str
    )


def test_the_sdk_connect_still_creates_a_missing_database(users, project):
    with cinchdb.connect("fresh", project_dir=project) as db:
        assert "fresh" in db.list_databases()


def _first_python_block(path: pathlib.Path) -> str:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.DOTALL)[0]


def test_the_first_sdk_examples_make_one_database(tmp_path, monkeypatch):
    """The README's and docs/sdk.md's first examples do not create a second database by a
    name that differs from the one init made."""
    monkeypatch.delenv("CINCHDB_PROJECT_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    docs = pathlib.Path(__file__).resolve().parents[2]
    namespace: dict[str, object] = {"__name__": "readme"}
    exec(compile(_first_python_block(docs / "README.md"), "README.md", "exec"), namespace)
    assert list_databases(namespace["root"]) == ["myapp"]
    sdk = _first_python_block(docs / "docs" / "sdk.md")
    exec(compile(sdk, "docs/sdk.md", "exec"), {"__name__": "sdk"})
    assert list_databases(tmp_path / "my_app") == ["main"]
