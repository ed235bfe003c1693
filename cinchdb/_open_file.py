"""A tenant file held open in :class:`cinchdb.tenants.TenantFiles`' cache, and how a file on
disk is told apart from one made anew under the same name."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from cinchdb import _held_files as held_files
from cinchdb._guard import TenantConnection
from cinchdb.data import DataOps

if TYPE_CHECKING:
    from journal import FoldCache, Schema

__all__ = ["OpenFile", "file_identity"]


@attrs.define
class OpenFile:
    """A cached open file: its connection, the schema it is at, and when that was checked."""

    path: Path
    conn: TenantConnection
    # (st_dev, st_ino) of the file when it was opened: another process may delete the
    # tenant and make a new file under the same name, and a connection left on the old,
    # unlinked one would read deleted rows and acknowledge writes nobody will ever see.
    identity: tuple[int, int] | None = None
    checked: tuple[int, int] | None = None
    # The cursor as this process last read or wrote it. Another process may move it; every
    # catch-up transaction re-checks it under the write lock (expect_cursor) before relying
    # on it, so a stale value costs a retry, never a wrong replay.
    cursor: str | None = None
    _data: DataOps | None = None
    # The schema-change service's fold cache: the file's schema is the one at its cursor.
    fold: FoldCache = attrs.field(kw_only=True)

    def shut(self) -> None:
        """Close the connection, then let raw reads close their descriptors of the file."""
        self.conn.close()
        held_files.closed(self.identity)

    @property
    def schema(self) -> Schema:
        """The schema the file is at. Computed when first asked for, never on open: a file at
        the head that only answers a query or a key needs no schema (and so no fold, and
        none of the definition models)."""
        return self.fold.schema_at(self.cursor)

    @property
    def data(self) -> DataOps:
        if self._data is None:
            self._data = DataOps(self.conn, lambda: self.schema, authorizer=self.conn.guard)
        return self._data


def file_identity(path: Path) -> tuple[int, int] | None:
    """(st_dev, st_ino) of the file at ``path``; None when there is none. An inode is not
    reused while a connection holds the old file open, so a match means the same file."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return (stat.st_dev, stat.st_ino)
