"""Import and export (issue 16) beside raw sqlite3, in the same run.

Table: CinchDB's ``people(name TEXT, email TEXT, age INTEGER, score REAL, active BOOLEAN)``,
plus its automatic ``id``, ``created_at``, ``updated_at``. Files: the same N rows as CSV and as
NDJSON (no ids: CinchDB makes them).

Import, what each side's clock covers:

- ``cinch``: ``db.import_rows(table, path)`` from the file on disk to the commit: reading and
  parsing the file (csv / json modules), converting each CSV field by its column's type,
  the typed-value checks, ids and timestamps, ``insert_many`` (one transaction).
- ``raw executemany`` (the baseline): ``executemany`` of an INSERT of the same rows, in one
  transaction, on a kept-open WAL connection with synchronous=NORMAL, into a table of the same
  shape. The rows were parsed by the csv / json module, turned into tuples and given ids and
  timestamps BEFORE the clock starts: it is SQLite's floor, without any file reading.
- ``parse only``: reading the file with the csv / json module into the rows the baseline
  uses (tuples of values), to show where the rest of the time goes.

Export: ``db.export_rows(table, path, fmt)`` of every row vs raw ``SELECT *`` with
``fetchmany`` written by ``csv.writer`` / ``json.dumps`` per row (dicts) to a file.

Rounds interleave the sides (baseline, cinch, parse, per format) and report the median and
the spread of each. Run: python benchmarks/bench_transfer.py [rows] [rounds]
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _machine import machine_line

import cinchdb
from cinchdb._rows import new_ids, utc_now
from cinchdb.models import Column

COLUMNS = [
    Column(name="name", type="TEXT"),
    Column(name="email", type="TEXT"),
    Column(name="age", type="INTEGER"),
    Column(name="score", type="REAL"),
    Column(name="active", type="BOOLEAN"),
]
RAW_TABLE = """
CREATE TABLE people (
    id TEXT PRIMARY KEY, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    name TEXT, email TEXT, age INTEGER, score REAL, active BOOLEAN
)
"""
RAW_INSERT = (
    "INSERT INTO people (id, created_at, updated_at, name, email, age, score, active)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
NAMES = ["name", "email", "age", "score", "active"]


def write_files(directory: Path, count: int) -> dict[str, Path]:
    rows = (
        {
            "name": f"person {i}",
            "email": f"p{i}@example.com",
            "age": i % 90,
            "score": i / 7,
            "active": i % 3 == 0,
        }
        for i in range(count)
    )
    csv_path, ndjson_path = directory / "people.csv", directory / "people.ndjson"
    with csv_path.open("w", newline="") as c, ndjson_path.open("w") as n:
        writer = csv.writer(c, lineterminator="\n")
        writer.writerow(NAMES)
        for row in rows:
            values = list(row.values())
            values[4] = "true" if values[4] else "false"
            writer.writerow(values)
            n.write(json.dumps(row) + "\n")
    return {"csv": csv_path, "ndjson": ndjson_path}


def parse(fmt: str, path: Path) -> list[tuple[object, ...]]:
    """The rows as the csv / json module gives them, as tuples."""
    with path.open(newline="") as f:
        if fmt == "csv":
            lines = csv.reader(f)
            next(lines)
            return [tuple(r) for r in lines]
        return [tuple(json.loads(line).values()) for line in f]


def raw_executemany(directory: Path, rows: list[tuple[object, ...]], tag: str) -> float:
    conn = sqlite3.connect(directory / f"raw-{tag}.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(RAW_TABLE)
    now = utc_now()
    params = [(i, now, now, *r) for i, r in zip(new_ids(len(rows)), rows, strict=True)]
    start = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(RAW_INSERT, params)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def cinch_import(db: cinchdb.CinchDB, tenant: str, path: Path) -> tuple[float, int]:
    db.create_tenant(tenant)
    with cinchdb.connect(project_dir=db.project_dir, tenant=tenant) as handle:
        handle.kv.set("materialize", 1)  # the file exists before the clock starts
        start = time.perf_counter()
        count = handle.import_rows("people", path)
        return time.perf_counter() - start, count


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def raw_export(db_path: Path, fmt: str, target: Path) -> None:
    conn = sqlite3.connect(db_path)
    cursor = conn.execute("SELECT * FROM people")
    names = [d[0] for d in cursor.description]
    with target.open("w", newline="") as out:
        if fmt == "csv":
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(names)
            while chunk := cursor.fetchmany(1000):
                writer.writerows(chunk)
        else:
            while chunk := cursor.fetchmany(1000):
                out.write(
                    "".join(json.dumps(dict(zip(names, r, strict=True))) + "\n" for r in chunk)
                )
    conn.close()


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} s  ({min(values):.2f}-{max(values):.2f})"


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    print(machine_line())
    print(f"{count:,} rows, {rounds} rounds (median, min-max)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        files = write_files(directory, count)
        for fmt, path in files.items():
            print(f"  {fmt} file: {os.path.getsize(path) / 2**20:.0f} MiB")
        root = cinchdb.init(directory / "project")
        db = cinchdb.connect(project_dir=root)
        db.create_table("people", COLUMNS)
        results: dict[tuple[str, str], list[float]] = {}
        for r in range(rounds):
            for fmt, path in files.items():
                rows = parse(fmt, path)
                results.setdefault((fmt, "raw"), []).append(
                    raw_executemany(directory, rows, f"{fmt}{r}")
                )
                del rows
                took, imported = cinch_import(db, f"{fmt}{r}", path)
                assert imported == count
                results.setdefault((fmt, "cinch"), []).append(took)
                parse_time = timed(lambda: parse(fmt, path))  # noqa: B023
                results.setdefault((fmt, "parse"), []).append(parse_time)
                print(f"  round {r + 1} {fmt}: raw {results[(fmt, 'raw')][-1]:.2f} s,"
                      f" cinch {took:.2f} s, parse {parse_time:.2f} s", flush=True)  # fmt: skip
        print("\nImport")
        for fmt in files:
            raw, cinch, parsed = (results[(fmt, k)] for k in ("raw", "cinch", "parse"))
            ratio = statistics.median(cinch) / statistics.median(raw)
            print(f"  {fmt:7s} raw executemany {spread(raw)}   cinch import {spread(cinch)}"
                  f"   ratio {ratio:.2f}x   parse only {spread(parsed)}")  # fmt: skip
        # Export the rows of the first CSV import, beside raw fetchmany + writer.
        source = cinchdb.connect(project_dir=root, tenant="csv0")
        tenant_file = next(root.glob(".cinchdb/main-main/*/csv0.db"))
        exports: dict[tuple[str, str], list[float]] = {}
        for _ in range(rounds):
            for fmt in ("csv", "ndjson"):
                target = directory / f"out.{fmt}"
                exports.setdefault((fmt, "raw"), []).append(
                    timed(lambda: raw_export(tenant_file, fmt, target))  # noqa: B023
                )
                exports.setdefault((fmt, "cinch"), []).append(
                    timed(lambda: source.export_rows("people", target, fmt))  # noqa: B023
                )
        print("\nExport (every row and column, to a file)")
        for fmt in ("csv", "ndjson"):
            raw, cinch = exports[(fmt, "raw")], exports[(fmt, "cinch")]
            ratio = statistics.median(cinch) / statistics.median(raw)
            print(f"  {fmt:7s} raw fetchmany+writer {spread(raw)}   cinch export {spread(cinch)}"
                  f"   ratio {ratio:.2f}x")  # fmt: skip
        source.close()
        db.close()


if __name__ == "__main__":
    main()
