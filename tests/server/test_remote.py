"""The remote SDK against the app in-process: keys and their limits raise the SDK's errors,
errors keep their class and attributes, compare-and-swap, the handle's place, encrypted
tenants, and results of the local types (tests/server/conftest.py: project with ``users``
and tenants ``a`` and ``b``)."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

import cinchdb
from cinchdb.errors import (
    AuthenticationError,
    ConcurrentChangeError,
    KeyRequiredError,
    MergeConflictError,
    PermissionDeniedError,
    PreflightError,
    RequestError,
    TableNotFoundError,
)
from cinchdb.models import SQL, Column
from cinchdb.results import QueryRows
from journal.events import ColumnAdded, Event


def remote(client, token, **where):
    return cinchdb.connect_api(str(client.base_url), token, client=client, **where)


@pytest.fixture
def admin_db(client, keys):
    with remote(client, keys.create(name="admin").token) as db:
        yield db


def test_a_wrong_expired_or_revoked_key_raises_authentication_error(client, keys):
    with pytest.raises(AuthenticationError) as caught:
        remote(client, "ck_nope_nothing").list_tables()
    assert caught.value.problem and isinstance(caught.value, cinchdb.CinchError)
    created = keys.create(name="short")
    db = remote(client, created.token)
    assert [t.name for t in db.list_tables()] == ["users"]
    keys.revoke(created.info.id)
    with pytest.raises(AuthenticationError, match="revoked"):
        db.list_tables()
    expired = keys.create(expires_in=timedelta(milliseconds=300), name="expired")
    short = remote(client, expired.token)
    assert short.list_tables()
    deadline = time.monotonic() + 10  # bounded: the key expires 0.3 s after it was made
    while datetime.now(timezone.utc) <= expired.info.expires_at and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(AuthenticationError, match="expired"):
        short.list_tables()


def test_scopes_and_limits_raise_permission_denied_with_what_the_key_has(client, keys):
    reader = remote(client, keys.create(scopes=["data:read"], name="reader").token)
    assert reader.query("SELECT count(*) AS n FROM users") == [{"n": 0}]
    with pytest.raises(PermissionDeniedError) as caught:
        reader.insert("users", {"name": "x"})
    assert (caught.value.kind, caught.value.value) == ("scope", "data:write")
    assert caught.value.allowed == ["data:read"]
    with pytest.raises(PermissionDeniedError):
        reader.kv.set("k", 1)
    only_a = keys.create(tenants=["a"], name="tenant a").token
    assert remote(client, only_a, tenant="a").insert("users", {"name": "in a"})["name"] == "in a"
    with pytest.raises(PermissionDeniedError) as caught:
        remote(client, only_a, tenant="b").query("SELECT 1 AS one")
    assert (caught.value.kind, caught.value.value) == ("tenant", "b")


def test_errors_keep_their_class_message_and_attributes(admin_db, project):
    db = admin_db
    with pytest.raises(TableNotFoundError, match="Table 'ghost' does not exist"):
        db.get_table("ghost")
    with cinchdb.connect(tenant="a", project_dir=project) as a:
        a.insert("users", {"name": "x", "age": 1}, {"name": "y", "age": 1})
    with pytest.raises(PreflightError) as caught:
        db.create_index("idx_age", "users", ["age"], unique=True)
    assert [tenant for tenant, _ in caught.value.failures] == ["a"]
    # SQLite's own error, as a local query() raises it.
    with pytest.raises(sqlite3.OperationalError, match="no such column: nocol"):
        db.query("SELECT nocol FROM users")
    with pytest.raises(RequestError, match="NaN or infinity"):
        db.kv.set("inf", float("inf"))


def test_merge_conflicts_arrive_with_their_conflicts(admin_db):
    db = admin_db
    db.create_branch("feature")
    db.add_column("users", Column(name="plan", type="TEXT"))
    db.switch_branch("feature")
    db.add_column("users", Column(name="plan", type="INTEGER"))
    db.switch_branch("main")
    preview = db.merge_preview("feature")
    assert preview["status"] == "conflict" and preview["conflicts"]
    with pytest.raises(MergeConflictError) as caught:
        db.merge_branches("feature")
    assert caught.value.conflicts and caught.value.exit_code == 3


def test_expecting_head_refuses_a_change_when_another_client_moved_the_branch(admin_db, project):
    db = admin_db
    before = db.head()
    assert db.list_tables()  # any response reports the head
    with cinchdb.connect(project_dir=project) as other:
        other.add_column("users", Column(name="by_other", type="TEXT"))
        moved = other.head()
    assert moved != before and db.head() == moved
    with pytest.raises(ConcurrentChangeError), db.expecting_head(before):
        db.add_column("users", Column(name="mine", type="TEXT"))
    assert "mine" not in [c.name for c in db.get_table("users").columns]
    with db.expecting_head() as expected:  # the head the last response reported
        assert expected == moved
        db.add_column("users", Column(name="mine", type="TEXT"))
    db.add_column("users", Column(name="later", type="TEXT"))  # no If-Match: as locally


def test_the_handles_place_follows_its_attributes(admin_db, project):
    db = admin_db
    db.tenant = "a"
    db.insert("users", {"name": "for a"})
    assert db.current_tenant == "a"
    with cinchdb.connect(tenant="a", project_dir=project) as a:
        assert [r["name"] for r in a.query("SELECT name FROM users")] == ["for a"]
    db.rename_tenant("a", "acme")
    assert db.tenant == "acme" and db.query("SELECT name FROM users") == [{"name": "for a"}]
    db.create_branch("feature/x")
    db.switch_branch("feature/x")  # "/" travels as "~" in the path
    db.add_column("users", Column(name="flag", type="BOOLEAN", default=False))
    assert db.insert("users", {"name": "f"})["flag"] is False
    db.switch_branch("main")
    assert "flag" not in [c.name for c in db.get_table("users").columns]


def test_encrypted_tenants_send_their_key_with_each_call(admin_db, client, keys):
    db = admin_db
    tenant = db.create_tenant("vault", encrypt=True, encryption_key="s3cret")
    assert tenant.encrypted
    token = keys.create(name="vault").token
    with remote(client, token, tenant="vault", encryption_key="s3cret") as vault:
        vault.insert("users", {"name": "hidden"})
        assert vault.query("SELECT name FROM users") == [{"name": "hidden"}]
    with pytest.raises(KeyRequiredError):
        remote(client, token, tenant="vault").query("SELECT name FROM users")


def test_results_have_the_local_types(admin_db, project):
    db = admin_db
    db.create_table(
        "files",
        [Column(name="data", type="BLOB"), Column(name="at", default=SQL("datetime('now')"))],
    )
    row = db.insert("files", {"data": b"\x00\xff"})
    assert row["data"] == b"\x00\xff" and db.get("files", row["id"]) == row
    assert db.update("files", row, {"data": b"\x01"})["data"] == b"\x01"
    rows = db.query("SELECT data FROM files WHERE data = ?", [b"\x01"])
    assert isinstance(rows, QueryRows) and rows == [{"data": b"\x01"}]
    assert rows.columns == ("data",)
    at = next(c for c in db.get_table("files").columns if c.name == "at")
    assert at.default == SQL("datetime('now')") and isinstance(at.default, SQL)
    events = db.log(limit=1)
    assert isinstance(events[0], Event) and events[0].summary.startswith("create table files")
    with cinchdb.connect(project_dir=project) as local:
        assert events == local.log(limit=1)
    db.add_column("files", Column(name="size", type="INTEGER"))
    [operation] = db.diff("main~1", "main")
    assert isinstance(operation, ColumnAdded) and operation.column.name == "size"
    db.kv.set("blob", b"\x00")
    assert db.kv.get("blob") == b"\x00" and db.kv.mget(["blob"]) == {"blob": b"\x00"}


def test_alter_column_defaults_keep_their_kind(admin_db):
    db = admin_db
    db.create_table("t", [Column(name="a"), Column(name="b", type="BLOB")])
    for column, default in [("a", SQL("datetime('now')")), ("b", b"\x00\x01"), ("a", "plain")]:
        db.alter_column("t", column, default=default)
        got = next(c for c in db.get_table("t").columns if c.name == column).default
        assert got == default and type(got) is type(default)
    db.alter_column("t", "a", default=None)
    assert next(c for c in db.get_table("t").columns if c.name == "a").default is None


def test_expecting_head_holds_for_its_own_thread_only(admin_db):
    db = admin_db
    stale = db.head()
    db.add_column("users", Column(name="moved", type="TEXT"))
    errors = []

    def other_thread():
        try:
            db.add_column("users", Column(name="from_thread", type="TEXT"))
        except Exception as e:  # reported below, with its type
            errors.append(e)

    with db.expecting_head(stale):
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join(timeout=30)
        with pytest.raises(ConcurrentChangeError):
            db.add_column("users", Column(name="mine", type="TEXT"))
    assert not worker.is_alive() and errors == []
    names = [c.name for c in db.get_table("users").columns]
    assert "from_thread" in names and "mine" not in names
