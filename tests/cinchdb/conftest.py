"""Fixtures of the SDK's tests.

``db`` is a handle on database 'main', branch 'main', tenant 'main' of a fresh project. A test
module that marks itself ``pytestmark = pytest.mark.handles("local", "remote")`` runs each of
its tests twice: once on a local :class:`~cinchdb.CinchDB`, once on a
:class:`~cinchdb.remote.RemoteCinchDB` talking to the HTTP API of the same project in-process
(``starlette.testclient.TestClient`` is an ``httpx.Client``; the key has every scope). A test
that is inherently local (file paths, processes, a fake clock) carries
``@pytest.mark.local_only("why")`` and runs on the local handle only: the reason is required,
so no test is left out of the remote run silently.

``connect_handle(tenant=..., branch=..., database=...)`` opens another handle of the same kind
(what ``cinchdb.connect(tenant=..., project_dir=project)`` was in the local-only tests), and
``local`` is a local handle on the same project for looking at what the API cannot show (the
journal's chain, tenant files).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

import cinchdb
from cinchdb.keys import ApiKeys
from cinchdb.server import ServerSettings, create_app

HANDLE_KINDS = ("local", "remote")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "handles(*kinds): run each test of the module on these kinds of handle (local, remote)",
    )
    config.addinivalue_line(
        "markers", "local_only(reason): inherently local; runs on the local handle only"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "handle_kind" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("handles")
    if marker is None:
        return
    kinds = list(marker.args)
    assert set(kinds) <= set(HANDLE_KINDS), kinds
    local_only = metafunc.definition.get_closest_marker("local_only")
    if local_only is not None:
        reason = local_only.args[0] if local_only.args else ""
        assert isinstance(reason, str) and reason.strip(), (
            f"{metafunc.definition.nodeid}: local_only needs its reason"
        )
        kinds = ["local"]
    metafunc.parametrize("handle_kind", kinds, indirect=True)


@pytest.fixture
def handle_kind(request: pytest.FixtureRequest) -> str:
    """Which kind of handle ``db`` is: "local" unless the module runs on both."""
    return getattr(request, "param", "local")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh project; its root."""
    return cinchdb.init(tmp_path / "project")


@pytest.fixture
def remote_api(handle_kind: str, project: Path) -> Iterator[Any]:
    """For a remote run, ``(client, key)``: the project's HTTP API in-process and a key with
    every scope; None for a local run."""
    if handle_kind != "remote":
        yield None
        return
    with ApiKeys(project) as keys:
        token = keys.create(name="sdk tests").token  # every scope, no limits
    app = create_app(project, settings=ServerSettings())
    # From 127.0.0.1, as a client on the same machine (encrypted tenants' keys are accepted
    # over plain HTTP on loopback only).
    with TestClient(app, client=("127.0.0.1", 50000)) as client:
        yield client, token


@pytest.fixture
def connect_handle(
    handle_kind: str, project: Path, remote_api: Any
) -> Iterator[Callable[..., Any]]:
    """Open handles of this test's kind on ``project``; each is closed after the test."""
    opened: list[Any] = []

    def open_handle(
        database: str = "main",
        branch: str = "main",
        tenant: str = "main",
        encryption_key: str | None = None,
    ) -> Any:
        if remote_api is None:
            handle: Any = cinchdb.connect(
                database, branch, tenant, project_dir=project, encryption_key=encryption_key
            )
        else:
            client, key = remote_api
            handle = cinchdb.connect_api(
                str(client.base_url), key, database, branch, tenant, client=client,
                encryption_key=encryption_key,
            )  # fmt: skip
        opened.append(handle)
        return handle

    yield open_handle
    for handle in reversed(opened):
        handle.close()


@pytest.fixture
def db(connect_handle: Callable[..., Any]) -> Any:
    """A handle on database 'main', branch 'main', tenant 'main' of a fresh project (local, or
    remote in modules marked ``handles("local", "remote")``)."""
    return connect_handle()


@pytest.fixture
def local(project: Path) -> Iterator[cinchdb.CinchDB]:
    """A local handle on the same project, whatever kind ``db`` is: for looking at files and
    the journal's chain."""
    with cinchdb.connect(project_dir=project) as handle:
        yield handle


@pytest.fixture
def users(db: Any) -> Any:
    """``db`` with a table ``users(name TEXT NOT NULL, email TEXT UNIQUE, age INTEGER)``."""
    from cinchdb.models import Column

    db.create_table(
        "users",
        [
            Column(name="name", type="TEXT", nullable=False),
            Column(name="email", type="TEXT", unique=True),
            Column(name="age", type="INTEGER"),
        ],
    )
    return db
