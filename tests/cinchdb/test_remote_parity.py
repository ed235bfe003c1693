"""Migrate's ``data_steps`` and ``data_step_rows`` give the same counts on a local and a remote
handle (tests/cinchdb/conftest.py runs each test on both)."""

from __future__ import annotations

import pytest

from cinchdb.models import Column
from cinchdb.results import MigrateResult

pytestmark = pytest.mark.handles("local", "remote")


def test_migrate_returns_each_data_steps_rows_and_data_step_rows_reads_them(connect_handle):
    db = connect_handle()
    db.create_table("items", [Column(name="n", type="INTEGER")])
    db.create_tenant("acme")
    db.create_tenant("zeta")
    db.insert("items", {"n": 1})
    connect_handle(tenant="acme").insert("items", [{"n": i} for i in range(3)])
    connect_handle(tenant="zeta").insert("items", {"n": 10})

    result = db.migrate(
        "UPDATE items SET n = n + 1 WHERE n < 5;\nDELETE FROM items WHERE n > 9;", message="m"
    )
    assert isinstance(result, MigrateResult) and len(result) == 2  # one event per data step
    update, delete = result.data_steps
    assert update["per_tenant"] == {"acme": 3, "main": 1, "zeta": 0}
    assert (update["total"], update["tenants"], update["max"], update["max_tenant"]) == (
        4, 3, 3, "acme",
    )  # fmt: skip
    assert delete["per_tenant"] == {"acme": 0, "main": 0, "zeta": 1}
    assert (delete["total"], delete["template"]) == (1, 0)
    assert [s["sql"] for s in result.data_steps] == [
        "UPDATE items SET n = n + 1 WHERE n < 5",
        "DELETE FROM items WHERE n > 9",
    ]
    assert db.data_step_rows(result[0].id) == [update]
    assert db.data_step_rows(result[1].id[:10], branch="main") == [delete]
    assert db.migrate("CREATE TABLE notes (body TEXT)").data_steps == ()


@pytest.mark.parametrize(
    ("call", "kwargs"),
    [
        ("get_analytics_stats", {"since": "yesterday"}),
        ("get_analytics_stats", {"limit": 0}),
        ("get_slow_queries", {"threshold_ms": -1}),
        ("get_slow_queries", {"tenant": "Bad Name"}),
    ],
)
def test_analytics_arguments_are_refused_in_the_same_words(db, call, kwargs):
    with pytest.raises(ValueError) as caught:
        getattr(db, call)(**kwargs)
    assert (type(caught.value).__name__, str(caught.value)) == EXPECTED[call, next(iter(kwargs))]


EXPECTED = {
    ("get_analytics_stats", "since"): (
        "InvalidFieldError",
        "get_analytics_stats() argument 'since': must be a datetime or a timedelta,"
        " not 'yesterday'",
    ),
    ("get_analytics_stats", "limit"): (
        "InvalidFieldError",
        "get_analytics_stats() argument 'limit': must be a whole number >= 1, not 0",
    ),
    ("get_slow_queries", "threshold_ms"): (
        "InvalidFieldError",
        "get_slow_queries() argument 'threshold_ms': must be a number of milliseconds >= 0, not -1",
    ),
    ("get_slow_queries", "tenant"): (
        "InvalidTenantNameError",
        "Invalid tenant name 'Bad Name': use letters, digits, '_' and '-', starting with a"
        " letter or digit",
    ),
}
