"""Merge scenarios kept as data: ``tests/fixtures/merge/*.sql``.

Each file has ``-- base``, ``-- ours`` (main after the fork), ``-- theirs`` (the feature
branch) sections of DDL, then ``-- expect: clean`` with an optional ``-- expect-schema``, or
``-- expect: conflict kind[, kind...]`` followed by one ``-- expect-events object: side N[, ...]``
line per conflict, naming the events the conflict cites by their place in the fixture
(``ours 2``: the event of the second statement of ``-- ours``; each statement is one event). A
clean merge must give the expected schema (up to column order) in the journal and in every
tenant file; a conflict must name the expected kinds, cite the expected events, and leave every
file of the project byte-for-byte as it was.

Sections may hold data steps (INSERT, UPDATE, DELETE) beside DDL. A clean merge may end with
``-- expect-rows: QUERY => ROWS`` lines (ROWS a Python literal list of tuples): every tenant
file of main, materialized before the fork or after ours, must answer QUERY with ROWS.
"""

from __future__ import annotations

import ast
import sqlite3
from pathlib import Path

import pytest

import cinchdb
from cinchdb.errors import ConflictError
from journal import Schema, apply_all, introspect, parse

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "merge"
SCENARIOS = sorted(FIXTURES.glob("*.sql"))


def load(path: Path) -> dict[str, str]:
    sections: dict[str, list[str]] = {}
    current = "description"
    for line in path.read_text().splitlines():
        if line.startswith("-- expect-rows:"):
            sections.setdefault("expect-rows", []).append(line.removeprefix("-- expect-rows:"))
        elif line.startswith("-- expect-events "):
            sections.setdefault("expect-events", []).append(line.removeprefix("-- expect-events "))
        elif line.startswith("-- expect:"):
            sections["expect"] = [line.removeprefix("-- expect:").strip()]
            current = "after-expect"
        elif line.strip() in ("-- base", "-- ours", "-- theirs", "-- expect-schema"):
            current = line.strip().removeprefix("-- ")
        else:
            sections.setdefault(current, []).append(line)
    return {key: "\n".join(lines).strip() for key, lines in sections.items()}


def expected_events(scenario: dict[str, str]) -> list[tuple[str, tuple[str, ...]]]:
    """The ``-- expect-events`` lines as sorted (object, event names) pairs."""
    pairs = []
    for line in scenario.get("expect-events", "").splitlines():
        what, _, events = line.rpartition(":")
        pairs.append((what.strip(), tuple(e.strip() for e in events.split(","))))
    return sorted(pairs)


def expected_rows(scenario: dict[str, str]) -> list[tuple[str, list[tuple]]]:
    """The ``-- expect-rows`` lines as (query, rows) pairs."""
    pairs = []
    for line in scenario.get("expect-rows", "").splitlines():
        query, _, rows = line.rpartition("=>")
        pairs.append((query.strip(), ast.literal_eval(rows.strip())))
    return pairs


def unordered(schema: Schema) -> dict:
    canonical = schema.canonical()
    for table in canonical["tables"]:
        table["columns"] = sorted(table["columns"], key=lambda c: c["name"])
    return canonical


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted((root / ".cinchdb").rglob("*"))
        if p.is_file() and not p.name.endswith("-shm")
    }


def test_there_are_enough_scenarios():
    assert len(SCENARIOS) >= 30


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_merge_scenario(path, tmp_path):
    scenario = load(path)
    root = cinchdb.init(tmp_path / "project")
    with cinchdb.connect(project_dir=root) as db:
        # Each event by its place in the fixture: "ours 2" is ours' second statement.
        names = {e.id: f"base {n}" for n, e in enumerate(db.migrate(scenario["base"]), 1)}
        db.create_tenant("acme", lazy=False)
        db.create_branch("feature")
        db.switch_branch("feature")
        names |= {e.id: f"theirs {n}" for n, e in enumerate(db.migrate(scenario["theirs"]), 1)}
        db.switch_branch("main")
        names |= {e.id: f"ours {n}" for n, e in enumerate(db.migrate(scenario["ours"]), 1)}
        db.create_tenant("late", lazy=False)
        expect = scenario["expect"]
        preview = db.merge_preview("feature", "main")
        if expect.startswith("conflict"):
            kinds = {k.strip() for k in expect.removeprefix("conflict").split(",")}
            assert preview["status"] == "conflict" and not preview["can_merge"]
            before = snapshot(root)
            with pytest.raises(ConflictError) as caught:
                db.merge_branches("feature", "main")
            found = {c.kind for c in caught.value.conflicts}
            assert kinds <= found, caught.value.conflicts
            for conflict in caught.value.conflicts:
                assert conflict.message and conflict.object and conflict.events
            cited = sorted(
                (c.object, tuple(names.get(e, e) for e in c.events)) for c in caught.value.conflicts
            )
            assert cited == expected_events(scenario)
            assert snapshot(root) == before
            return
        assert expect == "clean", expect
        assert "expect-events" not in scenario
        rows = expected_rows(scenario)
        assert preview["status"] == "success" and preview["conflicts"] == []
        result = db.merge_branches("feature", "main")
        assert result["status"] == "success" and result["event_id"]
        merged = db.schema()
        if "expect-schema" in scenario:
            expected = apply_all(Schema(), parse(scenario["expect-schema"]))
            assert unordered(merged) == unordered(expected)
        for tenant in ("main", "acme", "late"):
            files = db._files
            if not files.is_materialized("main", tenant):
                continue
            files.connection("main", tenant)  # caught up
            conn = sqlite3.connect(files.path("main", tenant))
            try:
                assert unordered(introspect(conn)) == unordered(merged)
                for query, expected_result in rows:
                    assert conn.execute(query).fetchall() == expected_result, (tenant, query)
            finally:
                conn.close()
        # Merging again is a no-op.
        assert db.merge_branches("feature", "main")["status"] == "up_to_date"
