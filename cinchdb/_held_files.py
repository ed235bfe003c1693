"""Files this process holds open through SQLite, and raw reads of them that keep their locks.

Closing any descriptor of a file releases every POSIX advisory lock this process holds on it,
whichever descriptor took them (SQLite, "How To Corrupt An SQLite Database File", 2.2). A
WAL-mode connection keeps a SHARED lock on its database file while it is open; a raw read of
the file (its header checked, its bytes copied) that closed its descriptor would drop that
lock, and another process closing its own connection would then take itself for the last
one, checkpoint and delete the WAL and shared memory this process still has mapped: the
next reader sees "database disk image is malformed", and writes go to a deleted WAL.

So the tenant files (and templates) that :class:`cinchdb.tenants.TenantFiles` opens are
registered here by identity (st_dev, st_ino) before SQLite opens them and after it closes
them, and every raw read goes through :func:`reading`: a descriptor of a registered file is
kept open, not closed, until the last connection on the file closes (SQLite's own unix VFS
defers its closes the same way).
The registry is by inode, not by SQLite library: sqlite3 and sqlcipher3 keep separate lock
tables, and a raw read must spare the locks of either.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

Identity = tuple[int, int]

_lock = threading.Lock()
_held: dict[Identity, int] = {}  # connections open per file
_kept: dict[Identity, list[int]] = {}  # raw descriptors kept open while a file is held


def opened(identity: Identity | None) -> None:
    """A connection on the file is about to open (register before SQLite takes its locks)."""
    if identity is not None:
        with _lock:
            _held[identity] = _held.get(identity, 0) + 1


def closed(identity: Identity | None) -> None:
    """A connection on the file has closed; with the last one, the kept descriptors close
    (SQLite closed its own descriptor just before, which released the locks anyway)."""
    if identity is None:
        return
    with _lock:
        count = _held.get(identity, 0) - 1
        if count > 0:
            _held[identity] = count
            return
        _held.pop(identity, None)
        kept = _kept.pop(identity, [])
    for fd in kept:
        os.close(fd)


def held_count() -> int:
    """How many files (tenant files and templates) this process has open through SQLite."""
    return len(_held)


def held(identity: Identity) -> bool:
    """Whether a connection of this process has the file open."""
    return identity in _held


@contextmanager
def reading(path: str | os.PathLike[str]) -> Iterator[int]:
    """A read-only descriptor of ``path``, to use with offsets only (``os.pread``,
    ``os.sendfile``): it may be shared with other reads of a held file. Raises
    FileNotFoundError as ``open`` does."""
    fd = os.open(path, os.O_RDONLY)
    try:
        yield fd
    finally:
        _release(fd)


def _release(fd: int) -> None:
    stat = os.fstat(fd)
    identity = (stat.st_dev, stat.st_ino)
    with _lock:
        if identity in _held:
            # Any close would drop the connection's locks: keep it until the last connection
            # closes. One per raw read of a held file (a copy of an open tenant; the header
            # check skips held files), and the handle's bounded cache closes files in time.
            _kept.setdefault(identity, []).append(fd)
            return
    os.close(fd)


def copy_bytes(source: Path, target: Path) -> None:
    """Copy ``source`` to a new file ``target`` byte for byte (as ``shutil.copyfile``), reading
    ``source`` through :func:`reading`."""
    with reading(source) as src, open(target, "wb") as out:
        offset = 0
        while True:
            sent = os.sendfile(out.fileno(), src, offset, 1 << 30)
            if sent == 0:
                break
            offset += sent
