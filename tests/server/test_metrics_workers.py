"""``cinch serve --workers 2``: each worker serves its own process's metrics, labelled with its
``pid``, and its counts are the requests its connections carried."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cinchdb.keys import ApiKeys
from tests.server.conftest import B, LiveServer, bearer
from tests.server.test_live_workers import (
    MAX_CONNECTIONS,
    holders,
    session_processes,
    start_serve,
    stop,
)

TABLES = "/v1/databases/{database}/branches/{branch}/tables"


@pytest.fixture
def two_workers(project: Path, tmp_path: Path) -> Iterator[LiveServer]:
    server = start_serve(project, tmp_path / "serve.log", "--workers", "2")
    try:
        yield server
    finally:
        stop(server)


def test_each_worker_serves_its_own_metrics(two_workers: LiveServer, keys: ApiKeys) -> None:
    server = two_workers
    port = int(server.url.rsplit(":", 1)[1])
    token = keys.create(name="workers").token
    clients: list[httpx.Client] = []
    try:
        # Keep-alive connections, held open, until both workers hold some.
        while len(holders(server, port)) < 2 and len(clients) < MAX_CONNECTIONS:
            http = httpx.Client(base_url=server.url, headers=bearer(token), timeout=30)
            clients.append(http)
            assert http.get(B + "/tables").status_code == 200
        workers = set(holders(server, port))
        assert len(workers) == 2, server.output()
        made = {}
        for n, http in enumerate(clients):
            for _ in range(n % 3):
                assert http.get(B + "/tables").status_code == 200
            made[n] = 1 + n % 3
        # Each connection's scrape comes from the worker holding it: one pid, its own counts.
        served: dict[str, int] = {}
        seen: dict[str, float] = {}
        for n, http in enumerate(clients):
            text = http.get("/metrics").text
            samples = [s for f in text_string_to_metric_families(text) for s in f.samples]
            (pid,) = {s.labels["pid"] for s in samples}
            served[pid] = served.get(pid, 0) + made[n]
            seen[pid] = sum(
                s.value
                for s in samples
                if s.name == "cinchdb_http_requests_total" and s.labels["route"] == TABLES
            )
        assert {int(pid) for pid in served} == workers
        assert seen == served
        assert set(session_processes(server.process.pid)) >= workers
    finally:
        for http in clients:
            http.close()
