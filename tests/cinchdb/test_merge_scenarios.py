"""Merge scenarios kept as data: ``tests/fixtures/merge/*.sql``.

Each file has ``-- base``, ``-- ours`` (main after the fork), ``-- theirs`` (the feature
branch) sections of DDL, then ``-- expect: clean`` with an optional ``-- expect-schema``, or
``-- expect: conflict kind[, kind...]``. A clean merge must give the expected schema (up to
column order) in the journal and in every tenant file; a conflict must name the expected kinds
and leave every file of the project byte-for-byte as it was.
"""

from __future__ import annotations

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
        if line.startswith("-- expect:"):
            sections["expect"] = [line.removeprefix("-- expect:").strip()]
            current = "after-expect"
        elif line.strip() in ("-- base", "-- ours", "-- theirs", "-- expect-schema"):
            current = line.strip().removeprefix("-- ")
        else:
            sections.setdefault(current, []).append(line)
    return {key: "\n".join(lines).strip() for key, lines in sections.items()}


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
        db.migrate(scenario["base"])
        db.create_tenant("acme", lazy=False)
        db.create_branch("feature")
        db.switch_branch("feature")
        db.migrate(scenario["theirs"])
        db.switch_branch("main")
        db.migrate(scenario["ours"])
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
            assert snapshot(root) == before
            return
        assert expect == "clean", expect
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
            finally:
                conn.close()
        # Merging again is a no-op.
        assert db.merge_branches("feature", "main")["status"] == "up_to_date"
