"""Adopting an existing SQLite database: real schemas no one here wrote (Chinook), triggers
and views, table options; and what cannot be adopted, refused before anything is written."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

import cinchdb
from cinchdb.adopt import AdoptResult
from cinchdb.errors import AdoptError, DatabaseExistsError
from cinchdb.models import Column
from cinchdb.project import CINCHDB_DIR
from cinchdb.tenants import tenant_path
from journal.introspect import introspect

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "adopt"
CASES = ["chinook", "triggers_views", "options"]


def make_source(directory: Path, fixture: str, name: str | None = None) -> Path:
    """An SQLite file built from ``tests/fixtures/adopt/{fixture}.sql``."""
    path = directory / f"{name or fixture}.db"
    conn = sqlite3.connect(path)
    conn.executescript((FIXTURES / f"{fixture}.sql").read_text())
    conn.close()
    return path


def make_sql(directory: Path, name: str, script: str) -> Path:
    path = directory / f"{name}.db"
    conn = sqlite3.connect(path)
    conn.executescript(script)
    conn.close()
    return path


def tenant_file(project: Path, database: str, tenant: str = "main") -> Path:
    return tenant_path(project / CINCHDB_DIR / f"{database}-main", tenant)


def read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def project_files(project: Path) -> dict[str, str]:
    """Every file under .cinchdb with the hash of its bytes, but ``history.state``: the local
    cache of the text history's fingerprint, which every opening of the project may refresh
    (journal.textlog), without changing what the project holds."""
    return {
        str(p.relative_to(project)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((project / CINCHDB_DIR).rglob("*"))
        if p.is_file() and p.name != "history.state"
    }


def all_rows(conn: sqlite3.Connection, table: str) -> list[tuple[object, ...]]:
    """A table's rows with their rowid when it has one, in a stable order."""
    without_rowid = conn.execute(
        "SELECT wr FROM pragma_table_list WHERE name = ?", (table,)
    ).fetchone()[0]
    rowid = "" if without_rowid else "rowid, "
    rows = conn.execute(f'SELECT {rowid}* FROM "{table}"').fetchall()
    return sorted(rows, key=repr)


@pytest.fixture
def tmp(tmp_path):
    directory = tmp_path / "files"
    directory.mkdir()
    return directory


@pytest.mark.parametrize("fixture", CASES)
def test_adopted_database_has_the_files_schema_and_rows(project, tmp, fixture):
    source = make_source(tmp, fixture)
    before = source.read_bytes()
    result = cinchdb.adopt(source, project_dir=project)
    assert isinstance(result, AdoptResult)
    assert result.database == fixture and not result.dry_run and not result.problems

    with cinchdb.connect(fixture, project_dir=project) as db:
        assert db.check()["ok"]
        # One event per object, and the main branch's head is the last of them.
        original = read_only(source)
        schema = introspect(original)
        objects = len(schema.tables + schema.indexes + schema.views + schema.triggers)
        assert len(result.event_ids) == len(result.events) == objects
        assert db.list_branches()[0].head == result.event_ids[-1]
        assert [e.id for e in db.log()] == list(reversed(result.event_ids))
        assert db.schema().canonical() == schema.canonical()

    adopted = read_only(tenant_file(project, fixture))
    assert introspect(adopted).canonical() == schema.canonical()
    assert adopted.execute("SELECT value FROM __cinch_state WHERE key = 'cursor'").fetchone() == (
        result.event_ids[-1],
    )
    for table in schema.tables:
        assert all_rows(adopted, table.name) == all_rows(original, table.name), table.name
    assert result.rows == {t.name: len(all_rows(original, t.name)) for t in schema.tables}
    assert source.read_bytes() == before  # the file is only read


def test_chinook_tables_come_in_foreign_key_order(project, tmp):
    result = cinchdb.adopt(make_source(tmp, "chinook"), database="music", project_dir=project)
    tables = [line.split()[2] for line in result.events if line.startswith("create table")]
    assert tables.index("Artist") < tables.index("Album") < tables.index("Track")
    assert tables.index("Employee") < tables.index("Customer") < tables.index("Invoice")
    assert tables.index("Track") < tables.index("PlaylistTrack")
    kinds = ["index" if " index " in line else line.split()[1] for line in result.events]
    assert kinds == sorted(kinds, key=["table", "index", "view", "trigger"].index)
    with cinchdb.connect("music", project_dir=project) as db:
        employee = db.schema().table("Employee")
        assert employee is not None and employee.foreign_keys[0].ref_table == "Employee"
        key = db.schema().table("PlaylistTrack").primary_key
        assert key is not None and key.columns == ("PlaylistId", "TrackId")
        assert db.query('SELECT count(*) AS n FROM "Track"') == [{"n": 2}]


