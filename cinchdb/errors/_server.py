"""Errors of serving (``cinch serve``): API keys, HTTP requests, and the remote handle."""

from __future__ import annotations

from collections.abc import Sequence

from journal.errors import CinchError


class RemoteConnectionError(CinchError, ConnectionError):
    """A remote handle (``cinchdb.connect_api``) could not reach the server, or the
    connection failed before an answer came: ``url`` and ``reason`` say which. A request
    that changes something may or may not have been applied."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"Cannot reach the CinchDB server at {url}: {reason}")


class RemoteUnsupportedError(CinchError, NotImplementedError):
    """A method of the local handle that a remote one (``cinchdb.connect_api``) does not
    have: it works on local files or the server's own state (docs/server.md lists them)."""

    def __init__(self, method: str, reason: str) -> None:
        self.method = method
        self.reason = reason
        super().__init__(f"{method}() is not available on a remote handle: {reason}")


# -- API keys (``cinch key``, ``cinch serve``) ---------------------------------------------------


class ApiKeyError(CinchError):
    """Root of the API key errors. Their messages never contain a key's secret."""


class AuthenticationError(ApiKeyError):
    """An API key is missing, malformed, unknown, revoked or expired (HTTP 401): ``problem``
    says which. ``key_id`` is the key's id once the secret was checked, else None."""

    def __init__(self, problem: str, key_id: str | None = None) -> None:
        self.problem = problem
        self.key_id = key_id
        named = f" {key_id}" if key_id else ""
        super().__init__(f"API key{named} {problem}")


class PermissionDeniedError(ApiKeyError):
    """A valid API key may not do this (HTTP 403): it lacks the scope (``kind`` "scope"), or
    the database, branch or tenant (``kind``) named by ``value`` is outside its limits;
    ``allowed`` is what the key has."""

    def __init__(self, key_id: str, kind: str, value: str, allowed: Sequence[str]) -> None:
        self.key_id = key_id
        self.kind = kind
        self.value = value
        self.allowed = list(allowed)
        listed = ", ".join(self.allowed) or "none"
        if kind == "scope":
            message = f"API key {key_id} lacks the scope '{value}' (it has: {listed})"
        else:
            message = f"API key {key_id} may not use {kind} '{value}' (allowed: {listed})"
        super().__init__(message)


class KeyNotFoundError(ApiKeyError, ValueError, LookupError):
    """No API key has the id given. ``key_id`` is None when what was given is not shaped like
    an id (it is then not repeated: it may be a secret pasted in the wrong place)."""

    def __init__(self, key_id: str | None) -> None:
        self.key_id = key_id
        if key_id is None:
            super().__init__(
                "No API key has that id (an id is the part after 'ck_', 16 letters and digits)"
            )
        else:
            super().__init__(f"No API key has the id '{key_id}'")


# -- the HTTP API (cinch serve) ----------------------------------------------------------------


class RequestError(CinchError, ValueError):
    """An HTTP request the server cannot take as it is: a malformed body, a missing or
    mistyped argument, a hostile path or a key in the query string (HTTP 400)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class BodyTooLargeError(RequestError):
    """The request's body is larger than the server's limit (``cinch serve --max-body``)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"Request body exceeds the server's limit of {limit} bytes")


class RouteNotFoundError(RequestError, LookupError):
    """No resource of the API has that path and method (HTTP 404)."""

    def __init__(self, method: str, path: str) -> None:
        self.method = method
        self.path = path
        super().__init__(f"No such resource: {method} {path}")
