"""A data step over a fleet: a one-statement backfill through ``migrate`` on 1,000 tenants of
100 rows each, beside raw ``sqlite3`` running the same UPDATE on 1,000 plain files.

The fleet is a project whose ``main`` branch has table ``users(first, last, full_name)`` and
``n`` materialized tenants of 100 rows each (``full_name`` NULL), built once through the SDK and
cached under ``$CINCHDB_FLEET_CACHE`` (default ``/tmp/cinchdb-fleet``, on the project disk,
never /dev/shm). Every round times a fresh copy, in a NEW process with every file closed
(``cinchdb.connect()`` is outside the clock; the call is timed):

1. ``db.migrate("UPDATE users SET full_name = first || ' ' || last")``: parsed, run on the
   template, preflighted on every materialized tenant (run and rolled back), appended, then
   applied to every tenant in one transaction with its cursor, the rows it changed counted
   and recorded;
2. raw ``sqlite3`` on ``n`` plain WAL files with the same 100 rows, same pragmas
   (``synchronous=NORMAL``), not open before the clock: open, ``BEGIN IMMEDIATE``, the same
   UPDATE, ``COMMIT``, close, one file after another;
3. the same raw loop, each connection closed without checkpointing its WAL
   (``SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE``, set with ``cinchdb._guard.keep_wal_on_close``, as
   CinchDB's fleet connections close): the like-for-like baseline, since a checkpoint on close
   costs two fsyncs per file and CinchDB's fleet path does not pay them (see bench_fleet.py);
4. that loop on 4 threads (a ``ThreadPoolExecutor``, each thread taking the next file), as
   CinchDB's fleet pipeline spreads tenant files over 4 threads: SQLite releases the GIL while
   it opens, writes and syncs, so files overlap their waits on the disk.

The four are measured in turns in the same run (CinchDB, raw, raw without checkpoint, raw on 4
threads, CinchDB, ...), each on a fresh copy, so the ratios compare like with like on a shared
machine.

Run: python benchmarks/bench_data_steps.py [--tenants 1000] [--rows 100] [--rounds 3].
Not collected by pytest.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _child import in_child as run_child
from _machine import machine_line

import cinchdb
from cinchdb._guard import keep_wal_on_close
from cinchdb.models import Column

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("CINCHDB_FLEET_CACHE", "/tmp/cinchdb-fleet"))
FORMAT = "data-v1"  # bump when the fleet's shape changes
STAMP = "2026-12-02T04:00:00.000000+00:00"  # the shape of the SDK's timestamps
BACKFILL = "UPDATE users SET full_name = first || ' ' || last"


def _rows(tenant: int, rows: int) -> list[dict[str, object]]:
    return [{"first": f"f{tenant}-{j}", "last": f"l{j}"} for j in range(rows)]


def build(tenants: int, rows: int) -> Path:
    """The cached CinchDB fleet (built on first use)."""
    base = CACHE / FORMAT / f"{tenants}x{rows}" / "base"
    if (base / "ready").exists():
        return base
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    start = time.perf_counter()
    db = cinchdb.connect(project_dir=cinchdb.init(base / "p"))
    db.create_table("users", [Column(name="first"), Column(name="last"),
                              Column(name="full_name")])  # fmt: skip
    for i in range(tenants):
        name = f"t{i:05d}"
        db.create_tenant(name)
        db.tenant = name
        db.insert_many("users", _rows(i, rows))
    db.tenant = "main"
    db.close()
    (base / "ready").write_text(f"built in {time.perf_counter() - start:.1f} s\n")
    return base


def raw_fleet(tenants: int, rows: int) -> Path:
    """``tenants`` plain SQLite files with the same rows, WAL mode, closed."""
    base = CACHE / FORMAT / f"{tenants}x{rows}" / "raw"
    if (base / "ready").exists():
        return base
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    for i in range(tenants):
        conn = sqlite3.connect(base / f"{i}.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(
            "CREATE TABLE users (id TEXT PRIMARY KEY NOT NULL, first TEXT, last TEXT,"
            " full_name TEXT, created_at TEXT, updated_at TEXT)"
        )
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO users (id, created_at, updated_at, first, last) VALUES (?, ?, ?, ?, ?)",
            [(str(uuid.uuid4()), STAMP, STAMP, r["first"], r["last"]) for r in _rows(i, rows)],
        )
        conn.execute("COMMIT")
        conn.close()
    (base / "ready").write_text("ok\n")
    return base


# -- the measurements, each run in a new process ---------------------------------------------
def m_migrate(work: Path) -> dict[str, float]:
    db = cinchdb.connect(project_dir=work / "p")
    start = time.perf_counter()
    db.migrate(BACKFILL, message="backfill full_name")
    took = time.perf_counter() - start
    db.close()
    return {"s": took}


def m_raw(work: Path) -> dict[str, float]:
    return _raw(work, keep_wal=False)


def m_raw_keep_wal(work: Path) -> dict[str, float]:
    return _raw(work, keep_wal=True)


def m_raw_threads(work: Path) -> dict[str, float]:
    return _raw(work, keep_wal=True, threads=4)


def _raw(work: Path, keep_wal: bool, threads: int = 1) -> dict[str, float]:
    files = sorted(work.glob("*.db"))
    if keep_wal:
        # Before the clock and the threads: the flag's first use looks the library up once,
        # and threads racing that first use would see it missing.
        probe = sqlite3.connect(":memory:")
        keep_wal_on_close(probe, Path(":memory:"))
        probe.close()
    start = time.perf_counter()
    if threads == 1:
        changed = sum(_backfill_one(path, keep_wal) for path in files)
    else:
        with ThreadPoolExecutor(threads) as pool:
            changed = sum(pool.map(_backfill_one, files, [keep_wal] * len(files)))
    return {"s": time.perf_counter() - start, "rows": float(changed)}


def _backfill_one(path: Path, keep_wal: bool) -> int:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    if keep_wal and not keep_wal_on_close(conn, path):
        raise RuntimeError("SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE is not reachable here")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("BEGIN IMMEDIATE")
    changed = conn.execute(BACKFILL).rowcount
    conn.execute("COMMIT")
    conn.close()
    return int(changed)


def check(work: Path) -> dict[str, float]:
    """Not timed: every tenant's every row filled, and the recorded row counts."""
    db = cinchdb.connect(project_dir=work / "p")
    empty = 0
    for tenant in db.list_tenants():
        if tenant.name == "main":
            continue
        db.tenant = tenant.name
        [row] = db.query("SELECT COUNT(*) AS n FROM users WHERE full_name IS NULL")
        empty += int(row["n"])
    db.close()
    return {"empty": float(empty)}


