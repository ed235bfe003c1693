"""The command line's column spec ``name:TYPE[:option...]`` says everything ``Column`` can:
foreign keys, defaults containing ``:``, SQL default expressions, CHECK, and declared SQL types
kept as declared."""

from __future__ import annotations

import json
import sqlite3

import click
import pytest

import cinchdb
from cinchdb.cli.commands._columns import parse_column
from cinchdb.models import SQL, Column, ForeignKey


def ok(result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def error(result, line: str, code: int = 1) -> None:
    assert result.exit_code == code, result.output
    assert line in result.stderr.splitlines(), result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        # The spellings that worked before keep their meaning.
        ("name", Column(name="name")),
        ("age:INTEGER:default=0", Column(name="age", type="INTEGER", default=0)),
        ("age:int", Column(name="age", type="INTEGER")),
        ("name:varchar", Column(name="name", type="TEXT")),
        ("flag:bool:default=true", Column(name="flag", type="BOOLEAN", default=True)),
        ("plan:TEXT:default=free:not_null", Column(name="plan", default="free", nullable=False)),
        ("email:TEXT:unique:required", Column(name="email", unique=True, nullable=False)),
        ("ratio:REAL:default=0.5", Column(name="ratio", type="REAL", default=0.5)),
        # Foreign keys.
        ("team:TEXT:ref=teams", Column(name="team", foreign_key=ForeignKey(table="teams"))),
        ("team:TEXT:ref=teams.id:on_delete=cascade",
         Column(name="team", foreign_key=ForeignKey(table="teams", on_delete="CASCADE"))),
        ("owner:TEXT:ref=users.email:on_delete=set_null:on_update=no_action",
         Column(name="owner", foreign_key=ForeignKey(table="users", column="email",
                                                     on_delete="SET NULL"))),
        ("team:TEXT:ref=teams:on_delete=SET DEFAULT:on_update=restrict",
         Column(name="team", foreign_key=ForeignKey(table="teams", on_delete="SET DEFAULT",
                                                    on_update="RESTRICT"))),
        # Defaults containing ':' are quoted or escaped; quoted text is always text.
        ("sep:TEXT:default='a:b'", Column(name="sep", default="a:b")),
        ("sep:TEXT:default=a\\:b", Column(name="sep", default="a:b")),
        ("sep:TEXT:default='it''s'", Column(name="sep", default="it's")),
        ("code:TEXT:default='42'", Column(name="code", default="42")),
        ("sep:TEXT:default=''", Column(name="sep", default="")),
        # SQL expressions: the CURRENT_* keywords and anything in parentheses.
        ("at:DATETIME:default=CURRENT_TIMESTAMP",
         Column(name="at", type="DATETIME", default=SQL("CURRENT_TIMESTAMP"))),
        ("day:DATE:default=current_date", Column(name="day", type="DATE",
                                                 default=SQL("CURRENT_DATE"))),
        ("hm:TEXT:default=(strftime('%H:%M', 'now'))",
         Column(name="hm", default=SQL("strftime('%H:%M', 'now')"))),
        # CHECK, with ':' inside parentheses or quotes left alone.
        ("age:INTEGER:check=age >= 0", Column(name="age", type="INTEGER", check="age >= 0")),
        ("t:TEXT:check=(t <> 'a:b'):not_null",
         Column(name="t", check="(t <> 'a:b')", nullable=False)),
        # Declared SQL types are kept as declared.
        ("name:VARCHAR(255)", Column(name="name", type="VARCHAR(255)")),
        ("price:DECIMAL(10,2):default=0", Column(name="price", type="DECIMAL(10,2)", default=0)),
        ("n:BIGINT", Column(name="n", type="BIGINT")),
        ("d:double precision", Column(name="d", type="double precision")),
    ],
)  # fmt: skip
def test_spec_parses_to_the_column(spec, expected):
    assert parse_column(spec) == expected


