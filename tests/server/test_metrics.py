"""``GET /metrics`` of a real ``cinch serve``: the Prometheus text format (parsed by
prometheus_client's own parser), counts equal to the requests made, its own scope, and no
tenant name or parameter value in any label."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from cinchdb.analytics import Recorder
from cinchdb.keys import ApiKeys
from cinchdb.server.metrics import HttpMetrics, gauge, render
from tests.server.conftest import B, LiveServer, bearer, make_project
from tests.server.test_live_workers import start_serve, stop

ROWS = "/v1/databases/{database}/branches/{branch}/tenants/{tenant}/rows/{table}"
QUERY = "/v1/databases/{database}/branches/{branch}/tenants/{tenant}/query"
TABLES = "/v1/databases/{database}/branches/{branch}/tables"


@pytest.fixture
def tokens(live_server: LiveServer) -> Iterator[dict[str, str]]:
    """A key of every scope (``metrics:read`` among them), one of ``metrics:read`` alone, and
    one of everything but it."""
    with ApiKeys(live_server.project) as keys:
        yield {
            "admin": keys.create(name="admin").token,
            "metrics": keys.create(scopes=["metrics:read"], name="prometheus").token,
            "data": keys.create(scopes=["data:read", "data:write", "schema:read"]).token,
        }


@pytest.fixture
def api(live_server: LiveServer, tokens: dict[str, str]) -> Iterator[httpx.Client]:
    """A client of the live server with the every-scope key."""
    with httpx.Client(base_url=live_server.url, headers=bearer(tokens["admin"]), timeout=10) as c:
        yield c


def scrape(server: LiveServer, token: str) -> tuple[str, dict[str, list[Sample]]]:
    answer = httpx.get(server.url + "/metrics", headers=bearer(token), timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = {f.name: f.samples for f in text_string_to_metric_families(answer.text)}
    return answer.text, families


def value(samples: list[Sample], name: str, **labels: str) -> float:
    found = [s.value for s in samples if s.name == name and labels.items() <= s.labels.items()]
    return sum(found)


def test_metrics_needs_a_key_holding_its_own_scope(live_server, tokens):
    url = live_server.url + "/metrics"
    missing = httpx.get(url, timeout=10)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "authentication"
    refused = httpx.get(url, headers=bearer(tokens["data"]), timeout=10)
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "permission_denied"
    key_id = tokens["data"].split("_")[1]
    assert error["message"] == (
        f"API key {key_id} lacks the scope 'metrics:read' (it has: schema:read, data:read,"
        " data:write)"
    )
    # A key of metrics:read alone reads the metrics and nothing else.
    scrape(live_server, tokens["metrics"])
    data = httpx.get(live_server.url + B + "/tables", headers=bearer(tokens["metrics"]))
    assert data.status_code == 403


def test_request_counts_and_latency_match_the_requests_made(live_server, tokens, api):
    for _ in range(3):
        assert api.get(B + "/tables").status_code == 200
    for tenant in ("a", "b"):
        made = api.post(B + f"/tenants/{tenant}/rows/users", json={"rows": {"name": "x"}})
        assert made.status_code == 200, made.text
    assert api.get(B + "/nowhere").status_code == 404
    denied = httpx.get(live_server.url + B + "/tenants", headers=bearer(tokens["data"]))
    assert denied.status_code == 403
    _, families = scrape(live_server, tokens["metrics"])
    requests = families["cinchdb_http_requests"]
    assert value(requests, "cinchdb_http_requests_total", route=TABLES, status="200") == 3
    assert value(requests, "cinchdb_http_requests_total", route=ROWS, method="POST") == 2
    assert value(requests, "cinchdb_http_requests_total", route="(unmatched)", status="404") == 1
    tenants = B.replace("/main/branches/main", "/{database}/branches/{branch}") + "/tenants"
    assert value(requests, "cinchdb_http_requests_total", route=tenants, status="403") == 1
    latency = families["cinchdb_http_request_duration_seconds"]
    assert value(latency, "cinchdb_http_request_duration_seconds_count", route=TABLES) == 3
    infinite = value(latency, "cinchdb_http_request_duration_seconds_bucket", route=ROWS, le="+Inf")
    assert infinite == 2
    assert value(latency, "cinchdb_http_request_duration_seconds_sum", route=ROWS) > 0
    # Each scrape counts itself once it is answered: the second sees the first.
    _, again = scrape(live_server, tokens["metrics"])
    seen = value(again["cinchdb_http_requests"], "cinchdb_http_requests_total", route="/metrics")
    assert seen == 1
    # Every sample names the process that serves it (each worker serves its own).
    pids = {s.labels["pid"] for samples in again.values() for s in samples}
    assert pids == {str(live_server.process.pid)}


def test_propagation_and_open_files(live_server, tokens, api):
    for tenant in ("a", "b"):
        api.post(B + f"/tenants/{tenant}/rows/users", json={"rows": {"name": "x"}})
    _, families = scrape(live_server, tokens["metrics"])
    tenants = families["cinchdb_propagation_tenants"]
    where = {"database": "main", "branch": "main"}
    assert value(tenants, "cinchdb_propagation_tenants", **where, state="updated") == 3
    assert value(tenants, "cinchdb_propagation_tenants", **where, state="behind") == 0
    # A schema change: the tenants not opened since are behind it until they are.
    change = api.post(B + "/views", json={"name": "v", "sql": "SELECT name FROM users"})
    assert change.status_code == 200, change.text
    _, families = scrape(live_server, tokens["metrics"])
    tenants = families["cinchdb_propagation_tenants"]
    status = api.get(B + "/tenant-status").json()
    expected = {
        "updated": sum(1 for t in status if not t["needs_key"] and not t["behind"]),
        "behind": sum(1 for t in status if not t["needs_key"] and t["behind"]),
        "unknown": sum(1 for t in status if t["needs_key"]),
    }
    assert sum(expected.values()) == 3
    for state, count in expected.items():
        assert value(tenants, "cinchdb_propagation_tenants", **where, state=state) == count
    opened = value(families["cinchdb_open_tenant_files"], "cinchdb_open_tenant_files")
    assert opened >= 2  # tenants a and b at least, kept open by the server's handles
    assert value(families["cinchdb_server_open_handles"], "cinchdb_server_open_handles") >= 3


def test_no_tenant_name_or_parameter_value_reaches_a_label(live_server, tokens, api):
    secret = "alice-secret-7731"
    made = api.post(B + "/tenants", json={"name": "tenant-zebra"})
    assert made.status_code == 200, made.text
    zebra = B + "/tenants/tenant-zebra"
    api.post(zebra + "/rows/users", json={"rows": {"name": secret, "age": 917}})
    found = api.post(
        zebra + "/query", json={"sql": "SELECT * FROM users WHERE name = ?", "params": [secret]}
    )
    assert found.status_code == 200 and found.json()[0]["name"] == secret
    api.get(zebra + f"/kv/get?key={secret}")
    text, families = scrape(live_server, tokens["metrics"])
    assert value(families["cinchdb_http_requests"], "cinchdb_http_requests_total", route=QUERY)
    for leaked in (secret, "tenant-zebra", tokens["admin"]):
        assert leaked not in text
    # A number may turn up in a timing by chance: look for the row's one in labels only.
    labels = {
        v for samples in families.values() for sample in samples for v in sample.labels.values()
    }
    assert not any("917" in label for label in labels)


def test_statements_by_kind_come_from_the_analytics_recorder(live_server, tokens, api):
    a = B + "/tenants/a"
    api.post(a + "/rows/users", json={"rows": {"name": "x"}})
    api.post(a + "/rows/users", json={"rows": [{"name": "y"}, {"name": "z"}]})
    api.post(a + "/query", json={"sql": "SELECT * FROM users WHERE name = ?", "params": ["x"]})
    assert api.post(a + "/query", json={"sql": "SELECT * FROM nowhere"}).status_code == 404
    api.post(a + "/kv/set", json={"key": "k", "value": 1})
    api.get(a + "/kv/get", params={"key": "k"})
    api.get(a + "/kv/get", params={"key": "k"})
    api.post(B + "/views", json={"name": "v", "sql": "SELECT name FROM users"})
    _, families = scrape(live_server, tokens["metrics"])
    calls = {s.labels["kind"]: s.value for s in families["cinchdb_statements"]}
    errors = {s.labels["kind"]: s.value for s in families["cinchdb_statement_errors"]}
    assert calls == {"insert": 2, "select": 2, "kv": 3, "schema": 1}
    assert errors == {"insert": 0, "select": 1, "kv": 0, "schema": 0}


def test_analytics_are_on_by_default_and_no_analytics_turns_them_off(tmp_path):
    for flags, recorded in (((), True), (("--no-analytics",), False)):
        project = make_project(tmp_path / f"run{len(flags)}")
        with ApiKeys(project) as keys:
            token = keys.create(name="admin").token
        server = start_serve(project, tmp_path / f"serve{len(flags)}.log", *flags)
        try:
            with httpx.Client(base_url=server.url, headers=bearer(token), timeout=10) as http:
                made = http.post(B + "/tenants/a/rows/users", json={"rows": {"name": "x"}})
                assert made.status_code == 200, made.text
                text = http.get("/metrics").text
            families = {f.name: f.samples for f in text_string_to_metric_families(text)}
            assert bool(families["cinchdb_statements"]) is recorded
        finally:
            assert stop(server) == []
        # The server's last flush at its stop wrote the statement, or nothing was written.
        analytics = project / ".cinchdb" / "analytics" / "main.sqlite"
        assert analytics.exists() is recorded


def test_the_text_format_escapes_what_it_must():
    tricky = 'a "quoted" \\ back\nslash'
    families = [gauge("cinchdb_x", "help with \\ and\nnewline", {(("name", tricky),): 1.5})]
    metrics = HttpMetrics(buckets=(0.1, 1.0))
    for seconds in (0.05, 0.1, 0.5, 3.0):
        metrics.observe("GET", "/r", 200, seconds)
    text = render([*families, *metrics.families()], pid=7)
    parsed = {f.name: f for f in text_string_to_metric_families(text)}
    (sample,) = parsed["cinchdb_x"].samples
    assert sample.labels == {"name": tricky, "pid": "7"} and sample.value == 1.5
    assert parsed["cinchdb_x"].documentation == "help with \\ and\nnewline"
    buckets = {
        s.labels["le"]: s.value
        for s in parsed["cinchdb_http_request_duration_seconds"].samples
        if s.name.endswith("_bucket")
    }
    # Cumulative, a bound counting the values equal to it.
    assert buckets == {"0.1": 2, "1": 3, "+Inf": 4}


def test_a_method_outside_http_is_counted_as_other(live_server, tokens):
    odd = httpx.request("BREW", live_server.url + B + "/tables", timeout=10)
    assert odd.status_code == 404
    _, families = scrape(live_server, tokens["metrics"])
    methods = {s.labels["method"] for s in families["cinchdb_http_requests"]}
    assert "BREW" not in methods and "other" in methods


def test_statement_totals_by_kind_count_pending_and_drained_statements_once():
    recorder = Recorder()
    recorder.observe("main", "a", "SELECT * FROM t WHERE id = 1", 1_000)
    recorder.observe("main", "a", "INSERT INTO t (x) VALUES (2)", 1_000, error=True)
    assert recorder.kind_totals() == {"select": (1, 0), "insert": (1, 1)}
    recorder.drain()
    recorder.observe("main", "b", "SELECT * FROM t WHERE id = 3", 1_000)
    assert recorder.kind_totals() == {"select": (2, 0), "insert": (1, 1)}
    recorder.drain()
    assert recorder.kind_totals() == {"select": (2, 0), "insert": (1, 1)}
