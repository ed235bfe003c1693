"""Data operations (cinchdb.data) beside raw sqlite3 on the same table shape.

Both sides use a kept-open WAL connection with synchronous=NORMAL, in autocommit mode, on their
own file in one temporary directory. The raw side's rows (ids, timestamps included) are built
before the clock starts, so it is SQLite's floor; CinchDB generates ids and timestamps and
returns the stored rows as dicts inside the timed region.

Run: python benchmarks/bench_data.py [rows-per-single-run] [insert_many rows, default 200000]

The last row compares ``DataOps.insert_many`` (typed checks, ids and timestamps made inside the
timed region, no RETURNING) with raw ``executemany`` of pre-built tuples, both in one
transaction, interleaved raw/cinch three times on fresh tables.
"""

from __future__ import annotations

import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _machine import machine_line

from cinchdb.data import DataOps, utc_now
from journal import Schema, apply_operations, parse

TABLE = """
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    age INTEGER DEFAULT 30,
    active BOOLEAN DEFAULT 1
)
"""
RAW_INSERT = (
    "INSERT INTO users (id, created_at, updated_at, name, email, age, active)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
SELECT = "SELECT * FROM users WHERE id = ?"
BULK = 10_000
REPEAT = 7
MANY_REPEAT = 3


def open_db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def dict_rows(count: int, tag: str) -> list[dict[str, object]]:
    return [
        {"name": f"{tag}{i}", "email": f"{tag}{i}@example.com", "age": i % 90, "active": i % 2 == 0}
        for i in range(count)
    ]


def tuple_rows(count: int, tag: str) -> list[tuple[object, ...]]:
    now = utc_now()
    return [
        (str(uuid.uuid4()), now, now, f"{tag}{i}", f"{tag}{i}@example.com", i % 90, i % 2 == 0)
        for i in range(count)
    ]


def median_per_op(run: Callable[[], None], ops: int, samples: list[float]) -> None:
    start = time.perf_counter()
    run()
    samples.append((time.perf_counter() - start) / ops)


def main() -> None:
    singles = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000
    many = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
    with tempfile.TemporaryDirectory() as tmp:
        raw = open_db(Path(tmp) / "raw.db")
        raw.execute(TABLE)
        cinch_conn = open_db(Path(tmp) / "cinch.db")
        schema = apply_operations(cinch_conn, Schema(), parse(TABLE))
        db = DataOps(cinch_conn, schema)
        times: dict[str, list[float]] = {
            k: []
            for k in (
                "raw1",
                "cinch1",
                "rawsel",
                "cinchsel",
                "rawbulk",
                "cinchbulk",
                "cinchdef",
                "rawmany",
                "cinchmany",
            )
        }
        ids: list[str] = []
        raw_ids: list[str] = []
        for rep in range(REPEAT):
            # Single inserts: one statement (its own transaction) per row.
            data = tuple_rows(singles, f"r{rep}_")
            raw_ids.extend(row[0] for row in data)  # type: ignore[misc]

            def raw_singles(data: list[tuple[object, ...]] = data) -> None:
                for row in data:
                    raw.execute(RAW_INSERT, row)

            rows = dict_rows(singles, f"c{rep}_")

            def cinch_singles(rows: list[dict[str, object]] = rows) -> None:
                for row in rows:
                    ids.append(db.insert("users", [row])[0]["id"])

            median_per_op(raw_singles, singles, times["raw1"])
            median_per_op(cinch_singles, singles, times["cinch1"])

            # Select by id.
            raw_keys = raw_ids[-singles:]
            keys = ids[-singles:]

            def raw_select(keys: list[str] = raw_keys) -> None:
                for key in keys:
                    raw.execute(SELECT, (key,)).fetchone()

            def cinch_select(keys: list[str] = keys) -> None:
                for key in keys:
                    db.query(SELECT, [key])

            median_per_op(raw_select, singles, times["rawsel"])
            median_per_op(cinch_select, singles, times["cinchsel"])

            # Bulk: 10,000 rows in one transaction.
            bulk_data = tuple_rows(BULK, f"rb{rep}_")

            def raw_bulk(data: list[tuple[object, ...]] = bulk_data) -> None:
                raw.execute("BEGIN")
                raw.executemany(RAW_INSERT, data)
                raw.execute("COMMIT")

            bulk_rows = dict_rows(BULK, f"cb{rep}_")
            median_per_op(raw_bulk, 1, times["rawbulk"])
            result: list[dict[str, object]] = []

            def cinch_bulk(
                rows: list[dict[str, object]] = bulk_rows, out: list[dict[str, object]] = result
            ) -> None:
                out.extend(db.insert("users", rows))

            median_per_op(cinch_bulk, 1, times["cinchbulk"])
            assert len(result) == BULK and result[0]["active"] is True
            cinch_conn.execute("DELETE FROM users WHERE name LIKE 'cb%'")
            # The same rows without "active": its DEFAULT must be read back from SQLite.
            without_default = [{k: v for k, v in row.items() if k != "active"} for row in bulk_rows]

            def cinch_bulk_defaults(rows: list[dict[str, object]] = without_default) -> None:
                db.insert("users", rows)

            median_per_op(cinch_bulk_defaults, 1, times["cinchdef"])
            # Keep both tables the same size from one repetition to the next.
            raw.execute("DELETE FROM users WHERE name LIKE 'rb%'")
            cinch_conn.execute("DELETE FROM users WHERE name LIKE 'cb%'")

        # insert_many vs raw executemany, interleaved, each on an empty table.
        for rep in range(MANY_REPEAT):
            raw.execute("DELETE FROM users")
            cinch_conn.execute("DELETE FROM users")
            many_raw = tuple_rows(many, f"mr{rep}_")

            def raw_many(data: list[tuple[object, ...]] = many_raw) -> None:
                raw.execute("BEGIN")
                raw.executemany(RAW_INSERT, data)
                raw.execute("COMMIT")

            median_per_op(raw_many, 1, times["rawmany"])
            del many_raw
            many_rows = dict_rows(many, f"mc{rep}_")
            inserted: list[int] = []

            def cinch_many(
                rows: list[dict[str, object]] = many_rows, out: list[int] = inserted
            ) -> None:
                out.append(db.insert_many("users", rows))

            median_per_op(cinch_many, 1, times["cinchmany"])
            assert inserted == [many]
            del many_rows

        # A hand-written user of sqlite3 also makes ids: what uuid.uuid4() alone costs.
        start = time.perf_counter()
        for _ in range(BULK):
            str(uuid.uuid4())
        uuid_cost = (time.perf_counter() - start) / BULK
        raw.close()
        cinch_conn.close()

    med = {k: statistics.median(v) for k, v in times.items()}
    print(machine_line())
    print(
        f"median of {REPEAT} runs ({MANY_REPEAT} for insert_many); single ops averaged over"
        f" {singles} calls per run"
    )
    print(f"{'operation':<34}{'raw sqlite3':>14}{'cinchdb':>14}{'ratio':>9}{'target':>9}")
    for label, raw_key, ours_key, unit, scale, target in (
        ("single insert (RETURNING row)", "raw1", "cinch1", "us", 1e6, 3.0),
        ("select by id (query)", "rawsel", "cinchsel", "us", 1e6, 3.0),
        (f"bulk insert {BULK:,} rows", "rawbulk", "cinchbulk", "ms", 1e3, 1.5),
        ("  same, a DEFAULT column omitted", "rawbulk", "cinchdef", "ms", 1e3, 1.5),
        (f"insert_many {many:,} rows", "rawmany", "cinchmany", "ms", 1e3, 2.0),
    ):
        ratio = med[ours_key] / med[raw_key]
        verdict = "ok" if ratio <= target else "MISSED"
        print(
            f"{label:<34}{med[raw_key] * scale:>11.1f} {unit}{med[ours_key] * scale:>11.1f} {unit}"
            f"{ratio:>8.2f}x{target:>6.1f}x {verdict}"
        )
    print(f"(uuid.uuid4() alone: {uuid_cost * 1e6:.1f} us per id, not counted on the raw side)")


if __name__ == "__main__":
    main()
