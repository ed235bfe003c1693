"""Fleet-wide work on the thread pool (cinchdb._fleet): the same files as one at a time, a
SIGKILL at any point converges, and preflight names every failing tenant and writes nothing."""

from __future__ import annotations

import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cinchdb._tenant_dir import TenantDirectory
from cinchdb.changes import SchemaChanges
from cinchdb.errors import PreflightError
from cinchdb.project import CINCHDB_DIR, init_project
from cinchdb.tenants import TenantFiles, read_cursor
from journal import JournalStore, introspect, parse
from tests.stress import iterations

# 1,000 tiny tenants under CINCHDB_STRESS=1; CI compares 300 (building 1,000 materialized
# tenants one at a time is most of the ~20 s budget here).
TENANTS = iterations(300, 1000)

CHANGES = [
    "ALTER TABLE users ADD COLUMN email TEXT DEFAULT 'none'",
    "CREATE INDEX idx_users_n ON users (n)",
    "CREATE VIEW big AS SELECT id FROM users WHERE n > 10",
    "CREATE TABLE orders (id TEXT PRIMARY KEY, total REAL)",
    # A rebuild: the longest per-file transaction.
    "ALTER TABLE users ALTER COLUMN n SET NOT NULL",
    "ALTER TABLE users RENAME COLUMN email TO mail",
]


def _fleet(root: Path, count: int) -> tuple[Path, JournalStore, list[str]]:
    """A project with table users and ``count`` materialized tenants of a few rows each."""
    meta = init_project(root) / CINCHDB_DIR
    store = JournalStore(meta / "metadata.db")
    store.append("main", "main", parse("CREATE TABLE users (id TEXT PRIMARY KEY, n INTEGER)"),
                 expected_head=None)  # fmt: skip
    changes = SchemaChanges(store, meta, "main")
    names = [f"tenant_{i:04d}" for i in range(count)]
    for number, name in enumerate(names):
        changes.files.create(name)
        changes.files.connection("main", name).executemany(
            "INSERT INTO users VALUES (?, ?)", [(f"{name}-{j}", number + j) for j in range(3)]
        )
    changes.close()
    return meta, store, names


def _append(store: JournalStore, sql: str) -> str:
    head = store.branch_head("main", "main")
    return store.append("main", "main", parse(sql), expected_head=head)[-1].id


def _files(meta: Path, store: JournalStore, workers: int) -> tuple[SchemaChanges, TenantFiles]:
    changes = SchemaChanges(store, meta, "main")
    changes.files.workers = workers
    return changes, changes.files


def _contents(path: Path) -> tuple[object, str | None, dict[str, list[tuple[object, ...]]]]:
    conn = sqlite3.connect(path)
    try:
        schema = introspect(conn)
        rows = {
            table: conn.execute(f'SELECT * FROM "{table}" ORDER BY 1').fetchall()
            for table in sorted(table.name for table in schema.tables)
        }
        return schema.canonical(), read_cursor(conn), rows
    finally:
        conn.close()


def test_pool_gives_the_same_files_as_one_at_a_time(tmp_path):
    meta, store, names = _fleet(tmp_path / "pool", TENANTS)
    for sql in CHANGES[:3]:
        _append(store, sql)
    store.close()
    # The same journal and files, twice: one copy caught up by the pool, one file at a time.
    shutil.copytree(tmp_path / "pool", tmp_path / "serial")
    outcomes, heads = {}, {}
    for name, workers in (("pool", 4), ("serial", 0)):
        root = tmp_path / name / CINCHDB_DIR
        journal = JournalStore(root / "metadata.db")
        changes, files = _files(root, journal, workers)
        outcomes[name] = [(step.tenant, step.applied, step.outcome) for step in
                          files.propagate("main")]  # fmt: skip
        for sql in CHANGES[3:]:  # and through commit: preflighted (the rebuild), then propagated
            changes.commit("main", parse(sql))
        heads[name] = journal.branch_head("main", "main")
        changes.close()
        journal.close()
    assert outcomes["pool"] == outcomes["serial"] == [(name, 3, "applied") for name in names]
    for name in names:
        relative = TenantDirectory(meta, "main").path("main", name).relative_to(meta)
        pooled = _contents(tmp_path / "pool" / CINCHDB_DIR / relative)
        alone = _contents(tmp_path / "serial" / CINCHDB_DIR / relative)
        # The same schema and rows; each at its own journal's head (the committed events' ids
        # differ between the copies: they carry their time).
        assert (pooled[0], pooled[2]) == (alone[0], alone[2]), name
        assert (pooled[1], alone[1]) == (heads["pool"], heads["serial"])
        assert "mail" in str(pooled[0]) and len(pooled[2]["users"]) == 3


