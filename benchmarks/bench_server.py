"""HTTP throughput and latency: bare ASGI, Starlette and FastAPI on uvicorn, and `cinch serve`.

Two parts, each against real uvicorn processes on 127.0.0.1 (loopback only):

``frameworks``: requests/s and p50/p99 latency for the same work behind each stack, one
uvicorn worker: a bare ASGI app answering a constant; a bare ASGI app doing one SDK point
select (``db.get`` on a handle kept open for the process); Starlette and FastAPI doing that
select from an ``async def`` endpoint (inline, blocking the loop for the ~30 us of the
select), from an ``async def`` endpoint through ``run_in_threadpool``, and from a plain
``def`` endpoint (which both frameworks run in their thread pool); and Starlette and FastAPI
answering the constant. A raw asyncio server answering fixed bytes (no HTTP parsing, no ASGI)
measures the client's own ceiling.

``load``: the issue's load test against a real ``cinch serve`` (``python -m cinchdb.cli
serve``): ``--clients`` concurrent clients, ``--requests`` mixed requests each (point selects,
inserts, KV sets and gets, one schema change in the middle) across ``--tenants`` tenants; then
every acknowledged write is counted in the files (no lost write), and the bare constant app
and a point-select-only run are measured on the same runner in the same run.

The client: ``--procs`` processes (default 2), each running its share of the clients as
asyncio tasks, one keep-alive HTTP/1.1 connection per client, a fixed number of requests
each, the requests built before the clock starts. Throughput = all requests / (last client
done - first client started); latency is per request, measured by the client. On a 2-core
machine the client and the server share the CPUs: the server gets roughly one core, the client
the other, so absolute figures are low and the ratios are what to compare.

Run: python benchmarks/bench_server.py frameworks [--clients 32 --requests 500 --rounds 2]
     python benchmarks/bench_server.py load [--clients 32 --requests 2000 --tenants 100]
Not collected by pytest; tests/server/test_load_small.py runs ``load`` small.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import starlette
import uvicorn
from _machine import machine_line
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from uvicorn.supervisors import Multiprocess

import cinchdb
from cinchdb import api
from cinchdb.keys import ApiKeys
from cinchdb.models import Column
from cinchdb.server import app as server_app
from cinchdb.server.app import PROJECT_ENV as SERVE_PROJECT_ENV

# FastAPI is measured for the choice of framework only; it is no dependency of CinchDB, so the
# load part (and tests/server/test_load_small.py) runs without it.
try:
    import fastapi
    from fastapi import FastAPI
except ImportError:  # pragma: no cover - depends on the machine
    fastapi = None  # type: ignore[assignment]

HERE = Path(__file__).resolve().parent
PROJECT_ENV = "CINCH_BENCH_PROJECT"
CONSTANT = b'{"ok":true}'
SELECT_PREFIX = "/users/"

# --------------------------------------------------------------------------------------------
# The apps (imported by uvicorn as ``bench_server:<factory>`` with ``--factory``)
# --------------------------------------------------------------------------------------------

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]

_CONST_HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"11")]


def _handle() -> cinchdb.CinchDB:
    return cinchdb.connect(project_dir=os.environ[PROJECT_ENV])


async def _send_json(send: Send, body: bytes, status: int = 200) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def bare_const() -> Callable[..., Any]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": _CONST_HEADERS})
        await send({"type": "http.response.body", "body": CONSTANT})

    return app


def _bare_select(threaded: bool) -> Callable[..., Any]:
    db = _handle()

    def select(key: str) -> bytes:
        return json.dumps(db.get("users", key)).encode()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        key = scope["path"][len(SELECT_PREFIX) :]
        body = await run_in_threadpool(select, key) if threaded else select(key)
        await _send_json(send, body)

    return app


def bare_select() -> Callable[..., Any]:
    return _bare_select(threaded=False)


def bare_select_thread() -> Callable[..., Any]:
    return _bare_select(threaded=True)


def starlette_const() -> Starlette:
    async def const(request: Request) -> Response:
        return Response(CONSTANT, media_type="application/json")

    return Starlette(routes=[Route("/", const)])


def starlette_select_async() -> Starlette:
    db = _handle()

    async def get(request: Request) -> JSONResponse:
        return JSONResponse(db.get("users", request.path_params["key"]))

    return Starlette(routes=[Route(SELECT_PREFIX + "{key}", get)])


def starlette_select_thread() -> Starlette:
    db = _handle()

    async def get(request: Request) -> JSONResponse:
        return JSONResponse(await run_in_threadpool(db.get, "users", request.path_params["key"]))

    return Starlette(routes=[Route(SELECT_PREFIX + "{key}", get)])


def starlette_select_sync() -> Starlette:
    db = _handle()

    def get(request: Request) -> JSONResponse:
        return JSONResponse(db.get("users", request.path_params["key"]))

    return Starlette(routes=[Route(SELECT_PREFIX + "{key}", get)])


def fastapi_const() -> Any:
    app = FastAPI()

    @app.get("/")
    async def const() -> Response:
        return Response(CONSTANT, media_type="application/json")

    return app


def fastapi_select_async() -> Any:
    db = _handle()
    app = FastAPI()

    @app.get(SELECT_PREFIX + "{key}")
    async def get(key: str) -> dict[str, Any]:
        return db.get("users", key)

    return app


def fastapi_select_thread() -> Any:
    db = _handle()
    app = FastAPI()

    @app.get(SELECT_PREFIX + "{key}")
    async def get(key: str) -> dict[str, Any]:
        return await run_in_threadpool(db.get, "users", key)

    return app


def fastapi_select_sync() -> Any:
    db = _handle()
    app = FastAPI()

    @app.get(SELECT_PREFIX + "{key}")
    def get(key: str) -> dict[str, Any]:
        return db.get("users", key)

    return app


# --------------------------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------------------------

RAW_RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n" + CONSTANT
)


class _RawConstant(asyncio.Protocol):
    """Answers every request head with fixed bytes: no HTTP parsing, no ASGI. The client's
    ceiling: what it manages when the server costs next to nothing."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.pending = b""

    def data_received(self, data: bytes) -> None:
        self.pending += data
        count = self.pending.count(b"\r\n\r\n")
        if count:
            self.pending = self.pending[self.pending.rfind(b"\r\n\r\n") + 4 :]
            self.transport.write(RAW_RESPONSE * count)  # type: ignore[attr-defined]


