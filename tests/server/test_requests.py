"""What the server does with requests: bad ones refused with a clear message, compare-and-swap
schema changes, dry runs, merge conflicts, pages, streams, tenant keys and CORS."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from starlette.testclient import TestClient

import cinchdb
from cinchdb.errors import ConflictError, error_class
from cinchdb.keys import ApiKeys
from cinchdb.server import ServerSettings, create_app
from tests.server.conftest import B, T, bearer

USERS = T + "/rows/users"


def error_of(response) -> dict:
    return response.json()["error"]


# -- bodies --------------------------------------------------------------------------------------


def test_an_oversized_body_is_413(client: TestClient, admin: dict[str, str]) -> None:
    body = {"rows": {"name": "x" * (65 * 1024)}}
    response = client.post(USERS, json=body, headers=admin)
    assert response.status_code == 413
    assert error_of(response) == {
        "code": "body_too_large",
        "message": "Request body exceeds the server's limit of 65536 bytes",
        "details": {"limit": 65536, "reason": error_of(response)["message"]},
    }


def test_an_oversized_chunked_body_is_413(client: TestClient, admin: dict[str, str]) -> None:
    def chunks():
        yield b'{"rows": {"name": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}}'

    response = client.post(USERS, content=chunks(), headers=admin)
    assert response.status_code == 413
    assert error_of(response)["code"] == "body_too_large"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "Request body is not valid JSON: "),
        (b"[1, 2]", "Request body must be a JSON object, got list"),
        (b'{"rows": {"name": "a"}, "extra": 1}', "insert has no field 'extra' (it takes: rows)"),
        (b"{}", "insert needs the field 'rows'"),
        (b'{"rows": 5}', "'rows' must be a row (a JSON object) or a non-empty array of rows"),
        (b'{"rows": {"name": {"$base64": "%%%"}}}', "$base64 value '%%%' is not base64"),
    ],
)
def test_a_malformed_body_is_400_naming_the_problem(
    client: TestClient, admin: dict[str, str], body: bytes, message: str
) -> None:
    response = client.post(USERS, content=body, headers=admin)
    assert response.status_code == 400, response.text
    assert error_of(response)["code"] == "request"
    assert error_of(response)["message"].startswith(message)


def test_a_mistyped_field_and_an_unknown_query_parameter_are_400(
    client: TestClient, admin: dict[str, str]
) -> None:
    response = client.post(B + "/views", json={"name": 5, "sql": "SELECT 1"}, headers=admin)
    assert (response.status_code, error_of(response)["message"]) == (
        400,
        "'name' must be a JSON string, got int",
    )
    response = client.get(B + "/tables", params={"limit": "3"}, headers=admin)
    assert (
        error_of(response)["message"]
        == "list_tables has no query parameter 'limit' (it takes: none)"
    )
    response = client.get(T + "/rows/users", params={"limit": "x"}, headers=admin)
    assert error_of(response)["message"] == "'limit' must be an integer, got 'x'"


def test_a_bad_column_is_the_sdk_s_own_error(client: TestClient, admin: dict[str, str]) -> None:
    body = {"name": "t", "columns": [{"name": "a", "type": "NOPE"}]}
    response = client.post(B + "/tables", json=body, headers=admin)
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_field"
    assert "NOPE" in error_of(response)["message"]


def test_an_unknown_route_is_404_json(client: TestClient, admin: dict[str, str]) -> None:
    response = client.get("/v1/nothing", headers=admin)
    assert response.status_code == 404
    assert error_of(response)["message"] == "No such resource: GET /v1/nothing"


# -- paths ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/v1/databases/main%2F..%2F..%2Fetc/branches/main/tables",
        "/v1/databases/main/branches/main%2Fx/tables",
        "/v1/databases/%2e%2e/branches/main/tables",
        "/v1/databases/main/branches/main/tenants/a%5C..%5Cb/rows/users",
        "/v1/databases/main/branches/main/tenants/a%00/rows/users",
    ],
)
def test_encoded_slashes_and_dots_are_refused(
    client: TestClient, admin: dict[str, str], path: str
) -> None:
    response = client.get(path, headers=admin)
    assert response.status_code == 400
    assert error_of(response)["code"] == "request"


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/v1/databases/other/branches/main/tables", 404, "database_not_found"),
        ("/v1/databases/Bad-Name!/branches/main/tables", 400, "invalid_name"),
        ("/v1/databases/main/branches/nope/tables", 404, "branch_not_found"),
        ("/v1/databases/main/branches/main/tenants/zz/rows/users", 404, "tenant_not_found"),
        ("/v1/databases/main/branches/main/tenants/-x/rows/users", 400, "invalid_tenant_name"),
    ],
)
def test_names_outside_the_project_are_refused_and_nothing_is_created(
    client: TestClient, admin: dict[str, str], project: Path, path: str, status: int, code: str
) -> None:
    def places() -> list[str]:  # a database, branch or tenant made would add a directory
        return sorted(p.name for p in (project / ".cinchdb").iterdir() if p.is_dir())

    before = places()
    response = client.get(path, headers=admin)
    assert (response.status_code, error_of(response)["code"]) == (status, code), response.text
    with cinchdb.connect(project_dir=project) as db:
        assert db.list_databases() == ["main"]
    assert places() == before


def test_a_key_in_the_query_string_is_refused_and_not_logged(
    client: TestClient, keys: ApiKeys, caplog: pytest.LogCaptureFixture
) -> None:
    token = keys.create().token
    with caplog.at_level(logging.INFO, logger="cinchdb.server.access"):
        response = client.get(B + "/tables", params={"api_key": token})
        client.get(B + "/tables", headers=bearer(token))
    assert response.status_code == 400
    assert error_of(response)["message"].startswith("An API key was sent in the query string")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "GET /v1/databases/main/branches/main/tables?api_key=ck_[redacted] 400" in logged
    assert token not in logged and token.split("_")[2] not in logged


# -- schema changes: compare-and-swap, dry run, conflicts ----------------------------------------


def test_if_match_mismatch_is_412_and_writes_nothing(
    client: TestClient, admin: dict[str, str]
) -> None:
    head = client.get(B + "/tables", headers=admin).headers["X-Cinch-Head"]
    view = {"name": "v", "sql": "SELECT name FROM users"}
    made = client.post(B + "/views", json=view, headers={**admin, "If-Match": head})
    assert made.status_code == 200, made.text
    moved = made.headers["X-Cinch-Head"]
    assert moved != head
    stale = client.post(
        B + "/views",
        json={"name": "w", "sql": "SELECT 1 AS one"},
        headers={**admin, "If-Match": head},
    )
    assert stale.status_code == 412
    assert error_of(stale)["code"] == "concurrent_change"
    assert error_of(stale)["details"]["actual"] == moved
    assert stale.headers["X-Cinch-Head"] == moved
    assert [v["name"] for v in client.get(B + "/views", headers=admin).json()] == ["v"]


def test_if_match_is_refused_on_a_call_that_is_not_a_schema_change(
    client: TestClient, admin: dict[str, str]
) -> None:
    response = client.post(USERS, json={"rows": {"name": "a"}}, headers={**admin, "If-Match": "x"})
    assert response.status_code == 400
    assert error_of(response)["message"] == "insert is not a schema change: it takes no If-Match"


def test_dry_run_checks_and_writes_nothing(client: TestClient, admin: dict[str, str]) -> None:
    head = client.get(B + "/tables", headers=admin).headers["X-Cinch-Head"]
    table = {"name": "posts", "columns": [{"name": "title"}]}
    response = client.post(B + "/tables", params={"dry_run": "true"}, json=table, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "posts"
    assert response.headers["X-Cinch-Head"] == head
    assert [t["name"] for t in client.get(B + "/tables", headers=admin).json()] == ["users"]
    bad = client.post(
        B + "/migrate", params={"dry_run": "true"}, json={"sql": "DROP TABLE nope"}, headers=admin
    )
    assert bad.status_code == 404 and error_of(bad)["code"] == "table_not_found"
    client.post(USERS, json={"rows": {"name": "ann"}}, headers=admin)
    refused = client.patch(
        B + "/tables/users/columns/age",
        params={"dry_run": "true"},
        json={"nullable": False},
        headers=admin,
    )
    assert refused.status_code == 409 and error_of(refused)["code"] == "preflight"
    assert client.get(B + "/tables", headers=admin).headers["X-Cinch-Head"] == head


def test_a_merge_conflict_is_409_with_the_conflicts(
    client: TestClient, admin: dict[str, str]
) -> None:
    client.post(B + "/branches", json={"name": "feature"}, headers=admin)
    feature = "/v1/databases/main/branches/feature"
    for branch, sql in ((B, "SELECT name FROM users"), (feature, "SELECT age FROM users")):
        made = client.post(branch + "/views", json={"name": "v", "sql": sql}, headers=admin)
        assert made.status_code == 200, made.text
    check = client.post(B + "/merges/check", json={"source": "feature"}, headers=admin)
    assert check.status_code == 200 and check.json()["can_merge"] is False
    response = client.post(B + "/merges", json={"source": "feature"}, headers=admin)
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "merge_conflict"
    assert error["details"]["source"] == "feature" and error["details"]["target"] == "main"
    assert error["details"]["conflicts"][0]["object"] == "view v"
    rebuilt = error_class(error["code"]).from_wire(error["message"], error["details"])
    assert isinstance(rebuilt, ConflictError) and str(rebuilt) == error["message"]


# -- data ------------------------------------------------------------------------------------------


def test_rows_page_by_key_without_loss_or_repeat(client: TestClient, admin: dict[str, str]) -> None:
    rows = [{"name": f"n{i}", "age": i} for i in range(120)]
    assert client.post(USERS, json={"rows": rows}, headers=admin).status_code == 200
    seen: list[str] = []
    after = None
    for _ in range(10):
        params = {"limit": "50"} | ({"after": after} if after else {})
        page = client.get(USERS, params=params, headers=admin).json()
        seen += [row["name"] for row in page["rows"]]
        after = page["next"]
        if after is None:
            break
    assert sorted(seen) == sorted(row["name"] for row in rows) and len(seen) == 120
    too_many = client.get(USERS, params={"limit": "51"}, headers=admin)
    assert error_of(too_many)["message"] == "'limit' must be between 1 and 50, got 51"


def test_a_row_round_trips_with_bytes_and_is_updated_and_deleted(
    client: TestClient, admin: dict[str, str]
) -> None:
    column = {"column": {"name": "pic", "type": "BLOB"}}
    made = client.post(B + "/tables/users/columns", json=column, headers=admin)
    assert made.status_code == 200, made.text
    row = client.post(
        USERS, json={"rows": {"name": "ann", "pic": {"$base64": "AAEC"}}}, headers=admin
    ).json()
    assert row["pic"] == {"$base64": "AAEC"}
    got = client.get(f"{USERS}/{row['id']}", headers=admin).json()
    assert got == row
    updated = client.patch(f"{USERS}/{row['id']}", json={"data": {"age": 4}}, headers=admin)
    assert updated.json()["age"] == 4
    assert client.delete(f"{USERS}/{row['id']}", headers=admin).json() == 1
    missing = client.get(f"{USERS}/{row['id']}", headers=admin)
    assert missing.status_code == 404 and error_of(missing)["code"] == "record_not_found"


def test_query_streams_ndjson_when_asked(client: TestClient, admin: dict[str, str]) -> None:
    client.post(USERS, json={"rows": [{"name": "a"}, {"name": "b"}]}, headers=admin)
    response = client.post(
        T + "/query",
        json={"sql": "SELECT name FROM users WHERE name > ? ORDER BY name", "params": [""]},
        headers={**admin, "Accept": "application/x-ndjson"},
    )
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert response.text == '{"name":"a"}\n{"name":"b"}\n'


def test_a_query_past_its_timeout_is_504(project: Path, admin: dict[str, str]) -> None:
    app = create_app(project, settings=ServerSettings(query_timeout=0.2))
    slow = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000)"
        " SELECT COUNT(*) FROM n"
    )
    with TestClient(app) as client:
        response = client.post(T + "/query", json={"sql": slow}, headers=admin)
    assert response.status_code == 504
    assert error_of(response)["code"] == "query_timeout"


def test_kv_values_keep_their_types(client: TestClient, admin: dict[str, str]) -> None:
    kv = T + "/kv"
    for key, value in (("s", "x"), ("b", {"$base64": "AAE="}), ("l", [1, True, None])):
        assert (
            client.post(kv + "/set", json={"key": key, "value": value}, headers=admin).json()
            is None
        )
        assert client.get(kv + "/get", params={"key": key}, headers=admin).json() == value
    assert client.post(kv + "/increment", json={"key": "n", "amount": 2}, headers=admin).json() == 2
    assert client.get(kv + "/keys", params={"pattern": "*"}, headers=admin).json() == [
        "b",
        "l",
        "n",
        "s",
    ]
    assert client.post(kv + "/delete", json={"keys": ["s", "zz"]}, headers=admin).json() == 1


# -- encrypted tenants -------------------------------------------------------------------------


def test_a_tenant_key_is_refused_over_plain_http_from_another_host(
    project: Path, admin: dict[str, str]
) -> None:
    header = {**admin, "X-Cinch-Tenant-Key": "secret passphrase"}
    with TestClient(create_app(project), client=("10.1.2.3", 4000)) as remote:
        response = remote.post(
            B + "/tenants", json={"name": "vault", "encrypt": True}, headers=header
        )
    assert response.status_code == 400
    assert error_of(response)["message"] == (
        "X-Cinch-Tenant-Key was sent over plain HTTP from 10.1.2.3; send tenant keys only over"
        " HTTPS (or from the server's own machine)"
    )
    with TestClient(
        create_app(project), base_url="https://testserver", client=("10.1.2.3", 1)
    ) as tls:
        made = tls.post(B + "/tenants", json={"name": "vault", "encrypt": True}, headers=header)
        assert made.status_code == 200, made.text
        assert made.json()["encrypted"] is True
        vault = B + "/tenants/vault/rows/users"
        assert tls.post(vault, json={"rows": {"name": "x"}}, headers=admin).status_code in (
            400,
            401,
            403,
        )
        stored = tls.post(vault, json={"rows": {"name": "x"}}, headers=header)
        assert stored.status_code == 200, stored.text
        wrong = tls.get(vault, headers={**admin, "X-Cinch-Tenant-Key": "wrong"})
        assert wrong.status_code == 403 and error_of(wrong)["code"] == "wrong_key"
    assert "secret passphrase" not in (project / ".cinchdb" / "metadata.db").read_bytes().decode(
        "latin-1"
    )


# -- CORS and the OpenAPI document ---------------------------------------------------------------


def test_cors_is_off_unless_origins_are_given(project: Path, client: TestClient) -> None:
    asked = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"}
    response = client.options(B + "/tables", headers=asked)
    assert "access-control-allow-origin" not in response.headers
    settings = ServerSettings(cors_origins=("https://app.example.com",))
    with TestClient(create_app(project, settings=settings)) as allowed:
        response = allowed.options(B + "/tables", headers=asked)
        assert response.headers["access-control-allow-origin"] == "https://app.example.com"
        assert "access-control-allow-credentials" not in response.headers
        other = allowed.options(B + "/tables", headers={**asked, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_cors_star_is_refused() -> None:
    with pytest.raises(ValueError, match="needs explicit origins"):
        ServerSettings(cors_origins=("*",))


def test_the_openapi_document_needs_no_key_and_lists_every_route(client: TestClient) -> None:
    from cinchdb import api

    document = client.get("/v1/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    for endpoint in api.ENDPOINTS:
        operation = document["paths"][endpoint.path][endpoint.method.lower()]
        assert operation["x-cinch-scope"] == endpoint.scope
    assert "Table" in document["components"]["schemas"]
