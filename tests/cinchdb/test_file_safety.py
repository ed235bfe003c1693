"""All or nothing, and never into an unlinked file (issue 13): a branch copied with its data
appears whole or not at all, an open handle never writes into a tenant file that was deleted
under it, a new tenant file never picks up a stale WAL, and a missing journal or a damaged
tenant file is reported, never papered over with an empty one."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import cinchdb
from cinchdb.errors import CinchError, JournalMissingError, TenantFileError
from cinchdb.models import Column
from cinchdb.project import CINCHDB_DIR, METADATA_FILE
from tests.stress import iterations

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

TENANTS = 40
ROWS = 200

FORK_WITH_DATA = """
import sys
import cinchdb
with cinchdb.connect(project_dir=sys.argv[1]) as db:
    print("start", flush=True)
    db.create_branch("feature", with_data=True)
    print("done", flush=True)
"""

COPY_TENANT = """
import sys
import cinchdb
with cinchdb.connect(project_dir=sys.argv[1]) as db:
    print("start", flush=True)
    for number in range(1000):
        db.copy_tenant("t00", f"copy{number}")
"""


def _populate(project: Path) -> dict[str, int]:
    """TENANTS tenants on main, each with ROWS rows; their row counts."""
    with cinchdb.connect(project_dir=project) as db:
        db.create_table("items", [Column(name="n", type="INTEGER")])
        for number in range(TENANTS):
            name = f"t{number:02d}"
            db.create_tenant(name)
            with cinchdb.connect(project_dir=project, tenant=name) as tenant:
                tenant.insert("items", [{"n": i} for i in range(ROWS)])
    return {f"t{number:02d}": ROWS for number in range(TENANTS)}


def _scratch_files(project: Path) -> list[str]:
    meta = project / CINCHDB_DIR
    return sorted(
        str(path.relative_to(meta))
        for path in meta.rglob("*")
        if ".tmp-" in path.name or path.parent == meta / "tmp"
    )


def _run_until_killed(script: str, project: Path, delay: float) -> bool:
    """Run ``script`` in a child, SIGKILL it ``delay`` seconds after it says "start"; whether
    it finished first."""
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(project)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "start"
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=60)
        if child.stdout is not None:
            child.stdout.close()
    return child.returncode == 0


def test_sigkill_during_create_branch_with_data_leaves_no_branch_or_a_whole_one(tmp_path):
    source = cinchdb.init(tmp_path / "source")
    counts = _populate(source)
    # How long the copy takes here, so the kills land before, during and after it.
    timing = tmp_path / "timing"
    shutil.copytree(source, timing)
    with cinchdb.connect(project_dir=timing) as db:
        started = time.monotonic()
        db.create_branch("feature", with_data=True)
        duration = time.monotonic() - started
    rng = random.Random(13)
    outcomes = {"absent": 0, "whole": 0, "killed mid-copy": 0}
    for run in range(iterations(3, 16)):
        project = tmp_path / f"run{run}"
        shutil.copytree(source, project)
        _run_until_killed(FORK_WITH_DATA, project, rng.uniform(0, duration * 2))
        outcomes["killed mid-copy"] += bool(_scratch_files(project))
        with cinchdb.connect(project_dir=project) as db:
            assert _scratch_files(project) == []
            report = db.check()
            assert report["ok"], report
            if "feature" not in [branch.name for branch in db.list_branches()]:
                outcomes["absent"] += 1
                continue
            outcomes["whole"] += 1
            for tenant, rows in counts.items():
                with cinchdb.connect(project_dir=project, branch="feature", tenant=tenant) as copy:
                    got = copy.query("SELECT count(*) AS c FROM items")[0]["c"]
                    assert got == rows, (run, tenant, got)
    print(
        f"create_branch(with_data) killed {outcomes['absent'] + outcomes['whole']} times:"
        f" {outcomes}"
    )


def test_sigkill_during_copy_tenant_leaves_no_scratch_file_behind(tmp_path):
    project = cinchdb.init(tmp_path / "p")
    with cinchdb.connect(project_dir=project) as db:
        db.create_table("items", [Column(name="n", type="INTEGER")])
        db.create_tenant("t00")
        with cinchdb.connect(project_dir=project, tenant="t00") as tenant:
            tenant.insert("items", [{"n": i} for i in range(20_000)])
    _run_until_killed(COPY_TENANT, project, 0.3)
    with cinchdb.connect(project_dir=project):
        assert _scratch_files(project) == []


def test_scratch_of_a_live_process_is_kept_and_of_a_dead_one_cleared(tmp_path):
    project = cinchdb.init(tmp_path / "p")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    scratch = project / CINCHDB_DIR / "tmp"
    scratch.mkdir()
    (scratch / f"{dead.pid}.abc.db").write_bytes(b"x")
    (scratch / f"{dead.pid}.branch").mkdir()
    (scratch / f"{os.getpid()}.mine.db").write_bytes(b"x")
    with cinchdb.connect(project_dir=project):
        assert sorted(os.listdir(scratch)) == [f"{os.getpid()}.mine.db"]


# -- (b) a handle never keeps using a tenant file that was deleted under it ---------------------
def _users(db: cinchdb.CinchDB) -> None:
    db.create_table("users", [Column(name="name", type="TEXT")])


def _names(db: cinchdb.CinchDB) -> list[str]:
    return [row["name"] for row in db.query("SELECT name FROM users ORDER BY name")]


@pytest.mark.parametrize("rematerialized", [False, True], ids=["lazy", "materialized"])
def test_handle_notices_its_tenant_was_deleted_and_recreated(project, rematerialized):
    with cinchdb.connect(project_dir=project) as admin:
        _users(admin)
        admin.create_tenant("acme")
    holder = cinchdb.connect(project_dir=project, tenant="acme")
    try:
        holder.insert("users", {"name": "deleted"})
        holder.kv.set("old", 1)
        with cinchdb.connect(project_dir=project) as other:
            other.delete_tenant("acme")
            other.create_tenant("acme")
            if rematerialized:
                with cinchdb.connect(project_dir=project, tenant="acme") as fresh:
                    fresh.insert("users", {"name": "fresh"})
        expected = ["fresh"] if rematerialized else []
        assert _names(holder) == expected
        assert holder.kv.get("old") is None
        holder.insert("users", {"name": "acknowledged"})
        holder.kv.set("new", 2)
        with cinchdb.connect(project_dir=project, tenant="acme") as reader:
            assert _names(reader) == sorted([*expected, "acknowledged"])
            assert reader.kv.get("new") == 2
            assert reader.kv.get("old") is None
    finally:
        holder.close()


RECREATE = """
import sys
import cinchdb
with cinchdb.connect(project_dir=sys.argv[1]) as db:
    db.delete_tenant("acme")
    db.create_tenant("acme")
