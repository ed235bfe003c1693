"""What query analytics costs on the SDK's hot paths: analytics on vs off, beside raw sqlite3,
interleaved in the same run (issue 20: <= 5%, and no extra fsync on the hot path).

What is measured, each on its own project in one temporary directory:

1. get by key: ``db.get("t", id)``;
2. query by id: ``db.query("SELECT * FROM t WHERE id = ?", [id])``;
3. single insert: ``db.insert("t", {"name": ..., "n": i})``, one row per call;
4. kv get: ``db.kv.get(key)``;

on a handle with ``analytics=True`` (its flusher thread running, writing to the analytics
file every second or every 1,000 statements, inside the measured blocks), the same on a handle
with ``analytics=False``, and raw ``sqlite3`` (a kept-open WAL connection, the same table, the
same statement; rows as dicts). Each round runs a block of ``calls`` calls of each variant, in
an order that alternates between rounds (off, on, raw / raw, on, off), so drift on the shared
machine falls on every side alike. Reported: the median time per call over the rounds, the
spread (lowest and highest round), and on/off as the median of the per-round ratios.

fsync: the same insert loop runs in child processes under ``strace -f -c`` (analytics on and
off), and the fsync/fdatasync calls are counted (the flusher's writes included).

Run: python benchmarks/bench_analytics.py [--quick]. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _machine import machine_line

import cinchdb
from cinchdb.data import utc_now
from cinchdb.models import Column

COLUMNS = [Column(name="name", type="TEXT"), Column(name="n", type="INTEGER")]
RAW_TABLE = (
    "CREATE TABLE t (id TEXT PRIMARY KEY NOT NULL, name TEXT, n INTEGER,"
    " created_at TEXT, updated_at TEXT)"
)
RAW_INSERT = "INSERT INTO t (id, name, n, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
SELECT = "SELECT * FROM t WHERE id = ?"
SEED_ROWS = 1_000

Op = Callable[[int], object]


def sdk_project(root: Path, name: str, analytics: bool) -> tuple[cinchdb.CinchDB, list[str]]:
    path = root / name
    cinchdb.init(path)
    db = cinchdb.connect(project_dir=path, analytics=analytics)
    db.create_table("t", COLUMNS)
    ids = [
        row["id"] for row in db.insert("t", [{"name": f"r{i}", "n": i} for i in range(SEED_ROWS)])
    ]
    for i in range(SEED_ROWS):
        db.kv.set(f"k{i}", i)
    return db, ids


def raw_project(root: Path) -> tuple[sqlite3.Connection, list[str]]:
    conn = sqlite3.connect(root / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(RAW_TABLE)
    conn.execute("CREATE TABLE kv (key TEXT PRIMARY KEY, value)")
    ids = [str(uuid.uuid4()) for _ in range(SEED_ROWS)]
    now = utc_now()
    conn.execute("BEGIN")
    conn.executemany(RAW_INSERT, [(k, f"r{i}", i, now, now) for i, k in enumerate(ids)])
    conn.executemany("INSERT INTO kv VALUES (?, ?)", [(f"k{i}", i) for i in range(SEED_ROWS)])
    conn.execute("COMMIT")
    return conn, ids


def sdk_ops(db: cinchdb.CinchDB, ids: list[str]) -> dict[str, Op]:
    n = len(ids)
    return {
        "get by key": lambda i: db.get("t", ids[i % n]),
        "query by id": lambda i: db.query(SELECT, [ids[i % n]]),
        "single insert": lambda i: db.insert("t", {"name": "x", "n": i}),
        "kv get": lambda i: db.kv.get(f"k{i % SEED_ROWS}"),
    }


def raw_ops(conn: sqlite3.Connection, ids: list[str]) -> dict[str, Op]:
    n = len(ids)

    def select(i: int) -> object:
        cursor = conn.execute(SELECT, (ids[i % n],))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def insert(i: int) -> object:
        now = utc_now()
        return conn.execute(RAW_INSERT, (str(uuid.uuid4()), "x", i, now, now))

    def kv_get(i: int) -> object:
        return conn.execute("SELECT value FROM kv WHERE key = ?", (f"k{i % SEED_ROWS}",)).fetchone()

    return {"get by key": select, "query by id": select, "single insert": insert, "kv get": kv_get}


def block(op: Op, calls: int) -> float:
    """Seconds per call over one block of ``calls`` calls."""
    gc.collect()
    start = time.perf_counter()
    for i in range(calls):
        op(i)
    return (time.perf_counter() - start) / calls


def measure(rounds: int, calls: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-analytics-"))
    try:
        on_db, on_ids = sdk_project(root, "on", analytics=True)
        off_db, off_ids = sdk_project(root, "off", analytics=False)
        conn, raw_ids = raw_project(root)
        variants = {
            "off": sdk_ops(off_db, off_ids),
            "on": sdk_ops(on_db, on_ids),
            "raw": raw_ops(conn, raw_ids),
        }
        for name in variants["off"]:
            for variant in variants.values():  # warm up: caches, prepared statements
                block(variant[name], calls // 4)
            samples: dict[str, list[float]] = {v: [] for v in variants}
            order = list(variants)
            for r in range(rounds):
                for v in order if r % 2 == 0 else reversed(order):
                    samples[v].append(block(variants[v][name], calls))
            ratios = [on / off for on, off in zip(samples["on"], samples["off"], strict=True)]
            median = {v: statistics.median(s) for v, s in samples.items()}
            ratio = statistics.median(ratios)
            print(f"\n{name}: {rounds} rounds x {calls} calls each, per call")
            for v in ("raw", "off", "on"):
                s = samples[v]
                print(
                    f"  {v:4} median {median[v] * 1e6:7.2f} us"
                    f"  (rounds {min(s) * 1e6:.2f}-{max(s) * 1e6:.2f})"
                )
            quartiles = statistics.quantiles(ratios, n=4)
            verdict = "met" if ratio <= 1.05 else "NOT met"
            print(
                f"  on/off {ratio:.3f} (+{(ratio - 1) * 100:.1f}%, per-round ratios"
                f" {min(ratios):.3f}-{max(ratios):.3f}, quartiles {quartiles[0]:.3f}-"
                f"{quartiles[2]:.3f}); off/raw {median['off'] / median['raw']:.2f}"
                f"  -> <= 5%: {verdict}"
            )
        on_db.close()
        off_db.close()
        conn.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


_CHILD = """
import sys, time
import cinchdb
from cinchdb.models import Column
root = sys.argv[1]
analytics = sys.argv[2] == "on"
cinchdb.init(root)
db = cinchdb.connect(project_dir=root, analytics=analytics)
db.create_table("t", [Column(name="name", type="TEXT")])
print("START", flush=True)
for i in range(int(sys.argv[3])):
    db.insert("t", {"name": "x"})
