"""Fixtures of the server tests: a project, its app in-process (Starlette's TestClient, an
httpx client over the ASGI app), keys, and a real ``cinch serve`` on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

import cinchdb
from cinchdb.keys import ApiKeys
from cinchdb.models import Column
from cinchdb.server import ServerSettings, create_app

B = "/v1/databases/main/branches/main"
T = B + "/tenants/main"


def make_project(where: Path) -> Path:
    """A project with table ``users(name TEXT NOT NULL, age INTEGER)`` and tenant ``a`` and
    ``b`` besides ``main``."""
    root = cinchdb.init(where / "project")
    with cinchdb.connect(project_dir=root) as db:
        db.create_table(
            "users", [Column(name="name", nullable=False), Column(name="age", type="INTEGER")]
        )
        db.create_tenant("a")
        db.create_tenant("b")
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh :func:`make_project`."""
    return make_project(tmp_path)


@pytest.fixture
def keys(project: Path) -> Iterator[ApiKeys]:
    with ApiKeys(project) as found:
        yield found


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin(keys: ApiKeys) -> dict[str, str]:
    """Headers of a key with every scope and no limits."""
    return bearer(keys.create(name="admin").token)


@pytest.fixture
def settings() -> ServerSettings:
    return ServerSettings(max_body=64 * 1024, max_page=50, query_timeout=2.0)


@pytest.fixture
def client(project: Path, settings: ServerSettings) -> Iterator[TestClient]:
    """The app in-process, its requests coming from 127.0.0.1."""
    app = create_app(project, settings=settings)
    with TestClient(app, client=("127.0.0.1", 50000), raise_server_exceptions=True) as found:
        yield found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveServer:
    """A running ``cinch serve``: its URL, process, project and log file."""

    def __init__(
        self, url: str, process: subprocess.Popen[bytes], project: Path, log: Path
    ) -> None:
        self.url = url
        self.process = process
        self.project = project
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def live_server(project: Path, tmp_path: Path) -> Iterator[LiveServer]:
    """A real ``cinch serve`` subprocess on 127.0.0.1 and a free port, always stopped."""
    port = free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cinchdb.cli", "serve", "--port", str(port)],
            cwd=project,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise AssertionError(f"cinch serve exited: {log.read_text()}")
            try:
                httpx.get(url + "/v1/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"cinch serve did not start: {log.read_text()}") from None
                time.sleep(0.1)
        yield LiveServer(url, process, project, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
