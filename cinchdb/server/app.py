"""The ASGI app of ``cinch serve``: routes built from the API table (cinchdb/api.py).

One request is: the guard (hostile paths, a key in the query string, the body limit, the
access log, :class:`_Guard`), then in one worker thread the key's check, the arguments, the
SDK call on the shared handle of its (database, branch, tenant), and the branch head, then the
JSON response. Every response carries ``X-Cinch-Head`` when the branch is known.

The app serves exactly the project it was made for: no request names a directory; database,
branch and tenant names are checked by the SDK's name rules before any file is touched.
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import json
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cinchdb import api
from cinchdb._unset import UNSET, Unset
from cinchdb.api import Endpoint
from cinchdb.changes import commit_conditions
from cinchdb.database import CinchDB
from cinchdb.errors import (
    DRIVER_ERRORS,
    BodyTooLargeError,
    CinchError,
    HandleClosedError,
    RequestError,
    RouteNotFoundError,
)
from cinchdb.keys import ApiKeys
from cinchdb.project import MAIN
from cinchdb.server import auth
from cinchdb.server._calls import call, parse_body, parse_query
from cinchdb.server._handles import HandlePool
from cinchdb.server.metrics import (
    CONTENT_TYPE,
    METRICS_PATH,
    UNMATCHED,
    HttpMetrics,
    process_families,
    propagation,
    render,
)
from cinchdb.server.openapi import openapi_document
from cinchdb.server.settings import ServerSettings
from cinchdb.server.wire import driver_error_body, error_body, status_of
from cinchdb.tenants import validate_tenant_name
from journal.names import validate_branch_name

__all__ = [
    "METRICS_PATH",
    "PROJECT_ENV",
    "SETTINGS_ENV",
    "SUPERVISOR_ENV",
    "app_from_environment",
    "create_app",
]

#: The project ``cinch serve --workers N`` hands its workers (each builds its own app).
PROJECT_ENV = "CINCHDB_SERVE_PROJECT"
#: The settings it hands them, as JSON.
SETTINGS_ENV = "CINCHDB_SERVE_SETTINGS"
#: The process id of ``cinch serve`` itself (the supervisor of its workers).
SUPERVISOR_ENV = "CINCHDB_SERVE_SUPERVISOR"
#: Methods named in metric labels (any other counts as "other": labels stay few).
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: linux/prctl.h: the signal a process gets when its parent dies.
_PR_SET_PDEATHSIG = 1
NDJSON = "application/x-ndjson"

_access = logging.getLogger("cinchdb.server.access")
#: Branch-changing calls after which handles of the database may point at something gone.
_FORGET = {"delete_branch", "delete_tenant", "rename_tenant"}
#: Calls listing tenants: filtered to the key's tenants.
_TENANT_LISTS = {"list_tenants", "tenant_status"}


def create_app(
    project_dir: str | os.PathLike[str], *, settings: ServerSettings | None = None
) -> Starlette:
    """The app serving the project at ``project_dir`` (and nothing else).

    Raises:
        ProjectNotFoundError, JournalMissingError: no project there.
    """
    settings = settings or ServerSettings()
    pool = HandlePool(project_dir, size=settings.handles, analytics=settings.analytics)
    keys = ApiKeys(pool.root)
    routes = [
        Route(_starlette_path(e.path), _handler(e, pool, keys, settings), methods=[e.method])
        for e in api.ENDPOINTS
    ]
    document = openapi_document()

    async def openapi(_request: Request) -> Response:
        return JSONResponse(document)

    routes.append(Route("/v1/openapi.json", openapi, methods=["GET"]))
    http_metrics = HttpMetrics() if settings.metrics else None

    async def metrics(request: Request) -> Response:
        try:
            text = await run_in_threadpool(_scrape, request, pool, keys, http_metrics)
        except CinchError as error:
            return JSONResponse(error_body(error), status_code=status_of(error))
        return Response(text, media_type=CONTENT_TYPE)

    routes.append(Route(METRICS_PATH, metrics, methods=["GET"]))
    middleware = [Middleware(_Guard, max_body=settings.max_body, metrics=http_metrics)]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                allow_headers=[
                    "Authorization",
                    "Content-Type",
                    api.IF_MATCH_HEADER,
                    api.TENANT_KEY_HEADER,
                ],
                expose_headers=[api.HEAD_HEADER],
                allow_credentials=False,
            )
        )

    async def not_found(request: Request, _exc: Exception) -> Response:
        error = RouteNotFoundError(request.method, request.url.path)
        return JSONResponse(error_body(error), status_code=404)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            pool.close()
            keys.close()

    app = Starlette(
        middleware=middleware,
        exception_handlers={404: not_found, 405: not_found},
    )
    app.router = _ShapeRouter(routes, lifespan=lifespan)
    return app


def app_from_environment() -> Starlette:
    """The app for ``$CINCHDB_SERVE_PROJECT`` (uvicorn's factory for ``--workers N``)."""
    _end_with_the_supervisor()
    settings = json.loads(os.environ.get(SETTINGS_ENV, "{}"))
    if "cors_origins" in settings:
        settings["cors_origins"] = tuple(settings["cors_origins"])
    return create_app(os.environ[PROJECT_ENV], settings=ServerSettings(**settings))


def _end_with_the_supervisor() -> None:
    """In a worker of ``cinch serve --workers N``: be sent SIGTERM (a graceful stop) when the
    supervisor dies. uvicorn's workers do not notice a supervisor killed outright (kill -9,
    the OOM killer) and would go on serving the port with nothing left to stop them."""
    supervisor = os.environ.get(SUPERVISOR_ENV)
    if supervisor is None or int(supervisor) == os.getpid():
        return  # not a worker: ``--workers 1`` serves in the supervisor itself
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != int(supervisor):  # it died before the watch was set
        os.kill(os.getpid(), signal.SIGTERM)


def _starlette_path(path: str) -> str:
    return path


class _ShapeRouter(Router):
    """Starlette's router, but a request first tries only the routes of its method with as
    many path segments as its path (a dict lookup), not all ~50 in order (Starlette's linear
    scan cost ~100 us a request). Every route's parameters are plain ``{name}`` (one segment,
    no ``/``), so no other route can match the path fully; a request none of those matches
    (a 404, a 405, a trailing slash) goes through Starlette's own scan, as before."""

    def __init__(self, routes: Sequence[BaseRoute], *, lifespan: Any) -> None:
        super().__init__(routes, lifespan=lifespan)
        self._shapes: dict[tuple[str, int], list[Route]] = {}
        for route in routes:
            assert isinstance(route, Route) and ":" not in route.path, route
            for method in route.methods or ():
                self._shapes.setdefault((method, route.path.count("/")), []).append(route)

    def by_shape(self, scope: Scope) -> tuple[Route, Scope] | None:
        """The first route, in the table's order, of the request's method and shape that
        matches it fully, with its child scope; None: leave it to Starlette's scan."""
        for route in self._shapes.get((scope["method"], scope["path"].count("/")), ()):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                return route, child_scope
        return None

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.by_shape(scope) if scope["type"] == "http" else None
        if found is None:
            await super().app(scope, receive, send)
            return
        route, child_scope = found
        scope.setdefault("router", self)
        scope["route"] = route
        scope.update(child_scope)
        await route.handle(scope, receive, send)


# -- one endpoint ------------------------------------------------------------------------------


def _handler(endpoint: Endpoint, pool: HandlePool, keys: ApiKeys, settings: ServerSettings) -> Any:
    async def handle(request: Request) -> Response:
        head: str | Unset | None = UNSET
        try:
            body = await request.body() if endpoint.method != "GET" else b""
            answer = await run_in_threadpool(_serve, endpoint, request, body, pool, keys, settings)
            result, head = answer
            if isinstance(result, list) and _wants_ndjson(request, endpoint):
                return StreamingResponse(_ndjson(result), media_type=NDJSON, headers=_head(head))
            return JSONResponse(result, headers=_head(head))
        except _Failed as failed:
            error = failed.error
            status = status_of(error)
            return JSONResponse(error_body(error), status_code=status, headers=_head(failed.head))
        except CinchError as error:
            return JSONResponse(error_body(error), status_code=status_of(error))
        except DRIVER_ERRORS as error:
            return JSONResponse(driver_error_body(error), status_code=400)

    return handle


def _serve(
    endpoint: Endpoint,
    request: Request,
    body: bytes,
    pool: HandlePool,
    keys: ApiKeys,
    settings: ServerSettings,
) -> tuple[Any, str | None]:
    """Everything a request does that blocks, in one worker thread: the key, the arguments,
    the call and the head."""
    principal = auth.authenticate(keys, request.headers.get("authorization"))
    database = request.path_params["database"]
    branch = validate_branch_name(api.branch_from_path(request.path_params["branch"]))
    tenant = request.path_params.get("tenant")
    if tenant is not None:
        validate_tenant_name(tenant)
    arguments = {p.name: request.path_params[p.name] for p in endpoint.params_from("path")}
    if endpoint.name == "delete_branch":
        arguments["name"] = api.branch_from_path(arguments["name"])
    # The query string, parsed once (most requests have none).
    query = dict(request.query_params.items()) if request.scope["query_string"] else {}
    dry_run_text = query.pop("dry_run", None) if endpoint.cas else query.get("dry_run")
    arguments |= parse_query(endpoint, query)
    arguments |= parse_body(endpoint, body)
    auth.authorize(principal, endpoint, database, branch, tenant, arguments)
    tenant_key = request.headers.get(api.TENANT_KEY_HEADER)
    if tenant_key is not None:
        _refuse_plain_http(request)
    expected, dry_run = _conditions(endpoint, request, dry_run_text)
    unlock = tenant_key if tenant is not None else None
    if tenant_key is not None and tenant is None:
        if endpoint.name not in ("create_tenant", "copy_tenant", "rename_tenant"):
            raise RequestError(f"{endpoint.name} takes no {api.TENANT_KEY_HEADER} header")
        arguments["encryption_key"] = tenant_key
    for attempt in (1, 2):
        try:
            private = tenant_key is not None
            with (
                pool.handle(database, branch, tenant or MAIN, unlock, private=private) as db,
                commit_conditions(expected_head=expected, dry_run=dry_run),
            ):
                try:
                    result = call(db, endpoint, arguments, settings, principal)
                except CinchError as error:
                    raise _Failed(error, _head_of(db)) from error
                head = db.head()
            break
        except HandleClosedError:
            if attempt == 2:
                raise
    if endpoint.name in _FORGET:
        pool.forget(database)
    if endpoint.name in _TENANT_LISTS:
        # A key limited to some tenants sees only those.
        result = [
            item
            for item in result
            if principal.permits(endpoint.scope, database=database, tenant=item["name"])
        ]
    return result, head


class _Failed(Exception):
    """A call's error, with the branch head after it (so an error response carries it too:
    a 412 tells the client the head to retry against)."""

    def __init__(self, error: CinchError, head: str | Unset | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.head = head


def _head_of(db: CinchDB) -> str | Unset | None:
    try:
        return db.head()
    except CinchError:  # the branch went with the call (delete_branch) or cannot be read
        return UNSET


def _conditions(
    endpoint: Endpoint, request: Request, dry_run: str | None
) -> tuple[str | Unset | None, bool]:
    """The If-Match head and ``?dry_run=true`` of a schema change (refused on other calls)."""
    if_match = request.headers.get(api.IF_MATCH_HEADER)
    if not endpoint.cas:
        if if_match is not None:
            raise RequestError(f"{endpoint.name} is not a schema change: it takes no If-Match")
        return UNSET, False
    expected: str | Unset | None = UNSET
    if if_match is not None:
        # An ETag may come quoted; an empty one is a branch with no events yet.
        expected = if_match.strip().strip('"') or None
    if dry_run is not None and dry_run.lower() not in ("true", "false", "1", "0"):
        raise RequestError(f"'dry_run' must be true or false, got {dry_run!r}")
    return expected, dry_run is not None and dry_run.lower() in ("true", "1")


def _refuse_plain_http(request: Request) -> None:
    """An encrypted tenant's key may cross only HTTPS, or plain HTTP on the machine itself."""
    if request.url.scheme == "https":
        return
    host = request.client.host if request.client else ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise RequestError(
            f"{api.TENANT_KEY_HEADER} was sent over plain HTTP from {host or 'an unknown host'};"
            " send tenant keys only over HTTPS (or from the server's own machine)"
        )


def _wants_ndjson(request: Request, endpoint: Endpoint) -> bool:
    return endpoint.name == "query" and NDJSON in request.headers.get("accept", "")


def _ndjson(rows: list[Any]) -> Iterator[bytes]:
    for row in rows:
        yield json.dumps(row, separators=(",", ":")).encode() + b"\n"


def _head(head: str | Unset | None) -> dict[str, str]:
    return {} if isinstance(head, Unset) else {api.HEAD_HEADER: head or ""}


def _scrape(
    request: Request, pool: HandlePool, keys: ApiKeys, http_metrics: HttpMetrics | None
) -> str:
    """The text of ``GET /metrics`` for a key holding ``metrics:read``."""
    principal = auth.authenticate(keys, request.headers.get("authorization"))
    principal.require("metrics:read")
    families = [*(http_metrics.families() if http_metrics else []), *process_families(pool)]
    families.append(propagation(pool, principal))
    return render(families)


# -- the guard ---------------------------------------------------------------------------------


class _Guard:
    """Before any route: refuse hostile paths (``..``, ``.``, encoded ``/`` or ``\\``, NUL)
    and a key in the query string; cap the body; log each request with any key-shaped text
    redacted (uvicorn's own access log is off: it would log a query string as sent)."""

    def __init__(self, app: ASGIApp, max_body: int, metrics: HttpMetrics | None) -> None:
        self.app = app
        self.max_body = max_body
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [0]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            refusal = self._refusal(scope)
            if refusal is not None:
                await _error(refusal, sending)
                return
            await self.app(scope, self._capped(scope, receive), sending)
        finally:
            elapsed = time.perf_counter() - started
            if self.metrics is not None:
                # The route's template, never the path: a path names tenants and keys.
                route = scope.get("route")
                template = route.path if isinstance(route, Route) else UNMATCHED
                method = scope["method"] if scope["method"] in _METHODS else "other"
                self.metrics.observe(method, template, status[0], elapsed)
            raw = scope.get("raw_path") or scope["path"].encode()
            query = scope.get("query_string", b"")
            target = raw.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
            _access.info(
                "%s %s %d %.1fms",
                scope["method"],
                auth.redact(target),
                status[0],
                elapsed * 1000,
            )

    def _refusal(self, scope: Scope) -> CinchError | None:
        raw = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        lowered = raw.lower()
        if any(code in lowered for code in ("%2f", "%5c", "%00", "%2e")) or "\\" in raw:
            return RequestError("Path segments may not hold an encoded '/', '\\', '.' or NUL")
        if any(segment in (".", "..") for segment in unquote(raw).split("/")):
            return RequestError("Path segments '.' and '..' are refused")
        query = scope.get("query_string", b"").decode("latin-1")
        if auth.looks_like_key(unquote(query)):
            return RequestError(
                "An API key was sent in the query string; send it only as"
                " 'Authorization: Bearer <key>' (and revoke it: it may have been logged)"
            )
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    return RequestError("Content-Length is not a number")
                if length > self.max_body:
                    return BodyTooLargeError(self.max_body)
        return None

    def _capped(self, scope: Scope, receive: Receive) -> Receive:
        received = [0]
        limit = self.max_body

        async def capped() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                received[0] += len(message.get("body", b""))
                if received[0] > limit:
                    raise BodyTooLargeError(limit)
            return message

        return capped


async def _error(error: CinchError, send: Send) -> None:
    body = json.dumps(error_body(error)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status_of(error),
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
