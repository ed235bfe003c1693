"""Several OS processes on one project: no lost write, no "database is locked" reaching the
caller, and a schema change made by one process seen by the others on their next call."""

from __future__ import annotations

import os
import subprocess
import sys

import cinchdb
from cinchdb.models import Column

WRITES = int(os.environ.get("CINCHDB_PROCESS_WRITES", "500"))

WRITER = """
import sys
import cinchdb
root, worker, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
with cinchdb.connect(tenant="shared", project_dir=root) as db:
    for i in range(count):
        db.insert("hits", {"worker": worker, "n": i})
print("ok")
"""

SCHEMA_CHANGER = """
import sys
import cinchdb
from cinchdb.models import Column
root, count = sys.argv[1], int(sys.argv[2])
with cinchdb.connect(project_dir=root) as db:
    for i in range(count):
        db.add_column("hits", Column(name=f"extra_{i}", type="INTEGER", default=i))
print("ok")
"""


def _run_all(commands):
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    results = [p.communicate(timeout=300) for p in processes]
    for process, (out, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err
        assert "locked" not in err
        assert out.strip() == "ok"


def test_four_processes_writing_one_tenant_lose_nothing(project):
    with cinchdb.connect(project_dir=project) as db:
        db.create_table("hits", [Column(name="worker"), Column(name="n", type="INTEGER")])
        db.create_tenant("shared")
    _run_all([(WRITER, str(project), f"w{i}", str(WRITES)) for i in range(4)])
    with cinchdb.connect(tenant="shared", project_dir=project) as db:
        rows = db.query("SELECT worker, COUNT(*) AS n, COUNT(DISTINCT n) AS d FROM hits GROUP BY 1")
        assert sorted((r["worker"], r["n"], r["d"]) for r in rows) == [
            (f"w{i}", WRITES, WRITES) for i in range(4)
        ]


def test_schema_changes_in_one_process_while_others_write(project):
    with cinchdb.connect(project_dir=project) as db:
        db.create_table("hits", [Column(name="worker"), Column(name="n", type="INTEGER")])
        db.create_tenant("shared", lazy=False)
    changes = 5
    _run_all(
        [(WRITER, str(project), f"w{i}", str(WRITES // 5)) for i in range(2)]
        + [(SCHEMA_CHANGER, str(project), str(changes))]
    )
    with cinchdb.connect(tenant="shared", project_dir=project) as db:
        assert db.get_table("hits").row_count == 2 * (WRITES // 5)
        row = db.query("SELECT * FROM hits LIMIT 1")[0]
        assert [row[f"extra_{i}"] for i in range(changes)] == list(range(changes))
        assert all(s["behind"] == 0 for s in db.tenant_status() if s["materialized"])
