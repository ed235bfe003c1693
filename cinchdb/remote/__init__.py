"""The remote SDK: a handle on a database served by ``cinch serve``, with the same methods,
results and exceptions as a local :class:`~cinchdb.CinchDB` (see docs/server.md, "The remote
SDK")::

    db = cinchdb.connect_api("https://db.example.com", "ck_...", tenant="acme")
    db.insert("posts", {"title": "Hello"})

Importing it imports httpx; ``import cinchdb`` does not (``connect_api`` loads it on use).
"""

from __future__ import annotations

import httpx

from cinchdb.project import MAIN
from cinchdb.remote._transport import DEFAULT_TIMEOUT
from cinchdb.remote._unsupported import UNSUPPORTED
from cinchdb.remote.database import RemoteCinchDB
from cinchdb.remote.kv import RemoteKV

__all__ = ["UNSUPPORTED", "RemoteCinchDB", "RemoteKV", "connect_api"]


def connect_api(
    api_url: str,
    api_key: str,
    database: str = MAIN,
    branch: str = MAIN,
    tenant: str = MAIN,
    *,
    encryption_key: str | None = None,
    client: httpx.Client | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> RemoteCinchDB:
    """A :class:`RemoteCinchDB` on ``database``/``branch``/``tenant`` of the server at
    ``api_url``, authenticated by ``api_key`` (sent only as ``Authorization: Bearer``).

    Nothing is sent until the first call: a wrong key or name is reported by that call
    (AuthenticationError, TenantNotFoundError, ...). ``client`` is an ``httpx.Client`` to
    send with (tests pass ``starlette.testclient.TestClient(app)``); ``timeout`` bounds each
    request, in seconds.
    """
    return RemoteCinchDB(
        api_url, api_key, database, branch, tenant, encryption_key=encryption_key,
        client=client, timeout=timeout,
    )  # fmt: skip