def serve_raw(port: int) -> None:
    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_RawConstant, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A server process on 127.0.0.1, always stopped by ``stop`` (``with`` does it)."""

    argv: list[str]
    port: int
    cwd: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log: Any = None

    def __enter__(self) -> Server:
        environment = {**os.environ, **self.env}
        # A file, not a pipe: a server logging every request would fill a pipe and block.
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            self.argv, cwd=self.cwd, env=environment, stdout=self.log, stderr=self.log,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self._output()
                raise RuntimeError(f"server exited at start: {' '.join(self.argv)}\n{error}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError(f"server did not listen within 60 s: {' '.join(self.argv)}")
        # uvicorn with several workers listens before every worker has imported the app.
        time.sleep(1.0 if "--workers" in self.argv else 0.2)
        return self

    def _output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self) -> str:
        """Stop the server (SIGTERM to its process group, then SIGKILL); its output."""
        if self.process is None:
            return ""
        process, self.process = self.process, None
        if process.poll() is None:
            os.killpg(process.pid, 15)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait(timeout=20)
        output = self._output()
        self.log.close()
        return output

    def __exit__(self, *exc: object) -> None:
        self.stop()


class NoDelayConfig(uvicorn.Config):
    """uvicorn's settings, with a listening socket that says it is TCP.

    With ``--workers N`` (N > 1) uvicorn binds the socket itself as ``socket.socket(family)``,
    whose ``proto`` is 0; the connections it accepts inherit that, and asyncio turns Nagle's
    algorithm off (TCP_NODELAY) only on sockets whose ``proto`` is ``IPPROTO_TCP``. uvicorn
    writes a response's head and body in two sends, so with Nagle on, each keep-alive
    response waits for the client's delayed ACK: ~40 ms per request. Re-wrapping the same file
    descriptor lets Python read the protocol back from the kernel (SO_PROTOCOL).
    """

    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        return socket.socket(fileno=sock.detach())


def run_uvicorn(app: str, port: int, workers: int, nodelay: bool) -> None:
    """uvicorn as ``uvicorn.run`` runs it (``--factory``, no access log), with ``nodelay``
    through :class:`NoDelayConfig`."""
    settings = {"factory": True, "host": "127.0.0.1", "port": port, "workers": workers,
                "access_log": False, "log_level": "warning"}  # fmt: skip
    config = (NoDelayConfig if nodelay else uvicorn.Config)(app, **settings)
    if workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        uvicorn.Server(config).run()


def uvicorn_server(
    factory: str, project: Path, workers: int = 1, nodelay: bool = True, cwd: Path | None = None
) -> Server:
    """``factory`` (a name in this module, or ``module:function``) on uvicorn."""
    port = free_port()
    app = factory if ":" in factory else f"bench_server:{factory}"
    argv = [sys.executable, str(Path(__file__).resolve()), "uvicorn", app, str(port),
            str(workers)] + ([] if nodelay else ["--as-shipped"])  # fmt: skip
    env = {PROJECT_ENV: str(project), SERVE_PROJECT_ENV: str(project)}
    return Server(argv, port, cwd=cwd, env=env)


def raw_server() -> Server:
    port = free_port()
    argv = [sys.executable, str(Path(__file__).resolve()), "raw-server", str(port)]
    return Server(argv, port)


# --------------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request: ``kind`` labels it in the results; ``data`` are the bytes sent; ``note``
    is returned with the outcome (what a write acknowledged)."""

    kind: str
    data: bytes
    note: Any = None


