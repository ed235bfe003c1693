"""Analytics, data-step row counts and migrate's ``data_steps`` over a real ``cinch serve`` on
127.0.0.1: the same figures as a local handle reads from the same files, ``metrics:read``
checked on every call, and a key's tenant and database limits applied to what it sees."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

import cinchdb
from cinchdb.errors import PermissionDeniedError
from cinchdb.keys import ApiKeys
from cinchdb.project import read_config, write_config
from cinchdb.results import MigrateResult
from tests.server.conftest import LiveServer, bearer, make_project
from tests.server.test_docs_server import DOC, blocks

SECRET = "secret-value-4242"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """:func:`make_project` with every statement also kept as "slow" (slow_query_ms 0)."""
    root = make_project(tmp_path)
    meta = root / ".cinchdb"
    write_config(meta, attrs.evolve(read_config(meta), slow_query_ms=0.0))
    return root


@pytest.fixture
def tokens(live_server: LiveServer) -> Iterator[dict[str, Any]]:
    """Keys of the live server's project: an admin, and limited ones with their ids."""
    with ApiKeys(live_server.project) as keys:
        made = {
            "admin": keys.create(name="admin"),
            "data": keys.create(scopes=["data:read", "data:write"]),
            "a": keys.create(scopes=["metrics:read"], tenants=["a"]),
            "ab": keys.create(scopes=["metrics:read"], tenants=["a", "b"]),
            "other_db": keys.create(scopes=["metrics:read"], databases=["other"]),
        }
    yield {name: (key.token, key.info.id) for name, key in made.items()}


def _remote(server: LiveServer, token: str, tenant: str = "main") -> Any:
    return cinchdb.connect_api(server.url, token, tenant=tenant)


def _run_statements(server: LiveServer, token: str) -> None:
    """Statements of tenants a (3 reads), b (2) and main (1), each after one insert, all
    recorded by the server process."""
    for tenant, reads in (("a", 3), ("b", 2), ("main", 1)):
        with _remote(server, token, tenant) as db:
            db.insert("users", {"name": f"{SECRET}-{tenant}", "age": 41})
            for i in range(reads):
                db.query("SELECT name FROM users WHERE age = ?", [i])


def _without_until(stats: Any) -> dict[str, Any]:
    return {key: value for key, value in stats.items() if key != "until"}


def test_stats_and_slow_queries_over_the_api_equal_the_local_ones(live_server, tokens):
    admin, _ = tokens["admin"]
    _run_statements(live_server, admin)
    since = (datetime.now(timezone.utc) - timedelta(hours=1)).replace(tzinfo=None)
    with _remote(live_server, admin) as db:
        remote = db.get_analytics_stats(limit=100)
        remote_a = db.get_analytics_stats(since=since, tenant="a", limit=5)
        remote_slow = db.get_slow_queries(limit=1000)
        remote_slow_b = db.get_slow_queries(tenant="b", limit=2, threshold_ms=0.0)
    with cinchdb.connect(project_dir=live_server.project) as local:
        assert _without_until(remote) == _without_until(local.get_analytics_stats(limit=100))
        assert _without_until(remote_a) == _without_until(
            local.get_analytics_stats(since=since, tenant="a", limit=5)
        )
        assert remote_slow == local.get_slow_queries(limit=1000)
        assert remote_slow_b == local.get_slow_queries(tenant="b", limit=2, threshold_ms=0.0)
    calls = {(t["tenant"], t["branch"]): t["calls"] for t in remote["tenants"]}
    assert calls == {("a", "main"): 4, ("b", "main"): 3, ("main", "main"): 2}
    assert remote_a["since"] is not None and remote_a["since"].startswith(since.isoformat()[:16])
    assert {s["tenant"] for s in remote_slow} == {"a", "b", "main"}
    assert [s["tenant"] for s in remote_slow_b] == ["b", "b"]
    # The figures carry shapes, never the values the statements were run with.
    assert SECRET not in repr(remote) + repr(remote_slow)
    assert "41" not in repr([s["sql"] for s in remote["slowest"]])


