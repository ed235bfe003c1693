"""Restoring a project from a Litestream replica (``cinch restore --from URL``).

The journal comes first: ``metadata.db`` (at ``timestamp`` when given) decides which tenants
exist, so every file restored after it is one the journal knows. Then every tenant of every
branch, in parallel: plain ones from their own replica, encrypted ones from their envelope
(:mod:`cinchdb.replication.sealed`: Litestream cannot read SQLCipher files, so CinchDB
replicates their encrypted bytes itself), unsealed back into place. A tenant with no replica
was never materialized (it is lazy) and stays so. Templates are not restored: they are
rebuilt from the journal when first needed.

Everything is written into a scratch directory beside the target's ``.cinchdb/`` and moved
into place only once complete, so a failure (no replica, an unreachable endpoint, a
timestamp before the first snapshot) leaves no half-written project. Last,
:func:`~cinchdb.replication.verify.verify_restored` checks the result: a tenant ahead of the
restored journal is moved aside and named.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import attrs

from cinchdb._tenant_dir import TenantDirectory
from cinchdb._tenant_registry import TenantRegistry
from cinchdb.errors import (
    BackupTargetError,
    ReplicaNotFoundError,
    ReplicaUnreachableError,
    RestoreTimestampError,
)
from cinchdb.project import (
    CINCHDB_DIR,
    METADATA_FILE,
    Config,
    ensure_gitignore,
    write_config,
)
from cinchdb.replication.destination import Destination, parse_destination
from cinchdb.replication.litestream import restore_file
from cinchdb.replication.sealed import envelope_path, unseal
from cinchdb.replication.verify import RestoreReport, verify_restored
from journal.store import JournalStore

__all__ = ["WORKERS", "Progress", "parse_timestamp", "restore"]

#: Tenants restored at once (each is one Litestream process, mostly waiting on I/O).
WORKERS = 4
#: Seconds to wait for an S3 endpoint to accept a connection before giving up.
CONNECT_TIMEOUT = 5.0

#: ``progress(done, total)`` after each tenant file (the journal is file 1 of ``total``).
Progress = Callable[[int, int], None]


@attrs.frozen
class _TenantFile:
    database: str
    branch: str
    tenant: str
    encrypted: bool
    rel: str  # the tenant file, relative to .cinchdb/, with "/"
    envelope_rel: str | None  # its envelope (encrypted tenants), relative to .cinchdb/


def parse_timestamp(text: str) -> datetime:
    """``text`` (ISO 8601 / RFC 3339: ``2026-01-31T12:00:00Z``, ``2026-01-31 12:00+01:00``,
    ``2026-01-31``) as an aware datetime; a time without a zone is UTC.

    Raises:
        RestoreTimestampError: not such a time.
    """
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise RestoreTimestampError(
            text, "not an ISO 8601 / RFC 3339 time (like 2026-01-31T12:00:00Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def restore(
    source: str | Destination,
    to_dir: str | os.PathLike[str] = ".",
    timestamp: datetime | str | None = None,
    progress: Progress | None = None,
    workers: int = WORKERS,
) -> RestoreReport:
    """Restore the project replicated at ``source`` (a directory, ``file://`` or ``s3://``
    URL; see :mod:`cinchdb.replication.destination`) into ``to_dir``, as it was at
    ``timestamp`` (default: the latest the replica has). ``to_dir`` is created if missing and
    must not hold a project (a checkout with only ``.cinchdb/history/`` is fine).

    Raises:
        BackupTargetError: ``to_dir`` holds a project already.
        ReplicaNotFoundError: ``source`` holds no replica of a project.
        ReplicaUnreachableError: the S3 endpoint does not answer.
        RestoreTimestampError: ``timestamp`` is malformed, or before the replica's first
            snapshot.
        DestinationError: ``source`` is not a destination CinchDB understands.
        LitestreamFailedError, LitestreamNotFoundError: Litestream failed, or is missing.
        EnvelopeError: an encrypted tenant's envelope is damaged.

    Nothing is left in ``to_dir`` when any of these is raised.
    """
    destination = parse_destination(source) if isinstance(source, str) else source
    when = parse_timestamp(timestamp) if isinstance(timestamp, str) else timestamp
    target = Path(to_dir).expanduser().resolve()
    meta_dir = target / CINCHDB_DIR
    _require_free(target, meta_dir)
    _require_reachable(destination)
    with _scratch(target) as scratch:
        if not restore_file(destination, METADATA_FILE, scratch / METADATA_FILE, when):
            raise _why_no_journal(destination, when, scratch)
        tenants = _tenant_files(scratch)
        total = len(tenants) + 1
        restored = [f"{CINCHDB_DIR}/{METADATA_FILE}"]
        if progress is not None:
            progress(1, total)
        for rel in _restore_tenants(destination, scratch, tenants, when, progress, workers):
            restored.append(f"{CINCHDB_DIR}/{rel}")
        _place(scratch, meta_dir)
    ensure_gitignore(meta_dir)
    if not (meta_dir / "config.json").exists():
        write_config(meta_dir, Config())
    return verify_restored(meta_dir, tuple(restored))


def _require_free(target: Path, meta_dir: Path) -> None:
    if target.exists() and not target.is_dir():
        raise BackupTargetError(target, "it is a file, not a directory")
    if (meta_dir / METADATA_FILE).exists():
        raise BackupTargetError(
            target, f"it holds a CinchDB project already ({CINCHDB_DIR}/{METADATA_FILE})"
        )
    if meta_dir.is_dir() and any(
        entry.name != "history" and not entry.name.startswith(".") for entry in meta_dir.iterdir()
    ):
        raise BackupTargetError(
            target, f"its {CINCHDB_DIR}/ holds files other than a checkout's history/"
        )


def _require_reachable(destination: Destination) -> None:
    """Fail at once on an S3 endpoint that does not answer: Litestream retries it for minutes
    before it gives up."""
    if destination.kind != "s3" or destination.endpoint is None:
        return
    parts = urlsplit(destination.endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname or "", port), timeout=CONNECT_TIMEOUT).close()
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise ReplicaUnreachableError(destination.endpoint, reason.lower()) from e


@contextmanager
def _scratch(target: Path) -> Iterator[Path]:
    """A scratch ``.cinchdb`` beside the target's, removed on the way out (moved into place on
    success); a target directory this call created is removed too when it fails."""
    created = not target.exists()
    scratch = target / f"{CINCHDB_DIR}.restore-{os.getpid()}"
    try:
        scratch.mkdir(parents=True)
        yield scratch
    except BaseException:
        if created:
            shutil.rmtree(target, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _why_no_journal(destination: Destination, when: datetime | None, scratch: Path) -> Exception:
    """Litestream restored nothing: no replica at all, or none as old as ``when``."""
    source = destination.describe()
    if when is None:
        return ReplicaNotFoundError(source)
    probe = scratch / "probe.db"
    try:
        exists = restore_file(destination, METADATA_FILE, probe)
    finally:
        probe.unlink(missing_ok=True)
    if not exists:
        return ReplicaNotFoundError(source)
    return RestoreTimestampError(
        when.isoformat(), f"it is before the first snapshot the replica at {source} holds"
    )


def _tenant_files(scratch: Path) -> list[_TenantFile]:
    """Every tenant of every branch of every database the restored journal lists."""
    store = JournalStore(scratch / METADATA_FILE)
    found: list[_TenantFile] = []
    try:
        for database in store.list_databases():
            directory = TenantDirectory(scratch, database)
            records = TenantRegistry(store, database).records()
            for branch in store.list_branches(database):
                for record in records:
                    rel = directory.path(branch.name, record.name).relative_to(scratch)
                    envelope = (
                        envelope_path(scratch, database, branch.name, record.name)
                        .relative_to(scratch)
                        .as_posix()
                        if record.encrypted
                        else None
                    )
                    tenant = _TenantFile(
                        database, branch.name, record.name, record.encrypted, rel.as_posix(),
                        envelope,
                    )  # fmt: skip
                    found.append(tenant)
    finally:
        store.close()
    return found


def _restore_tenants(
    destination: Destination,
    scratch: Path,
    tenants: list[_TenantFile],
    when: datetime | None,
    progress: Progress | None,
    workers: int,
) -> list[str]:
    """Restore ``tenants`` on up to ``workers`` threads; the files written (relative to
    ``.cinchdb/``), in the order of ``tenants``. The first failure stops the rest."""
    total = len(tenants) + 1
    done = 1
    written: dict[str, bool] = {}
    envelopes = scratch / ".envelopes"
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures: dict[Future[bool], _TenantFile] = {
            pool.submit(_restore_one, destination, scratch, envelopes, tenant, when): tenant
            for tenant in tenants
        }
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in finished:
                error = future.exception()
                if error is not None:
                    for other in pending:
                        other.cancel()
                    raise error
                written[futures[future].rel] = future.result()
                done += 1
                if progress is not None:
                    progress(done, total)
    shutil.rmtree(envelopes, ignore_errors=True)
    return [tenant.rel for tenant in tenants if written.get(tenant.rel)]


def _restore_one(
    destination: Destination,
    scratch: Path,
    envelopes: Path,
    tenant: _TenantFile,
    when: datetime | None,
) -> bool:
    """One tenant file; False when the replica has none (a lazy tenant)."""
    out = scratch / tenant.rel
    out.parent.mkdir(parents=True, exist_ok=True)
    if tenant.envelope_rel is None:
        return restore_file(destination, tenant.rel, out, when)
    envelope = envelopes / tenant.envelope_rel
    envelope.parent.mkdir(parents=True, exist_ok=True)
    if not restore_file(destination, tenant.envelope_rel, envelope, when):
        return False
    unseal(envelope, out)
    return True


def _place(scratch: Path, meta_dir: Path) -> None:
    """Move the restored files into ``meta_dir``: the whole directory at once when there is
    none; beside a checkout's ``history/``, file by file with the journal last."""
    if not meta_dir.exists():
        os.replace(scratch, meta_dir)
        return
    journal = scratch / METADATA_FILE
    files = [path for path in sorted(scratch.rglob("*")) if path.is_file() and path != journal]
    for path in [*files, journal]:
        destination = meta_dir / path.relative_to(scratch)
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, destination)