def http_request(
    method: str, path: str, body: object = None, headers: Sequence[tuple[str, str]] = ()
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers]
    payload = b""
    if body is not None:
        payload = json.dumps(body).encode()
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = -1
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            parts.append(await reader.readexactly(size + 2))
            if size == 0:
                return status, b"".join(parts)
    return status, await reader.readexactly(length) if length > 0 else b""


@dataclass
class ClientResult:
    """What one client process saw."""

    started: float = float("inf")
    finished: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    acknowledged: list[Any] = field(default_factory=list)


async def _one_client(
    port: int, calls: Sequence[Call], warmup: Sequence[Call], result: ClientResult,
    warmed: asyncio.Event, go: asyncio.Event, ready: list[int],
) -> None:  # fmt: skip
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
    clock = time.perf_counter
    try:
        for call in warmup:
            writer.write(call.data)
            status, body = await _read_response(reader)
            if status >= 400:
                result.errors.append(f"warm-up {call.kind}: {status} {body[:200]!r}")
        ready[0] -= 1
        if ready[0] == 0:
            warmed.set()
        await go.wait()
        latencies = result.latencies
        for call in calls:
            start = clock()
            writer.write(call.data)
            status, body = await _read_response(reader)
            latencies.setdefault(call.kind, []).append(clock() - start)
            if status >= 400:
                result.errors.append(f"{call.kind}: {status} {body[:300]!r}")
            elif call.note is not None:
                result.acknowledged.append(call.note)
    finally:
        writer.close()


def _client_process(
    port: int, plans: list[tuple[list[Call], list[Call]]], barrier: Any, out: Any
) -> None:
    result = ClientResult()

    async def main() -> None:
        warmed, go = asyncio.Event(), asyncio.Event()
        ready = [len(plans)]
        tasks = [
            asyncio.create_task(_one_client(port, calls, warm, result, warmed, go, ready))
            for calls, warm in plans
        ]
        await warmed.wait()
        # Every connection is open and warm: line up with the other client processes.
        await asyncio.get_running_loop().run_in_executor(None, barrier.wait)
        result.started = time.perf_counter()
        go.set()
        await asyncio.gather(*tasks)
        result.finished = time.perf_counter()

    try:
        asyncio.run(main())
    except Exception as error:  # reported to the parent, which fails the run
        result.errors.append(f"client process: {error!r}")
    out.put(result)


@dataclass
class RunResult:
    requests: int
    seconds: float
    latencies: dict[str, list[float]]
    errors: list[str]
    acknowledged: list[Any]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float, kind: str | None = None) -> float:
        if kind is None:
            values = sorted(v for lat in self.latencies.values() for v in lat)
        else:
            values = sorted(self.latencies.get(kind, []))
        if not values:
            return float("nan")
        return values[min(len(values) - 1, int(q * len(values)))]


