"""A real ``cinch serve --workers 2`` on 127.0.0.1: both workers answer, a key revoked by
``cinch key revoke`` is refused at once by every worker, and no worker outlives the server.

Which worker holds a connection is read from /proc (the socket inodes of each process of the
server's session), so the test knows it asked every worker rather than hoping it did.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cinchdb.keys import ApiKeys
from tests.server.conftest import LiveServer, T, bearer, free_port

ROOT = Path(__file__).resolve().parents[2]
#: Bounds of every wait and loop here.
START_S = 60
STOP_S = 20
MAX_CONNECTIONS = 64


def cinch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cinchdb.cli", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def session_processes(session: int) -> list[int]:
    """The processes of a session (the server started with ``start_new_session``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it ended while being read
            continue
        # The fields after the command (in parentheses, which may hold spaces): state, ppid,
        # pgrp, session.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == session and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def established_inodes(port: int) -> set[str]:
    """Socket inodes of the server side of the established connections to ``port``."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "01" and int(local.split(":")[1], 16) == port:
            inodes.add(inode)
    return inodes


def sockets_of(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    except OSError:  # the process ended
        pass
    return inodes


def holders(server: LiveServer, port: int) -> dict[int, int]:
    """How many established connections each process of the server holds."""
    established = established_inodes(port)
    counts = {}
    for pid in session_processes(server.process.pid):
        held = len(sockets_of(pid) & established)
        if held:
            counts[pid] = held
    return counts


def start_serve(project: Path, log: Path, *args: str, scheme: str = "http") -> LiveServer:
    """``cinch serve ARGS`` on a free port of 127.0.0.1 in its own session, once it answers."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cinchdb.cli", "serve", "--port", str(port), *args],
            cwd=project,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = LiveServer(f"{scheme}://127.0.0.1:{port}", process, project, log)
    deadline = time.monotonic() + START_S
    while True:
        if process.poll() is not None:
            raise AssertionError(f"cinch serve exited: {server.output()}")
        try:
            # Certificates are not the question here, only that something answers.
            httpx.get(server.url + "/v1/openapi.json", timeout=2, verify=False)
            return server
        except httpx.TransportError:
            if time.monotonic() > deadline:
                stop(server)
                raise AssertionError(f"cinch serve did not start: {server.output()}") from None
            time.sleep(0.1)


def stop(server: LiveServer) -> list[int]:
    """Stop the server as a service manager would (SIGTERM to the main process), then anything
    left of its session by force; the processes that were left (an empty list is a clean
    stop)."""
    session = server.process.pid
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(timeout=STOP_S)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=STOP_S)
    deadline = time.monotonic() + STOP_S
    left = session_processes(session)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = session_processes(session)
    if left:
        os.killpg(session, signal.SIGKILL)
    return left


@pytest.fixture
def two_workers(project: Path, tmp_path: Path) -> Iterator[LiveServer]:
    server = start_serve(project, tmp_path / "serve.log", "--workers", "2")
    try:
        yield server
    finally:
        if server.process.poll() is None:
            stop(server)
        else:
            left = session_processes(server.process.pid)
            if left:
                os.killpg(server.process.pid, signal.SIGKILL)


def test_two_workers_answer_revoke_at_once_and_stop_together(
    two_workers: LiveServer, keys: ApiKeys
) -> None:
    server = two_workers
    port = int(server.url.rsplit(":", 1)[1])
    created = keys.create(name="worker-test")
    token = created.token
    # One keep-alive connection per client, held open, until both workers hold some.
    clients: list[httpx.Client] = []
    try:
        by_worker: dict[int, int] = {}
        while len(by_worker) < 2 and len(clients) < MAX_CONNECTIONS:
            http = httpx.Client(base_url=server.url, headers=bearer(token), timeout=30)
            clients.append(http)
            for _ in range(3):  # keep-alive: several requests on the one connection
                response = http.post(T + "/kv/set", json={"key": f"c{len(clients)}", "value": 1})
                assert response.status_code == 200, response.text
            by_worker = holders(server, port)
        assert len(by_worker) == 2, (by_worker, server.output())
        assert server.process.pid not in by_worker  # the supervisor serves nothing itself
        assert sum(by_worker.values()) == len(clients)
        # New connections are answered too, and every write is there.
        for n in range(10):
            made = httpx.post(
                server.url + T + "/kv/set", json={"key": f"fresh{n}", "value": n},
                headers=bearer(token), timeout=30,
            )  # fmt: skip
            assert made.status_code == 200, made.text
        for n in range(len(clients)):
            got = clients[n].get(T + "/kv/get", params={"key": f"fresh{n % 10}"})
            assert got.status_code == 200 and got.json() == n % 10, got.text
        for n in range(10):
            got = httpx.get(
                server.url + T + "/kv/get", params={"key": f"c{n % len(clients) + 1}"},
                headers=bearer(token), timeout=30,
            )  # fmt: skip
            assert got.status_code == 200 and got.json() == 1, got.text

        revoked = cinch("key", "revoke", created.info.id, cwd=server.project)
        assert revoked.returncode == 0, revoked.stderr

        # The next request on every held connection (so on both workers) is refused...
        for http in clients:
            refused = http.get(T + "/kv/get", params={"key": "c1"})
            assert refused.status_code == 401, refused.text
            assert refused.json()["error"]["code"] == "authentication"
        # ...and on fresh connections, wherever the kernel hands them.
        for _ in range(20):
            refused = httpx.get(
                server.url + T + "/kv/get", params={"key": "c1"}, headers=bearer(token),
                timeout=30,
            )  # fmt: skip
            assert refused.status_code == 401, refused.text
    finally:
        for http in clients:
            http.close()

    workers = [pid for pid in session_processes(server.process.pid) if pid != server.process.pid]
    assert set(by_worker) <= set(workers)
    left = stop(server)
    assert left == [], f"processes left after the server stopped: {left}"
    assert server.process.returncode == 0, server.output()
    log = server.output()
    assert log.count("Started server process") == 2, log
    assert token not in log and token.split("_")[2] not in log


def test_workers_stop_when_the_supervisor_is_killed(two_workers: LiveServer) -> None:
    """A supervisor killed outright (kill -9, the OOM killer) takes its workers with it:
    otherwise they would go on serving the port with nothing to restart or stop them."""
    server = two_workers
    session = server.process.pid
    deadline = time.monotonic() + START_S
    while len(session_processes(session)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)  # both workers started (the supervisor and two workers, at least)
    assert len(session_processes(session)) >= 3, server.output()
    server.process.kill()
    server.process.wait(timeout=STOP_S)
    deadline = time.monotonic() + STOP_S
    left = session_processes(session)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = session_processes(session)
    assert left == [], f"workers left serving after the supervisor was killed: {left}"
    with pytest.raises(httpx.TransportError):
        httpx.get(server.url + "/v1/openapi.json", timeout=5)
