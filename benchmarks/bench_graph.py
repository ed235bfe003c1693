"""Benchmark of the event DAG: building it, and merge-base / ancestry queries on 100k events.

The merge base is the one merging uses: ``first_parent_base``, the newest event on both
first-parent chains.

Run: ``python benchmarks/bench_graph.py [--events N] [--runs R] [--pairs P] [--seed S]``.
Not collected by pytest. Prints the median of ``--runs`` runs for each measurement.

The generated history looks like a busy project's: a ``main`` line, up to 40 short-lived
feature branches forked from main that get a few events and are merged back, a handful of
long-lived branches that periodically merge main in and are merged into main (so criss-cross
merges happen), all interleaved at random.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _machine import machine_line  # the line every benchmark prints

from journal.graph import Graph

Dag = list[tuple[str, tuple[str, ...]]]


def generate(size: int, seed: int) -> tuple[Dag, dict[str, str]]:
    """A random history of ``size`` events; returns it and the final branch heads."""
    rng = random.Random(seed)
    dag: Dag = []

    def new_event(parents: tuple[str, ...]) -> str:
        event_id = hashlib.sha256(f"{seed}:{len(dag)}".encode()).hexdigest()
        dag.append((event_id, parents))
        return event_id

    heads: dict[str, str] = {"main": new_event(())}
    long_lived = [f"release/{n}" for n in range(5)]
    for name in long_lived:
        heads[name] = heads["main"]
    features: list[str] = []
    serial = 0
    while len(dag) < size:
        roll = rng.random()
        if roll < 0.03 and len(features) < 40:
            serial += 1
            name = f"feature/{serial}"
            heads[name] = heads["main"]
            features.append(name)
        elif roll < 0.05 and features:
            # A feature is merged into main and retired.
            name = features.pop(rng.randrange(len(features)))
            if heads[name] != heads["main"]:
                heads["main"] = new_event((heads["main"], heads[name]))
            del heads[name]
        elif roll < 0.06:
            # A long-lived branch takes main in, or is merged into main.
            name = rng.choice(long_lived)
            if heads[name] != heads["main"]:
                if rng.random() < 0.5:
                    heads[name] = new_event((heads[name], heads["main"]))
                else:
                    heads["main"] = new_event((heads["main"], heads[name]))
        elif roll < 0.07 and features:
            # A feature branch syncs with main.
            name = rng.choice(features)
            if heads[name] != heads["main"]:
                heads[name] = new_event((heads[name], heads["main"]))
        else:
            name = rng.choice(["main", "main", *long_lived, *features, *features])
            heads[name] = new_event((heads[name],))
    return dag, heads


def build(dag: Dag) -> Graph:
    graph = Graph()
    for event_id, parents in dag:
        graph.add(event_id, parents)
    return graph


def timed(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def per_query(graph: Graph, pairs: list[tuple[str, str]], query: str) -> list[float]:
    method = getattr(graph, query)
    return [timed(lambda a=a, b=b: method(a, b)) for a, b in pairs]


WIDTH = 76


def row(label: str, seconds: list[float]) -> str:
    """One table row in milliseconds: median, 90th percentile and maximum."""
    ordered = sorted(seconds)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return (
        f"| {label:<{WIDTH}} | {statistics.median(seconds) * 1e3:>9.3f} | {p90 * 1e3:>9.3f}"
        f" | {ordered[-1] * 1e3:>9.3f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    dag, heads = generate(args.events, args.seed)
    merges = sum(1 for _, parents in dag if len(parents) == 2)
    build_times = [timed(lambda: build(dag)) for _ in range(args.runs)]
    graph = build(dag)

    sync_times = []
    for _ in range(args.runs):
        fresh = build(dag)
        sync_times.append(timed(lambda fresh=fresh: fresh.ancestors(heads["main"])))

    rng = random.Random(args.seed + 1)
    ids = [event_id for event_id, _ in dag]
    head_ids = sorted(set(heads.values()))
    recent = ids[-2000:]
    unrelated: list[tuple[str, str]] = []
    while len(unrelated) < args.pairs:
        a, b = rng.sample(ids, 2)
        if not graph.is_ancestor(a, b) and not graph.is_ancestor(b, a):
            unrelated.append((a, b))
    pair_sets: dict[str, list[tuple[str, str]]] = {
        "random pairs of branch heads": [_pair(rng, head_ids) for _ in range(args.pairs)],
        "main head vs every branch head": [(heads["main"], h) for h in head_ids][: args.pairs],
        "random pairs of the last 2,000 events": [_pair(rng, recent) for _ in range(args.pairs)],
        "random pairs of any events": [_pair(rng, ids) for _ in range(args.pairs)],
        "random pairs, neither an ancestor of the other": unrelated,
    }

    print("Event DAG benchmark (journal.graph.Graph)")
    print(machine_line())
    print(
        f"{len(dag):,} events, {merges:,} merges, {len(heads)} live branches,"
        f" max generation {max(graph.generation(h) for h in head_ids):,};"
        f" median of {args.runs} runs; {args.pairs} pairs per query set"
    )
    print()
    print(f"| {'measurement':<{WIDTH}} | {'median':>9} | {'p90':>9} | {'max':>9} |")
    print(f"|{'-' * (WIDTH + 2)}|{'-' * 11}|{'-' * 11}|{'-' * 11}|")
    print(row(f"build: Graph.add x {len(dag):,} (ms total)", build_times))
    print(row("build: first networkx-backed call, ancestors(main) (ms)", sync_times))
    for label, pairs in pair_sets.items():
        times = _per_pair(graph, pairs, "first_parent_base", args)
        print(row(f"first_parent_base, {label} (ms/query)", times))
    for label in ("random pairs of branch heads", "random pairs of any events"):
        times = _per_pair(graph, pair_sets[label], "is_ancestor", args)
        print(row(f"is_ancestor, {label} (ms/query)", times))


def _pair(rng: random.Random, population: list[str]) -> tuple[str, str]:
    a, b = rng.sample(population, 2)
    return a, b


def _per_pair(
    graph: Graph, pairs: list[tuple[str, str]], query: str, args: argparse.Namespace
) -> list[float]:
    """For each pair, the median time over the runs; the table shows how they spread."""
    runs = [per_query(graph, pairs, query) for _ in range(args.runs)]
    return [statistics.median(times) for times in zip(*runs, strict=True)]


if __name__ == "__main__":
    main()
