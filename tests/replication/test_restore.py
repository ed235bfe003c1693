"""``restore`` from a real Litestream replica (a directory, and S3 from a real moto server):
every tenant's rows back, every tenant at the journal head, the check clean; point in time
before a schema change gives the old schema everywhere; a journal replica older than a tenant's
names that tenant and leaves the others working; and every refusal leaves nothing behind.

Replicas are made by the real Litestream binary with the configuration ``cinch replicate``
uses, one sync at a time (``litestream replicate -once``), so each test controls exactly what
the replica holds and when."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

import cinchdb
from cinchdb.crypto import KeyRequiredError, WrongKeyError
from cinchdb.errors import (
    BackupTargetError,
    ReplicaNotFoundError,
    ReplicaUnreachableError,
    RestoreTimestampError,
)
from cinchdb.models import Column
from cinchdb.replication.destination import parse_destination
from cinchdb.replication.litestream import (
    clean_environment,
    find_binary,
    replicate_config,
    write_config,
)
from cinchdb.replication.restore import parse_timestamp, restore
from cinchdb.replication.sealed import Sealer
from cinchdb.replication.verify import AHEAD_DIR
from tests.replication.conftest import CREDENTIALS, MotoS3, free_port

KEY = "restore-test-key"
PLAIN = ("a", "b", "c")


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # Litestream reads them from the restoring process's environment, as a user's shell has.
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)


def sync_once(root: Path, to: str) -> None:
    """One sync of every file of the project to ``to`` by the real Litestream, encrypted
    tenants sealed first (as ``cinch replicate`` does every interval)."""
    meta = root / ".cinchdb"
    Sealer(meta).sync()
    config = write_config(
        replicate_config(meta, parse_destination(to)), root.parent / f"ls-{root.name}.json"
    )
    done = subprocess.run(
        [find_binary(), "replicate", "-config", os.fspath(config), "-once"],
        env=clean_environment({**os.environ, **CREDENTIALS}),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = cinchdb.init(tmp_path / "p")
    with cinchdb.connect(project_dir=root) as db:
        db.create_table("posts", [Column(name="title", type="TEXT")])
        for tenant in (*PLAIN, "lazy"):
            db.create_tenant(tenant)
        db.create_tenant("sec", encrypt=True, encryption_key=KEY)
    for tenant in (*PLAIN, "sec"):
        key = KEY if tenant == "sec" else None
        with cinchdb.connect(project_dir=root, tenant=tenant, encryption_key=key) as db:
            db.insert("posts", [{"title": f"{tenant}-{i}"} for i in range(5)])
    return root


def titles(root: Path, tenant: str, key: str | None = None) -> list[str]:
    with cinchdb.connect(project_dir=root, tenant=tenant, encryption_key=key) as db:
        return sorted(str(row["title"]) for row in db.query("SELECT title FROM posts"))


def columns(root: Path, tenant: str, key: str | None = None) -> list[str]:
    with cinchdb.connect(project_dir=root, tenant=tenant, encryption_key=key) as db:
        return [str(row["name"]) for row in db.query("SELECT name FROM pragma_table_info('posts')")]


def assert_whole(restored: Path) -> None:
    """Every tenant's rows back, every file at the journal head, the check clean."""
    for tenant in PLAIN:
        assert titles(restored, tenant) == [f"{tenant}-{i}" for i in range(5)]
    assert titles(restored, "sec", KEY) == [f"sec-{i}" for i in range(5)]
    assert titles(restored, "lazy") == []
    with cinchdb.connect(project_dir=restored, encryption_key=None) as db:
        states = {s["name"]: s for s in db.tenant_status()}
        for tenant in PLAIN:
            assert states[tenant]["materialized"] and states[tenant]["behind"] == 0
        assert not states["lazy"]["materialized"]
        assert db.check()["ok"]
    with cinchdb.connect(project_dir=restored, tenant="sec", encryption_key=KEY) as db:
        assert [s["behind"] for s in db.tenant_status() if s["name"] == "sec"] == [0]


@pytest.fixture
def s3_url(moto_s3: MotoS3) -> Iterator[str]:
    yield moto_s3.url("app")


