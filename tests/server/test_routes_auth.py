"""Every route of the API table refuses what its key does not allow.

The routes are iterated from cinchdb/api.py, so a new endpoint is checked without a new test.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Match
from starlette.testclient import TestClient

from cinchdb import api
from cinchdb.api import Endpoint, Param
from cinchdb.keys import ApiKeys
from cinchdb.server import create_app
from cinchdb.server.app import _ShapeRouter
from tests.server.conftest import B, T, bearer, make_project

_SAMPLE: dict[str, Any] = {
    "string": "x",
    "integer": 1,
    "number": 1.0,
    "boolean": False,
    "object": {},
    "array": [],
    "any": {"name": "x"},
}
_MODELS: dict[str, Any] = {
    "Column": {"name": "c"},
    "list[Column]": [{"name": "c"}],
    "list[Index]": [],
}


# One project and app for the module: a refused call changes nothing, and the calls that
# pass only add rows and keys.
@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("routes"))


@pytest.fixture(scope="module")
def client(project: Path) -> Iterator[TestClient]:
    with TestClient(create_app(project), client=("127.0.0.1", 50000)) as found:
        yield found


@pytest.fixture(scope="module")
def keys(project: Path) -> Iterator[ApiKeys]:
    with ApiKeys(project) as found:
        yield found


def sample(param: Param) -> Any:
    if param.model is not None:
        return _MODELS[param.model]
    if param.name == "keys":
        return ["k"]
    return _SAMPLE[param.type]


def request_of(
    endpoint: Endpoint, tenant: str = "a", names: str | None = None
) -> tuple[str, str, dict[str, Any], Any]:
    """(method, url, query, body) of a well-formed call of ``endpoint`` on tenant ``tenant``;
    parameters that name tenants name ``names`` (default: ``tenant``)."""
    values = {"database": "main", "branch": "main", "tenant": tenant}
    query: dict[str, Any] = {}
    body: dict[str, Any] = {}
    for param in endpoint.params:
        value = sample(param)
        if param.name in endpoint.tenant_params:
            value = names or tenant
        elif param.name in endpoint.branch_params:
            value = "main"
        if param.source == "path":
            values[param.name] = str(value)
        elif param.source == "query":
            named = endpoint.branch_params + endpoint.tenant_params
            if param.required or param.name in named:
                query[param.name] = value
        else:
            body[param.name] = value
    url = endpoint.path.format(**values)
    return endpoint.method, url, query, (body if any(endpoint.params_from("body")) else None)


def send(client: TestClient, endpoint: Endpoint, headers: dict[str, str], **kw: Any) -> Any:
    method, url, query, body = request_of(endpoint, **kw)
    return client.request(method, url, params=query, json=body, headers=headers)


ROUTES = pytest.mark.parametrize("endpoint", api.ENDPOINTS, ids=lambda e: e.name)


@ROUTES
def test_no_key_is_401(client: TestClient, endpoint: Endpoint) -> None:
    response = send(client, endpoint, {})
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == "authentication"
    assert error["message"] == ("API key is missing: send it as 'Authorization: Bearer <key>'")


@ROUTES
def test_a_key_without_the_scope_is_403(
    client: TestClient, keys: ApiKeys, endpoint: Endpoint
) -> None:
    others = [scope for scope in api.SCOPES if scope != endpoint.scope]
    token = keys.create(scopes=others).token
    response = send(client, endpoint, bearer(token))
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "permission_denied"
    assert error["details"]["kind"] == "scope" and error["details"]["value"] == endpoint.scope


TENANT_ROUTES = [e for e in api.ENDPOINTS if e.tenant_scoped or e.tenant_params]


def test_every_route_naming_a_tenant_is_checked_for_it() -> None:
    # The tenant-free routes are schema and branch calls (none reads or writes rows) and the
    # two tenant lists, which a key limited to some tenants sees filtered.
    for endpoint in api.ENDPOINTS:
        if endpoint not in TENANT_ROUTES and endpoint.name not in ("list_tenants", "tenant_status"):
            assert endpoint.scope.split(":")[0] in ("schema", "branches"), endpoint.name


@pytest.mark.parametrize("name", ["list_tenants", "tenant_status"])
def test_a_key_limited_to_tenant_a_lists_only_tenant_a(
    client: TestClient, keys: ApiKeys, name: str
) -> None:
    token = keys.create(tenants=["a"]).token
    _, url, _, _ = request_of(api.endpoint(name))
    response = client.get(url, headers=bearer(token))
    assert [tenant["name"] for tenant in response.json()] == ["a"]


@pytest.mark.parametrize("endpoint", TENANT_ROUTES, ids=lambda e: e.name)
def test_a_key_limited_to_tenant_a_is_403_for_tenant_b(
    client: TestClient, keys: ApiKeys, endpoint: Endpoint
) -> None:
    token = keys.create(tenants=["a"]).token
    response = send(client, endpoint, bearer(token), tenant="b")
    assert response.status_code == 403, response.text
    details = response.json()["error"]["details"]
    assert (details["kind"], details["value"]) == ("tenant", "b")


@pytest.mark.parametrize("endpoint", [e for e in api.ENDPOINTS if e.tenant_scoped],
                         ids=lambda e: e.name)  # fmt: skip
def test_a_key_limited_to_tenant_a_reaches_tenant_a(
    client: TestClient, keys: ApiKeys, endpoint: Endpoint
) -> None:
    token = keys.create(tenants=["a"]).token
    response = send(client, endpoint, bearer(token), tenant="a")
    assert response.status_code not in (401, 403), response.text


@pytest.mark.parametrize("endpoint", [e for e in api.ENDPOINTS if e.writes], ids=lambda e: e.name)
def test_a_read_only_key_cannot_write_through_any_route(
    client: TestClient, keys: ApiKeys, endpoint: Endpoint
) -> None:
    token = keys.create(scopes=["schema:read", "data:read", "kv:read"]).token
    response = send(client, endpoint, bearer(token))
    assert response.status_code == 403, response.text


def test_a_key_limited_to_a_branch_cannot_merge_into_another(
    client: TestClient, keys: ApiKeys, admin: dict[str, str]
) -> None:
    created = client.post(B + "/branches", json={"name": "feature/x"}, headers=admin)
    assert created.status_code == 200, created.text
    token = keys.create(branches=["feature/*"]).token
    feature = "/v1/databases/main/branches/feature~x"
    assert client.get(feature + "/tables", headers=bearer(token)).status_code == 200
    assert client.get(B + "/tables", headers=bearer(token)).status_code == 403
    merge = client.post(
        feature + "/merges", json={"source": "feature/x", "target": "main"}, headers=bearer(token)
    )
    assert merge.status_code == 403
    assert merge.json()["error"]["details"]["value"] == "main"


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO users (id, name) VALUES ('x', 'y')",
        "DELETE FROM users",
        "DROP TABLE users",
        "UPDATE users SET name = 'z'",
        "PRAGMA writable_schema = 1",
        "CREATE TABLE t (a)",
        "ATTACH DATABASE '/tmp/other.db' AS other",
    ],
)
def test_a_write_in_query_is_refused_whatever_the_key(
    client: TestClient, admin: dict[str, str], sql: str
) -> None:
    count = "SELECT COUNT(*) AS n, MAX(name) AS last FROM users"
    client.post(T + "/rows/users", json={"rows": {"name": "ann"}}, headers=admin)
    before = client.post(T + "/query", json={"sql": count}, headers=admin).json()
    response = client.post(T + "/query", json={"sql": sql}, headers=admin)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] in ("read_only_query", "denied_function", "sqlite")
    assert client.post(T + "/query", json={"sql": count}, headers=admin).json() == before
    tables = client.get(B + "/tables", headers=admin).json()
    assert [t["name"] for t in tables] == ["users"]


def test_a_revoked_key_is_refused_at_once(client: TestClient, keys: ApiKeys) -> None:
    created = keys.create()
    assert client.get(B + "/tables", headers=bearer(created.token)).status_code == 200
    keys.revoke(created.info.id)
    response = client.get(B + "/tables", headers=bearer(created.token))
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]


def test_an_expired_key_is_refused_at_once(client: TestClient, keys: ApiKeys) -> None:
    created = keys.create(expires_in=timedelta(seconds=1))
    assert client.get(B + "/tables", headers=bearer(created.token)).status_code == 200
    time.sleep(1.2)
    response = client.get(B + "/tables", headers=bearer(created.token))
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "authorization",
    [
        "ck_abc",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer ck_aaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    ],
)
def test_a_malformed_or_unknown_key_is_401(client: TestClient, authorization: str) -> None:
    response = client.get(B + "/tables", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert authorization.removeprefix("Bearer ") not in response.text or authorization == "Bearer"


def test_routing_by_shape_picks_the_route_starlettes_scan_picks(project: Path) -> None:
    """The server's router tries only the routes of a request's method and number of
    segments; for every route, with path values that are other routes' literal words, it
    must pick the route Starlette's scan over all routes picks (or leave it to that scan)."""
    app = create_app(project)
    router = app.router
    assert isinstance(router, _ShapeRouter)
    words = ["x", "rows", "kv", "get", "tables", "tenants", "columns", "rename", "copy", "query"]
    chosen = 0
    for endpoint in api.ENDPOINTS:
        for word in words:
            path = endpoint.path.format(
                **dict.fromkeys(re.findall(r"{(\w+)}", endpoint.path), word)
            )
            for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
                scope = {"type": "http", "method": method, "path": path, "root_path": ""}
                scanned = next(
                    (r for r in router.routes if r.matches(scope)[0] is Match.FULL), None
                )
                found = router.by_shape(scope)
                assert (found[0] if found else None) is scanned, (method, path)
                chosen += found is not None
    assert chosen >= len(api.ENDPOINTS) * len(words)