def run_clients(
    port: int, plans: list[tuple[list[Call], list[Call]]], procs: int, timeout: float = 600
) -> RunResult:
    """Run ``plans`` (one (calls, warm-up calls) per client) from ``procs`` processes."""
    context = multiprocessing.get_context("fork")
    procs = max(1, min(procs, len(plans)))
    barrier = context.Barrier(procs)
    out = context.Queue()
    shares = [plans[i::procs] for i in range(procs)]
    workers = [
        context.Process(target=_client_process, args=(port, share, barrier, out))
        for share in shares
    ]
    for worker in workers:
        worker.start()
    results: list[ClientResult] = []
    try:
        for _ in workers:
            results.append(out.get(timeout=timeout))
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.kill()
                worker.join()
    latencies: dict[str, list[float]] = {}
    errors: list[str] = []
    acknowledged: list[Any] = []
    for result in results:
        for kind, values in result.latencies.items():
            latencies.setdefault(kind, []).extend(values)
        errors += result.errors
        acknowledged += result.acknowledged
    requests = sum(len(calls) for calls, _ in plans)
    seconds = max(r.finished for r in results) - min(r.started for r in results)
    return RunResult(requests, seconds, latencies, errors, acknowledged)


# --------------------------------------------------------------------------------------------
# Part 1: frameworks
# --------------------------------------------------------------------------------------------


def make_users_project(directory: Path, rows: int = 1000) -> tuple[Path, list[str]]:
    root = cinchdb.init(directory / "users-project")
    db = cinchdb.connect(project_dir=root)
    db.create_table("users", [Column(name="name", type="TEXT"), Column(name="n", type="INTEGER")])
    ids = [
        row["id"] for row in db.insert("users", [{"name": f"u{i}", "n": i} for i in range(rows)])
    ]
    db.close()
    return root, ids


FRAMEWORK_CASES = [
    # (label, factory, path kind)
    ("raw asyncio server, fixed bytes (client ceiling)", "raw", "const"),
    ("(a) bare ASGI, constant", "bare_const", "const"),
    ("Starlette, constant", "starlette_const", "const"),
    ("FastAPI, constant", "fastapi_const", "const"),
    ("(b) bare ASGI, db.get inline", "bare_select", "select"),
    ("(b') bare ASGI, db.get via run_in_threadpool", "bare_select_thread", "select"),
    ("(c) Starlette, async def, db.get inline", "starlette_select_async", "select"),
    ("(c) Starlette, async def + run_in_threadpool", "starlette_select_thread", "select"),
    ("(c) Starlette, def endpoint (thread pool)", "starlette_select_sync", "select"),
    ("(d) FastAPI, async def, db.get inline", "fastapi_select_async", "select"),
    ("(d) FastAPI, async def + run_in_threadpool", "fastapi_select_thread", "select"),
    ("(d) FastAPI, def endpoint (thread pool)", "fastapi_select_sync", "select"),
]


def _plans(
    kind: str, clients: int, requests: int, ids: Sequence[str], seed: int = 1
) -> list[tuple[list[Call], list[Call]]]:
    rng = random.Random(seed)

    def call() -> Call:
        if kind == "const":
            return Call("get", http_request("GET", "/"))
        return Call("get", http_request("GET", SELECT_PREFIX + rng.choice(ids)))

    return [
        ([call() for _ in range(requests)], [call() for _ in range(10)]) for _ in range(clients)
    ]


async def _asgi_receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def app_cost(factory: str, paths: Sequence[str], repeat: int = 3) -> float:
    """Median over ``repeat`` runs of the time per request of the app alone, called in this
    process with a ready ASGI scope (no socket, no HTTP parsing): what the framework and the
    SDK call cost, less sensitive to the load of the machine than the HTTP runs."""
    app = globals()[factory]()
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    def scope(path: str) -> Scope:
        return {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
            "root_path": "", "headers": [(b"host", b"127.0.0.1")],
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {},
        }  # fmt: skip

    scopes = [scope(path) for path in paths]

    async def run(count: int) -> float:
        start = time.perf_counter()
        for index in range(count):
            await app(scopes[index % len(scopes)], _asgi_receive, send)
        return (time.perf_counter() - start) / count

    async def runs() -> list[float]:
        await run(100)
        return [await run(len(scopes)) for _ in range(repeat)]

    times = asyncio.run(runs())
    if sent[0].get("status") != 200:
        raise RuntimeError(f"{factory}: status {sent[0].get('status')} in process")
    return statistics.median(times)


def _server_for(factory: str, project: Path, workers: int = 1) -> Server:
    return raw_server() if factory == "raw" else uvicorn_server(factory, project, workers)


