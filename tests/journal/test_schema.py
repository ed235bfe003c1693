from __future__ import annotations

import pytest

from journal import (
    DependencyError,
    Event,
    FoldCache,
    ObjectExistsError,
    ObjectNotFoundError,
    Schema,
    apply_all,
    fold,
    parse,
)

BASE = """
CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT UNIQUE, age INTEGER CHECK (age >= 0));
CREATE TABLE posts (id INTEGER PRIMARY KEY, author INTEGER REFERENCES users (id), body TEXT);
CREATE INDEX posts_by_author ON posts (author);
CREATE VIEW adults AS SELECT u.email FROM users u WHERE u.age >= 18;
CREATE TRIGGER no_orphans BEFORE DELETE ON users BEGIN
  DELETE FROM posts WHERE author = old.id;
END;
"""


def schema_of(sql: str, base: Schema | None = None) -> Schema:
    return apply_all(base or Schema(), parse(sql))


def test_column_rename_is_carried_into_every_dependant():
    schema = schema_of("ALTER TABLE users RENAME COLUMN id TO user_id", schema_of(BASE))
    users = schema.table("users")
    assert users.primary_key.columns == ("user_id",)
    assert schema.table("posts").foreign_keys[0].ref_columns == ("user_id",)
    assert 'old."user_id"' in schema.trigger("no_orphans").sql
    schema = schema_of("ALTER TABLE users RENAME COLUMN age TO years", schema)
    assert schema.table("users").checks[0].expr == '"years" >= 0'
    assert schema.view("adults").sql.endswith('WHERE u."years" >= 18')


def test_table_rename_is_carried_into_views_triggers_indexes_and_foreign_keys():
    schema = schema_of("ALTER TABLE posts RENAME TO articles", schema_of(BASE))
    assert schema.index("posts_by_author").table == "articles"
    assert schema.table("articles").foreign_keys[0].ref_table == "users"
    assert 'DELETE FROM "articles"' in schema.trigger("no_orphans").sql
    schema = schema_of("ALTER TABLE users RENAME TO people", schema)
    assert schema.table("articles").foreign_keys[0].ref_table == "people"
    assert schema.trigger("no_orphans").table == "people"
    assert 'FROM "people" u' in schema.view("adults").sql


@pytest.mark.parametrize(
    ("sql", "error", "message"),
    [
        ("CREATE TABLE Users (x)", ObjectExistsError, "Table 'Users' already exists"),
        ("CREATE INDEX adults ON users (email)", ObjectExistsError, "View 'adults' already exists"),
        ("ALTER TABLE nope ADD COLUMN x", ObjectNotFoundError, "Table 'nope' does not exist"),
        (
            "ALTER TABLE users DROP COLUMN nope",
            ObjectNotFoundError,
            "Column 'nope' does not exist in table 'users'",
        ),
        ("ALTER TABLE users ADD COLUMN EMAIL TEXT", ObjectExistsError, "Column 'EMAIL' already"),
        ("DROP TABLE users", DependencyError, "view 'adults'"),
        ("ALTER TABLE users DROP COLUMN age", DependencyError, "view 'adults'"),
        ("ALTER TABLE posts DROP COLUMN author", DependencyError, "index 'posts_by_author'"),
        ("ALTER TABLE users DROP COLUMN id", Exception, "part of the primary key"),
        (
            "CREATE TABLE c (a, b, CHECK (a > b)); ALTER TABLE c DROP COLUMN b",
            DependencyError,
            "check 'a > b'",
        ),
        ("CREATE VIEW v AS SELECT nope FROM ghosts", ObjectNotFoundError, "'ghosts' does not"),
        ("CREATE VIEW v AS SELECT users.nope FROM users", ObjectNotFoundError, "'nope'"),
        ("CREATE TABLE c (p INTEGER REFERENCES ghosts (id))", ObjectNotFoundError, "'ghosts'"),
        ("CREATE TABLE c (a INT CHECK (b > 0))", ObjectNotFoundError, "Column 'b'"),
        (
            "CREATE TABLE s (a INTEGER) STRICT; ALTER TABLE s ADD COLUMN b NUMERIC",
            Exception,
            "STRICT table 's' cannot have column 'b' of type 'NUMERIC'",
        ),
        (
            "CREATE TABLE s (a INTEGER) STRICT; ALTER TABLE s ALTER COLUMN a TYPE VARCHAR(3)",
            Exception,
            "STRICT table 's' cannot have column 'a'",
        ),
    ],
)
def test_invalid_operations_are_refused_with_a_clear_message(sql, error, message):
    base = schema_of(BASE)
    with pytest.raises(error, match=message):
        schema_of(sql, base)


def test_dropping_dependants_first_then_the_object_works():
    schema = schema_of("DROP VIEW adults; ALTER TABLE users DROP COLUMN age", schema_of(BASE))
    users = schema.table("users")
    assert [c.name for c in users.columns] == ["id", "email"]
    assert users.checks == ()  # the CHECK on age alone went with the column


def test_canonical_form_ignores_formatting_and_hash_is_stable():
    a = schema_of("CREATE TABLE t (a INTEGER, b TEXT); CREATE VIEW v AS SELECT a FROM t")
    b = schema_of(
        'create table "t" ("a"   INTEGER, b TEXT);\nCREATE VIEW "v" AS  select "a" from t'
    )
    assert a.canonical() == b.canonical()
    assert a.hash() == b.hash()
    c = schema_of("CREATE TABLE t (a INTEGER, b TEXT); CREATE VIEW v AS SELECT b FROM t")
    assert c.hash() != a.hash()


def test_fold_cache_reads_are_incremental_and_match_the_plain_fold():
    events: dict[str, Event] = {}
    loads: list[str] = []
    parent: list[str] = []
    chain = []
    for op in parse(BASE):
        event = Event.create(op, parents=parent, database="main")
        events[event.id] = event
        chain.append(event)
        parent = [event.id]

    def load(event_id: str) -> Event:
        loads.append(event_id)
        return events[event_id]

    cache = FoldCache(load)
    head = chain[-1].id
    assert cache.schema_at(head) == fold(chain)
    assert len(loads) == len(chain)
    loads.clear()
    assert cache.schema_at(head) == fold(chain)
    assert loads == []
    extra = Event.create(
        parse("ALTER TABLE posts ADD COLUMN title TEXT")[0], parents=[head], database="main"
    )
    events[extra.id] = extra
    assert cache.schema_at(extra.id).table("posts").column("title") is not None
    assert loads == [extra.id]
