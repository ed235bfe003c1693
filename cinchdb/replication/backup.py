"""``cinch backup --to DIR`` and restoring from such a directory, without Litestream.

A backup is a consistent snapshot of the whole project while writers keep writing:

1. every tenant file FIRST: a plain one through SQLite's backup API (one read transaction,
   so one committed state), an encrypted one as its encrypted bytes through the keyless
   consistent copy of :mod:`cinchdb.replication.sealed` (its key is never needed);
2. the journal (``metadata.db``) LAST, so it is at or after every tenant's cursor: a tenant
   copied before a schema change is behind the journal and catches up when opened, never
   ahead of it;
3. copies of tenants the snapshot's registry does not list (deleted meanwhile) are dropped;
4. the manifest ``cinchdb-backup.json`` (format, times, every file with its size and
   sha256), written last: a backup without it is unfinished and is never restored.

Branch templates are not copied (they are rebuilt from the journal), nor the text history
(written out again from the journal, or taken from the checkout the backup is restored into).

Restoring verifies every file against the manifest before anything is written, copies the
files into a new ``.cinchdb/``, then checks the project as a Litestream restore does
(:func:`cinchdb.replication.verify.verify_restored`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs

from cinchdb import _held_files as held_files
from cinchdb.errors import BackupTargetError, BackupVerifyError
from cinchdb.project import (
    CINCHDB_DIR,
    CONFIG_FILE,
    METADATA_FILE,
    Config,
    ensure_gitignore,
    find_project,
    read_config,
    require_journal,
    write_config,
)
from cinchdb.replication.sealed import copy_consistent
from cinchdb.replication.verify import RestoreReport, verify_restored

__all__ = ["MANIFEST", "BackupReport", "Progress", "backup", "is_backup", "restore_backup"]

#: The manifest's name in a backup directory; a directory holding it is a backup.
MANIFEST = "cinchdb-backup.json"
_FORMAT = 1
_SQLITE_MAGIC = b"SQLite format 3\x00"
_SHARD = re.compile(r"[0-9a-f]{2}")
_READ = 1 << 20

#: ``progress(done, total)``: called after each file (``total`` is known from the start).
Progress = Callable[[int, int], None]


@attrs.frozen
class BackupReport:
    """What :func:`backup` wrote.

    Attributes:
        directory: the backup directory.
        tenants: tenant files copied (encrypted ones included).
        encrypted: of which encrypted, copied as their encrypted bytes.
        dropped: copies removed because the journal no longer lists their tenant.
        files: files in the manifest.
        bytes: their total size.
        created_at: when the journal was copied (UTC, ISO 8601).
    """

    directory: Path
    tenants: int
    encrypted: int
    dropped: int
    files: int
    bytes: int
    created_at: str

    def as_dict(self) -> dict[str, object]:
        return {
            "directory": str(self.directory),
            "tenants": self.tenants,
            "encrypted": self.encrypted,
            "dropped": self.dropped,
            "files": self.files,
            "bytes": self.bytes,
            "created_at": self.created_at,
        }


@attrs.frozen
class _TenantFile:
    branch_dir: str  # "{database}-{branch}" as on disk
    shard: str
    name: str  # "{tenant}.db"

    @property
    def rel(self) -> str:
        return f"{self.branch_dir}/{self.shard}/{self.name}"


def backup(
    to_dir: str | os.PathLike[str],
    project_dir: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> BackupReport:
    """Take a consistent snapshot of the project (found from ``project_dir`` as ``connect``
    finds it) into the new or empty directory ``to_dir``, while writers keep writing.

    Raises:
        BackupTargetError: ``to_dir`` is not a new or empty directory.
        ProjectNotFoundError, JournalMissingError: there is no project to back up.
        SealError: an encrypted tenant could not be copied consistently (try again).
    """
    meta_dir = find_project(project_dir) / CINCHDB_DIR
    require_journal(meta_dir)
    target = Path(to_dir).expanduser().resolve()
    _require_empty(target, meta_dir)
    out = target / CINCHDB_DIR
    out.mkdir(parents=True)
    tenants = _tenant_files(meta_dir)
    total = len(tenants) + 1
    encrypted = 0
    started_at = _now()
    for done, tenant in enumerate(tenants, 1):
        source = meta_dir / tenant.rel
        copy = out / tenant.rel
        copy.parent.mkdir(parents=True, exist_ok=True)
        try:
            if _is_plain(source):
                _sqlite_copy(source, copy)
            else:
                copy_consistent(source, copy, Path(f"{copy}-wal"))
                encrypted += 1
        except FileNotFoundError:
            pass  # deleted since it was listed: the journal copied next does not list it
        if progress is not None:
            progress(done, total)
    _sqlite_copy(meta_dir / METADATA_FILE, out / METADATA_FILE)
    created_at = _now()
    write_config(out, _config(meta_dir))
    if progress is not None:
        progress(total, total)
    dropped = _drop_unlisted(out, [t for t in tenants if (out / t.rel).exists()])
    files = _manifest_files(target)
    manifest = {
        "format": _FORMAT,
        "started_at": started_at,
        "created_at": created_at,
        "files": files,
    }
    scratch = target / f"{MANIFEST}.tmp-{os.getpid()}"
    scratch.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(scratch, target / MANIFEST)
    copied = sum(1 for t in tenants if (out / t.rel).exists())
    return BackupReport(
        target,
        copied,
        encrypted,
        dropped,
        len(files),
        sum(int(f["size"]) for f in files),
        created_at,
    )


def _require_empty(target: Path, meta_dir: Path) -> None:
    if target == meta_dir or meta_dir in target.parents:
        raise BackupTargetError(target, f"a backup cannot go inside {meta_dir}")
    if target.exists():
        if not target.is_dir():
            raise BackupTargetError(target, "it is a file; give a new or empty directory")
        if any(target.iterdir()):
            raise BackupTargetError(target, "it is not empty; give a new or empty directory")


def _tenant_files(meta_dir: Path) -> list[_TenantFile]:
    """Every tenant file: ``{database}-{branch}/{shard}/{tenant}.db`` (no templates, nothing
    under ``_sealed/``, ``_restore_ahead/`` or the scratch directory: their names have no
    '-')."""
    found: list[_TenantFile] = []
    for branch_dir in sorted(os.scandir(meta_dir), key=lambda e: e.name):
        if "-" not in branch_dir.name or not branch_dir.is_dir(follow_symlinks=False):
            continue
        for shard in sorted(os.scandir(branch_dir.path), key=lambda e: e.name):
            if not _SHARD.fullmatch(shard.name) or not shard.is_dir(follow_symlinks=False):
                continue
            for entry in sorted(os.scandir(shard.path), key=lambda e: e.name):
                if entry.name.endswith(".db") and not entry.name.startswith("."):
                    found.append(_TenantFile(branch_dir.name, shard.name, entry.name))
    return found


def _is_plain(path: Path) -> bool:
    """Whether the file has SQLite's header (an encrypted file has none); read through
    :mod:`cinchdb._held_files`, which keeps this process's SQLite locks."""
    with held_files.reading(path) as fd:
        return os.pread(fd, len(_SQLITE_MAGIC), 0) == _SQLITE_MAGIC