def frameworks(args: argparse.Namespace) -> None:
    print(machine_line())
    print(_stack_line())
    print(
        f"clients {args.clients} x {args.requests} requests, client processes {args.procs},"
        f" rounds {args.rounds} (cases interleaved within each round)"
    )
    only = set(args.only.split(",")) if args.only else None
    cases = [case for case in FRAMEWORK_CASES if only is None or case[1] in only]
    if fastapi is None:
        print("FastAPI is not installed: its cases are left out")
        cases = [case for case in cases if "fastapi" not in case[1]]
    with tempfile.TemporaryDirectory() as directory:
        project, ids = make_users_project(Path(directory))
        os.environ[PROJECT_ENV] = str(project)
        costs = {
            factory: app_cost(factory, ["/"] * 2000 if kind == "const" else [
                SELECT_PREFIX + key for key in ids * 2])
            for _, factory, kind in cases if factory != "raw"
        }  # fmt: skip
        samples: dict[str, list[RunResult]] = {factory: [] for _, factory, _ in cases}
        for round_number in range(args.rounds):
            for label, factory, kind in cases:
                with _server_for(factory, project) as server:
                    result = run_clients(
                        server.port, _plans(kind, args.clients, args.requests, ids, round_number),
                        args.procs,
                    )  # fmt: skip
                if result.errors:
                    raise SystemExit(f"{label}: {len(result.errors)} errors: {result.errors[:3]}")
                samples[factory].append(result)
                print(
                    f"  round {round_number + 1}: {label}: {result.rate:,.0f} req/s,"
                    f" p50 {result.percentile(0.5) * 1e3:.2f} ms,"
                    f" p99 {result.percentile(0.99) * 1e3:.2f} ms",
                    flush=True,
                )
    base = _median_rate(samples.get("bare_const", []))
    print()
    print(
        "| stack | requests/s (median; range) | p50 | p99 | vs bare ASGI constant"
        " | the app alone, in process |"
    )
    print("|---|---|---|---|---|---|")
    for label, factory, _ in cases:
        runs = samples[factory]
        rates = [run.rate for run in runs]
        share = f"{_median_rate(runs) / base * 100:.0f} %" if base else ""
        cost = f"{costs[factory] * 1e6:.0f} us" if factory in costs else ""
        print(
            f"| {label} | {statistics.median(rates):,.0f} ({min(rates):,.0f}-{max(rates):,.0f})"
            f" | {statistics.median(r.percentile(0.5) for r in runs) * 1e3:.2f} ms"
            f" | {statistics.median(r.percentile(0.99) for r in runs) * 1e3:.2f} ms | {share}"
            f" | {cost} |"
        )


def _median_rate(runs: Sequence[RunResult]) -> float:
    return statistics.median(run.rate for run in runs) if runs else 0.0


def _stack_line() -> str:
    extras = []
    for name in ("uvloop", "httptools"):
        try:
            __import__(name)
            extras.append(f"{name} installed")
        except ImportError:
            extras.append(f"no {name}")
    return (
        f"uvicorn {uvicorn.__version__}, starlette {starlette.__version__},"
        f" fastapi {fastapi.__version__ if fastapi else 'not installed'} ({', '.join(extras)})"
    )


# --------------------------------------------------------------------------------------------
# Part 2: the load test against `cinch serve`
# --------------------------------------------------------------------------------------------

TABLE = "items"
NEW_COLUMN = "note"


def tenant_names(count: int) -> list[str]:
    return [f"t{index:03d}" for index in range(count)]


@dataclass(frozen=True)
class LoadProject:
    root: Path
    token: str
    seeds: dict[str, list[str]]  # tenant -> ids of the rows there before the run
    seed_kv: int  # KV keys per tenant before the run


def make_load_project(directory: Path, tenants: int, seed_rows: int = 5) -> LoadProject:
    """A project with table ``items(name TEXT, n INTEGER)`` and ``tenants`` materialized
    tenants, each holding ``seed_rows`` rows and one KV key, and a key with every scope."""
    root = cinchdb.init(directory / "load-project")
    seeds: dict[str, list[str]] = {}
    with cinchdb.connect(project_dir=root) as db:
        db.create_table(TABLE, [Column(name="name", type="TEXT"), Column(name="n", type="INTEGER")])
        for name in tenant_names(tenants):
            db.create_tenant(name, lazy=False)
            db.tenant = name
            rows = db.insert(TABLE, [{"name": f"seed{i}", "n": i} for i in range(seed_rows)])
            seeds[name] = [row["id"] for row in rows]
            db.kv.set("seed", {"tenant": name})
    with ApiKeys(root) as keys:
        token = keys.create(name="load").token
    return LoadProject(root, token, seeds, 1)


