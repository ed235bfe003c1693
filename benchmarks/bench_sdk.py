"""The SDK's hot paths through ``cinchdb.connect()``, beside raw ``sqlite3`` in the same run.

What is measured (each in its own temporary directory; medians over repeats unless stated):

1. single insert: ``db.insert("t", {"name": ..., "n": i})`` one row per call, against raw
   ``sqlite3`` on a kept-open WAL connection (``synchronous=NORMAL``, autocommit) running one
   INSERT per row with a ``uuid4`` id and a timestamp computed per row inside the clock: the work
   the SDK does for the caller. The SDK also returns the stored row (``RETURNING``).
2. select by id: ``db.query("SELECT * FROM t WHERE id = ?", [id])`` against raw ``execute``
   with the rows turned into dicts; the bare ``fetchall()`` (tuples) is shown too.
3. bulk insert of 10,000 rows: ``db.insert("t", rows)`` against raw ``executemany`` in one
   BEGIN/COMMIT, ids (CinchDB's own generator, ``new_ids``) and timestamp made inside the
   clock.
4. ``create_tenant`` of a lazy tenant (a registry row, no file), per call.
5. ``create_branch`` with 10 and with 100 materialized tenants (it should not depend on them).
6. ``add_column`` with 10 and 100 materialized tenants (the change reaches every file).
7. first write to a lazy tenant (materialization + insert) through a handle opened before the
   clock, beside raw ``sqlite3`` making a new file with the same tables from a checkpointed
   WAL-mode file's bytes and inserting one row (``synchronous=NORMAL``); the second write to
   the same tenant for comparison.
8. creating 10,000 lazy tenants, total.
9. resident memory growth after one handle has written once to each of 5,000 lazy tenants
   (switching ``db.tenant``), read from /proc/self/status in a child process so that memory
   freed by the other measurements cannot hide growth; and the time per tenant touched.

Paired measurements interleave raw and CinchDB repeats (raw, cinchdb, raw, cinchdb...) so that
drift on the shared machine falls on both sides alike.

Run: python benchmarks/bench_sdk.py [--quick]. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _machine import machine_line

import cinchdb
from cinchdb import CinchDB
from cinchdb.data import new_ids, utc_now
from cinchdb.models import Column

COLUMNS = [Column(name="name", type="TEXT"), Column(name="n", type="INTEGER")]
# The same shape as the table CinchDB creates for COLUMNS.
RAW_TABLE = (
    "CREATE TABLE {name} (id TEXT PRIMARY KEY NOT NULL, name TEXT, n INTEGER,"
    " created_at TEXT, updated_at TEXT)"
)
RAW_INSERT = "INSERT INTO {name} (id, name, n, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
SELECT = "SELECT * FROM t WHERE id = ?"


@dataclass(frozen=True)
class Sizes:
    repeat: int = 5
    singles: int = 2_000
    bulk: int = 10_000
    lazy_calls: int = 1_000
    tenant_counts: tuple[int, int] = (10, 100)
    rows_per_tenant: int = 10
    branches: int = 10
    columns: int = 5
    first_writes: int = 50
    many_tenants: int = 10_000
    touched: int = 5_000


QUICK = Sizes(
    repeat=3,
    singles=200,
    bulk=1_000,
    lazy_calls=100,
    tenant_counts=(5, 10),
    rows_per_tenant=2,
    branches=3,
    columns=3,
    first_writes=5,
    many_tenants=500,
    touched=300,
)


@dataclass
class Row:
    label: str
    ours: str
    raw: str = "-"
    ratio: float | None = None
    target: str = "-"
    met: bool | None = None


# -- helpers ---------------------------------------------------------------------------------
def open_raw(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def new_project(directory: str) -> CinchDB:
    """A project in ``directory`` with table ``t`` on main; the handle is on the main tenant."""
    root = cinchdb.init(directory)
    db = cinchdb.connect("main", project_dir=root)
    db.create_table("t", COLUMNS)
    return db


def new_rows(count: int, tag: str) -> list[dict[str, Any]]:
    return [{"name": f"{tag}{i}", "n": i} for i in range(count)]


def clock(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def materialize(db: CinchDB, count: int, rows: int) -> None:
    """Create ``count`` materialized tenants, each with ``rows`` rows in ``t``."""
    for i in range(count):
        db.create_tenant(f"m{i}", lazy=False)
        db.tenant = f"m{i}"
        db.insert("t", new_rows(rows, "m"))
    db.tenant = "main"


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} us"


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def ratio_row(label: str, ours: float, raw: float, target: float | None, unit=us) -> Row:
    ratio = ours / raw
    return Row(
        label,
        unit(ours),
        unit(raw),
        ratio,
        f"<= {target:g}x" if target is not None else "-",
        ratio <= target if target is not None else None,
    )


def limit_row(label: str, value: float, limit: float | None, unit=ms, target: str = "") -> Row:
    met = value <= limit if limit is not None else None
    return Row(label, unit(value), target=target or "-", met=met)


# -- measurements ----------------------------------------------------------------------------
def single_insert_and_select(sizes: Sizes) -> list[Row]:
    """1 and 2: per-row inserts, then selects by id of the rows just inserted."""
    n = sizes.singles
    raw_sql = RAW_INSERT.format(name="t")
    samples: dict[str, list[float]] = {k: [] for k in ("raw", "ours", "rsel", "rbare", "osel")}
    with tempfile.TemporaryDirectory() as tmp, new_project(tmp) as db:
        raw = open_raw(Path(tmp) / "raw.db")
        raw.execute(RAW_TABLE.format(name="t"))
        ours_ids: list[str] = []
        raw_ids: list[str] = []
        for rep in range(sizes.repeat):
            rows = new_rows(n, f"r{rep}_")

            def raw_inserts(rows: list[dict[str, Any]] = rows) -> None:
                for row in rows:
                    key = str(uuid.uuid4())
                    now = utc_now()
                    raw.execute(raw_sql, (key, row["name"], row["n"], now, now))
                    raw_ids.append(key)

            def our_inserts(rows: list[dict[str, Any]] = rows) -> None:
                for row in rows:
                    ours_ids.append(db.insert("t", row)["id"])

            samples["raw"].append(clock(raw_inserts) / n)
            samples["ours"].append(clock(our_inserts) / n)

        shuffle = random.Random(0)
        for _ in range(sizes.repeat):
            raw_keys = shuffle.sample(raw_ids, n)
            our_keys = shuffle.sample(ours_ids, n)

            def raw_dicts(keys: list[str] = raw_keys) -> None:
                for key in keys:
                    cursor = raw.execute(SELECT, (key,))
                    names = [d[0] for d in cursor.description]
                    [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]

            def raw_bare(keys: list[str] = raw_keys) -> None:
                for key in keys:
                    raw.execute(SELECT, (key,)).fetchall()

            def our_select(keys: list[str] = our_keys) -> None:
                for key in keys:
                    db.query(SELECT, [key])

            samples["rsel"].append(clock(raw_dicts) / n)
            samples["rbare"].append(clock(raw_bare) / n)
            samples["osel"].append(clock(our_select) / n)
        assert db.query(SELECT, [ours_ids[0]])[0]["id"] == ours_ids[0]
        raw.close()
    med = {k: statistics.median(v) for k, v in samples.items()}
    return [
        ratio_row(f"single insert ({n:,} calls), per row", med["ours"], med["raw"], 3.0),
        ratio_row("select by id (query), raw rows as dicts", med["osel"], med["rsel"], 3.0),
        ratio_row("  same, raw bare fetchall() tuples", med["osel"], med["rbare"], None),
    ]


def bulk_insert(sizes: Sizes) -> list[Row]:
    """3: one call of ``sizes.bulk`` rows against executemany in one transaction."""
    n = sizes.bulk
    raw_times: list[float] = []
    our_times: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, new_project(tmp) as db:
        raw = open_raw(Path(tmp) / "raw.db")
        for rep in range(sizes.repeat):
            # A fresh, empty table on both sides each repetition.
            name = f"b{rep}"
            raw.execute(RAW_TABLE.format(name=name))
            db.create_table(name, COLUMNS)
            raw_sql = RAW_INSERT.format(name=name)
            raw_rows = new_rows(n, f"rb{rep}_")
            our_rows = new_rows(n, f"cb{rep}_")

            def raw_bulk(rows: list[dict[str, Any]] = raw_rows, sql: str = raw_sql) -> None:
                now = utc_now()
                ids = new_ids(len(rows))  # CinchDB's own id generator: the same work
                data = [
                    (key, row["name"], row["n"], now, now)
                    for key, row in zip(ids, rows, strict=True)
                ]
                raw.execute("BEGIN")
                raw.executemany(sql, data)
                raw.execute("COMMIT")

            stored: list[dict[str, Any]] = []

            def our_bulk(
                rows: list[dict[str, Any]] = our_rows,
                table: str = name,
                out: list[dict[str, Any]] = stored,
            ) -> None:
                out.extend(db.insert(table, rows))

            raw_times.append(clock(raw_bulk))
            our_times.append(clock(our_bulk))
            assert len(stored) == n
        raw.close()
    return [
        ratio_row(
            f"bulk insert {n:,} rows (raw: executemany)",
            statistics.median(our_times),
            statistics.median(raw_times),
            1.5,
            unit=ms,
        )
    ]


def lazy_create_tenant(sizes: Sizes) -> list[Row]:
    """4: ``create_tenant`` of lazy tenants, per call."""
    n = sizes.lazy_calls
    samples: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, new_project(tmp) as db:
        for rep in range(sizes.repeat):

            def create(rep: int = rep) -> None:
                for i in range(n):
                    db.create_tenant(f"t{rep}_{i}")

            samples.append(clock(create) / n)
    return [
        limit_row(
            f"create_tenant, lazy ({n:,} calls), per call",
            statistics.median(samples),
            0.2e-3,
            target="<= 0.2 ms",
        )
    ]


def branch_and_column(sizes: Sizes) -> list[Row]:
    """5 and 6: create_branch and add_column with materialized tenants."""
    rows: list[Row] = []
    for count in sizes.tenant_counts:
        with tempfile.TemporaryDirectory() as tmp, new_project(tmp) as db:
            materialize(db, count, sizes.rows_per_tenant)
            branch_times = [
                clock(lambda i=i: db.create_branch(f"b{i}")) for i in range(sizes.branches)
            ]
            column_times = [
                clock(
                    lambda i=i: db.add_column("t", Column(name=f"c{i}", type="INTEGER", default=0))
                )
                for i in range(sizes.columns)
            ]
            assert len(db.list_branches()) == sizes.branches + 1
            db.tenant = f"m{count - 1}"
            assert f"c{sizes.columns - 1}" in db.query("SELECT * FROM t LIMIT 1")[0]
        rows.append(
            limit_row(
                f"create_branch, {count} materialized tenants",
                statistics.median(branch_times),
                5e-3,
                target="<= 5 ms",
            )
        )
        rows.append(
            limit_row(
                f"add_column, {count} materialized tenants",
                statistics.median(column_times),
                60e-3,
                target="<= 60 ms",
            )
        )
    # Order: both create_branch rows, then both add_column rows.
    return rows[0::2] + rows[1::2]


def raw_first_write(template: Path, path: Path) -> sqlite3.Connection:
    """The raw baseline of 7: a new SQLite file with the same tables made by copying the bytes
    of a checkpointed WAL-mode file (the header already says WAL), opened with
    ``synchronous=NORMAL``, and one row inserted (id and timestamps made inside the clock)."""
    shutil.copyfile(template, path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = NORMAL")
    now = utc_now()
    conn.execute(RAW_INSERT.format(name="t"), (str(uuid.uuid4()), "a", 1, now, now))
    return conn


def raw_template(directory: Path) -> Path:
    """A checkpointed WAL-mode file with table ``t`` and CinchDB's two system tables."""
    path = directory / "raw-template.db"
    conn = open_raw(path)
    conn.execute(RAW_TABLE.format(name="t"))
    conn.execute("CREATE TABLE __cinch_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("CREATE TABLE __kv (key TEXT PRIMARY KEY, value BLOB)")
    conn.execute("INSERT INTO __cinch_state VALUES ('cursor', 'x')")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path


def first_write(sizes: Sizes) -> list[Row]:
    """7: first insert into a lazy tenant through a handle opened before the clock, beside
    the raw baseline (:func:`raw_first_write`), interleaved."""
    firsts: list[float] = []
    seconds: list[float] = []
    raws: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, new_project(tmp) as db:
        root = db.project_dir
        template = raw_template(Path(tmp))
        for i in range(sizes.first_writes):
            name = f"lazy{i}"
            db.create_tenant(name)
            raw_path = Path(tmp) / f"raw{i}.db"
            start = time.perf_counter()
            raw_first_write(template, raw_path).close()
            raws.append(time.perf_counter() - start)
            with cinchdb.connect("main", tenant=name, project_dir=root) as handle:
                firsts.append(clock(lambda h=handle: h.insert("t", {"name": "a", "n": 1})))
                seconds.append(clock(lambda h=handle: h.insert("t", {"name": "b", "n": 2})))
                assert len(handle.query("SELECT * FROM t")) == 2
    first = statistics.median(firsts)
    return [
        Row(
            f"first write to a lazy tenant (median of {sizes.first_writes})",
            ms(first),
            ms(statistics.median(raws)),
            first / statistics.median(raws),
            "<= 2 ms",
            first <= 2e-3,
        ),
        limit_row("  second write, same tenant", statistics.median(seconds), None),
    ]


def many_tenants(sizes: Sizes) -> list[Row]:
    """8: creating many lazy tenants, one run."""
    n = sizes.many_tenants
    with tempfile.TemporaryDirectory() as tmp, new_project(tmp) as db:
        total = clock(lambda: [db.create_tenant(f"t{i}") for i in range(n)])
        assert len(db.list_tenants()) == n + 1
    limit = 3.0 * n / 10_000
    return [
        limit_row(
            f"{n:,} lazy tenants created, total",
            total,
            limit,
            unit=lambda s: f"{s:.2f} s",
            target=f"<= {limit:g} s",
        )
    ]


def memory_child(count: int) -> None:
    """9, run in a child process: print RSS growth and time of touching ``count`` tenants."""
    with tempfile.TemporaryDirectory() as tmp, new_project(tmp) as db:
        for i in range(count):
            db.create_tenant(f"m{i}")
        db.insert("t", {"name": "warm-up", "n": 0})  # one-off caches are not per-tenant growth
        gc.collect()
        before = rss_bytes()
        start = time.perf_counter()
        for i in range(count):
            db.tenant = f"m{i}"
            db.insert("t", {"name": "x", "n": i})
        elapsed = time.perf_counter() - start
        gc.collect()
        after = rss_bytes()
        db.tenant = f"m{count - 1}"
        assert len(db.query("SELECT * FROM t")) == 1
    print(json.dumps({"before": before, "after": after, "seconds": elapsed}))


def memory(sizes: Sizes) -> list[Row]:
    n = sizes.touched
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--memory-child", str(n)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory child failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    growth = (result["after"] - result["before"]) / 2**20
    return [
        limit_row(
            f"RSS growth after touching {n:,} tenants",
            growth,
            100.0,
            unit=lambda mb: f"{mb:.1f} MB (from {result['before'] / 2**20:.0f} MB)",
            target="<= 100 MB",
        ),
        limit_row("  per tenant touched (switch + first insert)", result["seconds"] / n, None),
    ]


# -- report ----------------------------------------------------------------------------------
def print_table(rows: list[Row]) -> None:
    cells = [("measurement", "cinchdb", "raw", "ratio", "target", "met")]
    for row in rows:
        met = "-" if row.met is None else ("ok" if row.met else "MISSED")
        ratio = "-" if row.ratio is None else f"{row.ratio:.2f}x"
        cells.append((row.label, row.ours, row.raw, ratio, row.target, met))
    widths = [max(len(line[i]) for line in cells) for i in range(len(cells[0]))]
    for index, line in enumerate(cells):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")
        if index == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--only", help="run one measurement by its function name (e.g. first_write)"
    )
    args = parser.parse_args(argv)
    if args.memory_child is not None:
        memory_child(args.memory_child)
        return
    sizes = QUICK if args.quick else Sizes()
    print(machine_line())
    print(
        f"median of {sizes.repeat} runs where repeated; single ops averaged over "
        f"{sizes.singles:,} calls per run{' (--quick)' if args.quick else ''}"
    )
    rows: list[Row] = []
    failed = False
    measures = (
        single_insert_and_select,
        bulk_insert,
        lazy_create_tenant,
        branch_and_column,
        first_write,
        many_tenants,
        memory,
    )
    for measure in measures:
        if args.only is not None and measure.__name__ != args.only:
            continue
        try:
            rows.extend(measure(sizes))
        except Exception:
            failed = True
            traceback.print_exc()
            rows.append(Row(f"{measure.__name__}: ERROR (traceback above)", "-"))
        sys.stdout.flush()
    print_table(rows)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