time.sleep(1.5)  # the flusher's interval: its writes are in the count
db.close()
"""


def fsyncs(inserts: int) -> None:
    if shutil.which("strace") is None:
        print("\nfsync count: strace not found, skipped")
        return
    print(f"\nfsync/fdatasync calls over {inserts} single inserts (strace -f -c, whole process):")
    for mode in ("off", "on"):
        with tempfile.TemporaryDirectory() as tmp:
            result = subprocess.run(
                [
                    "strace",
                    "-f",
                    "-c",
                    "-e",
                    "trace=fsync,fdatasync",
                    sys.executable,
                    "-c",
                    _CHILD,
                    str(Path(tmp) / "p"),
                    mode,
                    str(inserts),
                ],
                capture_output=True,
                text=True,
                timeout=600,
                env={"PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
            )
            counts = {
                parts[-1]: int(parts[3])
                for line in result.stderr.splitlines()
                if (parts := line.split()) and parts[-1] in ("fsync", "fdatasync")
            }
            print(f"  analytics {mode:3}: {counts or 'none'} (init and create_table included)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(machine_line())
    if args.quick:
        measure(rounds=4, calls=500)
        fsyncs(500)
    else:
        measure(rounds=60, calls=400)
        fsyncs(5_000)


if __name__ == "__main__":
    main()