def _sqlite_copy(source: Path, target: Path) -> None:
    """One committed state of ``source`` into the new file ``target`` (SQLite's backup API, in
    one step: one read transaction)."""
    if not source.exists():
        raise FileNotFoundError(str(source))
    src = sqlite3.connect(source, isolation_level=None)
    try:
        src.execute("PRAGMA busy_timeout = 10000")
        dst = sqlite3.connect(target, isolation_level=None)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def _config(meta_dir: Path) -> Config:
    try:
        return read_config(meta_dir)
    except ValueError:
        return Config()


def _drop_unlisted(out: Path, copied: list[_TenantFile]) -> int:
    """Remove the copies of tenants the copied journal does not list (their database,
    branch or registry row went away while the tenants were copied)."""
    conn = sqlite3.connect(out / METADATA_FILE, isolation_level=None)
    try:
        branches = {
            f"{database}-{name.replace('/', '~')}"
            for database, name in conn.execute("SELECT database, name FROM journal_branches")
        }
        registered = set(conn.execute("SELECT database, name FROM cinch_tenants").fetchall())
    finally:
        conn.close()
    dropped = 0
    for tenant in copied:
        database = tenant.branch_dir.split("-", 1)[0]
        if tenant.branch_dir in branches and (database, tenant.name[:-3]) in registered:
            continue
        for suffix in ("", "-wal"):
            Path(f"{out / tenant.rel}{suffix}").unlink(missing_ok=True)
        dropped += 1
    return dropped


def _manifest_files(target: Path) -> list[dict[str, Any]]:
    files: list[dict[str, Any]] = []
    for path in sorted((target / CINCHDB_DIR).rglob("*")):
        if path.is_file():
            size, sha = _digest(path)
            files.append({"path": path.relative_to(target).as_posix(), "size": size, "sha256": sha})
    return files


def _digest(path: Path) -> tuple[int, str]:
    sha = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while data := f.read(_READ):
            sha.update(data)
            size += len(data)
    return size, sha.hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


# -- restore ------------------------------------------------------------------------------------


