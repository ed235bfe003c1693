"""Tenants: one SQLite file per (tenant, branch), kept at the branch's head by replay.

Layout: ``.cinchdb/{database}-{branch}/{sha256(tenant)[:2]}/{tenant}.db``. Every file records,
in its system table ``__cinch_state``, the id of the last event applied to it; the cursor is
written in the same transaction as that event's DDL, so a file is always exactly at some event
and a crash at any point leaves it at the old event or the new one.

Lazy tenants cost a registry row only. The first write *materializes* the file by copying the
branch's template (a schema-only file kept at the head, ``__template.db`` in the branch
directory) and replaying anything the template lacks. After each schema event,
:meth:`TenantFiles.propagate` brings the template and every materialized tenant of the branch to
the head, one transaction per file; a file left behind by a crash or another process catches up
the next time it is opened.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import attrs

from cinchdb.errors import CinchError
from cinchdb.project import branch_directory
from journal import FoldCache, JournalStore, ReplayError, Schema, apply_operations
from journal.events import Event, Operation

#: Name of the table inside every tenant file that holds CinchDB's own state (the cursor).
STATE_TABLE = "__cinch_state"
TEMPLATE_FILE = "__template.db"
MAX_TENANT_NAME_LENGTH = 64
_TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")

REGISTRY_TABLES = (
    """
    CREATE TABLE IF NOT EXISTS cinch_tenants (
        database TEXT NOT NULL,
        name TEXT NOT NULL,
        encrypted INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        PRIMARY KEY (database, name)
    )
    """,
)


class TenantError(CinchError):
    """Root of tenant errors."""


class InvalidTenantNameError(TenantError, ValueError):
    def __init__(self, name: object, reason: str) -> None:
        self.name = name
        super().__init__(f"Invalid tenant name {name!r}: {reason}")


class TenantNotFoundError(TenantError, LookupError):
    def __init__(self, database: str, name: str) -> None:
        self.database = database
        self.name = name
        super().__init__(f"Tenant '{name}' does not exist in database '{database}'")


class TenantExistsError(TenantError, ValueError):
    def __init__(self, database: str, name: str) -> None:
        self.database = database
        self.name = name
        super().__init__(f"Tenant '{name}' already exists in database '{database}'")


class TenantDivergedError(TenantError):
    """A file's cursor is not on its branch's history (the branch was moved under it)."""

    def __init__(self, path: Path, cursor: str) -> None:
        self.path = path
        self.cursor = cursor
        super().__init__(
            f"{path} is at event {cursor[:12]}, which is not in the history of its branch"
        )


class PreflightError(TenantError, ValueError):
    """A schema change would fail on the data of some tenants; it was not applied anywhere."""

    def __init__(self, failures: Sequence[tuple[str, str]]) -> None:
        self.failures = tuple(failures)
        listed = "; ".join(f"tenant '{t}': {reason}" for t, reason in self.failures[:5])
        more = f" (and {len(self.failures) - 5} more)" if len(self.failures) > 5 else ""
        super().__init__(f"The change would fail on existing data: {listed}{more}")


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


def tenant_path(branch_dir: Path, tenant: str) -> Path:
    """The file of ``tenant`` in a branch directory, sharded by the first byte of its hash."""
    validate_tenant_name(tenant)
    shard = hashlib.sha256(tenant.encode()).hexdigest()[:2]
    return branch_dir / shard / f"{tenant}.db"


class Guard:
    """The SQLite authorizer of a tenant connection: what user SQL may not do.

    Denied always: ATTACH / DETACH (reaching another tenant's file) and ``writable_schema``.
    Denied unless CinchDB itself is writing (``internal``): writes to CinchDB's system tables
    (``__cinch_*``, ``__kv``). DDL is allowed here because the replay issues it; user DDL never
    reaches a tenant connection except through the journal.
    """

    __slots__ = ("internal",)

    def __init__(self) -> None:
        self.internal = False

    def __call__(
        self, action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None
    ) -> int:
        if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() == "writable_schema":
            return sqlite3.SQLITE_DENY
        if (
            not self.internal
            and action in _WRITES
            and arg1 is not None
            and arg1.lower().startswith(SYSTEM_TABLE_PREFIXES)
        ):
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK


SYSTEM_TABLE_PREFIXES = ("__cinch_", "__kv")
_WRITES = (
    sqlite3.SQLITE_INSERT,
    sqlite3.SQLITE_UPDATE,
    sqlite3.SQLITE_DELETE,
    sqlite3.SQLITE_DROP_TABLE,
    sqlite3.SQLITE_ALTER_TABLE,
    sqlite3.SQLITE_CREATE_INDEX,
    sqlite3.SQLITE_CREATE_TRIGGER,
)


class TenantConnection(sqlite3.Connection):
    """A sqlite3 connection that carries its :class:`Guard`."""

    guard: Guard


def open_tenant_file(path: Path) -> TenantConnection:
    """A connection configured the way every tenant file is used, guarded by a :class:`Guard`."""
    conn = sqlite3.connect(
        path,
        isolation_level=None,
        check_same_thread=False,
        timeout=30.0,
        factory=TenantConnection,
    )
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(
        f'CREATE TABLE IF NOT EXISTS "{STATE_TABLE}" (key TEXT PRIMARY KEY, value TEXT) STRICT'
    )
    conn.guard = Guard()
    conn.set_authorizer(conn.guard)
    return conn


@contextmanager
def internal(conn: sqlite3.Connection) -> Iterator[None]:
    """Let CinchDB itself write its system tables on a guarded connection."""
    guard = getattr(conn, "guard", None)
    if guard is None:
        yield
        return
    guard.internal = True
    try:
        yield
    finally:
        guard.internal = False


def read_cursor(conn: sqlite3.Connection) -> str | None:
    row = conn.execute(f"SELECT value FROM \"{STATE_TABLE}\" WHERE key = 'cursor'").fetchone()
    return None if row is None else str(row[0])


def _cursor_writer(event_id: str) -> Callable[[sqlite3.Connection], None]:
    def write(conn: sqlite3.Connection) -> None:
        conn.execute(
            f"INSERT INTO \"{STATE_TABLE}\" (key, value) VALUES ('cursor', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (event_id,),
        )

    return write


@attrs.frozen
class CatchUp:
    """What bringing one file to the head did."""

    path: Path
    applied: int
    cursor: str | None


class TenantFiles:
    """Tenant files of one database: registry rows, paths, materialization, catch-up.

    Connections are kept open in a bounded LRU cache; opening a file is never done per call.
    """

    def __init__(
        self,
        store: JournalStore,
        meta_dir: Path,
        database: str,
        *,
        fold: FoldCache | None = None,
        max_open: int = 256,
    ) -> None:
        self.store = store
        self.meta_dir = meta_dir
        self.database = database
        self.fold = fold or FoldCache(store.get_event)
        self._max_open = max_open
        self._open: OrderedDict[Path, sqlite3.Connection] = OrderedDict()
        with store.connection:
            for statement in REGISTRY_TABLES:
                store.connection.execute(statement)

    # -- registry ------------------------------------------------------------------------------
    def create(self, name: str, *, encrypted: bool = False) -> None:
        """Register a tenant: one row, no file (it is materialized on first write)."""
        validate_tenant_name(name)
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        try:
            self.store.connection.execute(
                "INSERT INTO cinch_tenants (database, name, encrypted, created_at)"
                " VALUES (?, ?, ?, ?)",
                (self.database, name, int(encrypted), now),
            )
        except sqlite3.IntegrityError as e:
            raise TenantExistsError(self.database, name) from e

    def exists(self, name: str) -> bool:
        row = self.store.connection.execute(
            "SELECT 1 FROM cinch_tenants WHERE database = ? AND name = ?", (self.database, name)
        ).fetchone()
        return row is not None

    def names(self) -> list[str]:
        rows = self.store.connection.execute(
            "SELECT name FROM cinch_tenants WHERE database = ? ORDER BY name", (self.database,)
        )
        return [row[0] for row in rows]

    # -- files ---------------------------------------------------------------------------------
    def branch_dir(self, branch: str) -> Path:
        return branch_directory(self.meta_dir, self.database, branch)

    def path(self, branch: str, tenant: str) -> Path:
        return tenant_path(self.branch_dir(branch), tenant)

    def is_materialized(self, branch: str, tenant: str) -> bool:
        return self.path(branch, tenant).exists()

    def materialized(self, branch: str) -> Iterator[tuple[str, Path]]:
        """(tenant, file) for every tenant of the branch that has a file."""
        for name in self.names():
            path = self.path(branch, name)
            if path.exists():
                yield name, path

    def connection(self, branch: str, tenant: str) -> sqlite3.Connection:
        """An open, caught-up connection to a tenant's file, materializing it if needed."""
        if not self.exists(tenant):
            raise TenantNotFoundError(self.database, tenant)
        path = self.path(branch, tenant)
        conn = self._open.get(path)
        if conn is None:
            if not path.exists():
                self._materialize(branch, path)
            conn = self._remember(path, open_tenant_file(path))
        else:
            self._open.move_to_end(path)
        self.catch_up(branch, conn, path)
        return conn

    def template(self, branch: str) -> sqlite3.Connection:
        """The branch's schema-only template, at the head."""
        path = self.branch_dir(branch) / TEMPLATE_FILE
        conn = self._open.get(path)
        if conn is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = self._remember(path, open_tenant_file(path))
        self.catch_up(branch, conn, path)
        return conn

    def _materialize(self, branch: str, path: Path) -> None:
        """Copy the template into place atomically: the file appears whole or not at all."""
        template = self.template(branch)
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        target = sqlite3.connect(scratch)
        try:
            template.backup(target)
        finally:
            target.close()
        os.replace(scratch, path)

    def _remember(self, path: Path, conn: sqlite3.Connection) -> sqlite3.Connection:
        self._open[path] = conn
        while len(self._open) > self._max_open:
            _, oldest = self._open.popitem(last=False)
            oldest.close()
        return conn

    # -- keeping files at the head -------------------------------------------------------------
    def catch_up(self, branch: str, conn: sqlite3.Connection, path: Path) -> CatchUp:
        """Apply the events between the file's cursor and the branch head, each event in its
        own transaction together with the cursor that records it."""
        head = self.store.branch_head(self.database, branch)
        cursor = read_cursor(conn)
        if cursor == head:
            return CatchUp(path, 0, cursor)
        pending = self._pending(head, cursor, path)
        schema: Schema = self.fold.schema_at(cursor)
        with internal(conn):
            for event in pending:
                schema = apply_operations(
                    conn, schema, event.operations, before_commit=_cursor_writer(event.id)
                )
        return CatchUp(path, len(pending), head)

    def _pending(self, head: str | None, cursor: str | None, path: Path) -> list[Event]:
        chain = self.store.chain(self.database, head)
        if cursor is None:
            return chain
        for index in range(len(chain) - 1, -1, -1):
            if chain[index].id == cursor:
                return chain[index + 1 :]
        raise TenantDivergedError(path, cursor)

    def preflight(self, branch: str, operations: Sequence[Operation]) -> None:
        """Run ``operations`` on every materialized tenant of ``branch`` and roll back.

        Raises:
            PreflightError: naming each tenant whose rows the change would violate, and why.
                Called before the change enters the journal, so nothing has been written.
        """
        schema = self.fold.schema_at(self.store.branch_head(self.database, branch))
        failures: list[tuple[str, str]] = []
        for tenant, _ in list(self.materialized(branch)):
            conn = self.connection(branch, tenant)
            try:
                with internal(conn):
                    apply_operations(conn, schema, operations, dry_run=True)
            except ReplayError as e:
                failures.append((tenant, e.reason))
        if failures:
            raise PreflightError(failures)

    def propagate(
        self, branch: str, progress: Callable[[int, int], None] | None = None
    ) -> list[CatchUp]:
        """Bring the template and every materialized tenant of ``branch`` to its head."""
        self.template(branch)
        files = list(self.materialized(branch))
        done: list[CatchUp] = []
        for number, (tenant, _) in enumerate(files, start=1):
            path = self.path(branch, tenant)
            conn = self._open.get(path) or self._remember(path, open_tenant_file(path))
            done.append(self.catch_up(branch, conn, path))
            if progress is not None:
                progress(number, len(files))
        return done

    def close(self) -> None:
        while self._open:
            _, conn = self._open.popitem()
            conn.close()
