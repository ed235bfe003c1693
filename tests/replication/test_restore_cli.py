"""``cinch restore``: exit codes and exact messages, ``--json``, and a backup directory
dispatched to the backup restore. Real processes, a real Litestream replica."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import cinchdb
from cinchdb.models import Column
from tests.replication.conftest import cinch_environment
from tests.replication.test_restore import KEY, PLAIN, project, sync_once, titles

__all__ = ["project"]  # the fixture, shared with the SDK tests


def cinch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cinchdb.cli", *args],
        cwd=cwd,
        env=cinch_environment(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in cinch_environment().items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)


def test_restore_json(project: Path, tmp_path: Path) -> None:
    replica = tmp_path / "replica"
    sync_once(project, os.fspath(replica))
    shutil.rmtree(project)

    done = cinch(
        "restore", "--from", os.fspath(replica), "--to", "restored", "--json", cwd=tmp_path
    )

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True
    assert report["restored"][0] == ".cinchdb/metadata.db"
    assert len(report["restored"]) == 1 + len(PLAIN) + 1
    assert [(t["tenant"], t["finding"]) for t in report["tenants"]] == [("sec", "not_checked")]
    assert report["checks"]["main"]["ok"] is True
    assert titles(tmp_path / "restored", "sec", KEY) == [f"sec-{i}" for i in range(5)]


def test_restore_into_the_current_directory(project: Path, tmp_path: Path) -> None:
    replica = tmp_path / "replica"
    sync_once(project, os.fspath(replica))
    here = tmp_path / "here"
    here.mkdir()

    done = cinch("restore", "--from", os.fspath(replica), cwd=here)

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"Restored the journal and {len(PLAIN) + 1} tenant file(s) into {here}",
        "Tenant 'sec' (database 'main', branch 'main') is encrypted and was not checked without"
        " its key; opening it with its key checks it",
        "check: database 'main' is clean",
    ]
    assert titles(here, "a") == [f"a-{i}" for i in range(5)]


def test_a_tenant_ahead_is_named_and_exits_1(project: Path, tmp_path: Path) -> None:
    replica = tmp_path / "replica"
    sync_once(project, os.fspath(replica))
    shutil.copytree(replica / "metadata.db", tmp_path / "journal-then")
    with cinchdb.connect(project_dir=project) as db:
        db.add_column("posts", Column(name="views", type="INTEGER", default=0))
    sync_once(project, os.fspath(replica))
    shutil.rmtree(replica / "metadata.db")
    shutil.copytree(tmp_path / "journal-then", replica / "metadata.db")

    done = cinch("restore", "--from", os.fspath(replica), "--to", "restored", cwd=tmp_path)

    assert done.returncode == 1
    ahead = [line for line in done.stdout.splitlines() if "restored journal does not have" in line]
    assert [line.split("'")[1] for line in ahead] == list(PLAIN)
    assert all("--timestamp" in line and "_restore_ahead" in line for line in ahead)
    assert titles(tmp_path / "restored", "lazy") == []


def test_refusals(project: Path, tmp_path: Path) -> None:
    replica = tmp_path / "replica"
    sync_once(project, os.fspath(replica))
    (tmp_path / "empty").mkdir()

    over = cinch("restore", "--from", os.fspath(replica), cwd=project)
    missing = cinch("restore", "--from", "empty", "--to", "r1", cwd=tmp_path)
    early = cinch("restore", "--from", "replica", "--timestamp", "2020-01-01", "--to", "r2",
                  cwd=tmp_path)  # fmt: skip
    malformed = cinch("restore", "--from", "replica", "--timestamp", "soon", cwd=tmp_path)

    assert (over.returncode, over.stderr.splitlines()[0]) == (
        1, f"Error: Cannot use {project}: it holds a CinchDB project already (.cinchdb/metadata.db)"
    )  # fmt: skip
    assert (missing.returncode, missing.stderr.splitlines()[0]) == (
        1, f"Error: No CinchDB replica at {tmp_path / 'empty'}: it holds no journal"
        " (metadata.db); nothing was restored"
    )  # fmt: skip
    assert (early.returncode, early.stderr.splitlines()[0]) == (
        1, "Error: Timestamp '2020-01-01T00:00:00+00:00': it is before the first snapshot the"
        f" replica at {replica} holds; nothing was restored"
    )  # fmt: skip
    assert (malformed.returncode, malformed.stderr.splitlines()[0]) == (
        1, "Error: Timestamp 'soon': not an ISO 8601 / RFC 3339 time (like"
        " 2026-01-31T12:00:00Z); nothing was restored"
    )  # fmt: skip
    assert not (tmp_path / "r1").exists() and not (tmp_path / "r2").exists()


def test_a_backup_directory_is_restored_as_a_backup(project: Path, tmp_path: Path) -> None:
    made = cinch("backup", "--to", os.fspath(tmp_path / "bk"), cwd=project)
    assert made.returncode == 0, made.stderr

    with_time = cinch("restore", "--from", "bk", "--timestamp", "2026-01-01", cwd=tmp_path)
    done = cinch("restore", "--from", "bk", "--to", "restored", "--json", cwd=tmp_path)

    assert with_time.returncode == 2
    assert "--timestamp applies to a replica; a backup holds one moment only" in with_time.stderr
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"] is True
    for tenant in PLAIN:
        assert titles(tmp_path / "restored", tenant) == [f"{tenant}-{i}" for i in range(5)]
