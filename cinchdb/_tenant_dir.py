"""Where one database's tenant files live on disk, and the file operations that keep each file
whole: an atomic copy that never replaces an existing file, and removal that takes the side
files (WAL, shared memory, journal) before the database file.

Layout: ``.cinchdb/{database}-{branch}/{sha256(tenant)[:2]}/{tenant}.db``, with the branch's
template at ``.cinchdb/{database}-{branch}/__template.db`` and the template's bytes at the
branch head beside it, ``__template-{cursor}.ready`` (copied into a lazy tenant's new file
without opening the template; never opened by SQLite, never changed once linked). A part of
:class:`cinchdb.tenants.TenantFiles`, which closes a file's connection before removing it.

Copies are built in the project's scratch directory ``.cinchdb/tmp/`` (same file system, so a
finished copy is linked or renamed into place), each named after the process making it:
``{pid}.{token}...``. A process killed mid-copy leaves its scratch there, and the next process
to open the project clears what belongs to processes that are gone (:func:`clear_scratch`).
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import sqlite3
import uuid
from contextlib import suppress
from pathlib import Path

from cinchdb import _held_files as held_files
from cinchdb._file_copy import copy_quiet_file, is_encrypted
from cinchdb._tenant_registry import validate_tenant_name
from cinchdb.errors import TenantFileError
from cinchdb.project import SCRATCH_DIR, branch_directory
from journal.transactions import transaction

TEMPLATE_FILE = "__template.db"
# A branch template's bytes at one event, never opened by SQLite and never changed once in
# place: ``__template-{cursor}.ready`` beside the template (``none`` for a branch with no event).
READY_PREFIX = "__template-"
READY_SUFFIX = ".ready"
SIDE_FILES = ("-wal", "-shm", "-journal")
_SQLITE_MAGIC = b"SQLite format 3\x00"
# The smallest page SQLite writes: every whole database file is a multiple of it.
_MIN_PAGE_SIZE = 512


def scratch_path(meta_dir: Path, suffix: str = ".db", *, make_directory: bool = True) -> Path:
    """A new path in the scratch directory, owned by this process (see the module docstring);
    the directory is made unless ``make_directory`` is False (the caller makes it if missing)."""
    directory = meta_dir / SCRATCH_DIR
    if make_directory:
        directory.mkdir(exist_ok=True)
    return directory / f"{os.getpid()}.{uuid.uuid4().hex}{suffix}"


def clear_scratch(meta_dir: Path) -> None:
    """Remove the scratch files and directories of processes that no longer run: what a
    process killed mid-copy left. Another live process's scratch is in use and stays; one
    listing of a directory that is normally empty or absent."""
    directory = meta_dir / SCRATCH_DIR
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return
    for entry in entries:
        owner = entry.name.split(".", 1)[0]
        if not owner.isdigit() or int(owner) == os.getpid() or _running(int(owner)):
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with suppress(FileNotFoundError):
                os.unlink(entry.path)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    except OSError as e:
        return e.errno != errno.ESRCH
    return True


def damage(path: Path, *, encrypted: bool = False) -> str | None:
    """What is wrong with a tenant file that must hold a whole database, or None.

    A tenant file is never empty (it is linked into place only once complete), and SQLite
    writes whole pages, recording the page count in the header of a plain file: an empty
    file, a ragged length or fewer bytes than the header counts mean it was truncated
    outside CinchDB. SQLite would otherwise make an empty file a new database (the data
    silently gone) and fail later on a short one with a bare "malformed" error.
    """
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    size = stat.st_size
    if size == 0:
        return "empty (0 bytes)"
    if size % _MIN_PAGE_SIZE:
        return f"truncated ({size} bytes, not a whole number of pages)"
    if encrypted:
        return None  # the header is encrypted too
    if held_files.held((stat.st_dev, stat.st_ino)):
        # SQLite has it open in this process (it was whole then, and SQLite keeps it so):
        # no raw read, whose descriptor could not be closed without dropping SQLite's locks.
        return None
    try:
        with held_files.reading(path) as fd:
            header = os.pread(fd, 100, 0)
    except FileNotFoundError:
        return None
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        return "not a SQLite database (its header is missing)"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    # The page count is valid only when the change counter matches "version-valid-for".
    if header[24:28] == header[92:96] and pages * page_size > size:
        return f"truncated ({size} bytes; its header counts {pages * page_size})"
    return None


def require_whole(path: Path, tenant: str, *, encrypted: bool = False) -> None:
    """Raise TenantFileError, naming the tenant and the file, if :func:`damage` finds any."""
    problem = damage(path, encrypted=encrypted)
    if problem is not None:
        raise TenantFileError(tenant, path, problem)


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
        for suffix in SIDE_FILES:
            with suppress(FileNotFoundError):
                os.unlink(path + suffix)
        with suppress(FileNotFoundError):
            os.unlink(path)

    def remove_template(self, branch: str) -> None:
        """Delete a branch's template (its connection closed), side files first as in
        :meth:`remove`, and its ready copies; the next use builds it afresh."""
        path = os.fspath(self.template_path(branch))
        for suffix in (*SIDE_FILES, ""):
            with suppress(FileNotFoundError):
                os.unlink(path + suffix)
        self._remove_ready(branch, keep=None)

    # -- ready templates: materializing a lazy tenant without opening the template ----------
    def ready_path(self, branch: str, cursor: str | None) -> Path:
        """Where the template's bytes at ``cursor`` are kept ready (see :meth:`make_ready`)."""
        return self.branch_dir(branch) / f"{READY_PREFIX}{cursor or 'none'}{READY_SUFFIX}"

    def ready(self, branch: str, cursor: str | None) -> Path | None:
        """The ready template at ``cursor``, if there is a whole one. One that is not whole
        (truncated outside CinchDB) is removed, so that it is made again rather than copied
        into a tenant's file."""
        path = self.ready_path(branch, cursor)
        problem = damage(path)
        if problem is None:
            return path if os.path.exists(path) else None
        with suppress(FileNotFoundError):
            os.unlink(path)
        return None

    def make_ready(
        self, template: sqlite3.Connection, template_path: Path, branch: str
    ) -> Path | None:
        """Keep the template's bytes ready at the event they hold, drop those of older events,
        and return the ready file. Made in scratch and synced before being linked into place:
        every later materialization copies this file, so it must be whole whatever happened
        to the machine. None (nothing made) while the template's WAL is not empty."""
        scratch = scratch_path(self.meta_dir)
        try:
            copied = copy_quiet_file(template, template_path, scratch, durable=True)
            if copied is None:
                return None
            ready = self.ready_path(branch, copied.cursor)
            with suppress(FileExistsError):  # another process made the same one first
                os.link(scratch, ready)
        finally:
            with suppress(FileNotFoundError):
                scratch.unlink()
        self._remove_ready(branch, keep=ready)
        return ready

    def _remove_ready(self, branch: str, *, keep: Path | None) -> None:
        """Remove the branch's ready templates but ``keep`` (None: all of them). A process
        copying one just removed holds it open and still copies whole bytes."""
        kept = None if keep is None else keep.name
        try:
            entries = list(os.scandir(self.branch_dir(branch)))
        except FileNotFoundError:
            return
        for entry in entries:
            name = entry.name
            if name.startswith(READY_PREFIX) and name.endswith(READY_SUFFIX) and name != kept:
                with suppress(FileNotFoundError):
                    os.unlink(entry.path)

    def copy_ready(self, ready: Path, path: Path) -> bool:
        """Copy a ready template to a tenant's ``path``: whole or not at all, and a file
        already there (another process materialized it first) is kept. False when the ready
        file was removed meanwhile (the head moved on): nothing was made.

        The directories are made only when missing: asking for them each time (``mkdir``
        with ``exist_ok``) was a tenth of the whole first write."""
        scratch = scratch_path(self.meta_dir, make_directory=False)
        try:
            try:
                shutil.copyfile(ready, scratch)
            except FileNotFoundError:
                if not os.path.exists(ready):
                    return False
                scratch.parent.mkdir(exist_ok=True)
                shutil.copyfile(ready, scratch)
            try:
                # link() never replaces a file (see copy()): one already there is kept.
                os.link(scratch, path)
            except FileExistsError:
                pass
            except FileNotFoundError:
                path.parent.mkdir(parents=True, exist_ok=True)
                with suppress(FileExistsError):
                    os.link(scratch, path)
            return True
        finally:
            with suppress(FileNotFoundError):
                os.unlink(scratch)

    def remove_branch(self, branch: str) -> None:
        """Delete every file of a branch (its connections already closed)."""
        for key in [key for key in self._paths if key[0] == branch]:
            del self._paths[key]
        self._dirs.pop(branch, None)
        shutil.rmtree(self.branch_dir(branch), ignore_errors=True)

    def stale_side_files(self, path: Path) -> bool:
        """Whether side files (WAL, shared memory, journal) lie where no database file is:
        left by a crash or a tool, they must go before a new file takes the name, or SQLite
        would replay the old WAL's pages into it."""
        if os.path.exists(path):
            return False
        name = os.fspath(path)
        return any(os.path.exists(name + suffix) for suffix in SIDE_FILES)

    def clear_side_files(self, path: Path) -> None:
        """Remove the side files of a path that has no database file (under a lock that keeps
        a materializer of the same file out; see ``TenantFiles._clear_stale``). A side file
        appears only after its database file, so with no database file they are stale."""
        if os.path.exists(path):
            return
        for suffix in SIDE_FILES:
            with suppress(FileNotFoundError):
                os.unlink(os.fspath(path) + suffix)

    def copy(
        self,
        source: sqlite3.Connection,
        path: Path,
        *,
        exist_ok: bool = False,
        source_path: Path | None = None,
    ) -> None:
        """Copy the open file ``source`` to ``path``: the copy appears whole or not at all, and
        an existing file is never replaced (kept with ``exist_ok``, else FileExistsError). The
        copy is built in the scratch directory, so a crash leaves nothing beside ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = scratch_path(self.meta_dir)
        if is_encrypted(source):
            # backup() into a plain connection would write the data out in clear: copy the
            # encrypted bytes instead (same key), with the WAL folded in and writers held off.
            assert source_path is not None
            source.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            with transaction(source):
                held_files.copy_bytes(source_path, scratch)  # source is open: keep its locks
        elif source_path is None or copy_quiet_file(source, source_path, scratch) is None:
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
            for suffix in SIDE_FILES:  # backup() into a plain file may leave its journal
                with suppress(FileNotFoundError):
                    os.unlink(os.fspath(scratch) + suffix)
