"""Fleet-wide schema work: a change reaching 100, 1,000 and 10,000 materialized tenants.

Each fleet is a project whose ``main`` branch has table ``t`` and ``n`` materialized tenants of
one row each, plus a branch ``feat`` with five changes made after the fork while ``main`` moved
on by one (ready for a three-way merge). Fleets are built once through the SDK and cached under
``$CINCHDB_FLEET_CACHE`` (default ``/tmp/cinchdb-fleet``, on the project disk, never /dev/shm);
each run times a fresh copy. Every handle is closed before the clock: each measurement runs in
a NEW process (``cinchdb.connect()`` inside the clock is excluded; the call itself is timed),
the normal case for a deploy script or a CLI call.

Timed, one process each, in this order on the same copy:

1. ``add_column`` until every tenant file holds it;
2. a preflighted ``create_index(unique=True)`` (run and rolled back on every tenant, then
   appended and propagated);
3. ``merge_branches("feat", "main")``: a three-way merge of 5 changes;
4. ``sync_tenants()`` after half the fleet was left one event behind (an event appended to
   the journal directly and propagated to the other half only: what a crash leaves);
5. raw ``sqlite3`` on ``n`` plain files with the same one-row table, same pragmas (WAL,
   ``synchronous=NORMAL``), not open before the clock: open, ``ALTER TABLE ADD COLUMN`` in one
   transaction, close, one file after another.

Resident memory (VmRSS) is read in the add_column process before ``connect()`` and after the
change has touched every tenant.

Run: python benchmarks/bench_fleet.py [--sizes 100,1000,10000] [--rounds 1]. Not collected by
pytest.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _child import in_child as run_child
from _machine import machine_line

import cinchdb
from cinchdb.changes import SchemaChanges
from cinchdb.models import Column
from cinchdb.project import CINCHDB_DIR
from journal import JournalStore, parse

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("CINCHDB_FLEET_CACHE", "/tmp/cinchdb-fleet"))
FORMAT = "v1"  # bump when the fleet's shape changes


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def build(size: int) -> Path:
    """The cached fleet of ``size`` tenants (built on first use)."""
    base = CACHE / FORMAT / str(size) / "base"
    if (base / "ready").exists():
        return base
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    start = time.perf_counter()
    db = cinchdb.connect(project_dir=cinchdb.init(base / "p"))
    db.create_table("t", [Column(name="name"), Column(name="n", type="INTEGER")])
    for i in range(size):
        name = f"t{i:05d}"
        db.create_tenant(name)
        db.tenant = name
        db.insert("t", {"name": name, "n": i})
    db.tenant = "main"
    db.create_branch("feat")
    db.switch_branch("feat")
    db.add_column("t", Column(name="plan", default="free"))
    db.create_index("idx_feat_n", "t", ["n"])
    db.create_table("orders", [Column(name="total", type="REAL")])
    db.create_view("big", "SELECT name FROM t WHERE n >= 18")
    db.add_column("t", Column(name="score", type="INTEGER", default=0))
    db.switch_branch("main")
    db.add_column("t", Column(name="moved_on", type="INTEGER"))
    db.close()
    (base / "ready").write_text(f"built in {time.perf_counter() - start:.1f} s\n")
    return base


def raw_fleet(size: int) -> Path:
    """``size`` plain SQLite files of the same shape, WAL mode, closed."""
    base = CACHE / FORMAT / str(size) / "raw"
    if (base / "ready").exists():
        return base
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    for i in range(size):
        conn = sqlite3.connect(base / f"{i}.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY, name TEXT, n INTEGER)")
        conn.execute("INSERT INTO t VALUES (?, ?, ?)", (str(i), "x", i))
        conn.close()
    (base / "ready").write_text("ok\n")
    return base


# -- the measurements, each run in a new process ---------------------------------------------
def _handle(work: Path) -> cinchdb.CinchDB:
    return cinchdb.connect(project_dir=work / "p")


def m_add_column(work: Path) -> dict[str, float]:
    rss = _rss_kb()
    db = _handle(work)
    start = time.perf_counter()
    db.add_column("t", Column(name="added", type="INTEGER", default=0))
    took = time.perf_counter() - start
    grown = (_rss_kb() - rss) / 1024
    db.close()
    return {"s": took, "rss_mb": grown}


def m_unique_index(work: Path) -> dict[str, float]:
    db = _handle(work)
    start = time.perf_counter()
    db.create_index("idx_unique_name", "t", ["name"], unique=True)
    took = time.perf_counter() - start
    db.close()
    return {"s": took}


def m_merge(work: Path) -> dict[str, float]:
    db = _handle(work)
    start = time.perf_counter()
    db.merge_branches("feat", "main")
    took = time.perf_counter() - start
    db.close()
    return {"s": took}


def m_half_behind(work: Path) -> dict[str, float]:
    """Not timed: append one event and bring only every other tenant to it."""
    meta = work / "p" / CINCHDB_DIR
    store = JournalStore(meta / "metadata.db")
    changes = SchemaChanges(store, meta, "main")
    head = store.branch_head("main", "main")
    store.append("main", "main", parse("ALTER TABLE t ADD COLUMN late INTEGER"), expected_head=head)
    head = store.branch_head("main", "main")
    files = changes.files
    for number, tenant in enumerate(files.reachable("main")):
        if number % 2 == 0:
            files._propagate_one("main", tenant, head)  # what a crash leaves
            files._close("main", tenant)
    changes.close()
    store.close()
    return {"s": 0.0}


def m_sync(work: Path) -> dict[str, float]:
    db = _handle(work)
    start = time.perf_counter()
    result = db.sync_tenants()
    took = time.perf_counter() - start
    db.close()
    return {"s": took, "updated": float(len(result["updated"]))}


def m_raw(work: Path) -> dict[str, float]:
    files = sorted(work.glob("*.db"))
    start = time.perf_counter()
    for path in files:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ALTER TABLE t ADD COLUMN added INTEGER DEFAULT 0")
        conn.execute("COMMIT")
        conn.close()
    return {"s": time.perf_counter() - start}


MEASUREMENTS = {
    "add_column": m_add_column,
    "unique_index": m_unique_index,
    "merge": m_merge,
    "half_behind": m_half_behind,
    "sync": m_sync,
    "raw": m_raw,
}


def in_child(name: str, work: Path, timeout: float) -> dict[str, float]:
    return run_child(__file__, name, work, timeout)


def run_size(size: int, timeout: float) -> dict[str, dict[str, float]]:
    base = build(size)
    raw = raw_fleet(size)
    work = CACHE / FORMAT / str(size) / "work"
    raw_work = CACHE / FORMAT / str(size) / "raw-work"
    for source, target in ((base, work), (raw, raw_work)):
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)
    subprocess.run(["sync"], check=False)  # the copies' dirty pages are not the change's cost
    results = {}
    for name in ("add_column", "unique_index", "merge", "half_behind", "sync"):
        results[name] = in_child(name, work, timeout)
    results["raw"] = in_child("raw", raw_work, timeout)
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(raw_work, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--child", nargs=2, metavar=("MEASUREMENT", "DIR"))
    args = parser.parse_args()
    if args.child:
        name, work = args.child
        print(json.dumps(MEASUREMENTS[name](Path(work))))
        return
    print(machine_line())
    free = shutil.disk_usage(CACHE.parent).free // 2**30
    print(f"fleets cached under {CACHE} ({free} GiB free there)")
    sizes = [int(size) for size in args.sizes.split(",")]
    header = (
        f"{'tenants':>8} {'add_column':>11} {'per tenant':>11} {'raw':>9} {'x raw':>6}"
        f" {'unique idx':>11} {'merge 5':>9} {'sync half':>10} {'RSS +MB':>8}"
    )
    print(header)
    for _ in range(args.rounds):
        for size in sizes:
            r = run_size(size, args.timeout)
            add, raw = r["add_column"]["s"], r["raw"]["s"]
            print(
                f"{size:>8,} {add:>10.3f}s {add / size * 1000:>9.3f}ms {raw:>8.3f}s"
                f" {add / raw:>6.2f} {r['unique_index']['s']:>10.3f}s {r['merge']['s']:>8.3f}s"
                f" {r['sync']['s']:>9.3f}s {r['add_column']['rss_mb']:>8.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