def is_backup(directory: str | os.PathLike[str]) -> bool:
    """Whether ``directory`` is a backup made by :func:`backup` (it holds the manifest)."""
    return (Path(directory) / MANIFEST).is_file()


def restore_backup(
    from_dir: str | os.PathLike[str],
    to_dir: str | os.PathLike[str],
    progress: Progress | None = None,
) -> RestoreReport:
    """Restore the backup in ``from_dir`` into ``to_dir`` (created if missing), which must hold
    no project (a checkout with only ``.cinchdb/history/`` is fine). Every file is checked
    against the manifest first; then the files are put in place and the restored project is
    checked (:func:`~cinchdb.replication.verify.verify_restored`). Tenants behind the journal
    catch up when opened.

    Raises:
        BackupVerifyError: the manifest, or a file it lists, is missing or altered, or a file
            is there that it does not list; nothing was written.
        BackupTargetError: ``to_dir`` holds a project already; nothing was written.
    """
    source = Path(from_dir).expanduser().resolve()
    target = Path(to_dir).expanduser().resolve()
    files = _verified(source)
    meta_dir = target / CINCHDB_DIR
    if (meta_dir / METADATA_FILE).exists():
        raise BackupTargetError(
            target, f"it holds a CinchDB project already ({CINCHDB_DIR}/{METADATA_FILE})"
        )
    if target.exists() and not target.is_dir():
        raise BackupTargetError(target, "it is a file, not a directory")
    if meta_dir.is_dir() and _tenant_files(meta_dir):
        raise BackupTargetError(target, f"its {CINCHDB_DIR}/ holds tenant files already")
    staging = target / f"{CINCHDB_DIR}.restore-{os.getpid()}"
    restored: list[str] = []
    try:
        staging.mkdir(parents=True)
        for done, (rel, size, sha) in enumerate(files, 1):
            inside = rel.removeprefix(f"{CINCHDB_DIR}/")
            copy = staging / inside
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / rel, copy)
            if _digest(copy) != (size, sha):
                raise BackupVerifyError(source, rel, "changed while it was restored")
            restored.append(rel)
            if progress is not None:
                progress(done, len(files))
        _place(staging, meta_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    ensure_gitignore(meta_dir)
    if not (meta_dir / CONFIG_FILE).exists():
        write_config(meta_dir, Config())
    return verify_restored(meta_dir, tuple(restored))


def _verified(source: Path) -> list[tuple[str, int, str]]:
    """The manifest's files, each checked: (path relative to the backup, size, sha256)."""
    manifest_path = source / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
        files = [(str(f["path"]), int(f["size"]), str(f["sha256"])) for f in manifest["files"]]
        if manifest["format"] != _FORMAT:
            raise ValueError(f"format {manifest['format']} is not {_FORMAT}")
    except FileNotFoundError:
        raise BackupVerifyError(source, MANIFEST, "is missing (not a finished backup)") from None
    except (ValueError, KeyError, TypeError) as e:
        raise BackupVerifyError(source, MANIFEST, f"is not a valid manifest ({e})") from e
    listed = set()
    for rel, size, sha in files:
        parts = Path(rel).parts
        if Path(rel).is_absolute() or ".." in parts or parts[:1] != (CINCHDB_DIR,):
            raise BackupVerifyError(source, MANIFEST, f"lists a path outside the backup: {rel}")
        path = source / rel
        if not path.is_file():
            raise BackupVerifyError(source, rel, "is missing")
        got_size, got_sha = _digest(path)
        if got_size != size:
            raise BackupVerifyError(
                source, rel, f"differs from the manifest ({got_size} bytes, not {size})"
            )
        if got_sha != sha:
            raise BackupVerifyError(source, rel, "differs from the manifest (sha256)")
        listed.add(rel)
    for path in _all_files(source / CINCHDB_DIR):
        rel = path.relative_to(source).as_posix()
        if rel not in listed:
            raise BackupVerifyError(source, rel, "is not in the manifest")
    return files


def _all_files(root: Path) -> Iterator[Path]:
    return (path for path in sorted(root.rglob("*")) if path.is_file())


def _place(staging: Path, meta_dir: Path) -> None:
    """Move the staged files into ``meta_dir``: the whole directory at once when there is none;
    otherwise (a checkout's ``history/``) file by file, tenants first and the journal last,
    never replacing a file that is there."""
    if not meta_dir.exists():
        os.replace(staging, meta_dir)
        return
    journal = staging / METADATA_FILE
    for path in [*(p for p in _all_files(staging) if p != journal), journal]:
        destination = meta_dir / path.relative_to(staging)
        if destination.exists():
            continue  # the checkout's own (config.json): kept
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, destination)
