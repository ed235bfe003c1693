"""The local table of rows each data step changed per tenant (cinch_data_step_rows): recorded
once per (event, step, branch, tenant), summarized per step, the template apart."""

from __future__ import annotations

from pathlib import Path

from cinchdb._data_step_rows import (
    TEMPLATE_ROW,
    StepCount,
    data_step_rows,
    record_rows,
    summary_text,
)
from cinchdb.project import CINCHDB_DIR, init_project
from journal import JournalStore


def _store(tmp_path: Path) -> JournalStore:
    return JournalStore(init_project(tmp_path) / CINCHDB_DIR / "metadata.db")


def test_nothing_recorded_reads_as_no_summary(tmp_path):
    with _store(tmp_path) as store:
        assert data_step_rows(store, "main", "e" * 64) == []


def test_counts_are_summarized_per_step_with_the_template_apart(tmp_path):
    with _store(tmp_path) as store:
        event = "a" * 64
        record_rows(
            store,
            "main",
            "main",
            [
                ("acme", StepCount(event, 0, 5)),
                ("beta", StepCount(event, 0, 2)),
                ("zeta", StepCount(event, 0, 5)),
                (TEMPLATE_ROW, StepCount(event, 0, 3)),
                ("acme", StepCount(event, 1, 0)),
            ],
        )
        # Written again (two processes applied nothing twice; the same count comes back).
        record_rows(store, "main", "main", [("acme", StepCount(event, 0, 5))])
        first, second = data_step_rows(store, "main", event, sql="UPDATE t SET n = n + 1")
        assert first == {
            "event_id": event,
            "step": 0,
            "sql": "UPDATE t SET n = n + 1",
            "total": 12,
            "tenants": 3,
            "max": 5,
            "max_tenant": "acme",  # ties go to the first by name
            "template": 3,
            "per_tenant": {"acme": 5, "beta": 2, "zeta": 5},
        }
        assert summary_text(first) == (
            "12 rows in 3 tenants (most: 5 in 'acme'); 3 in the template (lazy tenants)"
        )
        assert second["total"] == 0 and second["template"] is None
        assert summary_text(second) == "0 rows in 1 tenant"
        # Per branch: another branch's files are counted apart.
        record_rows(store, "main", "dev", [("acme", StepCount(event, 0, 7))])
        assert data_step_rows(store, "main", event, branch="dev")[0]["total"] == 7
        assert data_step_rows(store, "main", event, branch="main")[0]["total"] == 12
        assert data_step_rows(store, "main", event)[0]["per_tenant"]["acme"] == 12