PROPAGATE = """
import sys
from pathlib import Path
from cinchdb.changes import SchemaChanges
from journal import JournalStore
meta = Path(sys.argv[1])
files = SchemaChanges(JournalStore(meta / "metadata.db"), meta, "main").files
print("start", flush=True)
files.propagate("main")
print("done", flush=True)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_during_parallel_propagation_converges(tmp_path):
    meta, store, names = _fleet(tmp_path / "p", 200)
    rng = random.Random(14)
    heads = [store.branch_head("main", "main")]
    interrupted = 0
    for round_number in range(iterations(4, 20)):
        # Two events per round, the second a rebuild: long transactions to land in.
        _append(store, f"ALTER TABLE users ADD COLUMN c{round_number} TEXT")
        heads.append(
            _append(store, f"ALTER TABLE users ALTER COLUMN c{round_number} SET DEFAULT 'x'")
        )
        child = subprocess.Popen([sys.executable, "-c", PROPAGATE, str(meta)],
                                 stdout=subprocess.PIPE, text=True)  # fmt: skip
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == "start"
            # A random point: as soon as a random tenant of the first half has the change (the
            # pool takes files in name order); a fixed delay would miss on a loaded machine.
            probe = files_path(meta, names[rng.randrange(len(names) // 2)])
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and child.poll() is None:
                if f"c{round_number}" in _column_names(probe):
                    break
                time.sleep(0.001)
            child.send_signal(signal.SIGKILL)
        finally:
            child.wait()
        # Every file is at exactly one event of the chain, its schema the one that event folds.
        changes = SchemaChanges(store, meta, "main")
        cursors = set()
        for name in names:
            path = changes.files.path("main", name)
            conn = sqlite3.connect(path)
            cursor = read_cursor(conn)
            assert introspect(conn).canonical() == changes.fold.schema_at(cursor).canonical()
            conn.close()
            cursors.add(cursor)
        assert cursors <= set(heads[-2:]) | {_parent(store, heads[-1])}
        interrupted += len(cursors) > 1
        # A new process (a fresh handle's sync) brings every tenant to the head, no row lost.
        assert {step.outcome for step in changes.files.propagate("main")} <= {"applied", "current"}
        for number, name in enumerate(names):
            conn = changes.files.connection("main", name)
            assert read_cursor(conn) == heads[-1]
            assert conn.execute("SELECT id, n FROM users ORDER BY id").fetchall() == [
                (f"{name}-{j}", number + j) for j in range(3)
            ]
        changes.close()
    assert interrupted, "no kill landed in the middle of a propagation"
    store.close()


def files_path(meta: Path, tenant: str) -> Path:
    return TenantDirectory(meta, "main").path("main", tenant)


def _column_names(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [row[1] for row in conn.execute("PRAGMA table_info(users)")]
    finally:
        conn.close()


def _parent(store: JournalStore, event_id: str) -> str:
    return store.get_event(event_id).parents[0]


def test_preflight_on_the_pool_names_every_failing_tenant_and_writes_nothing(tmp_path):
    meta, store, names = _fleet(tmp_path / "p", 120)
    failing = names[::7]
    changes = SchemaChanges(store, meta, "main")
    for name in failing:
        changes.files.connection("main", name).execute("UPDATE users SET n = 0")
    changes.close()
    changes = SchemaChanges(store, meta, "main")
    changes.files.connection("main", failing[1])  # one open in the cache: the one-file way
    head = store.branch_head("main", "main")
    before = {name: _contents(changes.files.path("main", name)) for name in names}
    with pytest.raises(PreflightError) as caught:
        changes.commit("main", parse("CREATE UNIQUE INDEX idx_n ON users (n)"))
    assert [tenant for tenant, _ in caught.value.failures] == failing
    assert all("UNIQUE" in reason for _, reason in caught.value.failures)
    assert store.branch_head("main", "main") == head
    changes.close()
    assert {name: _contents(changes.files.path("main", name)) for name in names} == before
    store.close()


def test_sync_catches_up_exactly_the_tenants_left_behind(tmp_path):
    meta, store, names = _fleet(tmp_path / "p", 60)
    head = _append(store, "ALTER TABLE users ADD COLUMN late TEXT")
    changes = SchemaChanges(store, meta, "main")
    for name in names[::2]:  # what a crash mid-propagation leaves: half at the head
        changes.files.connection("main", name)
    changes.close()
    changes = SchemaChanges(store, meta, "main")
    done = changes.files.propagate("main")
    assert [step.tenant for step in done if step.outcome == "applied"] == names[1::2]
    assert [step.tenant for step in done if step.outcome == "current"] == names[::2]
    assert all(step.cursor == head for step in done)
    changes.close()
    store.close()
