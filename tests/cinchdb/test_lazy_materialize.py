"""Materializing a lazy tenant from the template's ready bytes (``__template-{cursor}.ready``):
the bytes follow the branch head, a damaged or vanished ready file is never copied into a
tenant, a process killed mid-copy leaves no partial file, and two processes materializing the
same tenant at once make one file that holds both writes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import cinchdb
from cinchdb._tenant_dir import READY_PREFIX, READY_SUFFIX, TenantDirectory, damage
from cinchdb.models import Column
from cinchdb.project import CINCHDB_DIR, SCRATCH_DIR
from tests.stress import iterations

ROOT = Path(__file__).resolve().parents[2]


def _ready_files(project: Path) -> list[str]:
    branch_dir = project / CINCHDB_DIR / "main-main"
    return sorted(
        name
        for name in os.listdir(branch_dir)
        if name.startswith(READY_PREFIX) and name.endswith(READY_SUFFIX)
    )


def _head(db: cinchdb.CinchDB) -> str:
    return db._files.store.branch_head("main", "main")


def _columns(path: Path, table: str) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
    finally:
        conn.close()


def _new_handle(project: Path, tenant: str) -> cinchdb.CinchDB:
    return cinchdb.connect("main", tenant=tenant, project_dir=project)


def test_ready_bytes_follow_the_head(project):
    with cinchdb.connect(project_dir=project) as db:
        db.create_table("t", [Column(name="a", type="TEXT")])
        db.create_tenant("first")
        db.create_tenant("second")
        db.tenant = "first"
        db.insert("t", {"a": "x"})
        assert _ready_files(project) == [f"{READY_PREFIX}{_head(db)}{READY_SUFFIX}"]
        db.add_column("t", Column(name="b", type="INTEGER", default=7))
        head = _head(db)
    # A new handle (nothing cached) materializes after the head moved: the tenant's file has
    # the column from the first byte, and only the ready bytes at the new head are kept.
    with _new_handle(project, "second") as db:
        row = db.insert("t", {"a": "y"})
        assert row["b"] == 7
        path = db._files.path("main", "second")
        assert "b" in _columns(path, "t")
        assert _ready_files(project) == [f"{READY_PREFIX}{head}{READY_SUFFIX}"]


def test_bytes_at_an_older_head_are_never_copied(project):
    with cinchdb.connect(project_dir=project) as db:
        db.create_table("t", [Column(name="a", type="TEXT")])
        db.create_tenant("early")
        db.tenant = "early"
        db.insert("t", {"a": "x"})
        stale = _ready_files(project)
        db.tenant = "main"
        db.add_column("t", Column(name="b", type="INTEGER", default=7))
    # The old head's bytes are still there (nothing has been materialized since): garble
    # them, so that a copy made from them could not take the write.
    with _new_handle(project, "main") as db:
        db.create_tenant("late")
    assert _ready_files(project) == stale
    (project / CINCHDB_DIR / "main-main" / stale[0]).write_bytes(b"\0" * 4096)
    with _new_handle(project, "late") as db:
        assert db.insert("t", {"a": "y"})["b"] == 7


def test_a_damaged_ready_file_is_made_again_not_copied(project):
    with cinchdb.connect(project_dir=project) as db:
        db.create_table("t", [Column(name="a", type="TEXT")])
        db.create_tenant("one")
        db.create_tenant("two")
        db.tenant = "one"
        db.insert("t", {"a": "x"})
    [name] = _ready_files(project)
    ready = project / CINCHDB_DIR / "main-main" / name
    with open(ready, "r+b") as file:
        file.truncate(1000)  # ragged: not a whole number of pages
    with _new_handle(project, "two") as db:
        db.insert("t", {"a": "y"})
        path = db._files.path("main", "two")
        assert damage(path) is None
        assert damage(ready) is None
        assert db.query("SELECT a FROM t") == [{"a": "y"}]


def test_copy_ready_of_a_vanished_file_makes_nothing(tmp_path):
    directory = TenantDirectory(tmp_path, "main")
    target = directory.path("main", "someone")
    assert directory.copy_ready(tmp_path / "gone.ready", target) is False
    assert not target.exists()
    scratch = tmp_path / SCRATCH_DIR
    assert not scratch.exists() or os.listdir(scratch) == []


def test_reset_branch_drops_ready_bytes(project):
    with cinchdb.connect(project_dir=project) as db:
        db.create_table("t", [Column(name="a", type="TEXT")])
        first = _head(db)
        db.add_column("t", Column(name="b", type="INTEGER"))
        db.create_tenant("x")
        db.tenant = "x"
        db.insert("t", {"a": "1"})
        db.delete_tenant("x")
        db.tenant = "main"
        db.reset_branch("main", first)
        db.create_tenant("y")
        db.tenant = "y"
        db.insert("t", {"a": "2"})
        assert "b" not in db.query("SELECT * FROM t")[0]
        assert _ready_files(project) == [f"{READY_PREFIX}{first}{READY_SUFFIX}"]


# -- processes -------------------------------------------------------------------------------
MATERIALIZE_MANY = """
import sys
import cinchdb
project, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(count):
    with cinchdb.connect("main", tenant=f"{prefix}{i}", project_dir=project) as db:
        db.insert("t", {"a": str(i)})
    if i == 0:
        print("start", flush=True)  # imports done: from here on it materializes, and is killed
