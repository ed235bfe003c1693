"""What query analytics costs on the SDK's hot paths: analytics on vs off, beside raw sqlite3,
interleaved in the same run (issue 20: <= 5%, and no extra fsync on the hot path).

What is measured, each on its own project in one temporary directory:

1. get by key: ``db.get("t", id)``;
2. query by id: ``db.query("SELECT * FROM t WHERE id = ?", [id])``;
3. single insert: ``db.insert("t", {"name": ..., "n": i})``, one row per call;
4. kv get: ``db.kv.get(key)``;

on a handle with ``analytics=True`` (its flusher thread running, writing to the analytics
file every second or every 20,000 statements; and each CPU block ends with a flush, so the
drain and write of what the block observed fall inside its time), the same on a handle
with ``analytics=False``, and raw ``sqlite3`` (a kept-open WAL connection, the same table, the
same statement; rows as dicts). Each round runs a block of ``calls`` calls of each variant, in
an order that alternates between rounds (off, on, raw / raw, on, off), so drift on the shared
machine falls on every side alike. Reported: the median time per call over the rounds, the
quartiles of the per-round on/off ratios, and on/off as the median of those ratios, for CPU
time of the whole process (every thread, so the flusher's work counts, and not other
processes: the steadier figure on a shared machine) and for wall time.

fsync: the same insert loop runs in child processes under ``strace -f -c`` (analytics on and
off), and the fsync/fdatasync calls are counted (the flusher's writes included).

Run: python benchmarks/bench_analytics.py [--quick] [--no-fsync]. Not collected by pytest.
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


def per_call(variants: dict[str, dict[str, Op]], name: str, calls: int) -> dict[str, float]:
    """Call by call: each iteration calls every variant once (order rotating), each call timed
    on its own; medians per variant. Load on the machine falls on all alike, and a median per
    call leaves out the flusher's occasional work (the block figures below count it)."""
    order = list(variants)
    ops = [variants[v][name] for v in order]
    samples: list[list[int]] = [[] for _ in order]
    clock = time.perf_counter_ns
    for i in range(calls):
        shift = i % len(ops)
        for k in range(len(ops)):
            j = (k + shift) % len(ops)
            start = clock()
            ops[j](i)
            samples[j].append(clock() - start)
    median = {v: statistics.median(s) for v, s in zip(order, samples, strict=True)}
    # The spread: the on/off ratio of medians over ten consecutive tenths of the run.
    tenth = calls // 10
    on, off = samples[order.index("on")], samples[order.index("off")]
    parts = [
        statistics.median(on[k : k + tenth]) / statistics.median(off[k : k + tenth])
        for k in range(0, tenth * 10, tenth)
    ]
    ratio = median["on"] / median["off"]
    print(
        f"  per call ({calls} interleaved): raw {median['raw'] / 1e3:.2f} us,"
        f" off {median['off'] / 1e3:.2f} us, on {median['on'] / 1e3:.2f} us;"
        f" on/off {ratio:.3f} ({(ratio - 1) * 100:+.1f}%, tenths {min(parts):.3f}-"
        f"{max(parts):.3f}); off/raw {median['off'] / median['raw']:.2f}"
    )
    return median


Flush = Callable[[], tuple[float, float]]


def no_flush() -> tuple[float, float]:
    return 0.0, 0.0


def analytics_flush(db: cinchdb.CinchDB) -> Flush:
    """Drain the handle's recorder and write the batch, as its flusher does, timing the two
    apart (CPU seconds): the drain's cost grows with the statements observed, the write's is
    per flush (one transaction; each shape's sketch merged with its minute's row). The
    benchmark reaches into the handle's private lease for that."""
    lease = db._analytics
    assert lease is not None and lease._entry is not None
    recorder, store = lease.recorder, lease._entry.flusher.store

    def flush() -> tuple[float, float]:
        start = time.process_time()
        batch = recorder.drain()
        drained = time.process_time()
        if batch:
            store.write(batch)
        return drained - start, time.process_time() - drained

    return flush


