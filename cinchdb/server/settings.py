"""What ``cinch serve`` is told: limits and CORS."""

from __future__ import annotations

import attrs

from cinchdb.api import MAX_PAGE
from cinchdb.data import QUERY_TIMEOUT_S
from cinchdb.errors import ArgumentError

__all__ = ["ServerSettings"]


def _explicit_origins(_instance: object, _attribute: object, origins: tuple[str, ...]) -> None:
    for origin in origins:
        if origin == "*" or not origin.startswith(("http://", "https://")):
            raise ArgumentError(
                "cors_origins",
                f"needs explicit origins such as https://app.example.com, got {origin!r}",
            )


@attrs.frozen
class ServerSettings:
    """The server's limits.

    Attributes:
        max_body: the largest request body accepted, in bytes (413 above it).
        max_page: the most rows one page of ``list_rows`` returns.
        query_timeout: seconds a ``query`` may run (504 after); None: no limit.
        cors_origins: the browser origins allowed to call the API; empty: CORS off. Never
            ``*`` (the API authenticates every call).
        handles: how many SDK handles (one per database, branch and tenant) stay open.
        metrics: count requests for ``GET /metrics`` (the route answers either way).
        analytics: record every statement's analytics (docs/analytics.md) in the server's
            handles, whatever the project's ``analytics`` setting says.
    """

    max_body: int = 10 * 1024 * 1024
    max_page: int = MAX_PAGE
    query_timeout: float | None = QUERY_TIMEOUT_S
    cors_origins: tuple[str, ...] = attrs.field(default=(), validator=_explicit_origins)
    handles: int = 256
    metrics: bool = True
    analytics: bool = True
