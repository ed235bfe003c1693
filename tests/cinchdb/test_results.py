"""The SDK's dict results have exactly the keys their TypedDicts in ``cinchdb.results`` declare,
so the types a checker sees are the dicts callers get."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

import cinchdb
from cinchdb.results import (
    BehindTenant,
    CheckReport,
    ConflictInfo,
    DriftedTenant,
    IndexInfo,
    LintFinding,
    MergeResult,
    SyncResult,
    TenantStatus,
)
from journal import parse


def assert_shape(value: Any, shape: Any) -> None:
    assert isinstance(value, dict)
    assert (
        shape.__required_keys__
        <= value.keys()
        <= shape.__required_keys__ | (shape.__optional_keys__)
    ), (sorted(value), shape.__name__)


def test_index_listing(users):
    users.create_index("idx_age", "users", ["age"], unique=True)
    [index] = users.list_indexes("users")
    assert_shape(index, IndexInfo)
    assert index["columns"] == ["age"]


def test_merge_results_and_conflicts(users):
    users.create_branch("feature")
    users.switch_branch("feature")
    users.create_view("adults", "SELECT name FROM users WHERE age >= 18")
    users.switch_branch("main")
    assert_shape(users.merge_preview("feature"), MergeResult)
    users.drop_column("users", "age")
    preview = users.merge_preview("feature")
    assert_shape(preview, MergeResult)
    assert preview["status"] == "conflict"
    [conflict] = preview["conflicts"]
    assert_shape(conflict, ConflictInfo)
    users.create_branch("other")
    assert_shape(users.merge_branches("other"), MergeResult)  # up to date


def test_tenant_status_sync_check_and_lint(users, project):
    users.create_tenant("acme")
    with cinchdb.connect(tenant="acme", project_dir=project) as acme:
        acme.insert("users", {"name": "x"})  # materializes its file
    store = users._catalog.store
    head = store.branch_head("main", "main")
    # Appended without propagation: every materialized tenant is now one event behind.
    store.append(
        "main", "main", parse("ALTER TABLE users ADD COLUMN late TEXT"), expected_head=head
    )
    for status in users.tenant_status():
        assert_shape(status, TenantStatus)
    report = users.check()
    assert_shape(report, CheckReport)
    assert report["behind"]
    for lag in report["behind"]:
        assert_shape(lag, BehindTenant)
    assert_shape(users.sync_tenants(), SyncResult)

    # A file changed behind the journal's back drifts.
    conn = sqlite3.connect(users._files.path("main", "acme"))
    conn.execute("CREATE TABLE stray (x)")
    conn.close()
    report = users.check()
    assert_shape(report, CheckReport)
    [drift] = report["drift"]
    assert_shape(drift, DriftedTenant)

    users.create_branch("slim")
    users.switch_branch("slim")
    users.drop_column("users", "email")
    [finding, *_] = users.lint("main", "slim")
    assert_shape(finding, LintFinding)


def test_a_stale_shape_is_caught():
    assert_shape({"kind": "k", "object": "o", "message": "m"}, LintFinding)
    with pytest.raises(AssertionError):
        assert_shape({"kind": "k", "object": "o", "message": "m", "extra": 1}, LintFinding)
    with pytest.raises(AssertionError):
        assert_shape({"kind": "k", "object": "o"}, LintFinding)
