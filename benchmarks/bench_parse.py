"""Parse a 50-statement DDL script into events (cold: parser caches cleared each run).

Run: python benchmarks/bench_parse.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import importlib

from _machine import machine_line, timed

from journal import parse

parse_module = importlib.import_module("journal.parse")


def script() -> str:
    parts = []
    for i in range(10):
        parts.append(
            f"CREATE TABLE t{i} (id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT '',"
            f" price NUMERIC CHECK (price >= 0), owner INTEGER REFERENCES t0 (id)"
            f" ON DELETE CASCADE, created_at TEXT DEFAULT CURRENT_TIMESTAMP) STRICT"
        )
        parts.append(f"CREATE INDEX t{i}_name ON t{i} (lower(name)) WHERE price > 0")
        parts.append(
            f"CREATE VIEW v{i} AS SELECT a.name, b.price FROM t{i} a JOIN t0 b ON b.id = a.owner"
        )
        parts.append(
            f"CREATE TRIGGER tr{i} AFTER UPDATE OF price ON t{i} WHEN new.price <> old.price"
            f" BEGIN UPDATE t0 SET price = new.price WHERE id = new.owner; END"
        )
        parts.append(f"ALTER TABLE t{i} ADD COLUMN note TEXT")
    return ";\n".join(parts) + ";"


def main() -> None:
    text = script()
    caches = [parse_module.parse_expression, parse_module.parse_query]

    def cold() -> None:
        for cache in caches:
            cache.cache_clear()
        assert len(parse(text)) == 50

    cold_time = timed(cold, repeat=7)
    warm_time = timed(lambda: parse(text), repeat=7)
    print(machine_line())
    print(
        f"50-statement script, cold   {cold_time * 1000:8.2f} ms"
        f"  ({cold_time / 50 * 1000:.3f} ms/stmt)"
    )
    print(f"50-statement script, cached {warm_time * 1000:8.2f} ms")


if __name__ == "__main__":
    main()
