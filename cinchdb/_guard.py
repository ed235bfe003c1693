"""Opening a tenant file: its pragmas, its cursor table, and the authorizer that isolates it.

Every tenant file (and every branch template) holds CinchDB's state table ``__cinch_state``,
whose ``cursor`` row is the id of the last journal event applied to the file. The cursor is
written in the same transaction as that event's DDL, so a file is always exactly at some event.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from cinchdb._system_tables import KV_TABLE, STATE_TABLE
from cinchdb._system_tables import STATEMENTS as SYSTEM_STATEMENTS
from cinchdb.crypto import open_encrypted
from journal import drivers

if TYPE_CHECKING:
    import ctypes
else:
    from journal._lazy import lazy_module

    # Only fleet-wide work on Python < 3.12 reaches for it (keep_wal_on_close): off start-up.
    ctypes = lazy_module("ctypes")

#: Tables user SQL may read but never write: CinchDB's state and the KV store.
SYSTEM_TABLE_PREFIXES = ("__cinch_", "__kv")
#: Seconds a writer waits for another process's lock before SQLite reports "database is locked".
BUSY_TIMEOUT_S = 30.0
#: The largest string, blob or row user SQL may build or write on a tenant connection
#: (``SQLITE_LIMIT_LENGTH``; SQLite's own default is 1,000,000,000 bytes): ``zeroblob(1e9)``
#: would otherwise allocate a gigabyte inside ``query()``.
MAX_VALUE_BYTES = 64 * 2**20
#: The longest SQL statement a tenant connection compiles (``SQLITE_LIMIT_SQL_LENGTH``).
#: CinchDB's own statements stay far below it: values are always bound, never inlined.
MAX_SQL_BYTES = 2**20
#: Functions user SQL may never call, lower-cased: each hands out or takes a native pointer
#: (``fts3_tokenizer`` returns the address of a tokenizer module and, with two arguments,
#: installs one from an address; ``fts5(?)`` hands out its API pointer) or loads native code.
DENIED_FUNCTIONS = frozenset({"fts3_tokenizer", "fts5", "load_extension"})
# SQLite clamps a limit to its compile-time maximum, so this asks for "as large as built".
_UNLIMITED = 2**31 - 1
# SQLite's numbers for the two limits (sqlite3 names them only from Python 3.11 on).
_LIMIT_LENGTH = 0
_LIMIT_SQL_LENGTH = 1

_WRITES = (
    sqlite3.SQLITE_INSERT,
    sqlite3.SQLITE_UPDATE,
    sqlite3.SQLITE_DELETE,
    sqlite3.SQLITE_DROP_TABLE,
    sqlite3.SQLITE_ALTER_TABLE,
    sqlite3.SQLITE_CREATE_INDEX,
    sqlite3.SQLITE_CREATE_TRIGGER,
)


class Guard:
    """The SQLite authorizer of a tenant connection: what user SQL may not do.

    Denied always: ATTACH / DETACH (reaching another tenant's file), ``writable_schema``, and
    calls to :data:`DENIED_FUNCTIONS`.
    Denied unless CinchDB itself is writing (``internal``): writes to CinchDB's system tables
    (``__cinch_*``, ``__kv``). DDL is allowed here because the replay issues it; user DDL never
    reaches a tenant connection except through the journal. Python's ``sqlite3`` never enables
    ``load_extension`` unless asked, and CinchDB never asks.
    """

    __slots__ = ("internal",)

    def __init__(self) -> None:
        self.internal = False

    def __call__(
        self, action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None
    ) -> int:
        if action == sqlite3.SQLITE_FUNCTION:
            # arg2 is the function's name (arg1 is always NULL for this action).
            if (arg2 or "").lower() in DENIED_FUNCTIONS:
                return sqlite3.SQLITE_DENY
            return sqlite3.SQLITE_OK
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


class TenantConnection(sqlite3.Connection):
    """A sqlite3 connection that carries its :class:`Guard`."""

    guard: Guard


if drivers.sqlcipher is not None:
    # sqlcipher3 ships no type stubs, so its Connection is Any to mypy, and strict mode refuses
    # a subclass of Any; at run time it is a real class with sqlite3.Connection's interface.
    class EncryptedTenantConnection(drivers.sqlcipher.Connection):  # type: ignore[misc]
        """A SQLCipher connection that carries its :class:`Guard`."""

        guard: Guard


def open_tenant_file(
    path: Path, raw_key: bytes | None = None, tenant: str = ""
) -> TenantConnection:
    """A connection configured the way every tenant file is used, guarded by a :class:`Guard`;
    a SQLCipher one, checked against the key, when ``raw_key`` is given."""
    if raw_key is not None:
        conn = cast(
            TenantConnection, open_encrypted(path, raw_key, EncryptedTenantConnection, tenant)
        )
    else:
        conn = sqlite3.connect(
            path,
            isolation_level=None,
            check_same_thread=False,
            timeout=BUSY_TIMEOUT_S,
            factory=TenantConnection,
        )
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        if (
            conn.execute(
                "SELECT count(*) FROM sqlite_schema WHERE name IN (?, ?)", (STATE_TABLE, KV_TABLE)
            ).fetchone()[0]
            < 2
        ):
            for statement in SYSTEM_STATEMENTS:
                conn.execute(statement)
    except BaseException:
        conn.close()
        raise
    _set_limit(conn, _LIMIT_LENGTH, MAX_VALUE_BYTES)
    _set_limit(conn, _LIMIT_SQL_LENGTH, MAX_SQL_BYTES)
    conn.guard = Guard()
    conn.set_authorizer(conn.guard)
    return conn


@contextmanager
def internal(conn: sqlite3.Connection) -> Iterator[None]:
    """Let CinchDB itself write its system tables on a guarded connection.

    The value size limit is lifted meanwhile: CinchDB's own writes (a table rebuild copying
    rows that were written before the limit existed, a KV value the caller handed over) build
    nothing larger than what is already in the file or in the caller's memory.
    """
    guard: Guard | None = getattr(conn, "guard", None)
    if guard is None:
        yield
        return
    limited = _set_limit(conn, _LIMIT_LENGTH, _UNLIMITED)
    guard.internal = True
    try:
        yield
    finally:
        guard.internal = False
        if limited:
            _set_limit(conn, _LIMIT_LENGTH, MAX_VALUE_BYTES)


def _set_limit(conn: sqlite3.Connection, category: int, value: int) -> bool:
    """Set one of SQLite's run-time limits where the driver can (False where it cannot:
    sqlcipher3's connections and Python 3.10's sqlite3 have no ``setlimit``, so encrypted
    tenants, and every tenant on 3.10, keep SQLite's defaults)."""
    setlimit: Callable[[int, int], int] | None = getattr(conn, "setlimit", None)
    if setlimit is None:
        return False
    setlimit(category, value)
    return True