@pytest.mark.parametrize("fixture", CASES)
def test_a_schema_change_after_adopt_reaches_the_adopted_rows(project, tmp, fixture):
    cinchdb.adopt(make_source(tmp, fixture), project_dir=project)
    with cinchdb.connect(fixture, project_dir=project) as db:
        table = db.schema().tables[0].name
        count = len(db.query(f'SELECT * FROM "{table}"'))
        db.add_column(table, Column(name="adopted_note", type="TEXT"))
        rows = db.query(f'SELECT adopted_note FROM "{table}"')
        assert rows == [{"adopted_note": None}] * count
        assert db.check()["ok"]
    columns = read_only(tenant_file(project, fixture)).execute(
        f"SELECT name FROM pragma_table_info('{table}')"
    )
    assert "adopted_note" in [c[0] for c in columns]


def test_triggers_did_not_fire_on_the_copy_and_autoincrement_continues(project, tmp):
    source = make_source(tmp, "triggers_views", "shop")
    cinchdb.adopt(source, project_dir=project)
    with cinchdb.connect("shop", project_dir=project) as db:
        # 2 inserts and 1 update in the file: the copy added none.
        assert len(db.query("SELECT * FROM audit_log")) == 3
        assert db.query("SELECT name, cents FROM big_spenders") == [{"name": "Ada", "cents": 1250}]
    # A raw write to the adopted tenant: the triggers work, and the next customer id continues
    # after the deleted one (AUTOINCREMENT never reuses 3).
    conn = sqlite3.connect(tenant_file(project, "shop"))
    conn.execute("INSERT INTO customers (email, name) VALUES ('dee@example.com', 'Dee')")
    conn.execute("INSERT INTO orders (customer_id, total_cents) VALUES (4, 5)")
    conn.commit()
    assert conn.execute("SELECT id FROM customers WHERE name = 'Dee'").fetchone() == (4,)
    assert conn.execute("SELECT count(*) FROM audit_log").fetchone() == (4,)
    conn.close()
    with cinchdb.connect("shop", project_dir=project) as db:
        assert db.check()["ok"]


def test_table_options_and_rowids_are_kept(project, tmp):
    cinchdb.adopt(make_source(tmp, "options"), project_dir=project)
    with cinchdb.connect("options", project_dir=project) as db:
        readings = db.schema().table("readings")
        assert readings is not None and readings.strict
        assert db.schema().table("settings").without_rowid
        assert db.query("SELECT id, doubled FROM readings ORDER BY id") == [
            {"id": 1, "doubled": 41.0},
            {"id": 7, "doubled": -6.5},
            {"id": 9, "doubled": 0.0},
        ]
        assert db.query("SELECT rowid AS r, body FROM notes ORDER BY rowid") == [
            {"r": 3, "body": "first"},
            {"r": 10, "body": "second"},
            {"r": 11, "body": None},
        ]


def test_sqlite_statistics_tables_are_passed_over(project, tmp):
    source = make_sql(
        tmp, "stats", "CREATE TABLE t (a INTEGER); CREATE INDEX t_a ON t (a);"
        " INSERT INTO t VALUES (1), (2); ANALYZE;"
    )  # fmt: skip
    assert "sqlite_stat1" in [
        r[0] for r in read_only(source).execute("SELECT name FROM sqlite_schema")
    ]
    result = cinchdb.adopt(source, project_dir=project)
    assert result.events == ("create table t (1 columns)", "create index t_a on t")


UNADOPTABLE = """
CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT);
CREATE VIRTUAL TABLE posts_search USING fts5(title);
CREATE TABLE "order items" (id INTEGER PRIMARY KEY, "unit price" REAL);
CREATE TABLE __mine (a TEXT);
INSERT INTO posts (title) VALUES ('hello');
"""


def test_what_cannot_be_adopted_is_listed_before_anything_is_written(project, tmp):
    source = make_sql(tmp, "blog", UNADOPTABLE)
    files = project_files(project)
    with pytest.raises(AdoptError) as caught:
        cinchdb.adopt(source, project_dir=project)
    problems = {(p.kind, p.name) for p in caught.value.problems}
    assert problems == {
        ("table", "posts_search"),
        ("table", "order items"),
        ("column", "order items.unit price"),
        ("table", "__mine"),
    }
    assert all(p.suggestion for p in caught.value.problems)
    message = str(caught.value)
    assert message.startswith(f"Cannot adopt {source} (4 problems, nothing was written): ")
    assert "table 'posts_search' is a virtual table (fts5)" in message
    assert 'ALTER TABLE "order items" RENAME TO order_items' in message
    assert isinstance(caught.value, ValueError) and caught.value.exit_code == 1
    assert project_files(project) == files
    with cinchdb.connect(project_dir=project) as db:
        assert db.list_databases() == ["main"]