def _path(name: str, tenant: str, **params: str) -> str:
    found = api.endpoint(name)
    return found.path.format(database="main", branch="main", tenant=tenant, **params)


def load_plans(
    project: LoadProject, clients: int, requests: int, mix: str = "mixed", seed: int = 17
) -> list[tuple[list[Call], list[Call]]]:
    """One (calls, warm-up calls) per client. ``mixed``: 50 % point selects, 20 % inserts,
    15 % KV sets, 15 % KV gets, over every tenant at random, and one schema change (a column
    added to every tenant) by client 0 half-way; ``select``: point selects only."""
    auth = [("Authorization", f"Bearer {project.token}")]
    tenants = sorted(project.seeds)

    def select(rng: random.Random) -> Call:
        tenant = rng.choice(tenants)
        key = rng.choice(project.seeds[tenant])
        return Call("select", http_request("GET", _path("get", tenant, table=TABLE, key=key),
                                           headers=auth))  # fmt: skip

    plans = []
    for client in range(clients):
        rng = random.Random(seed * 1000 + client)
        calls = []
        for index in range(requests):
            if mix == "mixed" and client == 0 and index == requests // 2:
                column = {"name": NEW_COLUMN, "type": "TEXT"}
                path = _path("add_column", "main", table=TABLE)  # a branch path: no tenant
                calls.append(Call("schema change", http_request(
                    "POST", path, {"column": column}, auth), note=("schema",)))  # fmt: skip
                continue
            draw = rng.random() if mix == "mixed" else 0.0
            tenant = rng.choice(tenants)
            if draw < 0.5:
                calls.append(select(rng))
            elif draw < 0.7:
                row = {"name": f"c{client}-{index}", "n": index}
                calls.append(Call("insert", http_request(
                    "POST", _path("insert", tenant, table=TABLE), {"rows": row}, auth),
                    note=("row", tenant)))  # fmt: skip
            elif draw < 0.85:
                key = f"c{client}:{index}"
                calls.append(Call("kv set", http_request(
                    "POST", _path("kv.set", tenant), {"key": key, "value": index}, auth),
                    note=("kv", tenant, key, index)))  # fmt: skip
            else:
                calls.append(Call("kv get", http_request(
                    "GET", _path("kv.get", tenant) + "?key=seed", headers=auth)))  # fmt: skip
        warm = [select(rng) for _ in range(5)]
        plans.append((calls, warm))
    return plans


def lost_writes(project: LoadProject, acknowledged: Sequence[Any]) -> list[str]:
    """Every acknowledged write, looked for in the files (the server stopped): rows counted
    per tenant, each KV key read back, the column present in every tenant. Returns what is
    missing or extra (empty: nothing was lost)."""
    rows: dict[str, int] = {tenant: 0 for tenant in project.seeds}
    kv: dict[str, dict[str, int]] = {tenant: {} for tenant in project.seeds}
    schema_changed = False
    for note in acknowledged:
        match note:
            case ("row", tenant):
                rows[tenant] += 1
            case ("kv", tenant, key, value):
                kv[tenant][key] = value
            case ("schema",):
                schema_changed = True
    problems = []
    with cinchdb.connect(project_dir=project.root) as db:
        for tenant, seeds in project.seeds.items():
            db.tenant = tenant
            count = db.query(f"SELECT count(*) AS c FROM {TABLE}")[0]["c"]
            if count != len(seeds) + rows[tenant]:
                problems.append(
                    f"{tenant}: {count} rows, expected {len(seeds)} + {rows[tenant]} acknowledged"
                )
            stored = db.kv.count()
            if stored != project.seed_kv + len(kv[tenant]):
                problems.append(
                    f"{tenant}: {stored} KV keys, expected {project.seed_kv} + {len(kv[tenant])}"
                )
            for key, value in kv[tenant].items():
                if db.kv.get(key) != value:
                    problems.append(f"{tenant}: KV {key} is {db.kv.get(key)!r}, expected {value}")
            columns = [c.name for c in db.get_table(TABLE).columns]
            if schema_changed and NEW_COLUMN not in columns:
                problems.append(f"{tenant}: the acknowledged column {NEW_COLUMN} is missing")
    return problems


