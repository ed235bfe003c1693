"""verify_restored: a tenant ahead of the restored journal is moved aside and named, the
others open as usual, and the checks of ``cinch check`` run."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

import cinchdb
from cinchdb._guard import read_cursor_of_file
from cinchdb.errors import TenantAheadOfJournalError
from cinchdb.models import Column
from cinchdb.replication.verify import AHEAD_DIR, verify_restored


def _snapshot(path: Path, to: Path) -> None:
    """A consistent copy of one SQLite file (what a replica holds at that moment)."""
    src = sqlite3.connect(path)
    dst = sqlite3.connect(to)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def _put_back(copy: Path, path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(copy, path)


def restored_with_a_tenant_ahead(tmp_path: Path) -> Path:
    """A project whose journal and tenant 'b' are from before a schema change that tenant
    'a' already holds: what a restore from files replicated at different moments gives."""
    root = tmp_path / "p"
    root.mkdir()
    cinchdb.init(root)
    with cinchdb.connect(project_dir=root) as db:
        db.create_table("posts", [Column(name="title", type="TEXT")])
        for tenant in ("a", "b"):
            db.create_tenant(tenant)
            with cinchdb.connect(tenant=tenant, project_dir=root) as handle:
                handle.insert("posts", {"title": f"from {tenant}"})
    meta = root / ".cinchdb"
    b_path = next(meta.glob("main-main/*/b.db"))
    _snapshot(meta / "metadata.db", tmp_path / "metadata.old")
    _snapshot(b_path, tmp_path / "b.old")
    with cinchdb.connect(project_dir=root) as db:
        db.add_column("posts", Column(name="views", type="INTEGER", default=0))
    _put_back(tmp_path / "metadata.old", meta / "metadata.db")
    _put_back(tmp_path / "b.old", b_path)
    # A restore brings no text history: the newer event is nowhere but in tenant files.
    shutil.rmtree(meta / "history")
    return root


def test_a_tenant_ahead_is_moved_aside_and_named(tmp_path: Path) -> None:
    root = restored_with_a_tenant_ahead(tmp_path)
    a_path = next((root / ".cinchdb").glob("main-main/*/a.db"))

    report = verify_restored(root / ".cinchdb")

    assert [(f.tenant, f.finding) for f in report.tenants] == [("a", "ahead")]
    finding = report.tenants[0]
    moved = root / str(finding.moved_to)
    assert moved == root / ".cinchdb" / AHEAD_DIR / a_path.relative_to(root / ".cinchdb")
    assert moved.exists() and not a_path.exists()
    assert finding.message.startswith(
        f"Tenant 'a' (database 'main', branch 'main') holds event {finding.cursor[:12]},"
        " which the restored journal does not have"
    )
    assert "--timestamp" in finding.message
    assert report.checks["main"]["ok"] is True
    assert not report.ok  # a tenant was moved aside: the restore is not clean
    # The others open as usual, with their rows; 'a' opens empty at the journal head.
    with cinchdb.connect(tenant="b", project_dir=root) as b:
        assert [r["title"] for r in b.query("SELECT title FROM posts")] == ["from b"]
    with cinchdb.connect(tenant="a", project_dir=root) as a:
        assert a.query("SELECT title FROM posts") == []
        assert "views" not in [c.name for c in a.get_table("posts").columns]
    # The moved file keeps its rows.
    conn = sqlite3.connect(moved)
    assert conn.execute("SELECT title, views FROM posts").fetchall() == [("from a", 0)]
    conn.close()


def test_a_clean_restore_reports_nothing(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    cinchdb.init(root)
    with cinchdb.connect(project_dir=root) as db:
        db.create_table("posts", [Column(name="title", type="TEXT")])
        db.insert("posts", {"title": "x"})

    report = verify_restored(root / ".cinchdb", restored=(".cinchdb/metadata.db",))

    assert report.tenants == ()
    assert report.ok
    assert report.as_dict()["restored"] == [".cinchdb/metadata.db"]
    assert report.as_dict()["ok"] is True


def test_a_tenant_ahead_never_breaks_the_others_and_names_itself(tmp_path: Path) -> None:
    """Defect 3 of issue 18: without verify (a journal put back by hand, or an encrypted
    tenant verify cannot read), the tenant ahead raises one clear error naming it, the event
    it holds and what to do; the others open, read and write as usual."""
    root = restored_with_a_tenant_ahead(tmp_path)
    with cinchdb.connect(tenant="b", project_dir=root) as b:
        b.insert("posts", {"title": "after"})
        assert [r["title"] for r in b.query("SELECT title FROM posts")] == ["from b", "after"]
    a = cinchdb.connect(tenant="a", project_dir=root)
    cursor = read_cursor_of_file(next((root / ".cinchdb").glob("main-main/*/a.db")))
    assert cursor is not None
    with pytest.raises(TenantAheadOfJournalError) as caught:
        a.query("SELECT title FROM posts")
    assert str(caught.value) == (
        f"Tenant 'a' on branch 'main' holds event {cursor[:12]}, which this project's journal"
        " does not have (the journal is older than the file: restored from an earlier point?)."
        " Restore the journal from a point after that event, or move the file aside and"
        " `cinch tenant reset a` (the tenant starts empty at the head)"
    )
    assert caught.value.tenant == "a" and caught.value.cursor == cursor
    a.close()