def read_cursor(conn: sqlite3.Connection) -> str | None:
    """The id of the last event applied to the file (None: no event yet)."""
    row = conn.execute(f"SELECT value FROM \"{STATE_TABLE}\" WHERE key = 'cursor'").fetchone()
    return None if row is None else str(row[0])


def read_cursor_of_file(path: Path) -> str | None:
    """The cursor of a file on disk, read without opening it for writing or catching it up."""
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
    try:
        return read_cursor(conn)
    except drivers.DatabaseError:
        return None  # no state table: a file that never received an event
    finally:
        conn.close()


class CursorMovedError(Exception):
    """Another process applied events to the file between our read of its cursor and our
    write lock; the caller starts again from the cursor now in the file."""


def expect_cursor(expected: str | None) -> Callable[[sqlite3.Connection], None]:
    """An ``after_begin`` check for ``apply_operations``: the file is still at ``expected``."""

    def check(conn: sqlite3.Connection) -> None:
        if read_cursor(conn) != expected:
            raise CursorMovedError

    return check


def write_cursor(event_id: str) -> Callable[[sqlite3.Connection], None]:
    """A ``before_commit`` step for ``apply_operations``: record ``event_id`` as applied."""

    def write(conn: sqlite3.Connection) -> None:
        conn.execute(
            f"INSERT INTO \"{STATE_TABLE}\" (key, value) VALUES ('cursor', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (event_id,),
        )

    return write


# -- files opened for CinchDB's own fleet-wide work ----------------------------------------------
#: WAL pages past which a commit on a fleet connection checkpoints (SQLite's default: 1,000).
FLEET_WAL_PAGES = 100
# SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE (SQLite >= 3.28).
_NO_CKPT_ON_CLOSE = 1006
# Where CPython 3.10/3.11 keep the ``sqlite3 *`` of a connection: the first field after the
# object header (Modules/_sqlite/connection.h); 3.12 exposes the setting as setconfig().
_HANDLE_OFFSET = 16
# The C function, found once per process: None until looked up, False where unavailable.
_db_config: Any = None


