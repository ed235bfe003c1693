"""``ApiKeys.authenticate`` (what ``cinch serve`` does once per request) beside raw ``sqlite3``
reading the same row on a kept-open connection of the same file, and beside the one
``PRAGMA data_version`` a cache validated per call would cost instead of the read.

Each side does its whole per-call work: ``authenticate`` parses the key, reads its row,
hashes and compares the secret, checks revocation and expiry and returns the principal; the
raw side only runs the ``SELECT`` by primary key. Median of 7 runs of 5,000 calls, the sides
interleaved in each run (the machine is shared).

Run: python benchmarks/bench_keys.py [--quick]. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine_line

import cinchdb
from cinchdb.keys import ApiKeys

SELECT = (
    "SELECT secret_hash, name, scopes, databases, branches, tenants, expires_at, revoked_at"
    " FROM cinch_api_keys WHERE id = ?"
)


def per_call(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    quick = parser.parse_args().quick
    calls, repeat = (500, 2) if quick else (5000, 7)
    print(machine_line())
    samples: dict[str, list[float]] = {"raw": [], "pragma": [], "auth": []}
    with tempfile.TemporaryDirectory() as directory:
        root = cinchdb.init(Path(directory) / "p")
        with ApiKeys(root) as keys:
            for _ in range(100):  # a table with other keys in it
                keys.create()
            created = keys.create(
                scopes=["data:read"], tenants=["acme"], expires_in=timedelta(days=1)
            )
            raw = sqlite3.connect(root / ".cinchdb" / "metadata.db", isolation_level=None)
            key_id = created.info.id
            for _ in range(repeat):
                samples["raw"].append(
                    per_call(lambda: raw.execute(SELECT, (key_id,)).fetchone(), calls)
                )
                samples["pragma"].append(
                    per_call(lambda: raw.execute("PRAGMA data_version").fetchone(), calls)
                )
                samples["auth"].append(per_call(lambda: keys.authenticate(created.token), calls))
            raw.close()
    med = {k: statistics.median(v) * 1e6 for k, v in samples.items()}
    spread = {k: (min(v) * 1e6, max(v) * 1e6) for k, v in samples.items()}
    print("| per call | median | min-max of the runs |")
    print("|---|---|---|")
    for label, key in [
        ("raw `SELECT` of the key's row", "raw"),
        ("raw `PRAGMA data_version`", "pragma"),
        ("`ApiKeys.authenticate`", "auth"),
    ]:
        low, high = spread[key]
        print(f"| {label} | {med[key]:.1f} us | {low:.1f}-{high:.1f} us |")
    print(f"authenticate / raw select: {med['auth'] / med['raw']:.2f}x")


if __name__ == "__main__":
    main()
