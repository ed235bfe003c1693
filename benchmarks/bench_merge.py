"""Merges through the SDK.

1. Merging a branch with 5 schema changes into a target with 100 materialized tenants (each
   with 20 rows): a three-way merge (the target moved on after the fork) and a fast-forward.
   Timed: ``merge_branches`` end to end, which checks, preflights, appends the merge event and
   brings every tenant to it. Target <= 100 ms.
2. Conflict detection on two branches of 1,000 events each since their fork: the time of
   ``merge_preview`` (nothing is written) when the branches conflict on one column, and, for
   reference, when they merge cleanly (the semantic check replays both orders in SQLite).
   Target <= 200 ms for the conflicting case.

Run: python benchmarks/bench_merge.py [--quick]. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine_line

import cinchdb
from cinchdb.models import Column


def project(directory: str, tenants: int) -> cinchdb.CinchDB:
    db = cinchdb.connect(project_dir=cinchdb.init(Path(directory) / "p"))
    db.create_table("users", [Column(name="name"), Column(name="email"), Column(name="age",
                    type="INTEGER")])  # fmt: skip
    for i in range(tenants):
        name = f"t{i:03d}"
        db.create_tenant(name)
        db.tenant = name
        db.insert("users", [{"name": f"u{j}", "email": f"{j}@x", "age": j} for j in range(20)])
    db.tenant = "main"
    return db


def five_changes(db: cinchdb.CinchDB, branch: str, rename: str | None = None) -> None:
    """Five changes on a new branch: column, index, table, view, and a second column or, with
    ``rename``, a rename of that column (SQLite's RENAME COLUMN alone costs ~1.1 ms per file
    here: it re-checks the whole schema)."""
    db.create_branch(branch)
    db.switch_branch(branch)
    db.add_column("users", Column(name=f"{branch}_plan", default="free"))
    db.create_index(f"idx_{branch}_age", "users", ["age"])
    db.create_table(f"{branch}_orders", [Column(name="total", type="REAL")])
    db.create_view(f"{branch}_adults", "SELECT email FROM users WHERE age >= 18")
    if rename:
        db.rename_column("users", rename, f"{rename}_{branch}")
    else:
        db.add_column("users", Column(name=f"{branch}_score", type="INTEGER", default=0))
    db.switch_branch("main")


def merge_timing(tenants: int, repeat: int, rename: str | None) -> tuple[float, float]:
    three_way, fast_forward = [], []
    for rep in range(repeat):
        with tempfile.TemporaryDirectory() as directory:
            db = project(directory, tenants)
            five_changes(db, f"f{rep}", rename)
            db.add_column("users", Column(name="moved_on", type="INTEGER"))
            start = time.perf_counter()
            result = db.merge_branches(f"f{rep}", "main")
            three_way.append(time.perf_counter() - start)
            assert result["status"] == "success" and not result["fast_forward"]
            five_changes(db, f"g{rep}", "age" if rename else None)
            start = time.perf_counter()
            result = db.merge_branches(f"g{rep}", "main")
            fast_forward.append(time.perf_counter() - start)
            assert result["fast_forward"]
            db.close()
    return statistics.median(three_way), statistics.median(fast_forward)


def long_branches(directory: str, events: int, conflict: bool) -> cinchdb.CinchDB:
    db = cinchdb.connect(project_dir=cinchdb.init(Path(directory) / "p"))
    db.migrate("CREATE TABLE shared (id TEXT PRIMARY KEY, a INTEGER, b INTEGER)")
    db.create_branch("feature")
    for branch in ("main", "feature"):
        db.switch_branch(branch)
        tables = events // 4
        statements = []
        for i in range(tables):
            statements.append(f"CREATE TABLE {branch}_{i} (id TEXT PRIMARY KEY, x INTEGER)")
            statements.append(f"ALTER TABLE {branch}_{i} ADD COLUMN y TEXT")
            statements.append(f"CREATE INDEX idx_{branch}_{i} ON {branch}_{i} (x)")
            statements.append(f"ALTER TABLE {branch}_{i} RENAME COLUMN y TO z")
        if conflict:
            kind = "INTEGER" if branch == "main" else "TEXT"
            statements[-1] = f"ALTER TABLE shared ADD COLUMN c {kind}"
        db.migrate(";\n".join(statements))
    db.switch_branch("main")
    return db


def preview_timing(events: int, conflict: bool, repeat: int) -> float:
    with tempfile.TemporaryDirectory() as directory:
        db = long_branches(directory, events, conflict)
        samples = []
        for _ in range(repeat):
            start = time.perf_counter()
            result = db.merge_preview("feature", "main")
            samples.append(time.perf_counter() - start)
            assert (result["status"] == "conflict") == conflict, result["status"]
        db.close()
        return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    quick = parser.parse_args().quick
    tenants, events, repeat = (10, 100, 2) if quick else (100, 1000, 5)
    print(machine_line())
    three_way, fast_forward = merge_timing(tenants, repeat, None)
    three_way_r, fast_forward_r = merge_timing(tenants, repeat, "name")
    conflicting = preview_timing(events, True, repeat)
    clean = preview_timing(events, False, 1)
    rows = [
        (f"three-way merge, 5 changes, {tenants} materialized tenants", three_way, "<= 100 ms"),
        (f"fast-forward merge, 5 changes, {tenants} materialized tenants", fast_forward,
         "<= 100 ms"),
        ("  same, one of the five a column rename", three_way_r, "-"),
        ("  same, fast-forward with a column rename", fast_forward_r, "-"),
        (f"merge_preview, {events} + {events} events, conflicting", conflicting, "<= 200 ms"),
        (f"merge_preview, {events} + {events} events, clean (semantic check)", clean, "-"),
    ]  # fmt: skip
    print("| measurement | median | target |")
    print("|---|---|---|")
    for label, seconds, target in rows:
        print(f"| {label} | {seconds * 1e3:.1f} ms | {target} |")


if __name__ == "__main__":
    main()
