"""The client of Litestream's control socket (HTTP over a Unix socket).

``POST /sync`` ships one database now (``wait``: and answers once the replica holds it),
``GET /list`` lists the databases Litestream replicates, ``GET /debug/sync-status`` their
transaction ids, ``GET /info`` answers once Litestream is up.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

from cinchdb._replica_durability import ControlSocketError, request_json, sync_and_wait

__all__ = ["ControlClient", "ControlSocketError", "socket_path_for"]


def socket_path_for(meta_dir: Path) -> str:
    """The control socket's path for the project at ``meta_dir``.

    Unix socket paths are limited to ~107 bytes, so it lives in the temporary directory under
    a name derived from the project's absolute path, not in the project.
    """
    digest = hashlib.sha256(os.fspath(meta_dir.resolve()).encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"cinchdb-{digest}.sock")


class ControlClient:
    """Requests to one Litestream's control socket; each raises ControlSocketError when it
    gets no answer."""

    def __init__(self, socket_path: str, *, timeout: float = 5.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    def info(self) -> dict[str, Any]:
        return _as_dict(request_json(self.socket_path, "GET", "/info", timeout=self.timeout))

    def databases(self) -> list[dict[str, Any]]:
        """The databases Litestream replicates: ``path``, ``status``, ``last_sync_at``."""
        answer = request_json(self.socket_path, "GET", "/list", timeout=self.timeout)
        return _rows(answer)

    def sync_status(self) -> list[dict[str, Any]]:
        """Per database: ``path``, its local and replicated transaction ids, ..."""
        answer = request_json(self.socket_path, "GET", "/debug/sync-status", timeout=self.timeout)
        return _rows(answer)

    def positions(self, db_path: Path) -> dict[str, Any]:
        """Ship ``db_path`` without waiting; its local ``txid`` and ``replicated_txid``."""
        return _as_dict(
            request_json(
                self.socket_path,
                "POST",
                "/sync",
                {"path": os.fspath(db_path), "wait": False},
                timeout=self.timeout,
            )
        )

    def sync(self, db_path: Path, *, timeout: float = 10.0) -> dict[str, Any]:
        """Ship ``db_path`` now; answer once the replica holds it (or Litestream's timeout)."""
        return sync_and_wait(self.socket_path, db_path, timeout)


def _as_dict(answer: Any) -> dict[str, Any]:
    return answer if isinstance(answer, dict) else {}


def _rows(answer: Any) -> list[dict[str, Any]]:
    # Litestream answers a list, or an object holding one under "dbs"/"databases".
    if isinstance(answer, dict):
        for key in ("dbs", "databases"):
            if isinstance(answer.get(key), list):
                answer = answer[key]
                break
    if not isinstance(answer, list):
        return []
    return [row for row in answer if isinstance(row, dict)]
