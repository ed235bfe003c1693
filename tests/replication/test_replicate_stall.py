"""A schema change under replication does not wait behind Litestream's reader (issue 18,
defect 1: ``add_column`` took 30 s, the busy timeout, with Litestream running)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import cinchdb
from cinchdb.models import Column
from cinchdb.project import init_project

from .conftest import cinch_environment

TENANTS = 4
DEADLINE = 30.0
# The bound: twice the same change without replication, plus 5 s. The machine is shared (2
# cores, several test runs and Litestream's own syncs at once), so the absolute allowance is
# generous; the defect it catches waited out the 30 s busy timeout.
ALLOWANCE = 5.0


def add_column_seconds(project: Path, name: str) -> float:
    with cinchdb.connect(project_dir=project) as db:
        started = time.monotonic()
        db.add_column("users", Column(name=name, type="INTEGER", nullable=True))
        return time.monotonic() - started


def columns(project: Path, tenant: str) -> list[str]:
    with cinchdb.connect(tenant=tenant, project_dir=project) as db:
        return [row["name"] for row in db.query("SELECT name FROM pragma_table_info('users')")]


def listed_files(project: Path) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-m", "cinchdb.cli", "replicate", "status", "--json"],
        cwd=project,
        env=cinch_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        return set()
    return {f["path"] for f in json.loads(done.stdout)["files"]}


def test_add_column_under_replication_does_not_wait_for_litestream(tmp_path, replicator):
    project = tmp_path / "app"
    init_project(project)
    names = [f"t{i}" for i in range(TENANTS)]
    with cinchdb.connect(project_dir=project) as db:
        db.create_table("users", [Column(name="name", type="TEXT")])
        for name in names:
            db.create_tenant(name, lazy=False)
    without = add_column_seconds(project, "a")

    running = replicator.start(project, str(tmp_path / "replica"))
    # Litestream holds a read lock on every file it replicates once it has found them: the
    # template among them is what the checkpoint waited behind.
    end = time.monotonic() + DEADLINE
    while "main-main/__template.db" not in listed_files(project):
        assert time.monotonic() < end, running.output()
        time.sleep(0.2)
    time.sleep(1.5)  # a sync or two, so its reader is in place
    under = add_column_seconds(project, "b")

    assert under < 2 * without + ALLOWANCE, (under, without)
    for name in ["main", *names]:
        assert columns(project, name)[-2:] == ["a", "b"]
    assert running.stop() == 0, running.output()
