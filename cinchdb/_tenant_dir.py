"""Where one database's tenant files live on disk, and the file operations that keep each file
whole: an atomic copy that never replaces an existing file, and removal that takes the side
files (WAL, shared memory, journal) before the database file.

Layout: ``.cinchdb/{database}-{branch}/{sha256(tenant)[:2]}/{tenant}.db``, with the branch's
template at ``.cinchdb/{database}-{branch}/__template.db``. A part of
:class:`cinchdb.tenants.TenantFiles`, which closes a file's connection before removing it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from contextlib import suppress
from pathlib import Path

from cinchdb._file_copy import copy_quiet_file, is_encrypted
from cinchdb._tenant_registry import validate_tenant_name
from cinchdb.project import branch_directory
from journal.transactions import transaction

TEMPLATE_FILE = "__template.db"
_SIDE_FILES = ("-wal", "-shm", "-journal")


def tenant_path(branch_dir: Path, tenant: str) -> Path:
    """The file of ``tenant`` in a branch directory, sharded by the first byte of its hash."""
    validate_tenant_name(tenant)
    shard = hashlib.sha256(tenant.encode()).hexdigest()[:2]
    # One Path from a joined string: three pathlib joins cost ~30 us, and lazy tenants are
    # created in bulk.
    return Path(os.path.join(branch_dir, shard, tenant + ".db"))


class TenantDirectory:
    """The files of one database's tenants (see the module docstring)."""

    def __init__(self, meta_dir: Path, database: str) -> None:
        self.meta_dir = meta_dir
        self.database = database
        # Paths are pure functions of the names but cost ~40 us to build with pathlib; a
        # change touches every tenant's path, so they are kept (about 200 bytes each).
        self._paths: dict[tuple[str, str], Path] = {}
        self._dirs: dict[str, str] = {}

    def branch_dir(self, branch: str) -> Path:
        return branch_directory(self.meta_dir, self.database, branch)

    def template_path(self, branch: str) -> Path:
        return self.branch_dir(branch) / TEMPLATE_FILE

    def file_name(self, branch: str, tenant: str) -> str:
        """:meth:`path` as a string, without pathlib (the stray-file check of every create)."""
        directory = self._dirs.get(branch)
        if directory is None:
            directory = self._dirs[branch] = os.fspath(self.branch_dir(branch))
        validate_tenant_name(tenant)
        shard = hashlib.sha256(tenant.encode()).hexdigest()[:2]
        return os.path.join(directory, shard, tenant + ".db")

    def path(self, branch: str, tenant: str) -> Path:
        key = (branch, tenant)
        path = self._paths.get(key)
        if path is None:
            path = self._paths[key] = Path(self.file_name(branch, tenant))
        return path

    def with_files(self, branch: str, names: set[str]) -> list[str]:
        """Those of ``names`` that have a file in ``branch``, sorted.

        Lists the branch directory rather than probing every name: its cost follows the files
        that exist, not the (mostly lazy) tenants in the registry.
        """
        found: list[str] = []
        try:
            shards = list(os.scandir(self.branch_dir(branch)))
        except FileNotFoundError:
            return []
        for shard in shards:
            if not shard.is_dir():
                continue
            for entry in os.scandir(shard.path):
                name, dot, suffix = entry.name.rpartition(".")
                if dot and suffix == "db" and name in names:
                    found.append(name)
        return sorted(found)

    def remove(self, branch: str, tenant: str, *, was_open: bool = False) -> None:
        """Delete a tenant's file of one branch (its connection, if ``was_open``, closed just
        before). The WAL and other side files go before the database file: a crash in between
        must never leave a stale WAL that a new file of the same name would pick up, so no
        database file means no side files, and nothing more is looked for."""
        path = self.file_name(branch, tenant)
        if not was_open and not os.path.exists(path):
            return
        for suffix in _SIDE_FILES:
            with suppress(FileNotFoundError):
                os.unlink(path + suffix)
        with suppress(FileNotFoundError):
            os.unlink(path)

    def remove_template(self, branch: str) -> None:
        """Delete a branch's template (its connection closed), side files first as in
        :meth:`remove`; the next use builds it afresh."""
        path = os.fspath(self.template_path(branch))
        for suffix in (*_SIDE_FILES, ""):
            with suppress(FileNotFoundError):
                os.unlink(path + suffix)

    def remove_branch(self, branch: str) -> None:
        """Delete every file of a branch (its connections already closed)."""
        for key in [key for key in self._paths if key[0] == branch]:
            del self._paths[key]
        self._dirs.pop(branch, None)
        shutil.rmtree(self.branch_dir(branch), ignore_errors=True)

    def copy(
        self,
        source: sqlite3.Connection,
        path: Path,
        *,
        exist_ok: bool = False,
        source_path: Path | None = None,
    ) -> None:
        """Copy the open file ``source`` to ``path``: the copy appears whole or not at all, and
        an existing file is never replaced (kept with ``exist_ok``, else FileExistsError)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        if is_encrypted(source):
            # backup() into a plain connection would write the data out in clear: copy the
            # encrypted bytes instead (same key), with the WAL folded in and writers held off.
            assert source_path is not None
            source.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            with transaction(source):
                shutil.copyfile(source_path, scratch)
        elif source_path is None or not copy_quiet_file(source, source_path, scratch):
            target = sqlite3.connect(scratch)
            try:
                source.backup(target)
            finally:
                target.close()
        try:
            # link() refuses to replace an existing file, unlike rename(): the atomic
            # "create if absent" that keeps two processes from clobbering each other.
            os.link(scratch, path)
        except FileExistsError:
            if not exist_ok:
                raise
        finally:
            scratch.unlink()