def test_a_key_without_metrics_read_is_refused_with_403(live_server, tokens):
    token, key_id = tokens["data"]
    message = f"API key {key_id} lacks the scope 'metrics:read' (it has: data:read, data:write)"
    with _remote(live_server, token) as db:
        for read in (db.get_analytics_stats, db.get_slow_queries):
            with pytest.raises(PermissionDeniedError) as caught:
                read()
            assert str(caught.value) == message
    for what in ("stats", "slow"):
        response = httpx.get(
            f"{live_server.url}/v1/databases/main/branches/main/analytics/{what}",
            headers=bearer(token),
        )
        assert response.status_code == 403
        assert response.json()["error"]["message"] == message


def test_a_tenant_limited_key_sees_only_its_tenants(live_server, tokens):
    admin, _ = tokens["admin"]
    _run_statements(live_server, admin)
    token_a, id_a = tokens["a"]
    token_ab, id_ab = tokens["ab"]
    with _remote(live_server, admin) as db:
        db.get_analytics_stats()  # the server writes its pending observations first
    with cinchdb.connect(project_dir=live_server.project) as local:
        local_a = local.get_analytics_stats(tenant="a")
        local_slow = {t: local.get_slow_queries(tenant=t, limit=1000) for t in ("a", "b")}
    with _remote(live_server, token_a) as db:
        # No tenant named: the one tenant it may see.
        assert _without_until(db.get_analytics_stats()) == _without_until(local_a)
        assert [t["tenant"] for t in db.get_analytics_stats()["tenants"]] == ["a"]
        assert db.get_slow_queries(limit=1000) == local_slow["a"]
        for read in (db.get_analytics_stats, db.get_slow_queries):
            with pytest.raises(PermissionDeniedError) as caught:
                read(tenant="b")
            assert str(caught.value) == f"API key {id_a} may not use tenant 'b' (allowed: a)"
    response = httpx.get(
        f"{live_server.url}/v1/databases/main/branches/main/analytics/stats",
        params={"tenant": "main"},
        headers=bearer(token_a),
    )
    assert response.status_code == 403
    assert response.json()["error"]["message"] == (
        f"API key {id_a} may not use tenant 'main' (allowed: a)"
    )
    with _remote(live_server, token_ab) as db:
        slow = db.get_slow_queries(limit=1000)
        assert {s["tenant"] for s in slow} == {"a", "b"}
        assert sorted(slow, key=repr) == sorted(local_slow["a"] + local_slow["b"], key=repr)
        assert [s["at"] for s in slow] == sorted((s["at"] for s in slow), reverse=True)
        assert len(db.get_slow_queries(limit=2)) == 2
        assert db.get_analytics_stats(tenant="b")["tenants"][0]["tenant"] == "b"
        # Shapes sum every tenant they cover: several tenants' cannot be told apart exactly.
        with pytest.raises(PermissionDeniedError) as caught:
            db.get_analytics_stats()
        assert str(caught.value) == f"API key {id_ab} may not use tenant '*' (allowed: a, b)"


def test_a_database_limited_key_sees_only_its_databases(live_server, tokens):
    token, key_id = tokens["other_db"]
    with _remote(live_server, token) as db:
        with pytest.raises(PermissionDeniedError) as caught:
            db.get_analytics_stats()
        assert str(caught.value) == f"API key {key_id} may not use database 'main' (allowed: other)"


