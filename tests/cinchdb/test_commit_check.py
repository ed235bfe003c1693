"""A change SQLite refuses never enters the journal (issue 13).

Every path that appends schema events (the SDK's schema calls, ``migrate``, fast-forward and
three-way merges, ``revert``) runs the change in SQLite on the branch's schema first. A refused
change raises a ``SchemaError`` naming the statement and SQLite's reason, and nothing is
written: the journal's events and heads and every tenant file and template keep their bytes.
A journal that already holds such an event (made before this check, or written around the SDK)
is reported by ``check()`` and recovered with ``reset_branch``.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

import cinchdb
from cinchdb import errors
from cinchdb.models import SQL, Column
from journal import JournalStore, parse
from journal.errors import EventNotFoundError, SchemaError

META = Path(".cinchdb") / "metadata.db"


def journal_state(root: Path) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """Every event id and every branch head, read straight from metadata.db."""
    conn = sqlite3.connect(f"{(root / META).as_uri()}?mode=ro", uri=True)
    try:
        events = conn.execute("SELECT id FROM journal_events ORDER BY seq").fetchall()
        heads = conn.execute(
            "SELECT database, name, head FROM journal_branches ORDER BY database, name"
        ).fetchall()
    finally:
        conn.close()
    return events, heads


def file_state(root: Path) -> dict[str, str]:
    """A digest of every tenant file and template (and their WAL), by path."""
    found = {}
    for path in sorted((root / ".cinchdb").rglob("*")):
        if path.is_file() and "metadata.db" not in path.name and not path.name.endswith("-shm"):
            found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def state(root: Path) -> tuple[object, ...]:
    return (*journal_state(root), file_state(root))


@pytest.fixture
def world(users, project):
    """``users`` with rows in two materialized tenants, ``main`` and ``acme``."""
    users.insert("users", {"name": "Ada", "email": "ada@example.com", "age": 36})
    users.create_tenant("acme", lazy=False)
    with cinchdb.connect(project_dir=project, tenant="acme") as acme:
        acme.insert("users", {"name": "Bob", "email": "bob@example.com", "age": 40})
    assert len(file_state(project)) >= 3  # two tenants and the template
    return users


def append_around_the_sdk(root: Path, branch: str, sql: str) -> str:
    """Append ``sql``'s events to ``branch`` through the journal's store, as a journal written
    before the check (or by another tool) may hold them; the new head."""
    with JournalStore(root / META) as store:
        events = store.append(
            "main", branch, parse(sql), expected_head=store.branch_head("main", branch)
        )
    return events[-1].id


WIDE = [Column(name=f"c{i}", type="INTEGER") for i in range(2100)]
WIDE_SQL = "CREATE TABLE wide (" + ", ".join(f"c{i} INTEGER" for i in range(2100)) + ")"

#: (case, the call, SQLite's reason, a piece of the refused statement)
CASES: list[tuple[str, Callable[[cinchdb.CinchDB], object], str, str]] = [
    ("sdk check with a subquery",
     lambda db: db.create_table("t", [Column(name="a", type="INTEGER", check="a IN (SELECT 1)")]),
     "subqueries prohibited in CHECK constraints", "CREATE TABLE"),
    ("migrate check with a subquery",
     lambda db: db.migrate("CREATE TABLE t (a INTEGER CHECK (a IN (SELECT 1)))"),
     "subqueries prohibited in CHECK constraints", "CREATE TABLE"),
    ("sdk partial index using random()",
     lambda db: db.create_index("i", "users", ["name"], where="random() > 0"),
     "non-deterministic functions prohibited in partial index WHERE clauses", "random()"),
    ("migrate partial index using random()",
     lambda db: db.migrate("CREATE INDEX i ON users (name) WHERE random() > 0"),
     "non-deterministic functions prohibited in partial index WHERE clauses", "random()"),
    ("migrate expression index using random()",
     lambda db: db.migrate("CREATE INDEX i ON users (random())"),
     "non-deterministic functions prohibited in index expressions", "random()"),
    ("migrate generated column with a subquery",
     lambda db: db.migrate(
         "CREATE TABLE t (a INTEGER, b INTEGER GENERATED ALWAYS AS ((SELECT 1)) VIRTUAL)"),
     "subqueries prohibited in generated columns", "CREATE TABLE"),
    ("migrate added generated column with a subquery",
     lambda db: db.migrate(
         "ALTER TABLE users ADD COLUMN g INTEGER GENERATED ALWAYS AS ((SELECT 1)) VIRTUAL"),
     "subqueries prohibited in generated columns", "ALTER TABLE"),
    ("migrate default naming a column",
     lambda db: db.migrate("CREATE TABLE t (a INTEGER, b INTEGER DEFAULT (a))"),
     "is not constant", "CREATE TABLE"),
    ("sdk added column whose default names a column",
     lambda db: db.add_column("users", Column(name="b", default=SQL("name"))),
     "is not constant", "CREATE TABLE"),  # a rebuild: ADD COLUMN takes constant defaults only
    ("sdk table of 2,100 columns",
     lambda db: db.create_table("wide", WIDE), "too many columns", "CREATE TABLE"),
    ("migrate table of 2,100 columns",
     lambda db: db.migrate(WIDE_SQL), "too many columns", "CREATE TABLE"),
    ("sdk view over another database",
     lambda db: db.create_view("v", "SELECT * FROM other.t"),
     "cannot reference objects in database other", "other"),
    ("migrate view over another database",
     lambda db: db.migrate("CREATE VIEW v AS SELECT * FROM other.t"),
     "cannot reference objects in database other", "other"),
    ("migrate trigger inserting into another database",
     lambda db: db.migrate("CREATE TRIGGER tr AFTER INSERT ON users BEGIN"
                           " INSERT INTO other.t (a) VALUES (1); END"),
     "qualified table names are not allowed", "other"),
    ("sdk view over a column that does not exist",
     lambda db: db.create_view("v", "SELECT nope FROM users"), "no such column: nope", "nope"),
    ("migrate view over a column that does not exist",
     lambda db: db.migrate("CREATE VIEW v AS SELECT nope FROM users"),
     "no such column: nope", "nope"),
    ("migrate whose second statement is refused",
     lambda db: db.migrate("CREATE TABLE fine (a TEXT); CREATE INDEX i ON users (random())"),
     "non-deterministic functions prohibited in index expressions", "random()"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "reason", "statement"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_a_change_sqlite_refuses_writes_nothing(world, project, call, reason, statement):
    before = state(project)
    with pytest.raises(SchemaError) as caught:
        call(world)
    assert reason in str(caught.value)
    assert statement in str(caught.value)
    assert state(project) == before
    # The branch is alive: the next change and the next write work.
    world.create_table("after", [Column(name="a")])
    world.insert("users", {"name": "Cy", "email": "cy@example.com"})


def test_a_fast_forward_bringing_a_refused_event_writes_nothing(world, project):
    world.create_branch("feature")
    append_around_the_sdk(project, "feature", "CREATE INDEX i ON users (name) WHERE random() > 0")
    before = state(project)
    with pytest.raises(SchemaError) as caught:
        world.merge_branches("feature", "main")
    assert "non-deterministic functions prohibited in partial index WHERE clauses" in str(
        caught.value
    )
    assert "random()" in str(caught.value)
    assert state(project) == before
    world.create_table("after", [Column(name="a")])


def test_a_three_way_merge_bringing_a_refused_event_writes_nothing(world, project):
    world.create_branch("feature")
    append_around_the_sdk(project, "feature", "CREATE VIEW v AS SELECT nope FROM users")
    world.create_table("ours", [Column(name="a")])
    before = state(project)
    with pytest.raises(SchemaError) as caught:
        world.merge_branches("feature", "main")
    assert "no such column: nope" in str(caught.value)
    assert state(project) == before
    world.create_table("after", [Column(name="a")])


@pytest.mark.parametrize(
    ("make", "drop", "reason"),
    [
        ("CREATE VIEW v AS SELECT lower(b) AS x FROM t", "DROP VIEW v", "no such column: b"),
        ("CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET b = 1 WHERE id = NEW.id; END",
         "DROP TRIGGER tr", "no such column: b"),
    ],
    ids=["view", "trigger"],
)  # fmt: skip
def test_a_revert_sqlite_refuses_writes_nothing(world, project, make, drop, reason):
    world.create_table("t", [Column(name="a"), Column(name="b")])
    world.migrate(make)
    dropped = world.migrate(drop)[-1]
    world.drop_column("t", "b")
    before = state(project)
    with pytest.raises(SchemaError) as caught:
        world.revert(dropped.id, force=True)
    assert reason in str(caught.value)
    assert state(project) == before
    world.insert("t", {"a": "1"})


# -- check() and reset_branch: a journal that already holds a refused event --------------------


def test_check_reports_a_head_that_does_not_replay(world, project):
    assert world.check()["unreplayable"] == []
    bad = append_around_the_sdk(project, "main", "CREATE INDEX i ON users (random())")
    report = world.check()
    assert not report["ok"]
    [found] = report["unreplayable"]
    assert found["branch"] == "main" and found["event"] == bad
    assert "non-deterministic functions prohibited in index expressions" in found["problem"]


def test_reset_branch_recovers_a_broken_head(world, project):
    good = world.log(limit=1)[0].id
    append_around_the_sdk(project, "main", "CREATE INDEX i ON users (random())")
    world.reset_branch("main", "main~1")
    assert world.log(limit=1)[0].id == good
    report = world.check()
    assert report["ok"], report
    world.create_table("after", [Column(name="a")])
    world.insert("users", {"name": "Cy", "email": "cy@example.com"})
    assert [r["name"] for r in world.query("SELECT name FROM users ORDER BY name")] == [
        "Ada",
        "Cy",
    ]


def test_reset_branch_refuses_while_a_tenant_is_past_the_ref(world, project):
    first = world.log()[-1].id
    world.add_column("users", Column(name="nickname"))  # both tenants apply it
    before = state(project)
    with pytest.raises(errors.ResetRefusedError) as caught:
        world.reset_branch("main", first[:8])
    assert "acme" in str(caught.value) and "main" in str(caught.value)
    assert caught.value.tenants == ["acme", "main"]
    assert state(project) == before


def test_reset_branch_refuses_a_ref_off_the_branch(world, project):
    world.create_branch("feature")
    side = world.create_branch("side", source_branch="feature")
    assert side.name == "side"
    world.switch_branch("feature")
    world.create_table("only_on_feature", [Column(name="a")])
    off = world.log("feature", limit=1)[0].id
    world.switch_branch("main")
    before = state(project)
    with pytest.raises(errors.ResetRefusedError) as caught:
        world.reset_branch("main", off)
    assert "first-parent" in str(caught.value)
    assert state(project) == before
    with pytest.raises(EventNotFoundError):
        world.reset_branch("main", "main~99")


def test_reset_branch_moves_the_template_back(world, project):
    append_around_the_sdk(project, "main", "CREATE TABLE around (a TEXT)")
    world.create_tenant("lazy")
    with cinchdb.connect(project_dir=project, tenant="lazy") as lazy:
        # A lazy tenant reads the template, which catches up past the ref.
        assert lazy.query("SELECT COUNT(*) AS n FROM around") == [{"n": 0}]
    world.reset_branch("main", "main~1")
    assert world.schema().table("around") is None
    world.create_tenant("fresh", lazy=False)  # a copy of the template: at the new head
    report = world.check()
    assert report["ok"], report
    with cinchdb.connect(project_dir=project, tenant="fresh") as fresh:
        assert fresh.query("SELECT name FROM sqlite_master WHERE name = 'around'") == []