"""


def test_handle_notices_another_process_recreated_its_tenant(project):
    with cinchdb.connect(project_dir=project) as admin:
        _users(admin)
        admin.create_tenant("acme")
    with cinchdb.connect(project_dir=project, tenant="acme") as holder:
        holder.insert("users", {"name": "deleted"})
        subprocess.run(
            [sys.executable, "-c", RECREATE, str(project)],
            check=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
            timeout=60,
        )
        assert _names(holder) == []
        holder.insert("users", {"name": "acknowledged"})
    with cinchdb.connect(project_dir=project, tenant="acme") as reader:
        assert _names(reader) == ["acknowledged"]


# -- (c) a new file never picks up a stale WAL --------------------------------------------------
def test_materializing_clears_a_stale_wal(project):
    with cinchdb.connect(project_dir=project) as admin:
        _users(admin)
        admin.create_tenant("acme")
        path = admin._files.path("main", "acme")
    with cinchdb.connect(project_dir=project, tenant="acme") as old:
        old.insert("users", [{"name": f"deleted{i}"} for i in range(50)])
        wal = Path(f"{path}-wal")
        saved = wal.read_bytes()
        assert saved
    with cinchdb.connect(project_dir=project) as admin:
        admin.delete_tenant("acme")
        admin.create_tenant("acme")
        # A crash or a tool left the old WAL where the new file will go.
        wal.write_bytes(saved)
    with cinchdb.connect(project_dir=project, tenant="acme") as new:
        new.insert("users", {"name": "fresh"})
        assert _names(new) == ["fresh"]
    with cinchdb.connect(project_dir=project, tenant="acme") as again:
        assert _names(again) == ["fresh"]


# -- (d) metadata.db missing or emptied ----------------------------------------------------------
def _with_tenant_file(project: Path) -> None:
    with cinchdb.connect(project_dir=project) as db:
        _users(db)
        db.insert("users", {"name": "kept"})


def _remove_journal(meta: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{meta / METADATA_FILE}{suffix}").unlink(missing_ok=True)


@pytest.mark.parametrize("damage", ["missing", "emptied"])
def test_connect_refuses_when_the_journal_is_gone_but_tenant_files_remain(project, damage):
    _with_tenant_file(project)
    meta = project / CINCHDB_DIR
    _remove_journal(meta)
    if damage == "emptied":
        (meta / METADATA_FILE).write_bytes(b"")
    with pytest.raises(JournalMissingError) as caught:
        cinchdb.connect(project_dir=project)
    message = str(caught.value)
    assert isinstance(caught.value, CinchError)
    assert str(meta / METADATA_FILE) in message
    assert "restore" in message.lower()
    # Nothing was created over the tenant files.
    if damage == "missing":
        assert not (meta / METADATA_FILE).exists()
    else:
        assert (meta / METADATA_FILE).stat().st_size == 0


def test_a_project_without_tenant_files_still_starts_a_journal(project):
    meta = project / CINCHDB_DIR
    _remove_journal(meta)
    with cinchdb.connect(project_dir=project) as db:
        _users(db)
        db.insert("users", {"name": "x"})
        assert _names(db) == ["x"]


# -- (e) a truncated or empty tenant file --------------------------------------------------------
@pytest.mark.parametrize("size", ["zero", "half"])
def test_a_damaged_tenant_file_is_named_not_reset(project, size):
    with cinchdb.connect(project_dir=project) as admin:
        _users(admin)
        admin.create_tenant("acme")
        path = admin._files.path("main", "acme")
    with cinchdb.connect(project_dir=project, tenant="acme") as acme:
        acme.insert("users", [{"name": f"n{i}" * 50} for i in range(500)])
    length = 0 if size == "zero" else path.stat().st_size // 2
    with open(path, "r+b") as file:
        file.truncate(length)
    with (
        pytest.raises(TenantFileError) as caught,
        cinchdb.connect(project_dir=project, tenant="acme") as acme,
    ):
        acme.query("SELECT count(*) FROM users")
    assert "acme" in str(caught.value) and str(path) in str(caught.value)
    assert path.stat().st_size == length  # never reset to an empty database
    with cinchdb.connect(project_dir=project) as admin:
        report = admin.check()
    assert not report["ok"]
    assert [(d["tenant"], str(path) in d["problem"]) for d in report["drift"]] == [("acme", True)]
