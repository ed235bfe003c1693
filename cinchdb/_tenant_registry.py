"""The tenant registry: one row per tenant of a database in ``metadata.db``, and the
operations that change it together with the tenant's files (delete, copy, rename).

Mixed into :class:`cinchdb.tenants.TenantFiles`. Files are removed before rows and copies are
made before they are registered, so a crash never leaves a deleted tenant whose data could
come back, and :meth:`TenantRegistry.create` clears any file a crash left under a new name.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from cinchdb._rows import utc_now
from cinchdb.crypto import verifier
from cinchdb.errors import (
    InvalidTenantNameError,
    ProjectError,
    TenantExistsError,
    TenantNotFoundError,
)
from journal import JournalStore

MAX_TENANT_NAME_LENGTH = 64
_TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def validate_tenant_name(name: object) -> str:
    """Tenant names become file names: letters, digits, '_' and '-', starting alphanumeric."""
    if not isinstance(name, str):
        raise InvalidTenantNameError(name, "must be a string")
    if len(name) > MAX_TENANT_NAME_LENGTH:
        raise InvalidTenantNameError(name, f"longer than {MAX_TENANT_NAME_LENGTH} characters")
    if not _TENANT_NAME.fullmatch(name):
        raise InvalidTenantNameError(
            name, "use letters, digits, '_' and '-', starting with a letter or digit"
        )
    return name


#: Version of the product's tables in metadata.db (the journal versions its own with
#: ``PRAGMA user_version``). 1: ``cinch_tenants`` with the crypto columns, and ``cinch_meta``.
REGISTRY_VERSION = 1

_TENANTS_TABLE = """
    CREATE TABLE IF NOT EXISTS cinch_tenants (
        database TEXT NOT NULL,
        name TEXT NOT NULL,
        encrypted INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        salt BLOB,
        verifier TEXT,
        PRIMARY KEY (database, name)
    )
"""
_META_TABLE = "CREATE TABLE IF NOT EXISTS cinch_meta (name TEXT PRIMARY KEY, version INTEGER)"
# Columns added after the first release of the registry, for projects made before them.
_ADDED_COLUMNS = (("salt", "BLOB"), ("verifier", "TEXT"))


def prepare_registry(store: JournalStore) -> None:
    """Create or upgrade the registry's tables, once per project: opening a project that is
    up to date costs one read of its version, no DDL and no write lock.

    Raises:
        ProjectError: the project was made by a newer CinchDB.
    """
    if _registry_version(store.connection) == REGISTRY_VERSION:
        return
    with store.transaction() as conn:
        # Re-read under the write lock: another process may have just upgraded it.
        version = _registry_version(conn)
        if version > REGISTRY_VERSION:
            raise ProjectError(
                f"{store.path} has registry version {version}, newer than this CinchDB"
                f" understands ({REGISTRY_VERSION}); upgrade CinchDB"
            )
        if version == REGISTRY_VERSION:
            return
        conn.execute(_TENANTS_TABLE)
        have = {row[1] for row in conn.execute("PRAGMA table_info(cinch_tenants)")}
        for column, kind in _ADDED_COLUMNS:
            if column not in have:
                conn.execute(f"ALTER TABLE cinch_tenants ADD COLUMN {column} {kind}")
        conn.execute(_META_TABLE)
        conn.execute(
            "INSERT OR REPLACE INTO cinch_meta (name, version) VALUES ('registry', ?)",
            (REGISTRY_VERSION,),
        )


def _registry_version(conn: sqlite3.Connection) -> int:
    """0 for a project made before the registry was versioned (no ``cinch_meta``)."""
    try:
        row = conn.execute("SELECT version FROM cinch_meta WHERE name = 'registry'").fetchone()
    except sqlite3.OperationalError as e:
        if "no such table" not in str(e):
            raise
        return 0
    return 0 if row is None else int(row[0])


def _now() -> str:
    return utc_now()


@attrs.frozen
class TenantRecord:
    """A tenant's registry row."""

    name: str
    encrypted: bool
    created_at: str


