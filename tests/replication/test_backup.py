"""``cinch backup`` under write load restores to a consistent project: every tenant at the
journal head after catch-up, ``cinch check`` clean, every write acknowledged before the backup
started present, the encrypted tenant opening with its key and only with it. A backup with an
altered or missing file is refused naming it, and a restore never goes over a project. Real
processes (four writers and the CLI), real files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import cinchdb
from cinchdb.crypto import KeyRequiredError, WrongKeyError
from cinchdb.errors import BackupTargetError, BackupVerifyError
from cinchdb.models import Column
from cinchdb.replication.backup import MANIFEST, backup, is_backup, restore_backup
from tests.replication._writers import MARK, acknowledged, finish, wait_for_acks, writers
from tests.stress import iterations

KEY = "backup-test-key"
PLAIN = ["t0", "t1", "t2"]


def cinch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cinchdb.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = cinchdb.init(tmp_path / "p")
    with cinchdb.connect(project_dir=root) as db:
        db.create_table(
            "users", [Column(name="name", type="TEXT"), Column(name="blob", type="TEXT")]
        )
        for name in [*PLAIN, "lazy"]:
            db.create_tenant(name)
        db.create_tenant("sec", encrypt=True, encryption_key=KEY)
    for tenant in [*PLAIN, "sec"]:
        key = KEY if tenant == "sec" else None
        with cinchdb.connect(project_dir=root, tenant=tenant, encryption_key=key) as db:
            db.insert("users", [{"name": f"seed{i}-{MARK}"} for i in range(20)])
    return root


def _names(root: Path, tenant: str, key: str | None = None) -> set[str]:
    with cinchdb.connect(project_dir=root, tenant=tenant, encryption_key=key) as db:
        rows = db.query("SELECT name FROM users")
    return {str(row["name"]).removesuffix("-" + MARK) for row in rows}


def test_backup_under_write_load_restores_consistent(project: Path, tmp_path: Path) -> None:
    acks = tmp_path / "acks"
    tenants: list[tuple[str, str | None]] = [(t, None) for t in PLAIN] + [("sec", KEY)]
    for round_ in range(iterations(1, 5)):
        with writers(project, tenants, acks / str(round_), 3000, 12) as procs:
            wait_for_acks(acks / str(round_), len(tenants), 5)
            with cinchdb.connect(project_dir=project) as db:  # a schema change under load
                db.add_column("users", Column(name=f"plan{round_}", type="TEXT", default="x"))
            time.sleep(0.3)
            before = {n: acknowledged(acks / str(round_), n) for n in range(len(tenants))}
            target = tmp_path / f"backup{round_}"
            done = cinch("backup", "--to", str(target), "--json", cwd=project)
            assert done.returncode == 0, done.stderr
            report = json.loads(done.stdout)
            assert report["tenants"] == len(tenants) and report["encrypted"] == 1
            finish(procs)
        assert all(before.values()), before  # each writer had acknowledged rows
        restored = tmp_path / f"restored{round_}"
        result = restore_backup(target, restored)
        assert result.ok, result.as_dict()
        assert [f.tenant for f in result.tenants] == ["sec"]  # not checked without its key
        for n, (tenant, key) in enumerate(tenants):
            assert before[n] <= _names(restored, tenant, key), tenant
        for tenant, key in [*tenants, ("lazy", None), ("main", None)]:
            with cinchdb.connect(project_dir=restored, tenant=tenant, encryption_key=key) as db:
                db.query("SELECT count(*) FROM users")
                status = {s["name"]: s for s in db.tenant_status()}
                assert status[tenant]["behind"] in (0, None), status[tenant]
                if status[tenant]["materialized"]:
                    assert status[tenant]["behind"] == 0
        with cinchdb.connect(project_dir=restored, tenant="sec", encryption_key=KEY) as db:
            assert [s["behind"] for s in db.tenant_status() if s["name"] == "sec"] == [0]
            columns = {c.name for c in db.get_table("users").columns}
            assert f"plan{round_}" in columns
        checked = cinch("check", cwd=restored)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        with pytest.raises(WrongKeyError):
            cinchdb.connect(project_dir=restored, tenant="sec", encryption_key="wrong")
        with (
            cinchdb.connect(project_dir=restored, tenant="sec") as keyless,
            pytest.raises(KeyRequiredError),
        ):
            keyless.query("SELECT name FROM users")
        for path in (target / ".cinchdb").rglob("*"):
            if path.is_file() and path.stem.startswith("sec"):
                assert MARK.encode() not in path.read_bytes(), path


@pytest.fixture
def taken(project: Path, tmp_path: Path) -> Path:
    target = tmp_path / "bk"
    backup(target, project_dir=project)
    return target


def test_an_altered_file_is_refused_naming_it(taken: Path, tmp_path: Path) -> None:
    manifest = json.loads((taken / MANIFEST).read_text())
    rel = next(f["path"] for f in manifest["files"] if f["path"].endswith("/t1.db"))
    path = taken / rel
    data = bytearray(path.read_bytes())
    data[5000] ^= 0xFF
    path.write_bytes(bytes(data))
    target = tmp_path / "r"
    with pytest.raises(BackupVerifyError) as error:
        restore_backup(taken, target)
    assert str(error.value) == (
        f"Backup {taken}: {rel} differs from the manifest (sha256); nothing was restored"
    )
    assert not target.exists()


def test_a_missing_or_extra_file_is_refused_naming_it(taken: Path, tmp_path: Path) -> None:
    extra = taken / ".cinchdb" / "stray.db"
    extra.write_bytes(b"x")
    with pytest.raises(BackupVerifyError, match=r"\.cinchdb/stray\.db is not in the manifest"):
        restore_backup(taken, tmp_path / "r")
    extra.unlink()
    (taken / ".cinchdb" / "metadata.db").unlink()
    with pytest.raises(BackupVerifyError) as error:
        restore_backup(taken, tmp_path / "r")
    assert str(error.value) == (
        f"Backup {taken}: .cinchdb/metadata.db is missing; nothing was restored"
    )
    (taken / MANIFEST).unlink()
    with pytest.raises(BackupVerifyError, match=r"cinchdb-backup\.json is missing"):
        restore_backup(taken, tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_restore_into_a_project_is_refused(taken: Path, project: Path) -> None:
    before = sorted(p.relative_to(project) for p in project.rglob("*"))
    with pytest.raises(BackupTargetError) as error:
        restore_backup(taken, project)
    assert str(error.value) == (
        f"Cannot use {project}: it holds a CinchDB project already (.cinchdb/metadata.db)"
    )
    assert sorted(p.relative_to(project) for p in project.rglob("*")) == before


def test_restore_into_a_checkout_with_history_only(
    taken: Path, project: Path, tmp_path: Path
) -> None:
    checkout = tmp_path / "checkout"
    (checkout / ".cinchdb").mkdir(parents=True)
    shutil.copytree(project / ".cinchdb" / "history", checkout / ".cinchdb" / "history")
    report = restore_backup(taken, checkout)
    assert report.ok
    assert _names(checkout, "t0") == {f"seed{i}" for i in range(20)}


def test_cli_backup_messages(project: Path, tmp_path: Path) -> None:
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    done = cinch("backup", "--to", str(full), cwd=project)
    assert done.returncode == 1
    assert done.stderr == (
        f"Error: Cannot use {full}: it is not empty; give a new or empty directory\n"
    )
    inside = project / ".cinchdb" / "bk"
    done = cinch("backup", "--to", str(inside), cwd=project)
    assert done.returncode == 1
    assert done.stderr == (
        f"Error: Cannot use {inside}: a backup cannot go inside {project / '.cinchdb'}\n"
    )
    done = cinch("backup", "--to", str(tmp_path / "ok"), cwd=project)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Backed up 4 tenant(s) (1 encrypted) and the journal to ")


def test_progress_and_is_backup(project: Path, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    report = backup(tmp_path / "bk", project_dir=project, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(n, 5) for n in range(1, 6)]  # four tenant files, then the journal
    assert (report.tenants, report.encrypted, report.dropped) == (4, 1, 0)
    assert is_backup(tmp_path / "bk") and not is_backup(project)
    restored: list[tuple[int, int]] = []
    restore_backup(tmp_path / "bk", tmp_path / "r", progress=lambda d, t: restored.append((d, t)))
    assert restored[-1] == (report.files, report.files) and len(restored) == report.files