@pytest.mark.parametrize("kind", ["file", "s3"])
def test_the_machine_is_gone_and_the_project_comes_back(
    kind: str, project: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    to = os.fspath(tmp_path / "replica") if kind == "file" else request.getfixturevalue("s3_url")
    sync_once(project, to)
    shutil.rmtree(project)  # the machine is gone
    steps: list[tuple[int, int]] = []

    report = restore(to, tmp_path / "restored", progress=lambda d, t: steps.append((d, t)))

    restored = tmp_path / "restored"
    assert report.ok
    assert [(f.tenant, f.finding) for f in report.tenants] == [("sec", "not_checked")]
    assert report.restored[0] == ".cinchdb/metadata.db"  # the journal first
    assert sorted(report.restored[1:]) == sorted(
        os.fspath(p.relative_to(restored)) for p in (restored / ".cinchdb").glob("main-main/*/*.db")
    )
    assert len(report.restored) == 1 + len(PLAIN) + 1  # the lazy tenant has no file
    assert steps[-1][0] == steps[-1][1] and [d for d, _ in steps] == sorted(d for d, _ in steps)
    assert_whole(restored)
    with pytest.raises(KeyRequiredError):
        titles(restored, "sec")
    with pytest.raises(WrongKeyError):
        titles(restored, "sec", "not-the-key")


def test_point_in_time_before_a_schema_change_gives_the_old_schema_everywhere(
    project: Path, tmp_path: Path
) -> None:
    to = os.fspath(tmp_path / "replica")
    sync_once(project, to)
    time.sleep(1.1)
    before = datetime.now(timezone.utc)
    time.sleep(1.1)
    with cinchdb.connect(project_dir=project) as db:
        db.add_column("posts", Column(name="views", type="INTEGER", default=0))
    sync_once(project, to)

    old = restore(to, tmp_path / "old", timestamp=before)
    new = restore(to, tmp_path / "new")

    assert old.ok and new.ok
    for root, expected in ((tmp_path / "old", ["title"]), (tmp_path / "new", ["title", "views"])):
        with cinchdb.connect(project_dir=root) as db:
            journal = [c.name for c in db.get_table("posts").columns]
            assert [c for c in journal if c in ("title", "views")] == expected
        for tenant in PLAIN:
            assert [c for c in columns(root, tenant) if c in ("title", "views")] == expected
        assert [c for c in columns(root, "sec", KEY) if c in ("title", "views")] == expected
    assert_whole(tmp_path / "old")


def test_a_journal_replica_older_than_a_tenant_names_that_tenant(
    project: Path, tmp_path: Path
) -> None:
    """The journal's replica lags a tenant's (replication was stopped between the two): the
    tenant ahead is moved aside and named, and every other tenant opens as usual."""
    to = tmp_path / "replica"
    sync_once(project, os.fspath(to))
    shutil.copytree(to / "metadata.db", tmp_path / "journal-replica-then")
    with cinchdb.connect(project_dir=project) as db:
        db.add_column("posts", Column(name="views", type="INTEGER", default=0))
    sync_once(project, os.fspath(to))
    shutil.rmtree(to / "metadata.db")
    shutil.copytree(tmp_path / "journal-replica-then", to / "metadata.db")

    report = restore(os.fspath(to), tmp_path / "restored")

    restored = tmp_path / "restored"
    ahead = sorted(f.tenant for f in report.tenants if f.finding == "ahead")
    assert ahead == ["a", "b", "c"]  # every plain file got the change; the journal did not
    assert [f.tenant for f in report.tenants if f.finding == "not_checked"] == ["sec"]
    assert not report.ok
    for finding in report.tenants:
        if finding.finding == "ahead":
            assert finding.message.startswith(f"Tenant '{finding.tenant}' (database 'main'")
            assert (restored / str(finding.moved_to)).is_file()
            assert AHEAD_DIR in str(finding.moved_to)
    # The others (and the moved ones, now empty at the journal head) open as usual.
    assert titles(restored, "lazy") == []
    assert titles(restored, "a") == []
    with cinchdb.connect(project_dir=restored) as db:
        assert db.check()["ok"]


def test_restore_refuses_a_directory_that_holds_a_project(project: Path, tmp_path: Path) -> None:
    to = os.fspath(tmp_path / "replica")
    sync_once(project, to)
    before = sorted(p.name for p in (project / ".cinchdb").iterdir())
    with pytest.raises(BackupTargetError) as caught:
        restore(to, project)
    assert str(caught.value) == (
        f"Cannot use {project}: it holds a CinchDB project already (.cinchdb/metadata.db)"
    )
    assert sorted(p.name for p in (project / ".cinchdb").iterdir()) == before


def test_restore_beside_a_checkouts_history(project: Path, tmp_path: Path) -> None:
    """A fresh clone of the application's repository has only ``.cinchdb/history/``."""
    to = os.fspath(tmp_path / "replica")
    sync_once(project, to)
    clone = tmp_path / "clone"
    shutil.copytree(project / ".cinchdb" / "history", clone / ".cinchdb" / "history")
    assert restore(to, clone).ok
    assert_whole(clone)


def test_a_replica_that_does_not_exist(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReplicaNotFoundError) as caught:
        restore(os.fspath(tmp_path / "empty"), tmp_path / "restored")
    assert str(caught.value) == (
        f"No CinchDB replica at {tmp_path / 'empty'}: it holds no journal (metadata.db);"
        " nothing was restored"
    )
    assert not (tmp_path / "restored").exists()


def test_an_s3_prefix_that_holds_no_replica(moto_s3: MotoS3, tmp_path: Path) -> None:
    url = moto_s3.url("nothing-here")
    with pytest.raises(ReplicaNotFoundError):
        restore(url, tmp_path / "restored")
    assert not (tmp_path / "restored").exists()


def test_an_unreachable_endpoint_fails_at_once(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    url = f"s3://bucket-x/app?endpoint=http://127.0.0.1:{port}&region=us-east-1"
    (tmp_path / "target").mkdir()
    started = time.monotonic()
    with pytest.raises(ReplicaUnreachableError) as caught:
        restore(url, tmp_path / "target")
    assert time.monotonic() - started < 30  # Litestream alone retries for minutes
    assert str(caught.value) == (
        f"Cannot reach the replica's endpoint http://127.0.0.1:{port} (connection refused);"
        " nothing was restored"
    )
    assert list((tmp_path / "target").iterdir()) == []


def test_a_timestamp_before_the_first_snapshot(project: Path, tmp_path: Path) -> None:
    to = os.fspath(tmp_path / "replica")
    sync_once(project, to)
    with pytest.raises(RestoreTimestampError) as caught:
        restore(to, tmp_path / "restored", timestamp="2020-01-01T00:00:00Z")
    assert str(caught.value) == (
        f"Timestamp '2020-01-01T00:00:00+00:00': it is before the first snapshot the replica"
        f" at {to} holds; nothing was restored"
    )
    assert not (tmp_path / "restored").exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-31T12:00:00Z", datetime(2026, 1, 31, 12, tzinfo=timezone.utc)),
        ("2026-01-31T13:00:00+01:00", datetime(2026, 1, 31, 12, tzinfo=timezone.utc)),
        ("2026-01-31 12:00", datetime(2026, 1, 31, 12, tzinfo=timezone.utc)),  # no zone: UTC
        ("2026-01-31", datetime(2026, 1, 31, tzinfo=timezone.utc)),
    ],
)
def test_timestamps(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected


def test_a_malformed_timestamp(tmp_path: Path) -> None:
    with pytest.raises(RestoreTimestampError) as caught:
        restore(os.fspath(tmp_path), tmp_path / "restored", timestamp="yesterday")
    assert str(caught.value) == (
        "Timestamp 'yesterday': not an ISO 8601 / RFC 3339 time (like 2026-01-31T12:00:00Z);"
        " nothing was restored"
    )


def test_every_branch_and_database_comes_back(project: Path, tmp_path: Path) -> None:
    with cinchdb.connect(project_dir=project) as db:
        db.create_branch("feature/x")
    with cinchdb.connect(branch="feature/x", tenant="a", project_dir=project) as db:
        db.add_column("posts", Column(name="draft", type="INTEGER", default=1))
        db.insert("posts", {"title": "on the branch"})
    with cinchdb.connect("other", tenant="main", project_dir=project) as db:
        db.create_table("notes", [Column(name="body", type="TEXT")])
        db.insert("notes", {"body": "elsewhere"})
    to = os.fspath(tmp_path / "replica")
    sync_once(project, to)

    report = restore(to, tmp_path / "restored", workers=2)

    restored = tmp_path / "restored"
    assert report.ok and sorted(report.checks) == ["main", "other"]
    with cinchdb.connect(branch="feature/x", tenant="a", project_dir=restored) as db:
        rows = db.query("SELECT title, draft FROM posts")
        assert [r["title"] for r in rows] == ["on the branch"] and rows[0]["draft"] == 1
    with cinchdb.connect("other", project_dir=restored) as db:
        assert [r["body"] for r in db.query("SELECT body FROM notes")] == ["elsewhere"]
    assert titles(restored, "a") == [f"a-{i}" for i in range(5)]
