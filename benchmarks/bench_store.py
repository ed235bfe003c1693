"""Benchmark of the journal store (metadata.db): appends, and reading the journal back.

Run: ``python benchmarks/bench_store.py [--events N] [--runs R]``. Not collected by pytest.
Every measurement runs in a fresh temporary directory; the table shows the median of
``--runs`` runs. The floor to compare appends with is raw ``sqlite3`` committing one row per
transaction on a kept-open WAL connection with the same pragmas.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _machine import machine_line  # the line every benchmark prints

from journal.definitions import ColumnDef, TableDef
from journal.events import Event, TableCreated
from journal.store import JournalStore


def changes(count: int) -> list[TableCreated]:
    return [
        TableCreated(table=TableDef(name=f"t{index}", columns=(ColumnDef(name="a"),)))
        for index in range(count)
    ]


def fresh_store(directory: str) -> JournalStore:
    store = JournalStore(Path(directory) / "metadata.db")
    store.create_database("db")
    store.create_branch("db", "main", None)
    return store


def append_one_by_one(count: int) -> float:
    batch = changes(count)
    with tempfile.TemporaryDirectory() as directory, fresh_store(directory) as store:
        head: str | None = None
        start = time.perf_counter()
        for change in batch:
            head = store.append("db", "main", [change], expected_head=head)[-1].id
        return time.perf_counter() - start


def append_in_one_call(count: int) -> float:
    batch = changes(count)
    with tempfile.TemporaryDirectory() as directory, fresh_store(directory) as store:
        start = time.perf_counter()
        store.append("db", "main", batch, expected_head=None)
        return time.perf_counter() - start


def build_events_only(count: int) -> float:
    """The pure-Python share of an append: validating, serializing and hashing events."""
    batch = changes(count)
    start = time.perf_counter()
    parents: tuple[str, ...] = ()
    for change in batch:
        event = Event.create(change, parents=parents, database="db")
        event.canonical_body()
        parents = (event.id,)
    return time.perf_counter() - start


def raw_sqlite(count: int) -> float:
    """One INSERT per ``BEGIN IMMEDIATE`` transaction, rows the size of an event body."""
    body = Event.create(changes(1)[0], parents=("0" * 64,), database="db").canonical_body()
    with tempfile.TemporaryDirectory() as directory:
        conn = sqlite3.connect(Path(directory) / "raw.db", isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, id TEXT UNIQUE, body TEXT)")
        start = time.perf_counter()
        for index in range(count):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t (id, body) VALUES (?, ?)", (f"{index:064x}", body))
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - start
        conn.close()
        return elapsed


def cold_reads(count: int) -> dict[str, float]:
    """A new process's first reads of a journal of ``count`` events, and a no-op refresh."""
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as directory:
        with fresh_store(directory) as store:
            head = store.append("db", "main", changes(count), expected_head=None)[-1].id
        path = Path(directory) / "metadata.db"
        with JournalStore(path) as store:
            start = time.perf_counter()
            store.graph("db")
            timings["graph"] = time.perf_counter() - start
            start = time.perf_counter()
            store.chain("db", head)
            timings["chain"] = time.perf_counter() - start
            start = time.perf_counter()
            for _ in range(100):
                store.graph("db")
            timings["refresh"] = (time.perf_counter() - start) / 100
            start = time.perf_counter()
            for _ in range(100):
                store.branch_head("db", "main")
            timings["head"] = (time.perf_counter() - start) / 100
    return timings


def median_of(runs: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    count, runs = args.events, args.runs

    one_by_one = median_of(runs, lambda: append_one_by_one(count))
    one_call = median_of(runs, lambda: append_in_one_call(count))
    raw = median_of(runs, lambda: raw_sqlite(count))
    python_only = median_of(runs, lambda: build_events_only(count))
    reads = [cold_reads(count) for _ in range(runs)]

    def read(key: str) -> float:
        return statistics.median(r[key] for r in reads)

    rows = [
        (f"append x {count:,}, one event per call", one_by_one, one_by_one / count),
        (f"append of {count:,} events in one call", one_call, one_call / count),
        (f"raw sqlite3: {count:,} INSERTs, one transaction each", raw, raw / count),
        (f"Event.create + canonical_body x {count:,} (no I/O)", python_only, python_only / count),
        (f"cold graph() of {count:,} events (new instance)", read("graph"), None),
        (f"cold chain() of {count:,} events (parse + hash check)", read("chain"), None),
        ("graph() refresh with nothing new", read("refresh"), None),
        ("branch_head()", read("head"), None),
    ]
    print("Journal store benchmark (journal.store.JournalStore)")
    print(machine_line())
    print(f"median of {runs} runs, each in a fresh temporary directory")
    print()
    print(f"| {'measurement':<56} | {'total':>10} | {'per event':>10} |")
    print(f"|{'-' * 58}|{'-' * 12}|{'-' * 12}|")
    for label, total, per_event in rows:
        each = f"{per_event * 1e6:>7.1f} us" if per_event is not None else f"{'':>10}"
        print(f"| {label:<56} | {_duration(total):>10} | {each} |")
    print()
    print(f"append one by one / raw sqlite3: {one_by_one / raw:.1f}x")
    print(f"append one by one minus event building, / raw: {(one_by_one - python_only) / raw:.1f}x")


def _duration(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.1f} us"


if __name__ == "__main__":
    main()
