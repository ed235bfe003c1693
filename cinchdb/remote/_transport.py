"""One HTTP exchange of the remote SDK, built from an :class:`~cinchdb.api.Endpoint`.

The API table (:mod:`cinchdb.api`) says where each argument travels (path, query string or
JSON body), which requests are compare-and-swap schema changes and how the result is
encoded; this module only follows it, so the client is no second description of the routes.
Errors come back as ``{"error": {"code", "message", "details"}}`` and are raised as the same
class the server raised (:func:`cinchdb.errors.error_class`), with the same message and
attributes.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote as url_quote

import httpx

from cinchdb import api
from cinchdb._unset import UNSET
from cinchdb.errors import (
    AuthenticationError,
    CinchError,
    PermissionDeniedError,
    RemoteConnectionError,
    RequestError,
    error_class,
)

__all__ = ["Location", "Transport"]

#: The error code of SQLite's own errors (not CinchErrors) on the wire.
SQLITE_CODE = "sqlite"

#: Seconds a request may take before httpx gives up (a query's own limit is the server's).
DEFAULT_TIMEOUT = 60.0


class Location:
    """Where a handle points: database, branch, tenant (the path's prefix)."""

    __slots__ = ("branch", "database", "tenant")

    def __init__(self, database: str, branch: str, tenant: str) -> None:
        self.database = database
        self.branch = branch
        self.tenant = tenant


class Transport:
    """An ``httpx.Client`` with the key and the base URL; tracks each branch's head as the
    server last reported it (``X-Cinch-Head``)."""

    def __init__(
        self,
        url: str,
        api_key: str,
        client: httpx.Client | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.url = url.rstrip("/")
        self._own_client = client is None
        self.client = client if client is not None else httpx.Client(timeout=timeout)
        # Sent with each request, never put in a URL (where it would reach logs).
        self._auth = {"Authorization": f"Bearer {api_key}"}
        #: (database, branch) -> the head the server last reported for it.
        self.heads: dict[tuple[str, str], str] = {}

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    def call(
        self,
        name: str,
        where: Location,
        arguments: Mapping[str, Any],
        *,
        expected_head: str | None = None,
        dry_run: bool = False,
        tenant_key: str | None = None,
        stream: bool = False,
    ) -> Any:
        """Send SDK method ``name``'s request for ``arguments``; return the decoded JSON body
        (or the response itself for ``stream``).

        ``arguments`` holds the SDK's keyword arguments; UNSET ones are not sent (the
        server's SDK call then uses its own default), and an optional one that is None is
        sent only when its type takes any JSON value (``alter_column(default=None)`` drops the
        default: None is a value there).
        """
        endpoint = api.endpoint(name)
        segments = {
            "database": where.database,
            "branch": api.branch_to_path(where.branch),
            "tenant": where.tenant,
        }
        query: dict[str, str] = {}
        body: dict[str, Any] = {}
        for param in endpoint.params:
            value = arguments.get(param.name, UNSET)
            if value is UNSET or (value is None and not param.required and param.type != "any"):
                continue
            if param.source == "path":
                segments[param.name] = value if isinstance(value, str) else json.dumps(value)
            elif param.source == "query":
                query[param.name] = _query_text(value)
            else:
                body[param.name] = value
        path = endpoint.path.format(**{k: url_quote(v, safe="") for k, v in segments.items()})
        if dry_run:
            query["dry_run"] = "true"
        headers = dict(self._auth)
        if endpoint.cas and expected_head is not None:
            headers[api.IF_MATCH_HEADER] = expected_head
        if tenant_key is not None:
            headers[api.TENANT_KEY_HEADER] = tenant_key
        content = None
        if endpoint.method not in ("GET", "DELETE") or body:
            try:
                content = json.dumps(body, allow_nan=False).encode()
            except ValueError as e:  # NaN or infinity: JSON has no form for them
                raise RequestError(
                    f"{name}() cannot send NaN or infinity: JSON has no form for them"
                ) from e
            headers["Content-Type"] = "application/json"
        request = self.client.build_request(
            endpoint.method, self.url + path, params=query, content=content, headers=headers
        )
        try:
            response = self.client.send(request, stream=stream)
        except httpx.TransportError as error:  # refused, timed out, cut off: no answer
            raise RemoteConnectionError(self.url, str(error) or type(error).__name__) from None
        head = response.headers.get(api.HEAD_HEADER)
        if head:
            self.heads[_at(where)] = head
        if response.status_code >= 400:
            if stream:
                response.read()
            raise decode_error(response)
        if stream:
            return response
        return response.json() if response.content else None


def _at(where: Location) -> tuple[str, str]:
    return (where.database, where.branch)


def _query_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def decode_error(response: httpx.Response) -> Exception:
    """The exception the server's error body describes: the same class, message and
    attributes; SQLite's own error (code ``sqlite``, bad SQL in a query) as the ``sqlite3``
    class of that name, as a local ``query()`` raises it; 401 and 403 without such a body
    still give AuthenticationError and PermissionDeniedError."""
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
        details = error.get("details") or {}
    except (ValueError, KeyError, TypeError):
        text = response.text.strip() or response.reason_phrase
        message = f"HTTP {response.status_code} from {response.request.url.path}: {text}"
        if response.status_code == 401:
            return AuthenticationError.from_wire(message, {})
        if response.status_code == 403:
            return PermissionDeniedError.from_wire(message, {})
        return CinchError(message)
    if code == SQLITE_CODE:
        driver = getattr(sqlite3, str(details.get("type")), None)
        if not (isinstance(driver, type) and issubclass(driver, sqlite3.Error)):
            driver = sqlite3.Error
        return driver(message)
    cls = error_class(code)
    if cls is CinchError and response.status_code in (401, 403):
        cls = AuthenticationError if response.status_code == 401 else PermissionDeniedError
    return cls.from_wire(message, details)