MEASUREMENTS = {
    "migrate": m_migrate,
    "raw": m_raw,
    "raw_keep_wal": m_raw_keep_wal,
    "raw_threads": m_raw_threads,
}


def in_child(name: str, work: Path, timeout: float) -> dict[str, float]:
    return run_child(__file__, name, work, timeout)


def fresh(source: Path, target: Path) -> Path:
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)
    subprocess.run(["sync"], check=False)  # the copy's dirty pages are not the change's cost
    return target


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--child", nargs=2, metavar=("MEASUREMENT", "DIR"))
    args = parser.parse_args()
    if args.child:
        name, work = args.child
        print(json.dumps(MEASUREMENTS[name](Path(work))))
        return
    print(machine_line())
    tenants, rows = args.tenants, args.rows
    base, raw = build(tenants, rows), raw_fleet(tenants, rows)
    print(f"fleets cached under {CACHE}: {(base / 'ready').read_text().strip()}")
    scratch = CACHE / FORMAT / f"{tenants}x{rows}"
    print(
        f"{'round':>5} {'migrate':>9} {'per tenant':>11} {'raw':>9} {'x raw':>6}"
        f" {'raw, no ckpt':>13} {'x that':>7} {'4 threads':>10} {'x that':>7}"
    )
    times: dict[str, list[float]] = {"migrate": [], "raw": [], "raw_keep_wal": [],
                                     "raw_threads": []}  # fmt: skip
    for number in range(1, args.rounds + 1):
        work = fresh(base, scratch / "work")
        times["migrate"].append(in_child("migrate", work, args.timeout)["s"])
        filled = check(work)
        if filled["empty"]:
            raise RuntimeError(f"{filled['empty']:.0f} rows were left unfilled")
        shutil.rmtree(work, ignore_errors=True)
        for name in ("raw", "raw_keep_wal", "raw_threads"):
            raw_work = fresh(raw, scratch / "raw-work")
            result = in_child(name, raw_work, args.timeout)
            if result["rows"] != tenants * rows:
                raise RuntimeError(f"{name} changed {result['rows']:.0f} rows")
            times[name].append(result["s"])
            shutil.rmtree(raw_work, ignore_errors=True)
        ours, plain, kept, pooled = (times[k][-1] for k in times)
        print(
            f"{number:>5} {ours:>8.3f}s {ours / tenants * 1000:>9.3f}ms {plain:>8.3f}s"
            f" {ours / plain:>6.2f} {kept:>12.3f}s {ours / kept:>7.2f}"
            f" {pooled:>9.3f}s {ours / pooled:>7.2f}",
            flush=True,
        )
    medians = {name: statistics.median(values) for name, values in times.items()}
    spread = ", ".join(
        f"{name} {min(values):.3f}-{max(values):.3f} s" for name, values in times.items()
    )
    print(
        f"median: migrate {medians['migrate']:.3f} s, raw {medians['raw']:.3f} s"
        f" ({medians['migrate'] / medians['raw']:.2f}x), raw without checkpoint on close"
        f" {medians['raw_keep_wal']:.3f} s ({medians['migrate'] / medians['raw_keep_wal']:.2f}x),"
        f" that on 4 threads {medians['raw_threads']:.3f} s"
        f" ({medians['migrate'] / medians['raw_threads']:.2f}x);"
        f" spread over {args.rounds} rounds: {spread}"
    )


if __name__ == "__main__":
    main()
