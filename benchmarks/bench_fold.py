"""Cold fold of a 10,000-event journal, and the warm (cached) schema read.

Run: python benchmarks/bench_fold.py
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _machine import machine_line, timed

from journal import (
    ColumnAdded,
    ColumnAltered,
    ColumnDef,
    ColumnRenamed,
    Event,
    FoldCache,
    IndexCreated,
    IndexDef,
    IndexedColumn,
    Operation,
    Schema,
    TableCreated,
    TableDef,
    TableRenamed,
    ViewCreated,
    ViewDef,
    apply,
)


def workload(count: int, seed: int = 7) -> list[Operation]:
    """A realistic mix: tables grow columns, get indexes and views, columns get renamed."""
    rng = random.Random(seed)
    schema = Schema()
    ops: list[Operation] = []
    serial = 0
    while len(ops) < count:
        serial += 1
        roll = rng.random()
        tables = schema.tables
        if not tables or roll < 0.08:
            op: Operation = TableCreated(
                table=TableDef(
                    name=f"t{serial}",
                    columns=(
                        ColumnDef(name="id", type="TEXT"),
                        ColumnDef(name="name", type="TEXT"),
                    ),
                )
            )
        else:
            table = rng.choice(tables)
            column = rng.choice(table.columns).name
            if roll < 0.55:
                op = ColumnAdded(
                    table=table.name, column=ColumnDef(name=f"c{serial}", type="INTEGER")
                )
            elif roll < 0.68:
                op = ColumnRenamed(table=table.name, column=column, new_name=f"r{serial}")
            elif roll < 0.78:
                op = IndexCreated(
                    index=IndexDef(
                        name=f"i{serial}",
                        table=table.name,
                        columns=(IndexedColumn(column=column),),
                    )
                )
            elif roll < 0.83:
                op = ViewCreated(
                    view=ViewDef(
                        name=f"v{serial}",
                        sql=f'CREATE VIEW "v{serial}" AS SELECT "{column}" FROM "{table.name}"',
                    )
                )
            elif roll < 0.95:
                op = ColumnAltered(table=table.name, column=column, not_null=False)
            else:
                op = TableRenamed(table=table.name, new_name=f"n{serial}")
        schema = apply(schema, op)
        ops.append(op)
    return ops


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    ops = workload(count)
    events: dict[str, Event] = {}
    parents: list[str] = []
    for op in ops:
        event = Event.create(op, parents=parents, database="main")
        events[event.id] = event
        parents = [event.id]
    head = parents[0]

    def cold() -> Schema:
        return FoldCache(events.__getitem__).schema_at(head)

    cold_time = timed(cold, repeat=3)
    cache = FoldCache(events.__getitem__)
    final = cache.schema_at(head)
    warm_time = timed(lambda: cache.schema_at(head), repeat=1001)
    extra = Event.create(
        ColumnAdded(table=final.tables[0].name, column=ColumnDef(name="late", type="TEXT")),
        parents=[head],
        database="main",
    )
    events[extra.id] = extra
    start = time.perf_counter()
    cache.schema_at(extra.id)
    incremental = time.perf_counter() - start
    print(machine_line())
    print(
        f"events: {count}; final schema: {len(final.tables)} tables, {len(final.indexes)}"
        f" indexes, {len(final.views)} views"
    )
    print(
        f"cold fold            {cold_time * 1000:10.1f} ms"
        f"   ({cold_time / count * 1e6:.1f} us/event)"
    )
    print(f"warm schema read     {warm_time * 1e6:10.2f} us")
    print(f"one more event       {incremental * 1000:10.2f} ms")


if __name__ == "__main__":
    main()
