"""Cold start: a new process runs ``cinchdb.connect()`` and a first select, on a branch with a
long journal, beside ``python -c "import sqlite3"`` in the same run.

Run: python benchmarks/bench_coldstart.py [--sizes 2000,10000] [--runs 10] [--profile]

The projects are built once and cached under /tmp (never in the repository), keyed by the
size and by the code that built them (``--tag``, default the git commit of this checkout):
a journal written by one version of the code is not necessarily readable by an older one.
Each child process reports three times itself: ``import cinchdb``, then ``connect()`` plus the
first ``db.query``; the parent reports the whole process's wall time too. Runs of the two
baselines and of each size are interleaved, so drift on this shared machine hits them alike.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _machine import machine_line

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path("/tmp/cinchdb-bench-coldstart")
TABLES = 4
#: Changes per commit while building: one SDK commit of a batch of operations.
BATCH = 100

CHILD = r"""
import sys, time, json
t0 = time.perf_counter()
import cinchdb
t1 = time.perf_counter()
db = cinchdb.connect(project_dir=sys.argv[1], tenant="t1")
rows = db.query("SELECT * FROM t0 LIMIT 1")
t2 = time.perf_counter()
assert len(rows) == 1, rows
db.close()
print(json.dumps({"import": t1 - t0, "connect_select": t2 - t1}))
"""

PROFILE_CHILD = r"""
import sys, cProfile, pstats, io
import cinchdb
profile = cProfile.Profile()
profile.enable()
db = cinchdb.connect(project_dir=sys.argv[1], tenant="t1")
db.query("SELECT * FROM t0 LIMIT 1")
profile.disable()
out = io.StringIO()
pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(25)
print(out.getvalue())
"""


def git_tag() -> str:
    result = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or "unknown"


def build(path: Path, events: int) -> None:
    """A project whose main branch has ``events`` events: a few tables, then columns added
    and dropped in turn, committed in batches through the schema-change service (checked and
    propagated like any SDK change), and a materialized tenant ``t1`` holding one row."""
    import cinchdb
    from cinchdb.models import Column
    from journal import ColumnAdded, ColumnDef, ColumnDropped, Operation

    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    cinchdb.init(path)
    db = cinchdb.connect(project_dir=path)
    for number in range(TABLES):
        db.create_table(f"t{number}", [Column(name="name", type="TEXT")])
    done = TABLES
    serial = 0
    batch: list[Operation] = []
    while done < events:
        table = f"t{serial % TABLES}"
        column = f"c{serial}"
        batch.append(ColumnAdded(table=table, column=ColumnDef(name=column, type="INTEGER")))
        done += 1
        if done < events:
            batch.append(ColumnDropped(table=table, column=column))
            done += 1
        serial += 1
        if len(batch) >= BATCH or done >= events:
            db._changes.commit("main", batch)
            batch = []
    db.create_tenant("t1")
    db.close()
    tenant = cinchdb.connect(project_dir=path, tenant="t1")
    tenant.insert("t0", {"name": "x"})
    tenant.close()


def project(events: int, tag: str) -> Path:
    path = CACHE / f"{tag}-{events}"
    marker = path / ".built"
    if not marker.exists():
        start = time.perf_counter()
        build(path, events)
        marker.write_text("ok")
        print(f"built {events} events in {time.perf_counter() - start:.1f} s at {path}")
    return path


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_child(path: Path) -> tuple[float, dict[str, float]]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        capture_output=True,
        text=True,
        env=child_env(),
        check=True,
    )
    wall = time.perf_counter() - start
    return wall, json.loads(result.stdout.strip().splitlines()[-1])


def run_baseline() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import sqlite3"], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="2000,10000")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--tag", default=None, help="cache key of the built projects")
    parser.add_argument("--profile", action="store_true", help="cProfile one child per size")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    tag = args.tag or git_tag()
    print(machine_line())
    paths = {size: project(size, tag) for size in sizes}
    if args.profile:
        for size, path in paths.items():
            print(f"--- profile, {size} events")
            out = subprocess.run(
                [sys.executable, "-c", PROFILE_CHILD, str(path)],
                capture_output=True,
                text=True,
                env=child_env(),
                check=True,
            )
            print(out.stdout)
        return
    baseline: list[float] = []
    walls: dict[int, list[float]] = {size: [] for size in sizes}
    inner: dict[int, list[dict[str, float]]] = {size: [] for size in sizes}
    for _ in range(args.runs):
        baseline.append(run_baseline())
        for size, path in paths.items():
            wall, parts = run_child(path)
            walls[size].append(wall)
            inner[size].append(parts)
    base = statistics.median(baseline)
    spread = f"{min(baseline) * 1e3:.1f}-{max(baseline) * 1e3:.1f}"
    print(f'python -c "import sqlite3": median {base * 1e3:.1f} ms ({spread})')
    print(
        "| events | whole process | ratio to import sqlite3 | import cinchdb |"
        " connect + first select (range) |"
    )
    print("|---|---|---|---|---|")
    for size in sizes:
        wall = statistics.median(walls[size])
        imported = statistics.median(part["import"] for part in inner[size])
        connect = [part["connect_select"] for part in inner[size]]
        print(
            f"| {size:,} | {wall * 1e3:.1f} ms | {wall / base:.1f}x | {imported * 1e3:.1f} ms |"
            f" {statistics.median(connect) * 1e3:.1f} ms"
            f" ({min(connect) * 1e3:.1f}-{max(connect) * 1e3:.1f}) |"
        )


if __name__ == "__main__":
    main()