class TenantRegistry:
    """Registry rows of one database's tenants (see the module docstring)."""

    store: JournalStore
    database: str
    keys: dict[str, bytes]
    _known: dict[str, tuple[int, int]]

    if TYPE_CHECKING:

        def path(self, branch: str, tenant: str) -> Path: ...

        def _branches(self) -> list[str]: ...

        def _remove_files(self, name: str, branches: list[str] | None = None) -> None: ...

        def _entry(self, branch: str, name: str) -> Any: ...

        def _copy_file(
            self, source: Any, path: Path, *, exist_ok: bool = False,
            source_path: Path | None = None,
        ) -> None: ...  # fmt: skip

        def crypto(self, name: str) -> tuple[bytes, str] | None: ...

    def create(
        self, name: str, *, encrypted: bool = False, raw_key: bytes | None = None,
        salt: bytes | None = None,
    ) -> TenantRecord:  # fmt: skip
        """Register a tenant: one row, no file (it is materialized on first write)."""
        validate_tenant_name(name)
        record = TenantRecord(name, encrypted, _now())
        branches = self._branches()  # read before the transaction: the store reads in its own
        with self.store.transaction() as conn:
            try:
                conn.execute(
                    "INSERT INTO cinch_tenants (database, name, encrypted, created_at, salt,"
                    " verifier) VALUES (?, ?, ?, ?, ?, ?)",
                    (self.database, name, int(encrypted), record.created_at, salt,
                     None if raw_key is None else verifier(raw_key)),
                )  # fmt: skip
            except sqlite3.IntegrityError as e:
                raise TenantExistsError(self.database, name) from e
            # The row is ours (the insert holds the write lock), so any file under this name
            # is a leftover of an interrupted delete, copy or rename and must not come back
            # to life as the new tenant's data.
            self._remove_files(name, branches)
        if raw_key is not None:
            self.keys[name] = raw_key
        return record

    def exists(self, name: str) -> bool:
        version = self.store.version()
        if self._known.get(name) == version:
            return True
        row = self.store.connection.execute(
            "SELECT 1 FROM cinch_tenants WHERE database = ? AND name = ?", (self.database, name)
        ).fetchone()
        if row is not None:
            self._known[name] = version
        return row is not None

    def names(self) -> list[str]:
        rows = self.store.connection.execute(
            "SELECT name FROM cinch_tenants WHERE database = ? ORDER BY name", (self.database,)
        )
        return [name for (name,) in rows]

    def records(self) -> list[TenantRecord]:
        rows = self.store.connection.execute(
            "SELECT name, encrypted, created_at FROM cinch_tenants WHERE database = ?"
            " ORDER BY name",
            (self.database,),
        )
        return [TenantRecord(name, bool(encrypted), created) for name, encrypted, created in rows]

    def delete(self, name: str) -> None:
        """Delete a tenant's files in every branch, then its registry row.

        Files go first: a crash in between leaves a registered tenant with no data (what the
        caller asked for), never a deleted tenant whose rows could come back.
        """
        if not self.exists(name):
            raise TenantNotFoundError(self.database, name)
        self._remove_files(name)
        with self.store.transaction() as conn:
            conn.execute(
                "DELETE FROM cinch_tenants WHERE database = ? AND name = ?", (self.database, name)
            )
        self._known.pop(name, None)

    def copy(self, source: str, target: str, *, remove_source: bool = False) -> TenantRecord:
        """Copy ``source``'s files of every branch to a new tenant ``target``.

        The copies are made first and registered after (a crash in between leaves unregistered
        files, which :meth:`create` clears). With ``remove_source`` (a rename), the source's row
        goes in the same transaction that adds the target's and its files after it.
        """
        validate_tenant_name(target)
        if not self.exists(source):
            raise TenantNotFoundError(self.database, source)
        if self.exists(target):
            raise TenantExistsError(self.database, target)
        self._remove_files(target)
        for branch in self._branches():
            if self.path(branch, source).exists():
                entry = self._entry(branch, source)
                self._copy_file(entry.conn, self.path(branch, target), source_path=entry.path)
        crypto = self.crypto(source)
        record = TenantRecord(target, crypto is not None, _now())
        with self.store.transaction() as conn:
            # An encrypted copy keeps the source's key: the same salt and verifier.
            conn.execute(
                "INSERT INTO cinch_tenants (database, name, encrypted, created_at, salt,"
                " verifier) VALUES (?, ?, ?, ?, ?, ?)",
                (self.database, target, int(crypto is not None), record.created_at,
                 *(crypto or (None, None))),
            )  # fmt: skip
            if remove_source:
                conn.execute(
                    "DELETE FROM cinch_tenants WHERE database = ? AND name = ?",
                    (self.database, source),
                )
        if source in self.keys:
            self.keys[target] = self.keys[source]
        if remove_source:
            self._known.pop(source, None)
            self._remove_files(source)
        return record

    def record(self, name: str) -> TenantRecord:
        row = self.store.connection.execute(
            "SELECT name, encrypted, created_at FROM cinch_tenants WHERE database = ? AND name = ?",
            (self.database, name),
        ).fetchone()
        if row is None:
            raise TenantNotFoundError(self.database, name)
        return TenantRecord(row[0], bool(row[1]), row[2])
