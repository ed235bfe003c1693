"""The key-value store beside raw ``sqlite3`` doing the equivalent upsert / select.

The raw side is a kept-open WAL connection (``synchronous=NORMAL``, autocommit) on a table of
the same shape as ``__kv`` (STRICT, WITHOUT ROWID), doing the same work per call: an upsert of
(key, kind, value, expires_at) with the value JSON-encoded when it is a dict, and a select by
key with the JSON decoded. Targets: ``set`` and ``get`` <= 3x raw, ``mset`` of 100 keys
<= 1 ms. Median of 5 runs of 2,000 calls each, raw and CinchDB interleaved.

Run: python benchmarks/bench_kv.py [--quick]. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine_line

import cinchdb

TABLE = (
    "CREATE TABLE kv (key TEXT PRIMARY KEY NOT NULL, kind TEXT NOT NULL, value ANY,"
    " expires_at REAL) STRICT, WITHOUT ROWID"
)
UPSERT = (
    "INSERT INTO kv (key, kind, value, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (key)"
    " DO UPDATE SET kind = excluded.kind, value = excluded.value, expires_at = excluded.expires_at"
)
SELECT = "SELECT kind, value, expires_at FROM kv WHERE key = ?"
VALUE = {"name": "Alice", "role": "admin"}


def raw_connection(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(TABLE)
    return conn


def per_call(fn, calls: int) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    quick = parser.parse_args().quick
    calls, repeat = (300, 2) if quick else (2000, 5)
    print(machine_line())
    names = ("raw_set", "set", "raw_get", "get", "mset", "raw_mset")
    samples: dict[str, list[float]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as directory:
        root = cinchdb.init(Path(directory) / "p")
        db = cinchdb.connect(project_dir=root)
        raw = raw_connection(Path(directory) / "raw.db")
        keys = [f"user:{i}" for i in range(calls)]
        db.kv.set("warm", 1)
        for rep in range(repeat):

            def raw_set() -> None:
                for key in keys:
                    raw.execute(UPSERT, (key, "j", json.dumps(VALUE, separators=(",", ":")), None))

            def our_set() -> None:
                for key in keys:
                    db.kv.set(key, VALUE)

            def raw_get() -> None:
                for key in keys:
                    row = raw.execute(SELECT, (key,)).fetchone()
                    if row[2] is None or row[2] > time.time():
                        json.loads(row[1])

            def our_get() -> None:
                for key in keys:
                    db.kv.get(key)

            batch = {f"batch:{rep}:{i}": i for i in range(100)}

            def raw_mset(batch: dict[str, int] = batch) -> None:
                raw.execute("BEGIN IMMEDIATE")
                raw.executemany(UPSERT, [(k, "i", v, None) for k, v in batch.items()])
                raw.execute("COMMIT")

            samples["raw_set"].append(per_call(raw_set, calls))
            samples["set"].append(per_call(our_set, calls))
            samples["raw_get"].append(per_call(raw_get, calls))
            samples["get"].append(per_call(our_get, calls))
            samples["raw_mset"].append(per_call(raw_mset, 1))
            samples["mset"].append(per_call(lambda batch=batch: db.kv.mset(batch), 1))
        db.close()
        raw.close()
    med = {k: statistics.median(v) for k, v in samples.items()}
    print("| operation | raw sqlite3 | cinchdb | ratio | target |")
    print("|---|---|---|---|---|")
    print(
        f"| set (dict value) | {med['raw_set'] * 1e6:.1f} us | {med['set'] * 1e6:.1f} us |"
        f" {med['set'] / med['raw_set']:.2f}x | <= 3x |"
    )
    print(
        f"| get (dict value) | {med['raw_get'] * 1e6:.1f} us | {med['get'] * 1e6:.1f} us |"
        f" {med['get'] / med['raw_get']:.2f}x | <= 3x |"
    )
    print(f"| mset of 100 keys | {med['raw_mset'] * 1e3:.3f} ms | {med['mset'] * 1e3:.3f} ms |"
          f" {med['mset'] / med['raw_mset']:.2f}x | <= 1 ms |")  # fmt: skip


if __name__ == "__main__":
    main()
