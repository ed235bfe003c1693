"""The names rule: a NEW table, column, index, view or trigger name is letters (any alphabet),
digits and '_', not starting with a digit, at most 128 characters; SDK, CLI and ``migrate``
share it. Objects an existing journal already has under other names keep working."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import cinchdb
import cinchdb.errors
from cinchdb.models import Column
from journal.names import NAME_RULE
from tests.old_journal import append_old_events

BAD = ['t"; DROP TABLE x; --', "bad name", "1abc", "a-b", "a.b", "x" * 129, "émoji😀"]
GOOD = ["users", "_private", "x1", "café", "名前", "Straße_2", "a" * 128]


def _refused(excinfo: pytest.ExceptionInfo[BaseException], name: str) -> None:
    message = str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)
    # A name too long for any identifier is refused before the rule is asked.
    assert NAME_RULE in message or "longer than 128 characters" in message
    assert repr(name) in message or name[:20] in message


@pytest.mark.parametrize("name", BAD)
def test_create_table_refuses_a_name_outside_the_rule(db, name):
    head = db.branch_heads()
    with pytest.raises(ValueError) as excinfo:
        db.create_table(name, [Column(name="a")])
    _refused(excinfo, name)
    assert db.branch_heads() == head and db.list_tables() == []


def test_sql_injection_attempt_is_refused_naming_the_rule(db):
    with pytest.raises(cinchdb.errors.InvalidNameError) as excinfo:
        db.create_table('t"; DROP TABLE x; --', [Column(name="a")])
    assert str(excinfo.value) == ("Invalid table name 't\"; DROP TABLE x; --': use " + NAME_RULE)


@pytest.mark.parametrize("name", GOOD)
def test_names_inside_the_rule_are_accepted_everywhere(db, name):
    db.create_table(name, [Column(name=name)])
    db.rename_column(name, name, name + "_c"[: 128 - len(name)] if len(name) < 128 else name)
    db.create_index("i_" + name[:100], name, ["id"])
    db.create_view("v_" + name[:100], f'SELECT id FROM "{name}"')
    assert db.get_table(name).name == name


@pytest.mark.parametrize("name", BAD)
@pytest.mark.parametrize(
    "make",
    [
        pytest.param(
            lambda db, n: db.add_column(
                "users",
                Column.model_construct(
                    name=n,
                    type="TEXT",
                    nullable=True,
                    default=None,
                    unique=False,
                    primary_key=False,
                    foreign_key=None,
                    check=None,
                ),
            ),
            id="add_column",
        ),
        pytest.param(lambda db, n: db.rename_table("users", n), id="rename_table"),
        pytest.param(lambda db, n: db.rename_column("users", "name", n), id="rename_column"),
        pytest.param(lambda db, n: db.create_index(n, "users", ["name"]), id="create_index"),
        pytest.param(lambda db, n: db.create_view(n, "SELECT 1 AS one"), id="create_view"),
        pytest.param(lambda db, n: db.migrate(f'CREATE TABLE "{_q(n)}" (a TEXT)'), id="migrate"),
        pytest.param(
            lambda db, n: db.migrate(f'ALTER TABLE users ADD COLUMN "{_q(n)}" TEXT'),
            id="migrate_column",
        ),
        pytest.param(
            lambda db, n: db.migrate(f'CREATE INDEX "{_q(n)}" ON users(name)'), id="migrate_index"
        ),
        pytest.param(
            lambda db, n: db.migrate(
                f'CREATE TRIGGER "{_q(n)}" AFTER INSERT ON users BEGIN SELECT 1; END'
            ),
            id="migrate_trigger",
        ),
        pytest.param(
            lambda db, n: db.migrate(f'ALTER TABLE users RENAME TO "{_q(n)}"'),
            id="migrate_rename",
        ),
    ],
)
def test_every_way_a_new_name_enters_is_checked(users, name, make):
    head = users.branch_heads()
    with pytest.raises(ValueError) as excinfo:
        make(users, name)
    _refused(excinfo, name)
    assert users.branch_heads() == head


def _q(name: str) -> str:
    return name.replace('"', '""')


def test_reserved_prefixes_stay_reserved(db):
    with pytest.raises(ValueError, match="reserved"):
        db.create_table("__mine", [Column(name="a")])
    with pytest.raises(ValueError, match="reserved"):
        db.migrate("CREATE TABLE sqlite_x (a TEXT)")


def _old_journal_table(project) -> None:
    """A table an earlier project made under names the rule refuses today."""
    append_old_events(
        project,
        'CREATE TABLE "my table" (id TEXT PRIMARY KEY, "first name" TEXT,'
        " created_at TEXT, updated_at TEXT);"
        ' CREATE INDEX "by-name" ON "my table" ("first name")',
    )


def test_old_names_keep_working(project):
    _old_journal_table(project)
    with cinchdb.connect(project_dir=project) as db:
        assert [t.name for t in db.list_tables()] == ["my table"]
        row = db.insert("my table", {"first name": "Ada"})
        assert db.query('SELECT "first name" AS n FROM "my table"') == [{"n": "Ada"}]
        db.update("my table", row["id"], {"first name": "Grace"})
        # Changes that give no new name go through on the old objects.
        db.add_column("my table", Column(name="age", type="INTEGER"))
        db.alter_column("my table", "first name", nullable=False)
        db.drop_index("by-name")
        # The old names can be renamed away (the new names follow the rule).
        db.rename_column("my table", "first name", "first_name")
        db.rename_table("my table", "people")
        assert db.query("SELECT first_name FROM people") == [{"first_name": "Grace"}]
        # Reverting the rename brings the old name back: it is not new.
        db.revert(db.log(limit=1)[0].id)
        assert [t.name for t in db.list_tables()] == ["my table"]
        db.drop_table("my table")


def test_old_names_replay_into_a_new_tenant_and_branch(project):
    _old_journal_table(project)
    with cinchdb.connect(project_dir=project) as db:
        db.create_branch("feature")
        db.create_tenant("acme")
        acme = cinchdb.connect(project_dir=project, tenant="acme")
        with acme:
            acme.insert("my table", {"first name": "x"})
        assert db.check()["ok"]


SDK_DOC = Path(__file__).resolve().parents[2] / "docs" / "sdk.md"


def test_the_names_example_in_the_sdk_reference_runs_as_printed(capsys):
    section = SDK_DOC.read_text().split("### Names", 1)[1].split("\n## ", 1)[0]
    code, printed = re.findall(r"```(?:python|text)\n(.*?)```", section, flags=re.DOTALL)[:2]
    exec(compile(code, str(SDK_DOC), "exec"), {"__name__": "sdk_names"})
    assert capsys.readouterr().out == printed
