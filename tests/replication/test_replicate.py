"""``cinch replicate``: a real Litestream, real processes, a real S3 server (moto) on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import cinchdb
from cinchdb._replica_durability import REPLICATING_FILE, wait_until_journal_replicated
from cinchdb.cli import cli
from cinchdb.models import Column
from cinchdb.project import init_project
from cinchdb.replication.destination import parse_destination
from cinchdb.replication.litestream import restore_file

from .conftest import cinch_environment

DEADLINE = 30.0


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with table ``users`` and tenants ``main`` and ``t1`` (materialized, a row
    each), as the current directory."""
    for name in ("CINCHDB_PROJECT_DIR", "CINCHDB_DATABASE", "CINCHDB_BRANCH"):
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "app"
    init_project(root)
    monkeypatch.chdir(root)
    with cinchdb.connect(project_dir=root) as db:
        db.create_table("users", [Column(name="name", type="TEXT")])
        db.create_tenant("t1")
        db.insert("users", {"name": "ann"})
    with cinchdb.connect(tenant="t1", project_dir=root) as db:
        db.insert("users", {"name": "bob"})
    return root


def run_cinch(project: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60):
    return subprocess.run(
        [sys.executable, "-m", "cinchdb.cli", *args],
        cwd=project,
        env=cinch_environment(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def journal_event_ids(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute("SELECT id FROM journal_events")}
    finally:
        conn.close()


def head_event(project: Path) -> str:
    conn = sqlite3.connect(project / ".cinchdb" / "metadata.db")
    try:
        row = conn.execute("SELECT head FROM journal_branches WHERE name = 'main'").fetchone()
    finally:
        conn.close()
    return str(row[0])


def restored_until(dest: str, rel: str, out: Path, check, env=None, deadline=DEADLINE) -> None:
    """Restore ``rel`` from ``dest`` into ``out`` until ``check(out)`` holds (bounded)."""
    destination = parse_destination(dest)
    end = time.monotonic() + deadline
    while True:
        if out.exists():
            out.unlink()
        if restore_file(destination, rel, out, environment=env) and check(out):
            return
        assert time.monotonic() < end, f"{rel} never reached the replica {dest}"
        time.sleep(0.2)


def test_s3_replication_ignores_a_hostile_aws_environment(project, moto_s3, replicator, tmp_path):
    # A custom CA bundle that does not exist and a profile that is not configured: passed
    # through, Litestream's S3 client fails on them; Litestream gets a clean environment.
    url = moto_s3.url("app")
    hostile = {"AWS_CA_BUNDLE": "/nonexistent/ca.pem", "AWS_PROFILE": "missing"}
    running = replicator.start(project, url, hostile)
    head = head_event(project)
    env = moto_s3.credentials
    restored_until(
        url, "metadata.db", tmp_path / "m.db", lambda p: head in journal_event_ids(p), env
    )
    tenant = next((project / ".cinchdb" / "main-main").rglob("t1.db"))
    rel = tenant.relative_to(project / ".cinchdb").as_posix()

    def has_bob(path: Path) -> bool:
        conn = sqlite3.connect(path)
        try:
            return conn.execute("SELECT name FROM users").fetchall() == [("bob",)]
        finally:
            conn.close()

    restored_until(url, rel, tmp_path / "t1.db", has_bob, env)
    assert running.stop() == 0, running.output()


def test_a_schema_change_is_in_the_replica_before_it_returns(project, replicator, tmp_path):
    replica = tmp_path / "replica"
    running = replicator.start(project, str(replica))
    before = head_event(project)
    restored_until(
        str(replica), "metadata.db", tmp_path / "m.db", lambda p: before in journal_event_ids(p)
    )
    with cinchdb.connect(project_dir=project) as db:
        db.add_column("users", Column(name="age", type="INTEGER", nullable=True))
        # The machine dies the moment the change returns: Litestream gets no time of its own.
        running.kill_litestream()
    head = head_event(project)
    out = tmp_path / "restored.db"
    assert restore_file(parse_destination(str(replica)), "metadata.db", out)
    assert head in journal_event_ids(out)
    running.kill()


def test_a_stale_marker_costs_nothing(project, tmp_path, caplog):
    meta_dir = project / ".cinchdb"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    marker = {"pid": dead.pid, "socket": str(tmp_path / "no.sock"), "destination": "x"}
    (meta_dir / REPLICATING_FILE).write_text(json.dumps(marker))
    started = time.monotonic()
    assert wait_until_journal_replicated(meta_dir) is False
    # A live pid whose socket refuses: off at once too (no retry, no waiting out a timeout).
    (meta_dir / REPLICATING_FILE).write_text(json.dumps({**marker, "pid": os.getpid()}))
    assert wait_until_journal_replicated(meta_dir) is False
    with cinchdb.connect(project_dir=project) as db:
        db.add_column("users", Column(name="age", type="INTEGER", nullable=True))
        assert "age" in [c.name for c in db.get_table("users").columns]
    # Bounded well below the wait's own timeout: neither case waited for a replica.
    assert time.monotonic() - started < 5.0
    # A replicator that is gone is no replica falling behind: nothing to warn about (a killed
    # replicator's pid lives on until it is reaped, and its socket is gone first).
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_status_second_replicator_and_stop(project, replicator, tmp_path):
    replica = tmp_path / "replica"
    running = replicator.start(project, str(replica))
    # Litestream lists files once it has scanned the directory.
    end = time.monotonic() + DEADLINE
    while True:
        status = run_cinch(project, "replicate", "status", "--json")
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        paths = {f["path"] for f in report["files"]}
        if "metadata.db" in paths:
            break
        assert time.monotonic() < end, report
        time.sleep(0.2)
    assert report["pid"] == running.proc.pid
    assert report["destination"] == str(replica)

    second = run_cinch(project, "replicate", "--to", str(tmp_path / "other"))
    assert second.returncode == 1
    assert second.stderr.strip() == (
        f"Error: Replication of {project} is already running (pid {running.proc.pid});"
        " stop it with 'cinch replicate stop' first"
    )

    stopped = run_cinch(project, "replicate", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.strip() == f"Stopped replication (pid {running.proc.pid})"
    assert running.proc.wait(DEADLINE) == 0
    assert "Last sync of" in running.output()
    assert not (project / ".cinchdb" / REPLICATING_FILE).exists()
    assert not (project / ".cinchdb" / "replicate.pid").exists()

    again = run_cinch(project, "replicate", "status")
    assert again.returncode == 1
    assert again.stderr.strip() == (
        f"Error: Replication of {project} is not running; start it with 'cinch replicate --to URL'"
    )


def test_detach_writes_a_pid_file_and_stops(project, tmp_path):
    replica = tmp_path / "replica"
    started = run_cinch(project, "replicate", "--to", str(replica), "--detach", "--json")
    try:
        assert started.returncode == 0, started.stderr
        pid = json.loads(started.stdout)["pid"]
        assert (project / ".cinchdb" / "replicate.pid").read_text().strip() == str(pid)
        assert (project / ".cinchdb" / "replicate.log").exists()
    finally:
        stopped = run_cinch(project, "replicate", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert not (project / ".cinchdb" / "replicate.pid").exists()


def test_local_state_files_are_ignored_by_git(project, replicator, tmp_path):
    running = replicator.start(project, str(tmp_path / "replica"))
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    files = _local_files(project)
    assert all((project / name).exists() for name in files)
    ignored = subprocess.run(
        ["git", "check-ignore", *files], cwd=project, capture_output=True, text=True, check=False
    )
    assert ignored.stdout.split() == files, ignored.stderr
    assert running.stop() == 0


def _local_files(project: Path) -> list[str]:
    names = ("replicating.json", "replicate.pid", "replicate.lock", "litestream.json")
    return [f".cinchdb/{name}" for name in names]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://x/y", "unknown scheme 'ftp'; use a directory, file:// or s3://"),
        (
            "s3://A_B/p",
            "'A_B' is not a valid bucket name (3-63 lowercase letters, digits, '.', '-')",
        ),
        (
            "s3://bucket/p?secret=1",
            "unknown parameter 'secret'; known: endpoint, region, force-path-style"
            " (credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
        ),
    ],
)
def test_a_bad_destination_is_refused(project, url, message):
    result = CliRunner().invoke(cli, ["replicate", "--to", url])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: Replica destination '{url}': {message}"


def test_encrypted_tenants_reach_the_replica_as_envelopes(project, replicator, tmp_path):
    with cinchdb.connect(project_dir=project) as db:
        db.create_tenant("vault", lazy=False, encrypt=True, encryption_key="k-vault")
    replica = tmp_path / "replica"
    running = replicator.start(project, str(replica))
    envelopes = list((project / ".cinchdb" / "_sealed").rglob("vault.db"))
    assert len(envelopes) == 1
    rel = envelopes[0].relative_to(project / ".cinchdb").as_posix()

    def plain_sqlite(path: Path) -> bool:
        # The envelope is plain SQLite (Litestream replicates it); what it carries is the
        # tenant's ciphertext, which holds no readable SQLite header.
        return path.read_bytes()[:16] == b"SQLite format 3\x00"

    restored_until(str(replica), rel, tmp_path / "vault-envelope.db", plain_sqlite)
    tenant = next((project / ".cinchdb" / "main-main").rglob("vault.db")).read_bytes()
    assert tenant[:16] != b"SQLite format 3\x00"
    assert running.stop() == 0, running.output()