#: What ``cinch serve`` runs in each worker.
SERVE_FACTORY = "cinchdb.server.app:app_from_environment"


def cinch_server(root: Path, workers: int) -> Server:
    """``cinch serve --port P --workers N`` in the project's directory."""
    port = free_port()
    argv = [sys.executable, "-m", "cinchdb.cli", "serve", "--port", str(port),
            "--workers", str(workers)]  # fmt: skip
    return Server(argv, port, cwd=root)


@dataclass
class LoadReport:
    """One load run against ``cinch serve``."""

    workers: int
    mixed: RunResult
    problems: list[str]
    select: RunResult | None = None
    bare: RunResult | None = None
    select_nodelay: RunResult | None = None


def load_run(
    directory: Path, clients: int, requests: int, tenants: int, workers: int, procs: int,
    baselines: bool = True,
) -> LoadReport:  # fmt: skip
    """A fresh project; the mixed run against ``cinch serve --workers N``; the writes counted.
    With ``baselines``: the bare constant app (same workers, TCP_NODELAY on) and a select-only
    run too, before the mixed one; with N > 1 also the select-only run of the same app on
    uvicorn with TCP_NODELAY on (:class:`NoDelayConfig`)."""
    project = make_load_project(directory / f"w{workers}", tenants)
    bare = select = select_nodelay = None
    if baselines:
        selects = load_plans(project, clients, requests, "select")
        with uvicorn_server("bare_const", project.root, workers) as server:
            bare = run_clients(server.port, _plans("const", clients, requests, []), procs)
        with cinch_server(project.root, workers) as server:
            select = run_clients(server.port, selects, procs)
        if workers > 1:
            with uvicorn_server(SERVE_FACTORY, project.root, workers) as server:
                select_nodelay = run_clients(server.port, selects, procs)
    with cinch_server(project.root, workers) as server:
        mixed = run_clients(server.port, load_plans(project, clients, requests), procs)
    problems = lost_writes(project, mixed.acknowledged)
    return LoadReport(workers, mixed, problems, select, bare, select_nodelay)


def _row(label: str, run: RunResult, base: RunResult | None, kind: str | None = None) -> str:
    share = f"{run.rate / base.rate * 100:.0f} %" if base else ""
    return (
        f"| {label} | {run.rate:,.0f} | {run.percentile(0.5, kind) * 1e3:.2f} ms"
        f" | {run.percentile(0.99, kind) * 1e3:.2f} ms | {share} |"
    )


def load(args: argparse.Namespace) -> None:
    print(machine_line())
    print(_stack_line())
    print(
        f"clients {args.clients} x {args.requests} requests, {args.tenants} tenants,"
        f" client processes {args.procs}"
    )
    failed = False
    with tempfile.TemporaryDirectory() as directory:
        for workers in [int(w) for w in args.workers.split(",")]:
            report = load_run(
                Path(directory), args.clients, args.requests, args.tenants, workers, args.procs
            )
            mixed = report.mixed
            print(f"\n--workers {workers}: {mixed.requests:,} mixed requests,"
                  f" {len(mixed.errors)} errors, {len(mixed.acknowledged):,} acknowledged writes,"
                  f" lost or extra: {len(report.problems)}")  # fmt: skip
            for line in mixed.errors[:5] + report.problems[:5]:
                print("   ", line)
            failed |= bool(mixed.errors or report.problems)
            print("| run | requests/s | p50 | p99 | vs bare ASGI constant |")
            print("|---|---|---|---|---|")
            assert report.bare is not None and report.select is not None
            print(_row("bare ASGI app, constant", report.bare, report.bare))
            print(_row("`cinch serve`, point select only", report.select, report.bare))
            if report.select_nodelay is not None:
                print(_row("same app, TCP_NODELAY on, point select only", report.select_nodelay,
                           report.bare))  # fmt: skip
            print(_row("`cinch serve`, mixed", mixed, report.bare))
            for kind in sorted(mixed.latencies):
                count = len(mixed.latencies[kind])
                p50, p99 = mixed.percentile(0.5, kind), mixed.percentile(0.99, kind)
                print(
                    f"| &nbsp; mixed: {kind} ({count:,}) | | {p50 * 1e3:.2f} ms"
                    f" | {p99 * 1e3:.2f} ms | |"
                )
    if failed:
        raise SystemExit("load test: errors or lost writes (above)")