def test_a_dry_run_lists_events_and_problems_and_writes_nothing(project, tmp):
    files = project_files(project)
    bad = cinchdb.adopt(make_sql(tmp, "blog", UNADOPTABLE), project_dir=project, dry_run=True)
    assert bad.dry_run and len(bad.problems) == 4 and bad.events == ()
    good = cinchdb.adopt(make_source(tmp, "chinook"), project_dir=project, dry_run=True)
    assert good.problems == () and good.event_ids == ()
    assert good.events[0] == "create table Artist (2 columns)" and len(good.events) == 32
    assert sum(good.rows.values()) == 24
    assert project_files(project) == files


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (
            "CREATE TABLE a (id INTEGER PRIMARY KEY, b_id INTEGER REFERENCES b (id));"
            " CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a (id));",
            "table 'a' is in a cycle of foreign keys (a, b)",
        ),
        (
            "CREATE TABLE a (id INTEGER PRIMARY KEY, x INTEGER REFERENCES gone (id));",
            "table 'a' has a foreign key to table 'gone', which does not exist",
        ),
        (
            "CREATE TABLE p (id INTEGER PRIMARY KEY);"
            " CREATE TABLE c (id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p (id));"
            " INSERT INTO c VALUES (1, 99);",
            "table 'c' has rows whose foreign key points at no row of p",
        ),
        ('CREATE TABLE t (a TEXT); CREATE INDEX "1st" ON t (a);', "index '1st' has a name"),
        ('CREATE TABLE t (a TEXT); CREATE VIEW "v-1" AS SELECT a FROM t;', "view 'v-1' has"),
    ],
)
def test_schemas_the_journal_cannot_record_are_refused(project, tmp, script, expected):
    files = project_files(project)
    with pytest.raises(AdoptError, match="nothing was written") as caught:
        cinchdb.adopt(make_sql(tmp, "odd", script), project_dir=project)
    assert expected in str(caught.value)
    assert project_files(project) == files


def test_the_name_must_be_new(project, tmp):
    source = make_source(tmp, "options")
    cinchdb.adopt(source, database="main_copy", project_dir=project)
    files = project_files(project)
    with pytest.raises(DatabaseExistsError):
        cinchdb.adopt(source, database="main_copy", project_dir=project)
    with pytest.raises(DatabaseExistsError):
        cinchdb.adopt(source, database="main", project_dir=project, dry_run=True)
    assert project_files(project) == files


def test_the_default_name_comes_from_the_file_name(project, tmp):
    source = make_sql(tmp, "my-shop.v2", "CREATE TABLE t (a TEXT);")
    assert cinchdb.adopt(source, project_dir=project).database == "my_shop_v2"


@pytest.mark.parametrize("content", [None, b"not a database at all, just text" * 100])
def test_a_missing_or_foreign_file_is_an_adopt_error(project, tmp, content):
    path = tmp / "x.db"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AdoptError) as caught:
        cinchdb.adopt(path, project_dir=project)
    assert caught.value.problems[0].kind == "file"
    assert not path.exists() or path.read_bytes() == content


def test_an_empty_file_and_columns_named_like_the_rowid(project, tmp):
    empty = make_sql(tmp, "empty", "CREATE TABLE x (a); DROP TABLE x;")
    assert cinchdb.adopt(empty, project_dir=project).events == ()
    with cinchdb.connect("empty", project_dir=project) as db:
        assert db.check()["ok"] and db.schema().tables == ()
    source = make_sql(
        tmp, "rowids", "CREATE TABLE t (rowid TEXT, v INTEGER); CREATE TABLE u (_rowid_, oid);"
        " INSERT INTO t (_rowid_, rowid, v) VALUES (5, 'a', 1); INSERT INTO u VALUES (1, 2);"
    )  # fmt: skip
    cinchdb.adopt(source, project_dir=project)
    adopted = read_only(tenant_file(project, "rowids"))
    assert adopted.execute("SELECT _rowid_, rowid, v FROM t").fetchall() == [(5, "a", 1)]
    assert adopted.execute("SELECT rowid, _rowid_, oid FROM u").fetchall() == [(1, 1, 2)]
