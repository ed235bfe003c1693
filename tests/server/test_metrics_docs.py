"""docs/server.md, "Metrics": its example runs against a live server and prints what it says,
and its table lists exactly the metric families the server exposes."""

from __future__ import annotations

import re

import httpx
from prometheus_client.parser import text_string_to_metric_families

from cinchdb.keys import ApiKeys
from tests.server.conftest import B, LiveServer, bearer
from tests.server.test_docs_server import DOC, blocks


def test_the_metrics_example_runs(live_server: LiveServer, capsys) -> None:
    with ApiKeys(live_server.project) as keys:
        key = keys.create(scopes=["metrics:read"], name="prometheus").token
    (example,) = blocks("python", "## Metrics")
    (output,) = blocks("output", "## Metrics")
    exec(compile(example, str(DOC), "exec"), {"URL": live_server.url, "KEY": key})
    assert capsys.readouterr().out == output


def test_the_table_lists_every_metric_the_server_exposes(live_server: LiveServer) -> None:
    with ApiKeys(live_server.project) as keys:
        admin = keys.create(name="admin").token
    with httpx.Client(base_url=live_server.url, headers=bearer(admin), timeout=10) as api:
        # One request of each kind of statement, so that every family has samples.
        api.post(B + "/views", json={"name": "v", "sql": "SELECT name FROM users"})
        api.post(B + "/tenants/a/rows/users", json={"rows": {"name": "x"}})
        api.post(B + "/tenants/a/query", json={"sql": "SELECT * FROM nowhere"})
        api.post(B + "/tenants/a/kv/set", json={"key": "k", "value": 1})
        text = api.get("/metrics").text
    exposed = {
        family.name + ("_total" if family.type == "counter" else "")
        for family in text_string_to_metric_families(text)
        if family.samples
    }
    section = DOC.read_text().split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(cinchdb_\w+)` \|", section, flags=re.MULTILINE))
    assert exposed == documented