@pytest.mark.parametrize(
    ("declared", "affinity"),
    [("DATETIME", "NUMERIC"), ("VARCHAR(255)", "TEXT"), ("BIGINT", "INTEGER"),
     ("DOUBLE PRECISION", "REAL"), ("DECIMAL(10,2)", "NUMERIC"), ("CLOB", "TEXT"),
     ("INTEGER", "INTEGER"), ("bool", "BOOLEAN")],
)  # fmt: skip
def test_declared_types_have_their_affinity(declared, affinity):
    assert Column(name="c", type=declared).affinity == affinity


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("x:WEIRD", "'x:WEIRD': Unknown column type 'WEIRD'; use one of TEXT, INTEGER, REAL,"
         " BLOB, NUMERIC, BOOLEAN (or an alias such as int, str, float, bool) or an SQL type"
         " such as DATETIME, DATE, BIGINT, VARCHAR(255), DECIMAL(10,2)"),
        ("x:TEXT:nope", "unknown column option 'nope' in 'x:TEXT:nope'; use not_null, unique,"
         " default=V, check=EXPR, ref=TABLE[.COLUMN], on_delete=ACTION or on_update=ACTION"),
        ("x:TEXT:on_delete=cascade", "'x:TEXT:on_delete=cascade': on_delete needs ref=TABLE"),
        ("x:TEXT:ref=teams:on_delete=explode", "'x:TEXT:ref=teams:on_delete=explode':"
         " on_delete 'explode' is not one of cascade, set_null, set_default, restrict,"
         " no_action"),
        ("x:TEXT:default='a:b", "'x:TEXT:default='a:b': a quote is not closed"),
        ("x:TEXT:default=(1", "'x:TEXT:default=(1': a parenthesis is not closed"),
        ("x:TEXT:ref=", "'x:TEXT:ref=': ref needs a table: ref=TABLE or ref=TABLE.COLUMN"),
        ("x:TEXT:check=", "'x:TEXT:check=': check needs an expression"),
        ("x:TEXT:default", "unknown column option 'default' in 'x:TEXT:default'; use not_null,"
         " unique, default=V, check=EXPR, ref=TABLE[.COLUMN], on_delete=ACTION or"
         " on_update=ACTION"),
    ],
)  # fmt: skip
def test_bad_specs_name_what_is_wrong(spec, message):
    with pytest.raises(click.BadParameter) as caught:
        parse_column(spec)
    assert caught.value.message == message


def _tenant_file(project) -> sqlite3.Connection:
    files = sorted(project.rglob("main.db"))
    assert files, list(project.rglob("*.db"))
    return sqlite3.connect(files[0])


def test_table_create_with_every_option_reaches_the_tenant(cinch, project):
    ok(cinch("table", "create", "teams", "name:TEXT:not_null"))
    ok(cinch("table", "create", "members", "name:TEXT", "team:TEXT:ref=teams:on_delete=cascade",
             "joined:DATETIME:default=CURRENT_TIMESTAMP", "label:VARCHAR(20):default='a:b'",
             "age:INTEGER:check=age >= 0"))  # fmt: skip
    info = json.loads(ok(cinch("table", "info", "members", "--json")))
    types = {c["name"]: c["type"] for c in info["columns"]}
    assert types["joined"] == "DATETIME" and types["label"] == "VARCHAR(20)"
    with cinchdb.connect(project_dir=project) as db:
        team = db.insert("teams", {"name": "red"})
        member = db.insert("members", {"name": "ann", "team": team["id"], "age": 3})
        assert member["label"] == "a:b"
        assert member["joined"] != "CURRENT_TIMESTAMP" and member["joined"][:2] == "20"
        with pytest.raises(Exception, match="CHECK"):
            db.insert("members", {"name": "bob", "age": -1})
        db.delete("teams", team["id"])
        assert db.query("SELECT count(*) AS n FROM members")[0]["n"] == 0  # the cascade
    conn = _tenant_file(project)
    try:
        declared = {row[1]: row[2] for row in conn.execute("PRAGMA table_info(members)")}
        assert declared["joined"] == "DATETIME" and declared["label"] == "VARCHAR(20)"
        fks = conn.execute("PRAGMA foreign_key_list(members)").fetchall()
        assert [(fk[2], fk[3], fk[4], fk[6]) for fk in fks] == [("teams", "team", "id", "CASCADE")]
    finally:
        conn.close()
    ok(cinch("check"))


def test_column_add_takes_a_reference_and_a_quoted_default(cinch, project):
    ok(cinch("table", "create", "teams", "name:TEXT"))
    ok(cinch("table", "create", "members", "name:TEXT"))
    ok(cinch("column", "add", "members", "team:TEXT:ref=teams.id:on_delete=set_null"))
    ok(cinch("column", "add", "members", "sep:TEXT:default=x\\:y"))
    info = json.loads(ok(cinch("table", "info", "members", "--json")))
    columns = {c["name"]: c for c in info["columns"]}
    assert columns["team"]["foreign_key"] == {
        "table": "teams",
        "column": "id",
        "on_delete": "SET NULL",
        "on_update": "NO ACTION",
    }
    assert columns["sep"]["default"] == "x:y"


def test_cli_errors_are_one_line_with_usage_exit(cinch):
    error(
        cinch("table", "create", "t", "x:TEXT:ref=teams:on_delete=explode"),
        "Error: Invalid value for 'COLUMNS...': 'x:TEXT:ref=teams:on_delete=explode': on_delete"
        " 'explode' is not one of cascade, set_null, set_default, restrict, no_action",
        2,
    )
    error(
        cinch("table", "create", "t", "x:TEXT:default='a:b"),
        "Error: Invalid value for 'COLUMNS...': 'x:TEXT:default='a:b': a quote is not closed",
        2,
    )


def test_help_documents_the_grammar(cinch):
    for command in (("table", "create"), ("column", "add")):
        text = ok(cinch(*command, "--help"))
        for word in ("ref=", "on_delete=", "default='a:b'", "CURRENT_TIMESTAMP", "check=",
                     "VARCHAR(255)"):  # fmt: skip
            assert word in text, (command, word)
