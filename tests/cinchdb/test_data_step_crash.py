"""SIGKILL in the middle of propagating a data step: every tenant file holds the step exactly
once or not yet, never twice or half; a new process brings every tenant to the head, and the
``UPDATE ... SET n = n + 1`` has then counted exactly one in every row of every tenant."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cinchdb._data_step_rows import TEMPLATE_ROW, data_step_rows
from cinchdb.changes import SchemaChanges
from cinchdb.project import CINCHDB_DIR, init_project
from cinchdb.tenants import read_cursor
from journal import JournalStore, parse
from tests.stress import iterations

TENANTS = iterations(100, 300)
ROWS = 40
# The data step: one row count per tenant; the scalar subquery (a three-way cross join of the
# tenant's rows, evaluated once per statement) makes each tenant's transaction long enough for
# the kill to land between tenants.
STEP = (
    "UPDATE counters SET n = n + 1"
    " WHERE (SELECT count(*) FROM counters AS a, counters AS b, counters AS c) > 0"
)

PROPAGATE = """
import sys
from pathlib import Path
from cinchdb.changes import SchemaChanges
from journal import JournalStore
meta = Path(sys.argv[1])
store = JournalStore(meta / "metadata.db")
files = SchemaChanges(store, meta, "main").files
print("start", flush=True)
files.propagate("main")
print("done", flush=True)
"""

SYNC = """
import sys
import cinchdb
with cinchdb.connect(project_dir=sys.argv[1]) as db:
    result = db.sync_tenants()
print(len(result["updated"]), len(result["left_behind"]), flush=True)
"""


def _state(path: Path) -> tuple[str | None, list[int]]:
    conn = sqlite3.connect(path)
    try:
        cursor = read_cursor(conn)
        return cursor, [row[0] for row in conn.execute("SELECT n FROM counters ORDER BY id")]
    finally:
        conn.close()


def _start(number: int) -> list[int]:
    return [number * 1000 + row for row in range(ROWS)]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_during_a_data_step_then_every_tenant_has_it_exactly_once(tmp_path):
    root = init_project(tmp_path)
    meta = root / CINCHDB_DIR
    store = JournalStore(meta / "metadata.db")
    changes = SchemaChanges(store, meta, "main")
    files = changes.files
    changes.commit("main", parse("CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER)"))
    names = [f"tenant_{i:03d}" for i in range(TENANTS)]
    for number, name in enumerate(names):
        files.create(name)
        files.connection("main", name).executemany(
            "INSERT INTO counters (id, n) VALUES (?, ?)", enumerate(_start(number))
        )
    files.close()
    old_head = store.branch_head("main", "main")
    # Appended without propagation: the child process propagates it and is killed midway.
    (step,) = store.append("main", "main", parse(STEP), expected_head=old_head)
    assert step.summary.startswith("data: UPDATE counters SET n = n + 1")

    child = subprocess.Popen(
        [sys.executable, "-c", PROPAGATE, str(meta)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "start"
        paths = [files.path("main", name) for name in names]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            # Several files are in flight at once, in name order: the first are among the
            # first done.
            if any(_state(p)[0] == step.id for p in paths[:2]):
                break
            time.sleep(0.001)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL

    # Every file holds the step once (its cursor says so) or not at all, never in between.
    applied = 0
    for number, path in enumerate(paths):
        cursor, values = _state(path)
        assert cursor in (old_head, step.id)
        done = cursor == step.id
        assert values == [n + done for n in _start(number)]
        applied += done
    assert 0 < applied < TENANTS, "the kill must land in the middle of propagation"

    # A new process brings every tenant to the head: the step counted exactly one more.
    sync = subprocess.run(
        [sys.executable, "-c", SYNC, str(root)], capture_output=True, text=True, timeout=120
    )
    assert sync.returncode == 0, sync.stderr
    assert sync.stdout.split() == [str(TENANTS - applied), "0"]
    for number, path in enumerate(paths):
        assert _state(path) == (step.id, [n + 1 for n in _start(number)])

    # The counts of the tenants the new process applied it to are recorded (those the killed
    # process applied died with it: the counts are reporting, the cursors the truth).
    (counted,) = data_step_rows(store, "main", step.id, branch="main")
    assert set(counted["per_tenant"].values()) == {ROWS}
    assert TENANTS - applied <= counted["tenants"] <= TENANTS
    # The template went first, in the killed process, whose counts died with it.
    assert counted["template"] is None and TEMPLATE_ROW not in counted["per_tenant"]
    store.close()