"""


def _run(code: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True, env=env
    )


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_mid_materialization_leaves_no_partial_file(project):
    count = 100
    rounds = iterations(3, 30)
    with cinchdb.connect(project_dir=project) as db:
        db.create_table("t", [Column(name="a", type="TEXT")])
    materialized = 0
    for round_ in range(rounds):
        prefix = f"r{round_}_"
        with _new_handle(project, "main") as db:
            for i in range(count):
                db.create_tenant(f"{prefix}{i}")
        child = _run(MATERIALIZE_MANY, str(project), prefix, str(count))
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "start"
            time.sleep(0.01 + 0.007 * (round_ % 10))
            child.send_signal(signal.SIGKILL)
        finally:
            child.wait(timeout=60)
        for name in _ready_files(project):
            assert damage(project / CINCHDB_DIR / "main-main" / name) is None
        with _new_handle(project, "main") as db:
            for i in range(count):
                path = db._files.path("main", f"{prefix}{i}")
                assert damage(path) is None, path
                materialized += path.exists()
            # Every tenant of the round, materialized by the child or not, takes a write.
            for i in range(count):
                db.tenant = f"{prefix}{i}"
                db.insert("t", {"a": "after"})
                assert len(db.query("SELECT a FROM t WHERE a = 'after'")) == 1
    # The kills fell while tenants were being materialized, not before the first one.
    assert materialized > 0


RACE = """
import sys, time
import cinchdb
project, start, tag, count = sys.argv[1], float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
handles = [cinchdb.connect("main", tenant=f"race{i}", project_dir=project) for i in range(count)]
while time.time() < start:
    pass
for db in handles:
    db.insert("t", {"a": tag})
    db.close()
"""


def test_two_processes_materializing_the_same_tenants_keep_both_writes(project):
    count = iterations(20, 200)
    with cinchdb.connect(project_dir=project) as db:
        db.create_table("t", [Column(name="a", type="TEXT")])
        for i in range(count):
            db.create_tenant(f"race{i}")
    start = time.time() + 2.0  # both children have imported and opened their handles by then
    children = [_run(RACE, str(project), str(start), tag, str(count)) for tag in ("p", "q")]
    for child in children:
        assert child.wait(timeout=120) == 0
    for i in range(count):
        with _new_handle(project, f"race{i}") as db:
            rows = sorted(row["a"] for row in db.query("SELECT a FROM t"))
            assert rows == ["p", "q"], f"race{i}: {rows}"