def block(op: Op, calls: int, flush: Flush) -> tuple[float, float, float]:
    """CPU seconds of the whole process per call over ``calls`` calls and a flush of what they
    recorded: every thread (the background flusher's too), and not the other processes on the
    machine; and the flush's parts: the drain per call, the write (seconds, once).

    Without a flush in the block, a block of a few milliseconds almost never contains one of
    the flusher's once-a-second drains, and the median leaves the drain's cost out. One write
    per block charges its fixed cost once per ``calls`` statements instead of once a second:
    the block ratio overstates it (the modelled figure below does not)."""
    cpu = time.process_time()
    for i in range(calls):
        op(i)
    drain, write = flush()
    return (time.process_time() - cpu) / calls, drain / calls, write


def blocks(
    variants: dict[str, dict[str, Op]],
    flushes: dict[str, Flush],
    name: str,
    rounds: int,
    calls: int,
    hook: dict[str, float],
) -> tuple[float, float]:
    """The block ratio, and the steadier modelled one: the hook's median cost per call
    (``hook``, from :func:`per_call`, in ns) plus the drain's CPU per call plus one write a
    second shared by the calls of that second, over analytics off per call."""
    samples: dict[str, list[float]] = {v: [] for v in variants}
    drains: list[float] = []
    writes: list[float] = []
    orders = [["off", "on", "raw"], ["raw", "on", "off"], ["on", "off", "raw"]]
    for r in range(rounds):
        for v in orders[r % 3]:
            total, drain, write = block(variants[v][name], calls, flushes[v])
            samples[v].append(total)
            if v == "on":
                drains.append(drain * 1e9)
                writes.append(write * 1e9)
    ratios = [on / off for on, off in zip(samples["on"], samples["off"], strict=True)]
    median = {v: statistics.median(s) for v, s in samples.items()}
    ratio = statistics.median(ratios)
    q1, _, q3 = statistics.quantiles(ratios, n=4)
    drain_ns, write_ns = statistics.median(drains), statistics.median(writes)
    d1, _, d3 = statistics.quantiles(drains, n=4)
    # One write a second, shared by the statements of that second (1e9 / hook["on"] of them).
    modelled = (hook["on"] + drain_ns + write_ns * hook["on"] / 1e9) / hook["off"]
    print(
        f"  CPU per call, a flush per block ({rounds} rounds x {calls}):"
        f" raw {median['raw'] * 1e6:.2f} us, off {median['off'] * 1e6:.2f} us,"
        f" on {median['on'] * 1e6:.2f} us; on/off {ratio:.3f} ({(ratio - 1) * 100:+.1f}%,"
        f" round quartiles {q1:.3f}-{q3:.3f})\n"
        f"  drain {drain_ns:.0f} ns per call (quartiles {d1:.0f}-{d3:.0f}), write"
        f" {write_ns / 1e3:.0f} us per flush; per call on + drain + a write a second, over"
        f" off: {modelled:.3f} ({(modelled - 1) * 100:+.1f}%)"
    )
    return ratio, modelled


