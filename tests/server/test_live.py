"""A real ``cinch serve`` on 127.0.0.1: a smoke round trip, its logs, Ctrl-C."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import httpx

from cinchdb.keys import ApiKeys
from tests.server.conftest import B, LiveServer, T, bearer


def raw_get(server: LiveServer, target: str) -> str:
    """A request sent byte for byte (an HTTP client would normalise the path first)."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def test_smoke_against_a_live_server(live_server: LiveServer, keys: ApiKeys) -> None:
    token = keys.create(name="smoke").token
    with httpx.Client(base_url=live_server.url, headers=bearer(token), timeout=30) as http:
        row = http.post(T + "/rows/users", json={"rows": {"name": "ann", "age": 3}})
        assert row.status_code == 200, row.text
        assert http.get(T + f"/rows/users/{row.json()['id']}").json() == row.json()
        query = http.post(T + "/query", json={"sql": "SELECT name, age FROM users"})
        assert query.json() == [{"name": "ann", "age": 3}]
        assert http.post(T + "/kv/set", json={"key": "k", "value": 1}).status_code == 200
        assert http.get(T + "/kv/get", params={"key": "k"}).json() == 1
        tables = http.get(B + "/tables")
        assert tables.headers["X-Cinch-Head"]
        refused = http.get(B + "/tables", params={"token": token}, headers={"Authorization": ""})
        assert refused.status_code == 400
    for target in ("/v1/databases/../branches/main/tables", "/v1/databases/main/branches/.."):
        assert raw_get(live_server, target).startswith("HTTP/1.1 400 "), target
    assert "/v1/openapi.json" in httpx.get(live_server.url + "/v1/openapi.json").text
    live_server.process.send_signal(signal.SIGINT)
    assert live_server.process.wait(timeout=20) == 0
    log = live_server.output()
    assert f"Serving {live_server.project} at {live_server.url} (Ctrl-C stops)" in log
    assert "POST /v1/databases/main/branches/main/tenants/main/rows/users 200" in log
    assert "?token=ck_[redacted] 400" in log
    # The key in neither form: whole, or its secret alone.
    assert token not in log and token.split("_")[2] not in log
    assert "Finished server process" in log


def test_serve_refuses_a_star_origin_and_half_a_tls_pair(project, tmp_path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    for args, message in (
        (
            ["--cors-origin", "*"],
            "Error: --cors-origin needs an explicit origin such as https://app.example.com,"
            " got '*'",
        ),
        (["--certfile", str(cert)], "Error: --certfile and --keyfile go together"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "cinchdb.cli", "serve", *args],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 2, done.stderr
        assert message in done.stderr, done.stderr
