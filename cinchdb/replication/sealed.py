"""Encrypted tenants as encrypted bytes: consistent copies without the key, in an envelope that
Litestream can replicate.

Litestream cannot read SQLCipher files (they have no SQLite header) and skips them. So CinchDB
copies them itself: the file and its WAL, bytes as they are (ciphertext only; the key never
leaves the client), into an *envelope*, a plain SQLite file at
``.cinchdb/_sealed/{database}-{branch}/{shard}/{tenant}.db`` that Litestream then replicates
like any other file, to the same destination, with the same point-in-time restore.

A consistent copy without the key. No SQLite connection can be opened without the key, so
the copy holds SQLite's own locks with ``fcntl``, the way the unix VFS takes them (SQLite's
``os_unix.c``):

- on the ``-shm`` file, bytes ``UNIX_SHM_BASE + 0`` (WAL_WRITE_LOCK: no writer appends to the
  WAL) and ``UNIX_SHM_BASE + 1`` (WAL_CKPT_LOCK: no checkpoint writes the database file),
  exclusive, with ``UNIX_SHM_BASE = (22 + SQLITE_SHM_NLOCK) * 4 = 120``;
- on the database file, a read lock on the SHARED range (``PENDING_BYTE + 2``, 510 bytes), as
  a reader's SHARED lock: the last connection to close takes EXCLUSIVE on the database file,
  then checkpoints in exclusive mode *ignoring* the ``-shm`` locks and deletes the WAL; with a
  SHARED lock held elsewhere it cannot, and leaves both alone.

Held together, the database file and the WAL cannot change, so both are copied as one state.
Readers are never blocked; writers and checkpoints wait in their busy handler for the few
milliseconds of a file copy. The locks are taken with ``F_SETLK`` (never waiting inside fcntl)
and retried a bounded number of times.

POSIX locks belong to the process, not the descriptor: a process that holds the tenant open
through SQLite itself would neither be excluded by these locks nor keep its own if they were
released (see :mod:`cinchdb._held_files`). Such a file is copied without locks, read until two
rounds agree, and no descriptor of it is closed while SQLite holds it.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import sqlite3
import struct
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from datetime import datetime, timezone
from pathlib import Path

import attrs

from cinchdb import _held_files as held_files
from cinchdb._tenant_dir import SIDE_FILES, scratch_path, tenant_path
from cinchdb._tenant_registry import TenantRegistry
from cinchdb.errors import EnvelopeError, SealError
from cinchdb.project import METADATA_FILE, branch_directory
from journal.store import JournalStore
from journal.transactions import transaction

__all__ = [
    "SEALED_DIR",
    "SealedTenant",
    "Sealer",
    "copy_consistent",
    "envelope_path",
    "read_envelope",
    "seal",
    "unseal",
]

#: The envelopes' directory under ``.cinchdb/`` (no '-': never a ``{database}-{branch}`` one).
SEALED_DIR = "_sealed"
#: Bytes per chunk of an envelope: only chunks whose bytes changed are rewritten.
CHUNK_SIZE = 64 * 1024
_FORMAT = 1

# SQLite's os_unix.c: the -shm lock bytes start at UNIX_SHM_BASE = (22 + SQLITE_SHM_NLOCK) * 4.
_UNIX_SHM_BASE = 120
_WAL_WRITE_LOCK = _UNIX_SHM_BASE + 0
_WAL_CKPT_LOCK = _UNIX_SHM_BASE + 1
# The database file's lock bytes (os_unix.c / sqlite3.c): PENDING_BYTE = 0x40000000, the
# SHARED range starts two bytes after it and is SHARED_SIZE = 510 bytes long.
_SHARED_FIRST = 0x40000000 + 2
_SHARED_SIZE = 510
# How long to try for the locks: a writer holds WAL_WRITE for one transaction, a checkpoint
# WAL_CKPT for one pass over the WAL; 400 tries over ~2 s outlast both by far.
_LOCK_ATTEMPTS = 400
_LOCK_PAUSE_S = 0.005
# Rounds of an unlocked copy (a file this process holds open) until two reads agree.
_UNLOCKED_ATTEMPTS = 20

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS sealed_tenant ("
    " id INTEGER PRIMARY KEY CHECK (id = 1), format INTEGER NOT NULL,"
    " database TEXT NOT NULL, branch TEXT NOT NULL, tenant TEXT NOT NULL,"
    " sealed_at TEXT NOT NULL, chunk_size INTEGER NOT NULL,"
    " db_size INTEGER NOT NULL, db_sha256 TEXT NOT NULL,"
    " wal_size INTEGER NOT NULL, wal_sha256 TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sealed_chunks ("
    " part TEXT NOT NULL, idx INTEGER NOT NULL, digest TEXT NOT NULL, data BLOB NOT NULL,"
    " PRIMARY KEY (part, idx))",
)
_PARTS = ("db", "wal")

Fingerprint = tuple[tuple[int, int] | None, tuple[int, int] | None]


@attrs.frozen
class SealedTenant:
    """One encrypted tenant sealed into its envelope (or, from :func:`unseal`, taken out)."""

    database: str
    branch: str
    tenant: str
    envelope: Path
    db_size: int
    wal_size: int
    #: Chunks written this time (0: the envelope already held these bytes).
    chunks_written: int


@attrs.frozen
class _Header:
    database: str
    branch: str
    tenant: str
    chunk_size: int
    db_size: int
    db_sha256: str
    wal_size: int
    wal_sha256: str


def envelope_path(meta_dir: Path, database: str, branch: str, tenant: str) -> Path:
    """Where the envelope of ``tenant`` on ``database``/``branch`` lives under ``meta_dir``."""
    branch_dir = branch_directory(meta_dir, database, branch)
    return tenant_path(meta_dir / SEALED_DIR / branch_dir.name, tenant)


# -- the keyless consistent copy ----------------------------------------------------------------


def copy_consistent(source: Path, db_out: Path, wal_out: Path) -> Fingerprint:
    """Copy the encrypted file ``source`` and its WAL, as one consistent state, to the new files
    ``db_out`` and ``wal_out`` (``wal_out`` is not made when there is no WAL). Returns the
    (size, mtime_ns) of the file and of its WAL as copied.

    Raises:
        FileNotFoundError: ``source`` does not exist.
        SealError: writers or checkpoints held the file through every attempt.
    """
    identity = _identity(source)
    if held_files.held(identity):
        return _copy_unlocked(source, db_out, wal_out)
    with _wal_frozen(source):
        fingerprint = _fingerprint(source), _fingerprint(_wal(source))
        held_files.copy_bytes(source, db_out)
        if fingerprint[1] is not None:
            held_files.copy_bytes(_wal(source), wal_out)
    return fingerprint


@contextmanager
def _wal_frozen(source: Path) -> Iterator[None]:
    """Hold the locks of the module docstring on ``source`` for the block."""
    shm = Path(f"{source}-shm")
    with ExitStack() as stack:
        db_fd = os.open(source, os.O_RDONLY)
        stack.callback(os.close, db_fd)
        # Made when missing (as SQLite makes it, with the database's mode): a connection that
        # opens meanwhile must find these locks held, not a new file.
        shm_fd = os.open(shm, os.O_RDWR | os.O_CREAT, os.fstat(db_fd).st_mode & 0o777)
        stack.callback(os.close, shm_fd)
        for _ in range(_LOCK_ATTEMPTS):
            if _try_locks(db_fd, shm_fd):
                break
            time.sleep(_LOCK_PAUSE_S)
        else:
            raise SealError(
                source.stem, source, "writers or checkpoints held it through every attempt"
            )
        try:
            yield
        finally:
            _unlock(shm_fd, _WAL_WRITE_LOCK, 2)
            _unlock(db_fd, _SHARED_FIRST, _SHARED_SIZE)


def _try_locks(db_fd: int, shm_fd: int) -> bool:
    """All three locks, or none held."""
    if not _lock(db_fd, fcntl.F_RDLCK, _SHARED_FIRST, _SHARED_SIZE):
        return False
    if not _lock(shm_fd, fcntl.F_WRLCK, _WAL_WRITE_LOCK, 1):
        _unlock(db_fd, _SHARED_FIRST, _SHARED_SIZE)
        return False
    if not _lock(shm_fd, fcntl.F_WRLCK, _WAL_CKPT_LOCK, 1):
        # Let the checkpoint that holds it finish: it may itself wait for WAL_WRITE.
        _unlock(shm_fd, _WAL_WRITE_LOCK, 1)
        _unlock(db_fd, _SHARED_FIRST, _SHARED_SIZE)
        return False
    return True


def _lock(fd: int, kind: int, start: int, length: int) -> bool:
    try:
        fcntl.fcntl(fd, fcntl.F_SETLK, _flock(kind, start, length))
    except OSError as e:
        if e.errno in (errno.EACCES, errno.EAGAIN):
            return False
        raise
    return True


def _unlock(fd: int, start: int, length: int) -> None:
    fcntl.fcntl(fd, fcntl.F_SETLK, _flock(fcntl.F_UNLCK, start, length))


def _flock(kind: int, start: int, length: int) -> bytes:
    # struct flock on Linux: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t.
    return struct.pack("hhqqi", kind, os.SEEK_SET, start, length, 0)


def _copy_unlocked(source: Path, db_out: Path, wal_out: Path) -> Fingerprint:
    """A file this process holds open through SQLite: copied until two rounds agree."""
    for _ in range(_UNLOCKED_ATTEMPTS):
        before = _fingerprint(source), _fingerprint(_wal(source))
        for path in (db_out, wal_out):
            path.unlink(missing_ok=True)
        held_files.copy_bytes(source, db_out)
        if before[1] is not None:
            held_files.copy_bytes(_wal(source), wal_out)
        if (_fingerprint(source), _fingerprint(_wal(source))) == before:
            return before
        time.sleep(_LOCK_PAUSE_S)
    raise SealError(source.stem, source, "it kept changing while it was copied")


def _wal(path: Path) -> Path:
    return Path(f"{path}-wal")


def _identity(path: Path) -> held_files.Identity:
    stat = path.stat()
    return stat.st_dev, stat.st_ino


def _fingerprint(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_size, stat.st_mtime_ns


# -- envelopes ----------------------------------------------------------------------------------


def seal(
    meta_dir: Path, database: str, branch: str, tenant: str, source: Path
) -> tuple[SealedTenant, Fingerprint]:
    """Seal the encrypted tenant file ``source`` into its envelope under ``meta_dir``: one
    consistent copy, then one transaction that rewrites the chunks whose bytes changed.
    Returns what was sealed and the (size, mtime_ns) of the file and WAL as copied.

    Raises:
        FileNotFoundError: ``source`` does not exist.
        SealError: no consistent copy could be taken (see :func:`copy_consistent`).
    """
    db_copy = scratch_path(meta_dir)
    wal_copy = Path(f"{db_copy}-wal")
    try:
        fingerprint = copy_consistent(source, db_copy, wal_copy)
        envelope = envelope_path(meta_dir, database, branch, tenant)
        envelope.parent.mkdir(parents=True, exist_ok=True)
        conn = _open_envelope(envelope)
        try:
            written, sizes = _write_envelope(
                conn, _Names(database, branch, tenant), db_copy, wal_copy
            )
        finally:
            conn.close()
    finally:
        db_copy.unlink(missing_ok=True)
        wal_copy.unlink(missing_ok=True)
    return SealedTenant(database, branch, tenant, envelope, *sizes, written), fingerprint


@attrs.frozen
class _Names:
    database: str
    branch: str
    tenant: str


def _open_envelope(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 10000")
    # WAL, as every file Litestream replicates must be.
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    for statement in _SCHEMA:
        conn.execute(statement)
    return conn


def _write_envelope(
    conn: sqlite3.Connection, names: _Names, db_copy: Path, wal_copy: Path
) -> tuple[int, tuple[int, int]]:
    digests: dict[str, list[tuple[str, bytes]]] = {}
    whole: dict[str, tuple[int, str]] = {}
    for part, path in zip(_PARTS, (db_copy, wal_copy), strict=True):
        chunks, size, sha = _chunks(path)
        digests[part] = chunks
        whole[part] = (size, sha)
    written = 0
    with transaction(conn):
        header = conn.execute("SELECT database, branch, tenant FROM sealed_tenant").fetchone()
        if header is not None and tuple(header) != (names.database, names.branch, names.tenant):
            raise EnvelopeError(
                Path(conn.execute("PRAGMA database_list").fetchone()[2]),
                f"it holds tenant {header[2]!r} of {header[0]}/{header[1]}",
            )
        for part in _PARTS:
            stored = dict(
                conn.execute("SELECT idx, digest FROM sealed_chunks WHERE part = ?", (part,))
            )
            for idx, (digest, data) in enumerate(digests[part]):
                if stored.get(idx) != digest:
                    conn.execute(
                        "INSERT OR REPLACE INTO sealed_chunks (part, idx, digest, data)"
                        " VALUES (?, ?, ?, ?)",
                        (part, idx, digest, data),
                    )
                    written += 1
            extra = conn.execute(
                "DELETE FROM sealed_chunks WHERE part = ? AND idx >= ?",
                (part, len(digests[part])),
            ).rowcount
            written += extra
        current = conn.execute("SELECT db_sha256, wal_sha256 FROM sealed_tenant").fetchone()
        if written or current != (whole["db"][1], whole["wal"][1]):
            conn.execute(
                "INSERT OR REPLACE INTO sealed_tenant (id, format, database, branch, tenant,"
                " sealed_at, chunk_size, db_size, db_sha256, wal_size, wal_sha256)"
                " VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    _FORMAT,
                    names.database,
                    names.branch,
                    names.tenant,
                    datetime.now(timezone.utc).isoformat(),
                    CHUNK_SIZE,
                    *whole["db"],
                    *whole["wal"],
                ),
            )
    return written, (whole["db"][0], whole["wal"][0])


def _chunks(path: Path) -> tuple[list[tuple[str, bytes]], int, str]:
    """The file's chunks with their digests, its size and sha256 (an absent file: none)."""
    chunks: list[tuple[str, bytes]] = []
    whole = hashlib.sha256()
    size = 0
    with suppress(FileNotFoundError), open(path, "rb") as f:
        while data := f.read(CHUNK_SIZE):
            whole.update(data)
            size += len(data)
            chunks.append((hashlib.sha256(data).hexdigest(), data))
    return chunks, size, whole.hexdigest()