def serve_app_inline() -> Any:
    """What-if, for the profile in benchmarks/README.md: ``cinch serve``'s app with each
    request's work run on the event loop's thread instead of a worker thread (the module's
    ``run_in_threadpool`` replaced by a direct call). Not how the server runs."""

    async def inline(function: Callable[..., Any], *arguments: Any) -> Any:
        return function(*arguments)

    server_app.run_in_threadpool = inline  # type: ignore[assignment]
    return server_app.app_from_environment()


WHATIF_CASES = [
    ("bare ASGI app, constant", "bare_const"),
    ("`cinch serve`'s app as shipped (request work in a worker thread)", SERVE_FACTORY),
    ("the same app, request work on the event loop's thread (what-if)", "serve_app_inline"),
]


def whatif(args: argparse.Namespace) -> None:
    """Point selects against the server's app, as shipped and with its work inline, beside
    the bare constant app; one worker; cases interleaved within each round."""
    print(machine_line())
    print(_stack_line())
    print(f"clients {args.clients} x {args.requests} point selects over {args.tenants} tenants,"
          f" client processes {args.procs}, rounds {args.rounds}")  # fmt: skip
    samples: dict[str, list[RunResult]] = {factory: [] for _, factory in WHATIF_CASES}
    with tempfile.TemporaryDirectory() as directory:
        project = make_load_project(Path(directory), args.tenants)
        for round_number in range(args.rounds):
            selects = load_plans(project, args.clients, args.requests, "select", round_number)
            for label, factory in WHATIF_CASES:
                plans = selects if factory != "bare_const" else _plans(
                    "const", args.clients, args.requests, [])  # fmt: skip
                with uvicorn_server(factory, project.root) as server:
                    result = run_clients(server.port, plans, args.procs)
                if result.errors:
                    raise SystemExit(f"{label}: {result.errors[:3]}")
                samples[factory].append(result)
                print(f"  round {round_number + 1}: {label}: {result.rate:,.0f} req/s", flush=True)
    base = _median_rate(samples["bare_const"])
    print("| run | requests/s (median; range) | p50 | p99 | vs bare ASGI constant |")
    print("|---|---|---|---|---|")
    for label, factory in WHATIF_CASES:
        runs = samples[factory]
        rates = [run.rate for run in runs]
        print(
            f"| {label} | {statistics.median(rates):,.0f} ({min(rates):,.0f}-{max(rates):,.0f})"
            f" | {statistics.median(r.percentile(0.5) for r in runs) * 1e3:.2f} ms"
            f" | {statistics.median(r.percentile(0.99) for r in runs) * 1e3:.2f} ms"
            f" | {_median_rate(runs) / base * 100:.0f} % |"
        )


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="part", required=True)
    fw = sub.add_parser("frameworks")
    fw.add_argument("--clients", type=int, default=32)
    fw.add_argument("--requests", type=int, default=500)
    fw.add_argument("--procs", type=int, default=2)
    fw.add_argument("--rounds", type=int, default=2)
    fw.add_argument("--only", default="", help="comma-separated factories")
    ld = sub.add_parser("load")
    ld.add_argument("--clients", type=int, default=32)
    ld.add_argument("--requests", type=int, default=2000)
    ld.add_argument("--tenants", type=int, default=100)
    ld.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    ld.add_argument("--procs", type=int, default=2)
    wi = sub.add_parser("whatif")
    wi.add_argument("--clients", type=int, default=32)
    wi.add_argument("--requests", type=int, default=500)
    wi.add_argument("--tenants", type=int, default=100)
    wi.add_argument("--procs", type=int, default=2)
    wi.add_argument("--rounds", type=int, default=3)
    uv = sub.add_parser("uvicorn", help="run an app on uvicorn (used by the parts above)")
    uv.add_argument("app")
    uv.add_argument("port", type=int)
    uv.add_argument("workers", type=int)
    uv.add_argument("--as-shipped", action="store_true", help="uvicorn's own socket (Nagle on)")
    raw = sub.add_parser("raw-server")
    raw.add_argument("port", type=int)
    args = parser.parse_args(argv)
    if args.part == "frameworks":
        frameworks(args)
    elif args.part == "load":
        load(args)
    elif args.part == "whatif":
        whatif(args)
    elif args.part == "uvicorn":
        run_uvicorn(args.app, args.port, args.workers, nodelay=not args.as_shipped)
    elif args.part == "raw-server":
        serve_raw(args.port)


if __name__ == "__main__":
    main()
