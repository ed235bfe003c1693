"""The journal is durable in the replica before a schema change reaches the tenants.

The contract between a running ``cinch replicate`` and every process that commits schema
changes: ``cinch replicate`` writes ``.cinchdb/replicating.json`` (``pid``, ``socket``,
``destination`` without secrets, ``started_at``) once Litestream is up, and removes it when it
stops cleanly. :func:`wait_until_journal_replicated` reads it (no file: replication is off, and
this costs one failed ``open``) and asks Litestream, over its control socket, to ship
``metadata.db`` and wait for the replica to hold it. A tenant can then never be restored at an
event its restored journal lacks.

It never raises: the change is already committed. A dead pid or a refused socket (a replicator
that was killed) means replication is off, at once; a slow replica gives up after
:data:`DEFAULT_TIMEOUT` with a warning, and ``cinch restore`` reports (and sets aside) any
tenant that got ahead of its journal.

The small HTTP-over-a-Unix-socket client lives here, in the core, so that the core never
imports :mod:`cinchdb.replication` (which uses it, see ``cinchdb.replication.control``).
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

import attrs

REPLICATING_FILE = "replicating.json"
METADATA_FILE = "metadata.db"
#: Seconds a schema change waits at most for the replica to hold its journal event. Litestream's
#: sync-and-wait took 40-80 ms to an S3 server on the same machine; a replica that takes longer
#: than this is not keeping up, and the change goes on (with a warning) rather than stalling.
DEFAULT_TIMEOUT = 5.0
TIMEOUT_ENV = "CINCHDB_REPLICA_WAIT"

_log = logging.getLogger("cinchdb")


@attrs.frozen
class Replicating:
    """What ``.cinchdb/replicating.json`` says about the running ``cinch replicate``."""

    pid: int
    socket: str
    destination: str
    started_at: str

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


class ControlSocketError(OSError):
    """The control socket did not answer (refused, missing, timed out, or not HTTP)."""


class ControlSocketGoneError(ControlSocketError):
    """Nothing listens on the control socket (missing, or refused): its replicator is gone,
    even when its pid still shows (a killed process lives on until it is reaped)."""


def read_marker(meta_dir: Path) -> Replicating | None:
    """The running replicator's marker, or None (no file, an unreadable one, or a dead pid)."""
    try:
        raw = (meta_dir / REPLICATING_FILE).read_bytes()
    except OSError:
        return None
    try:
        data = json.loads(raw)
        marker = Replicating(
            pid=int(data["pid"]),
            socket=str(data["socket"]),
            destination=str(data.get("destination", "")),
            started_at=str(data.get("started_at", "")),
        )
    except (ValueError, KeyError, TypeError):
        return None  # a marker being written, or garbage: not a running replicator
    return marker if pid_alive(marker.pid) else None


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (signal 0 checks without signalling)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    return True


class _UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a Unix socket (Litestream's control socket speaks HTTP)."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._socket_path)
        except (FileNotFoundError, ConnectionRefusedError) as e:
            sock.close()
            raise ControlSocketGoneError(f"nothing listens on {self._socket_path}: {e}") from e
        except OSError:
            sock.close()
            raise
        self.sock = sock


def request_json(
    socket_path: str, method: str, path: str, body: Any = None, *, timeout: float = 5.0
) -> Any:
    """One JSON request to the control socket at ``socket_path``; its decoded answer.

    Raises:
        ControlSocketGoneError: nothing listens on the socket.
        ControlSocketError: no answer, or an HTTP error status (its body in the message).
    """
    conn = _UnixHTTPConnection(socket_path, timeout)
    try:
        payload = None if body is None else json.dumps(body).encode()
        headers = {} if payload is None else {"Content-Type": "application/json"}
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        data = response.read()
    except ControlSocketGoneError:
        raise
    except (OSError, http.client.HTTPException) as e:
        raise ControlSocketError(f"{method} {path} on {socket_path}: {e}") from e
    finally:
        conn.close()
    if response.status >= 400:
        raise ControlSocketError(
            f"{method} {path} on {socket_path}: HTTP {response.status}"
            f" {data.decode(errors='replace').strip()}"
        )
    try:
        return json.loads(data) if data.strip() else None
    except ValueError as e:
        raise ControlSocketError(f"{method} {path} on {socket_path}: not JSON") from e


def sync_and_wait(socket_path: str, db_path: Path, timeout: float) -> dict[str, Any]:
    """Ask Litestream to ship ``db_path`` now and answer once the replica holds it."""
    # The socket's own timeout outlives Litestream's, so a slow replica answers (with an
    # error) rather than the socket giving up first.
    answer = request_json(
        socket_path,
        "POST",
        "/sync",
        {"path": os.fspath(db_path), "wait": True, "timeout": max(1, round(timeout))},
        timeout=timeout + 2.0,
    )
    return answer if isinstance(answer, dict) else {}


def wait_until_journal_replicated(meta_dir: Path, timeout: float | None = None) -> bool:
    """Wait (bounded) until the replica holds ``meta_dir``'s journal; never raises.

    Returns True when the replica holds it, False when replication is off (no marker, a
    dead replicator) or it did not answer in time (then a warning is logged).
    """
    marker = read_marker(meta_dir)
    if marker is None:
        return False
    if timeout is None:
        try:
            timeout = float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT))
        except ValueError:
            timeout = DEFAULT_TIMEOUT
    started = time.monotonic()
    try:
        sync_and_wait(marker.socket, meta_dir / METADATA_FILE, timeout)
    except ControlSocketGoneError as e:
        _log.debug("Replication is off: %s", e)
        return False
    except ControlSocketError as e:
        _log.warning(
            "The replica did not confirm the journal within %.1f s (%s); the change goes on."
            " A restore sets aside any tenant ahead of its journal",
            time.monotonic() - started,
            e,
        )
        return False
    return True