def test_migrate_returns_the_data_steps_and_data_step_rows_works_remotely(live_server, tokens):
    admin, _ = tokens["admin"]
    _run_statements(live_server, admin)
    with _remote(live_server, admin) as db:
        result = db.migrate("UPDATE users SET age = age + 1", message="birthdays")
        assert isinstance(result, MigrateResult) and len(result) == 1
        (step,) = result.data_steps
        assert step["per_tenant"] == {"a": 1, "b": 1, "main": 1}
        assert (step["total"], step["tenants"], step["max"]) == (3, 3, 1)
        assert db.data_step_rows(result[0].id) == list(result.data_steps)
        assert db.data_step_rows(result[0].id, branch="main") == list(result.data_steps)
        assert db.data_step_rows(result[0].id[:12]) == list(result.data_steps)
        schema_only = db.migrate("CREATE TABLE notes (body TEXT)")
        assert schema_only.data_steps == () and db.data_step_rows(schema_only[0].id) == []
    with cinchdb.connect(project_dir=live_server.project) as local:
        assert local.data_step_rows(result[0].id) == list(result.data_steps)
        again = local.migrate("UPDATE users SET age = age + 1", message="again")
        assert [(s["total"], s["tenants"], s["per_tenant"]) for s in again.data_steps] == [
            (s["total"], s["tenants"], s["per_tenant"]) for s in result.data_steps
        ]


def test_the_docs_example_runs_and_prints_what_it_says(live_server, tokens, capsys):
    admin, _ = tokens["admin"]
    (example,) = blocks("py", "## Analytics over the API")
    (output,) = blocks("output", "## Analytics over the API")
    exec(compile(example, str(DOC), "exec"), {"URL": live_server.url, "KEY": admin})
    assert capsys.readouterr().out == output


def test_the_openapi_document_describes_get_metrics_as_it_is_served(client, keys):
    document = client.get("/v1/openapi.json").json()
    operation = document["paths"]["/metrics"]["get"]
    assert (operation["operationId"], operation["x-cinch-scope"]) == ("metrics", "metrics:read")
    (media_type,) = operation["responses"]["200"]["content"]
    token = keys.create(scopes=["metrics:read"]).token
    response = client.get("/metrics", headers=bearer(token))
    assert response.status_code == 200 and response.headers["content-type"] == media_type
    migrate = document["paths"]["/v1/databases/{database}/branches/{branch}/migrate"]["post"]
    schema = migrate["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["events", "data_steps"]
    for path, scope in (("analytics/stats", "metrics:read"), ("data-steps", "schema:read")):
        found = document["paths"][f"/v1/databases/{{database}}/branches/{{branch}}/{path}"]
        assert found["get"]["x-cinch-scope"] == scope


def test_a_tenant_limited_key_sees_only_its_tenants_in_data_step_counts(live_server, tokens):
    admin, _ = tokens["admin"]
    _run_statements(live_server, admin)  # one row in each of a, b and main
    with ApiKeys(live_server.project) as keys:
        limited = keys.create(scopes=["schema:read", "schema:write"], tenants=["a"]).token
    with _remote(live_server, limited) as db:
        result = db.migrate("UPDATE users SET age = age + 1", message="birthdays")
        (step,) = result.data_steps
        assert step["per_tenant"] == {"a": 1}
        assert (step["total"], step["tenants"], step["max"], step["max_tenant"]) == (1, 1, 1, "a")
        assert db.data_step_rows(result[0].id) == [step]
    with _remote(live_server, admin) as db:
        (everything,) = db.data_step_rows(result[0].id)
    assert everything["per_tenant"] == {"a": 1, "b": 1, "main": 1}
    assert {**everything, "per_tenant": {"a": 1}, "total": 1, "tenants": 1, "max_tenant": "a"} == (
        step
    )


def test_a_branch_limited_key_reads_data_step_counts_of_its_branches_only(live_server, tokens):
    admin, _ = tokens["admin"]
    with _remote(live_server, admin) as db:
        db.insert("users", {"name": "x", "age": 1})
        event = db.migrate("UPDATE users SET age = age + 1")[0].id
    with ApiKeys(live_server.project) as keys:
        made = keys.create(scopes=["schema:read"], branches=["main"])
    with _remote(live_server, made.token) as db:
        assert db.data_step_rows(event, branch="main")[0]["total"] == 1
        # Every branch's counts, summed, would hold branches it may not see.
        with pytest.raises(PermissionDeniedError) as caught:
            db.data_step_rows(event)
        assert str(caught.value) == (
            f"API key {made.info.id} may not use branch '*' (allowed: main)"
        )
        with pytest.raises(PermissionDeniedError):
            db.data_step_rows(event, branch="dev")