def measure(calls: int, rounds: int, block_calls: int, only: list[str] | None = None) -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-analytics-"))
    try:
        # One project, two handles: the same file and tables; only the hook differs.
        off_db, ids = sdk_project(root, "p", analytics=False)
        on_db = cinchdb.connect(project_dir=root / "p", analytics=True)
        conn, raw_ids = raw_project(root)
        variants = {
            "off": sdk_ops(off_db, ids),
            "on": sdk_ops(on_db, ids),
            "raw": raw_ops(conn, raw_ids),
        }
        # The drain and write of what each block recorded, inside its time. Off and raw have
        # nothing to flush.
        flushes = {"off": no_flush, "on": analytics_flush(on_db), "raw": no_flush}
        # The garbage collector stays on, as in a real program: the recorder's allocations
        # trigger collections (it did, one per ~700 statements, before observations stopped
        # being objects), and those belong to analytics' cost. What the other variants
        # leave behind is collected between the phases.
        for name in only or list(variants["off"]):
            for variant in variants.values():  # warm up: caches, prepared statements
                for i in range(200):
                    variant[name](i)
            print(f"\n{name}:")
            hook = per_call(variants, name, calls)
            ratio = hook["on"] / hook["off"]
            gc.collect()
            cpu, summed = blocks(variants, flushes, name, rounds, block_calls, hook)
            gc.collect()
            print(
                f"  -> <= 5%: {'met' if ratio <= 1.05 else 'NOT met'} per call,"
                f" {'met' if summed <= 1.05 else 'NOT met'} per call + drain + writes,"
                f" {'met' if cpu <= 1.05 else 'NOT met'} in block CPU with the flusher"
            )
        on_db.close()
        off_db.close()
        conn.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


_CHILD = """
import os, sys, time
import cinchdb
from cinchdb.models import Column
root = sys.argv[1]
cinchdb.init(root)
db = cinchdb.connect(project_dir=root, analytics=sys.argv[2] == "on")
db.create_table("t", [Column(name="name", type="TEXT")])
row = db.insert("t", {"name": "x"})
time.sleep(1.5)  # the flusher's first write (its file created) falls before the loop
os.write(1, b"LOOP-START\\n")
for i in range(int(sys.argv[3])):
    db.insert("t", {"name": "x"})
    db.get("t", row["id"])
    db.kv.set("k", i)
os.write(1, b"LOOP-END\\n")
time.sleep(1.5)  # the flusher's writes of the loop
db.close()
"""


def fsyncs(iterations: int) -> None:
    """fsync/fdatasync calls while a child runs ``iterations`` x (insert, get, kv.set), by
    thread: the caller's (the hot path) and the others (the flusher)."""
    if shutil.which("strace") is None:
        print("\nfsync count: strace not found, skipped")
        return
    print(
        f"\nfsync + fdatasync during {iterations} x (insert, get, kv.set), strace -f,"
        " by thread (main = the caller's thread):"
    )
    for mode in ("off", "on"):
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "strace.log"
            subprocess.run(
                [
                    "strace", "-f", "-qq", "-o", str(log),
                    "-e", "trace=fsync,fdatasync,write",
                    sys.executable, "-c", _CHILD, str(Path(tmp) / "p"), mode, str(iterations),
                ],
                capture_output=True, text=True, timeout=900, check=True,
                env={"PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
            )  # fmt: skip
            lines = log.read_text().splitlines()
            main_pid = lines[0].split()[0]
            inside = False
            counts = {"main": 0, "others": 0, "after the loop": 0}
            done = False
            for line in lines:
                if "LOOP-START" in line:
                    inside = True
                elif "LOOP-END" in line:
                    inside, done = False, True
                elif "fsync(" in line or "fdatasync(" in line:
                    if inside:
                        counts["main" if line.split()[0] == main_pid else "others"] += 1
                    elif done:
                        counts["after the loop"] += 1
            print(
                f"  analytics {mode:3}: in the loop, main thread {counts['main']},"
                f" other threads {counts['others']}; after it {counts['after the loop']}"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a smoke run (small counts)")
    parser.add_argument("--no-fsync", action="store_true", help="skip the strace fsync count")
    parser.add_argument(
        "--only", action="append", metavar="OPERATION", help='e.g. --only "kv get" (repeatable)'
    )
    args = parser.parse_args()
    print(machine_line())
    if args.quick:
        measure(calls=2_000, rounds=6, block_calls=1_000, only=args.only)
    else:
        measure(calls=30_000, rounds=20, block_calls=5_000, only=args.only)
    if not args.no_fsync:
        fsyncs(300 if args.quick else 3_000)


if __name__ == "__main__":
    main()
