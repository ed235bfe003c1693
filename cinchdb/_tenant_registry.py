"""The tenant registry: one row per tenant of a database in ``metadata.db`` (its name, whether
it is encrypted, and for an encrypted one the salt and verifier of its key), and the versioned
creation of the registry's tables.

A part of :class:`cinchdb.tenants.TenantFiles`, which changes rows and files together.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable

import attrs

from cinchdb._rows import utc_now
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
#: 2: the pending key of an unfinished rotation (``pending_salt``, ``pending_verifier``,
#: ``pending_wraps``).
REGISTRY_VERSION = 2

_TENANTS_TABLE = """
    CREATE TABLE IF NOT EXISTS cinch_tenants (
        database TEXT NOT NULL,
        name TEXT NOT NULL,
        encrypted INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        salt BLOB,
        verifier TEXT,
        pending_salt BLOB,
        pending_verifier TEXT,
        pending_wraps BLOB,
        PRIMARY KEY (database, name)
    )
"""
_META_TABLE = "CREATE TABLE IF NOT EXISTS cinch_meta (name TEXT PRIMARY KEY, version INTEGER)"
# Columns added after the first release of the registry, for projects made before them.
_ADDED_COLUMNS = (
    ("salt", "BLOB"),
    ("verifier", "TEXT"),
    ("pending_salt", "BLOB"),  # version 2
    ("pending_verifier", "TEXT"),
    ("pending_wraps", "BLOB"),
)


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
class PendingKey:
    """The new key of an unfinished rotation: its salt and verifier, and the two raw keys each
    wrapped under the other (new under old, then old under new; see :func:`cinchdb.crypto.wrap`).
    """

    salt: bytes
    verifier: str
    new_under_old: bytes
    old_under_new: bytes


@attrs.frozen
class TenantRecord:
    """A tenant's registry row."""

    name: str
    encrypted: bool
    created_at: str


class TenantRegistry:
    """The registry rows of one database's tenants: names, encryption flag, salt and verifier.

    Rows only; the files that go with them are :class:`cinchdb.tenants.TenantFiles`' business,
    which orders file and row changes so that a crash never revives deleted data.
    """

    def __init__(self, store: JournalStore, database: str) -> None:
        self.store = store
        self.database = database
        self._known: dict[str, tuple[int, int]] = {}  # tenant -> version its row was seen at

    def add(
        self,
        name: str,
        *,
        salt: bytes | None = None,
        check: str | None = None,
        replacing: str | None = None,
        while_locked: Callable[[], None] | None = None,
    ) -> TenantRecord:
        """Register ``name`` (encrypted when given a ``salt`` and its key's ``check``).

        In the same transaction, ``replacing``'s row goes (a rename) and ``while_locked`` runs,
        holding the write lock, after the insert: the row is then this caller's.

        Raises:
            InvalidTenantNameError; TenantExistsError: the name is taken.
        """
        validate_tenant_name(name)
        record = TenantRecord(name, salt is not None, _now())
        with self.store.transaction() as conn:
            try:
                conn.execute(
                    "INSERT INTO cinch_tenants (database, name, encrypted, created_at, salt,"
                    " verifier) VALUES (?, ?, ?, ?, ?, ?)",
                    (self.database, name, int(record.encrypted), record.created_at, salt, check),
                )
            except sqlite3.IntegrityError as e:
                raise TenantExistsError(self.database, name) from e
            if replacing is not None:
                conn.execute(
                    "DELETE FROM cinch_tenants WHERE database = ? AND name = ?",
                    (self.database, replacing),
                )
            if while_locked is not None:
                while_locked()
        if replacing is not None:
            self._known.pop(replacing, None)
        return record

    def remove(self, name: str) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                "DELETE FROM cinch_tenants WHERE database = ? AND name = ?", (self.database, name)
            )
        self._known.pop(name, None)

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

    def record(self, name: str) -> TenantRecord:
        row = self.store.connection.execute(
            "SELECT name, encrypted, created_at FROM cinch_tenants WHERE database = ? AND name = ?",
            (self.database, name),
        ).fetchone()
        if row is None:
            raise TenantNotFoundError(self.database, name)
        return TenantRecord(row[0], bool(row[1]), row[2])

    def crypto(self, name: str) -> tuple[bytes, str] | None:
        """(salt, verifier) of an encrypted tenant; None for a plain one."""
        row = self.store.connection.execute(
            "SELECT encrypted, salt, verifier FROM cinch_tenants WHERE database = ? AND name = ?",
            (self.database, name),
        ).fetchone()
        if row is None:
            raise TenantNotFoundError(self.database, name)
        return (bytes(row[1]), str(row[2])) if row[0] else None

    def pending_key(self, name: str) -> PendingKey | None:
        """The new key of ``name``'s unfinished rotation; None when none is under way."""
        row = self.store.connection.execute(
            "SELECT pending_salt, pending_verifier, pending_wraps FROM cinch_tenants"
            " WHERE database = ? AND name = ?",
            (self.database, name),
        ).fetchone()
        if row is None:
            raise TenantNotFoundError(self.database, name)
        if row[1] is None:
            return None
        wraps = bytes(row[2])
        return PendingKey(bytes(row[0]), str(row[1]), wraps[:32], wraps[32:])

    def begin_rotation(self, name: str, current: str, pending: PendingKey) -> bool:
        """Record ``pending`` in one transaction, if the tenant's verifier is still ``current``
        and no rotation is under way; whether it was recorded."""
        with self.store.transaction() as conn:
            changed = conn.execute(
                "UPDATE cinch_tenants SET pending_salt = ?, pending_verifier = ?,"
                " pending_wraps = ? WHERE database = ? AND name = ? AND verifier = ?"
                " AND pending_verifier IS NULL",
                (pending.salt, pending.verifier, pending.new_under_old + pending.old_under_new,
                 self.database, name, current),
            ).rowcount  # fmt: skip
        return changed == 1

    def finish_rotation(self, name: str, pending_verifier: str) -> bool:
        """Make the pending key current and forget the wrapped keys, in one transaction, if
        the pending key is still ``pending_verifier``; whether this call did it.

        ``secure_delete`` overwrites the freed bytes of the wrapped keys in the file.
        """
        conn = self.store.connection
        conn.execute("PRAGMA secure_delete = ON")
        try:
            with self.store.transaction() as conn:
                changed = conn.execute(
                    "UPDATE cinch_tenants SET salt = pending_salt, verifier = pending_verifier,"
                    " pending_salt = NULL, pending_verifier = NULL, pending_wraps = NULL"
                    " WHERE database = ? AND name = ? AND pending_verifier = ?",
                    (self.database, name, pending_verifier),
                ).rowcount
        finally:
            conn.execute("PRAGMA secure_delete = OFF")
        return changed == 1

    def encrypted_names(self) -> set[str]:
        rows = self.store.connection.execute(
            "SELECT name FROM cinch_tenants WHERE database = ? AND encrypted = 1", (self.database,)
        )
        return {name for (name,) in rows}
