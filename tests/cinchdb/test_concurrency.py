"""Committed changes under ordinary concurrency: several processes change the schema of one
branch while others insert rows and create and delete tenants. Every change that entered the
journal returns normally to its caller (a ConcurrentChangeError is retried inside the SDK),
and afterwards every tenant is at the head with no row lost.

CI runs a bounded version; ``CINCHDB_STRESS=1`` runs the issue's 6 processes x 20 changes.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter

import cinchdb
from cinchdb.changes import SchemaChanges
from cinchdb.models import Column
from cinchdb.project import CINCHDB_DIR
from cinchdb.tenants import read_cursor
from journal import JournalStore, parse
from tests.stress import iterations

CHANGERS = iterations(4, 6)
CHANGES = iterations(8, 20)
WRITERS = iterations(2, 3)
INSERTS = iterations(60, 300)
CHURNERS = iterations(1, 2)
CHURNS = iterations(10, 30)
IDLE = iterations(4, 8)
TIMEOUT_S = iterations(120, 900)

# Each child counts what succeeded and prints every failure (type and message) to stderr
# rather than stopping at the first, so a failing run shows how many calls failed and how.
_PRELUDE = """
import sys, traceback
import cinchdb
from cinchdb.models import Column
errors = 0
def failed(what):
    global errors
    errors += 1
    error = sys.exc_info()[1]
    print(f"{what}: {type(error).__name__}: {error}", file=sys.stderr)
"""

CHANGER = (
    _PRELUDE
    + """
root, worker, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
done = 0
with cinchdb.connect(project_dir=root) as db:
    for i in range(count):
        try:
            db.add_column("hits", Column(name=f"c_{worker}_{i}", type="INTEGER", default=i))
            done += 1
        except Exception:
            failed(f"add_column c_{worker}_{i}")
print(f"done={done} errors={errors}")
"""
)

WRITER = (
    _PRELUDE
    + """
root, tenant, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
done = 0
with cinchdb.connect(tenant=tenant, project_dir=root) as db:
    for i in range(count):
        try:
            db.insert("hits", {"worker": tenant, "n": i})
            done += 1
        except Exception:
            failed(f"insert {i}")
print(f"done={done} errors={errors}")
"""
)

CHURNER = (
    _PRELUDE
    + """
root, worker, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
done = 0
with cinchdb.connect(project_dir=root) as db:
    for i in range(count):
        name = f"churn-{worker}-{i}"
        try:
            db.create_tenant(name, lazy=False)
            with cinchdb.connect(tenant=name, project_dir=root) as other:
                other.insert("hits", {"worker": name, "n": i})
            db.delete_tenant(name)
            done += 1
        except Exception:
            failed(f"churn {name}")
print(f"done={done} errors={errors}")
"""
)


def _run(commands: list[list[str]]) -> list[tuple[int, str, str]]:
    """Start every child at once; wait for all (bounded); always reap them."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    deadline = time.monotonic() + TIMEOUT_S
    results = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
            results.append((process.returncode, out, err))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    return results


def test_schema_changes_racing_writers_and_tenant_churn_all_return_normally(project):
    writers = [f"writer-{w}" for w in range(WRITERS)]
    idle = [f"idle-{i}" for i in range(IDLE)]
    with cinchdb.connect(project_dir=project) as db:
        db.create_table("hits", [Column(name="worker"), Column(name="n", type="INTEGER")])
        for name in writers + idle:
            db.create_tenant(name, lazy=False)
    root = str(project)
    started = time.monotonic()
    results = _run(
        [[CHANGER, root, f"p{p}", str(CHANGES)] for p in range(CHANGERS)]
        + [[WRITER, root, name, str(INSERTS)] for name in writers]
        + [[CHURNER, root, f"c{c}", str(CHURNS)] for c in range(CHURNERS)]
    )
    elapsed = time.monotonic() - started
    failures = [err for _, _, err in results if err.strip()]
    kinds = Counter(
        line.split(": ")[1] for err in failures for line in err.splitlines() if ": " in line
    )
    total_errors = sum(
        int(out.split("errors=")[1]) if "errors=" in out else 1 for _, out, _ in results
    )
    print(
        f"{CHANGERS} changers x {CHANGES} changes, {WRITERS} writers x {INSERTS} inserts,"
        f" {CHURNERS} churners x {CHURNS} tenants: {elapsed:.1f} s,"
        f" {total_errors} errors {dict(kinds)}"
    )
    assert failures == [], "\n".join(failures)[:4000]
    assert [code for code, _, _ in results] == [0] * len(results)
    assert total_errors == 0

    with cinchdb.connect(project_dir=project) as db:
        names = {column.name for column in db.get_table("hits").columns}
        expected = {f"c_p{p}_{i}" for p in range(CHANGERS) for i in range(CHANGES)}
        assert expected <= names
        assert not [t for t in db.list_tenants() if t.name.startswith("churn-")]
        status = db.tenant_status()
        assert [s["name"] for s in status if s["materialized"] and s["behind"] != 0] == []
        assert db.check()["ok"]
    for name in writers:
        with cinchdb.connect(tenant=name, project_dir=project) as db:
            rows = db.query("SELECT COUNT(*) AS n, COUNT(DISTINCT n) AS d FROM hits")
            assert (rows[0]["n"], rows[0]["d"]) == (INSERTS, INSERTS)
            row = db.query("SELECT * FROM hits WHERE n = 0")[0]
            assert all(row[f"c_p{p}_3"] == 3 for p in range(CHANGERS))


def test_propagation_reports_files_moved_further_or_deleted_meanwhile(project):
    """Another process commits a change and deletes a tenant while this one propagates its
    own (the progress callback runs between two files): each file's report says so, and
    nothing is raised for the change already committed."""
    meta = project / CINCHDB_DIR
    store_a, store_b = JournalStore(meta / "metadata.db"), JournalStore(meta / "metadata.db")
    ours, theirs = SchemaChanges(store_a, meta, "main"), SchemaChanges(store_b, meta, "main")
    try:
        ours.commit("main", parse("CREATE TABLE t (a TEXT)"))
        for name in ("t1", "t2", "t3"):
            ours.files.create(name)
            ours.files.data("main", name).insert("t", [{"a": name}])

        def meanwhile(number: int, total: int) -> None:
            if number == 1:  # after t1, before t2 and t3
                theirs.commit("main", parse("ALTER TABLE t ADD COLUMN c INTEGER"))
                theirs.files.delete("t3")

        _, _, done = ours.commit(
            "main", parse("ALTER TABLE t ADD COLUMN b INTEGER"), progress=meanwhile
        )
        assert [(step.tenant, step.outcome) for step in done] == [
            ("t1", "applied"),
            ("t2", "ahead"),
            ("t3", "deleted"),
        ]
        head = store_a.branch_head("main", "main")
        for name in ("t1", "t2"):
            assert ours.files.data("main", name).query("SELECT * FROM t")[0].keys() >= {"b", "c"}
            assert read_cursor(ours.files.connection("main", name)) == head
    finally:
        ours.close()
        theirs.close()
        store_a.close()
        store_b.close()
