"""Per-request cost of ``cinch serve``'s app in process: a point select (GET .../rows/{table}/{id})
called with a ready ASGI scope (no socket, no HTTP parsing), beside a bare ASGI app answering a
constant. ``python benchmarks/bench_request.py make DIR`` makes the project once;
``python benchmarks/bench_request.py run DIR [N]`` prints the median microseconds per request of
3 x N calls. Run it alternately with two PYTHONPATHs to compare two versions in one run."""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import cinchdb
from cinchdb.keys import ApiKeys
from cinchdb.models import Column
from cinchdb.server.app import create_app

TABLE = "items"


def make(directory: Path) -> None:
    root = cinchdb.init(directory / "project")
    with cinchdb.connect(project_dir=root) as db:
        db.create_table(TABLE, [Column(name="name", type="TEXT"), Column(name="n", type="INTEGER")])
        ids = [
            row["id"] for row in db.insert(TABLE, [{"name": f"r{i}", "n": i} for i in range(1000)])
        ]
    with ApiKeys(root) as keys:
        token = keys.create(name="bench").token
    (directory / "bench.json").write_text(
        json.dumps({"root": str(root), "token": token, "ids": ids})
    )


def _scope(path: str, token: str) -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "headers": [(b"host", b"127.0.0.1"),
                                          (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
    }  # fmt: skip


async def _bare(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})  # fmt: skip
    await send({"type": "http.response.body", "body": b'{"ok":true}'})


async def _time(app: Any, scopes: list[dict[str, Any]]) -> float:
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    started = time.perf_counter()
    for scope in scopes:
        await app(scope, receive, send)
    elapsed = time.perf_counter() - started
    if any(status != 200 for status in statuses):
        raise SystemExit(f"non-200 statuses: {sorted(set(statuses))}")
    return elapsed / len(scopes) * 1e6


def run(directory: Path, count: int) -> None:
    info = json.loads((directory / "bench.json").read_text())
    app = create_app(info["root"])
    rng = random.Random(17)
    scopes = [
        _scope(f"/v1/databases/main/branches/main/tenants/main/rows/{TABLE}/{rng.choice(info['ids'])}",
               info["token"])
        for _ in range(count)
    ]  # fmt: skip

    async def main() -> tuple[float, float]:
        await _time(app, scopes[:200])  # warm up: handle opened, caches filled
        served = statistics.median([await _time(app, scopes) for _ in range(3)])
        bare = statistics.median([await _time(_bare, scopes) for _ in range(3)])
        return served, bare

    served, bare = asyncio.run(main())
    print(f"point select {served:.0f} us/request; bare ASGI constant {bare:.1f} us")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(Path(sys.argv[2]))
    else:
        run(Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 2000)