def open_for_fleet(path: Path) -> sqlite3.Connection:
    """A plain connection to an existing tenant file for CinchDB's own planned DDL over a
    fleet (propagation, preflight, sync), closed by the caller when its one transaction is done.

    No authorizer: it runs only statements CinchDB rendered from the journal, never user SQL,
    and SQLite calls an authorizer (holding the GIL) for every action of every statement,
    which would serialize the worker threads that otherwise overlap their files' I/O. Opened
    ``mode=rw``: a tenant deleted meanwhile is an error, never a new empty file. The file is
    already in WAL mode (the mode is persistent and every tenant file is made from a WAL
    template), so only the per-connection pragmas are set: ``synchronous=NORMAL`` as on every
    tenant connection, and ``foreign_keys`` for the replay's checks. See
    :func:`keep_wal_on_close` for what closing it costs.
    """
    conn = sqlite3.connect(
        f"{path.as_uri()}?mode=rw",
        uri=True,
        isolation_level=None,
        check_same_thread=False,
        timeout=BUSY_TIMEOUT_S,
    )
    try:
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        if keep_wal_on_close(conn, path):
            # The WAL now outlives the connection, and the next first connection to the file
            # reads all of it to rebuild its index: a commit past this many pages checkpoints
            # (once per ~30 schema changes), so that read stays short.
            conn.execute(f"PRAGMA wal_autocheckpoint = {FLEET_WAL_PAGES}")
    except BaseException:
        conn.close()
        raise
    return conn


def keep_wal_on_close(conn: sqlite3.Connection, path: Path) -> bool:
    """Let ``conn`` close without checkpointing its file (``SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE``);
    whether it was possible here.

    The last connection to close a WAL-mode file otherwise copies the WAL into the file and
    syncs both (two fsyncs), then deletes the WAL, so the next write to it syncs a new WAL's
    header (a third): over a fleet that was most of a change's time. Left in the WAL the
    transaction is exactly as durable as any commit under ``synchronous=NORMAL`` (the WAL is
    synced at the next checkpoint, which the next ordinary connection to the file makes when
    it closes, or a writer at 1,000 pages), and a file always opens at a committed state with
    its cursor in the same transaction, so a crash or power loss only leaves it at an earlier
    event, which catch-up repairs. Where the setting cannot be reached (another interpreter,
    SQLite < 3.28, a driver without the shared library) the file is checkpointed as before.
    """
    setconfig: Callable[[int, bool], bool] | None = getattr(conn, "setconfig", None)
    if setconfig is not None:  # Python >= 3.12
        return bool(setconfig(_NO_CKPT_ON_CLOSE, True))
    db_config = _load_db_config()
    if db_config is None or type(conn) is not sqlite3.Connection:
        return False
    handle = ctypes.c_void_p.from_address(id(conn) + _HANDLE_OFFSET).value
    enabled = ctypes.c_int(-1)
    return bool(
        db_config(handle, _NO_CKPT_ON_CLOSE, 1, ctypes.byref(enabled)) == 0 and enabled.value == 1
    )


def _load_db_config() -> Any:
    """``sqlite3_db_config`` of the very library the ``sqlite3`` module runs on, or None.

    Only on CPython 3.10/3.11 (whose connection layout :data:`_HANDLE_OFFSET` describes) without
    trace-refs, and only when that library is a shared one already mapped into the process
    (Linux): loading it again by that path returns the same copy, with the same connections.
    The handle found is checked once against a connection whose file name is known.
    """
    global _db_config
    if _db_config is not None:
        return _db_config or None
    _db_config = False
    if (
        sys.implementation.name != "cpython"
        or sys.version_info[:2] not in ((3, 10), (3, 11))
        or sys.getsizeof(object()) != _HANDLE_OFFSET
        or sqlite3.sqlite_version_info < (3, 28, 0)
    ):
        return None
    try:
        with open("/proc/self/maps") as maps:
            libraries = {line.split()[-1] for line in maps if "/libsqlite3." in line}
    except OSError:
        return None
    if len(libraries) != 1:
        return None
    library = ctypes.CDLL(libraries.pop())
    library.sqlite3_db_config.restype = ctypes.c_int
    library.sqlite3_db_config.argtypes = [
        ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_int)
    ]  # fmt: skip
    library.sqlite3_db_filename.restype = ctypes.c_char_p
    library.sqlite3_db_filename.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    probe = sqlite3.connect(":memory:")
    try:
        handle = ctypes.c_void_p.from_address(id(probe) + _HANDLE_OFFSET).value
        # An in-memory database's file name is the empty string: a handle that is not a
        # sqlite3 * of this library would not answer that through the library's own lookup.
        probe.execute("ATTACH ':memory:' AS probe_marker")
        if handle is None or library.sqlite3_db_filename(handle, b"probe_marker") != b"":
            return None
    finally:
        probe.close()
    _db_config = library.sqlite3_db_config
    return _db_config