def read_envelope(envelope: Path) -> SealedTenant:
    """Which tenant ``envelope`` holds, and its sizes.

    Raises:
        EnvelopeError: ``envelope`` is missing or not an envelope.
    """
    header = _read_header(envelope)
    return SealedTenant(
        header.database,
        header.branch,
        header.tenant,
        envelope,
        header.db_size,
        header.wal_size,
        0,
    )


def _read_header(envelope: Path) -> _Header:
    if not envelope.is_file():
        raise EnvelopeError(envelope, "it does not exist")
    try:
        conn = sqlite3.connect(f"file:{envelope}?mode=ro", uri=True)
        try:
            row = conn.execute(
                "SELECT format, database, branch, tenant, chunk_size, db_size, db_sha256,"
                " wal_size, wal_sha256 FROM sealed_tenant"
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        raise EnvelopeError(envelope, f"it cannot be read ({e})") from e
    if row is None:
        raise EnvelopeError(envelope, "it holds no sealed tenant")
    if row[0] != _FORMAT:
        raise EnvelopeError(envelope, f"its format {row[0]} is not {_FORMAT}")
    return _Header(*row[1:])


def unseal(envelope: Path, target: Path) -> SealedTenant:
    """Write the encrypted tenant held in ``envelope`` to the new file ``target`` (and its WAL
    beside it), whole or not at all: both are assembled beside ``target`` and checked against
    the envelope's digests before they are put in place; nothing is overwritten.

    Raises:
        EnvelopeError: the envelope is missing, damaged or incomplete.
        FileExistsError: ``target`` exists already.
    """
    header = _read_header(envelope)
    if target.exists():
        raise FileExistsError(errno.EEXIST, "A tenant file is there already", str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = {
        part: target.with_name(f".{target.name}.{part}.unseal-{os.getpid()}") for part in _PARTS
    }
    try:
        conn = sqlite3.connect(f"file:{envelope}?mode=ro", uri=True)
        try:
            with transaction(conn, immediate=False):
                for part in _PARTS:
                    _assemble(conn, part, staged[part])
        finally:
            conn.close()
        for part, size, sha in (
            ("db", header.db_size, header.db_sha256),
            ("wal", header.wal_size, header.wal_sha256),
        ):
            got = _chunks(staged[part])
            if (got[1], got[2]) != (size, sha):
                raise EnvelopeError(envelope, f"its {part} chunks do not match their digest")
        # A WAL or shared memory left beside no database file would be replayed onto the new
        # one: remove them first.
        for suffix in SIDE_FILES:
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        if header.wal_size:
            os.replace(staged["wal"], _wal(target))
        os.link(staged["db"], target)
    except BaseException:
        if not target.exists():
            _wal(target).unlink(missing_ok=True)
        raise
    finally:
        for path in staged.values():
            path.unlink(missing_ok=True)
    return SealedTenant(
        header.database, header.branch, header.tenant, envelope, header.db_size, header.wal_size, 0
    )


def _assemble(conn: sqlite3.Connection, part: str, out: Path) -> None:
    with open(out, "wb") as f:
        for (data,) in conn.execute(
            "SELECT data FROM sealed_chunks WHERE part = ? ORDER BY idx", (part,)
        ):
            f.write(data)
        f.flush()
        os.fsync(f.fileno())


# -- the project's encrypted tenants ------------------------------------------------------------


class Sealer:
    """Keeps the envelopes of a project's encrypted tenants up to date: each :meth:`sync` seals
    the encrypted tenants whose file or WAL changed (size or mtime) since this sealer last
    sealed them; the first seals every one that has a file. Envelopes of tenants (or branches,
    or databases) the registry no longer lists are removed."""

    def __init__(self, meta_dir: str | os.PathLike[str]) -> None:
        self.meta_dir = Path(meta_dir)
        self._sealed: dict[Path, Fingerprint] = {}

    def sync(self) -> list[SealedTenant]:
        """Seal what changed; returns the tenants sealed this time (chunks_written may be 0).

        Raises:
            SealError: a tenant could not be copied consistently (the others are sealed).
        """
        wanted = self._encrypted_files()
        sealed: list[SealedTenant] = []
        failure: SealError | None = None
        for (database, branch, tenant), source in wanted.items():
            now = _fingerprint(source), _fingerprint(_wal(source))
            if now[0] is None or self._sealed.get(source) == now:
                continue
            try:
                done, fingerprint = seal(self.meta_dir, database, branch, tenant, source)
            except FileNotFoundError:
                continue  # deleted meanwhile
            except SealError as e:
                failure = e
                continue
            self._sealed[source] = fingerprint
            sealed.append(done)
        self._drop_others({envelope_path(self.meta_dir, *key) for key in wanted})
        if failure is not None:
            raise failure
        return sealed

    def _encrypted_files(self) -> dict[tuple[str, str, str], Path]:
        """(database, branch, tenant) -> the file, for every encrypted tenant on every branch
        (files that do not exist included: an envelope of a lazy tenant is kept)."""
        found: dict[tuple[str, str, str], Path] = {}
        with JournalStore(self.meta_dir / METADATA_FILE) as store:
            for database in store.list_databases():
                encrypted = sorted(TenantRegistry(store, database).encrypted_names())
                if not encrypted:
                    continue
                for record in store.list_branches(database):
                    branch_dir = branch_directory(self.meta_dir, database, record.name)
                    for tenant in encrypted:
                        found[(database, record.name, tenant)] = tenant_path(branch_dir, tenant)
        return found

    def _drop_others(self, keep: set[Path]) -> None:
        root = self.meta_dir / SEALED_DIR
        for path in root.glob("*/*/*.db"):
            if path not in keep:
                for suffix in SIDE_FILES:
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
                path.unlink(missing_ok=True)
