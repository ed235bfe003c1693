"""The per-tenant key-value store: ``db.kv``, with Redis semantics.

Each tenant's store is the system table ``__kv`` inside its SQLite file: isolated like the
tenant's rows, but not part of the journal, of diffs or of merges, and never listed as a table.
Values keep their Python type: str, int, float, bool (back as ``bool``), None, bytes, and
lists/dicts (as JSON). Keys with a TTL expire at a wall-clock time; expired keys are invisible
to every read and are deleted opportunistically by writes (a bounded batch every
:data:`PURGE_EVERY` writes) or by :meth:`KVStore.delete_expired`; there is no background thread.

Atomicity. Single writes are single statements. ``mset``, ``setnx``, ``increment`` and
``delete`` run in one ``BEGIN IMMEDIATE`` transaction, so read-modify-write sequences from
several processes never interleave (SQLite's write lock serializes them).
"""

from __future__ import annotations

import inspect
import json
import math
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache, wraps
from time import perf_counter_ns
from typing import Any, Protocol

from cinchdb._guard import Guard, internal
from cinchdb._query_shapes import Shape, operation_shape
from cinchdb._serialized import serialized
from cinchdb._system_tables import KV_TABLE
from cinchdb.errors import (
    InvalidKeyError,
    InvalidPatternError,
    KeysNotFoundError,
    KVError,
    KVValueError,
)
from journal.transactions import transaction

__all__ = [
    "InvalidKeyError",
    "KVError",
    "KVStore",
    "KVValueError",
    "KeysNotFoundError",
    "ObservedKVStore",
    "validate_key",
]

MAX_KEY_LENGTH = 255
PURGE_EVERY = 256
PURGE_BATCH = 100
_KEY = re.compile(r"[A-Za-z0-9:_\-./]+")
_INT64 = (-(2**63), 2**63 - 1)
_T = f'"{KV_TABLE}"'
_LIVE = "(expires_at IS NULL OR expires_at > ?)"

_UPSERT = (
    f"INSERT INTO {_T} (key, kind, value, expires_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, value = excluded.value,"
    " expires_at = excluded.expires_at"
)
_GET = f"SELECT kind, value, expires_at FROM {_T} WHERE key = ?"

#: What ``set`` accepts. Lists and dicts go through JSON, so their items are any JSON value
#: (``list[Any]``: a ``list[JSON]`` alias would refuse a caller's ``list[int]``, lists being
#: invariant); bytearray and memoryview come back as bytes.
Value = (
    str | int | float | bool | bytes | bytearray | memoryview | list[Any] | dict[str, Any] | None
)
#: What the ``value`` column holds (see :func:`encode`).
Stored = str | int | float | bytes | None
#: A row of ``_GET``: kind, stored value, expiry.
_Entry = tuple[str, Stored, float | None]


def validate_key(key: object) -> str:
    """The reference's wording: "Key must be a non-empty string", "Key exceeds 255
    characters", "Invalid characters in key"."""
    if not isinstance(key, str) or not key:
        raise InvalidKeyError(key, "Key must be a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKeyError(key, f"Key exceeds {MAX_KEY_LENGTH} characters")
    if not _KEY.fullmatch(key):
        raise InvalidKeyError(key, "Invalid characters in key")
    return key


def encode(value: object) -> tuple[str, Stored]:
    """A Python value as (kind, SQLite value); anything that is not a :data:`Value` is a
    KVValueError."""
    if value is None:
        return "n", None
    if isinstance(value, bool):
        return "b", int(value)
    if isinstance(value, int):
        if _INT64[0] <= value <= _INT64[1]:
            return "i", value
        return "I", str(value)
    if isinstance(value, float):
        if math.isnan(value):
            raise KVValueError(value, "NaN cannot be stored (it does not equal itself)")
        return "f", value
    if isinstance(value, str):
        return "s", value
    if isinstance(value, bytes | bytearray | memoryview):
        return "y", bytes(value)
    if isinstance(value, list | dict):
        try:
            return "j", json.dumps(value, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as e:
            raise KVValueError(value, f"Value cannot be stored as JSON: {e}") from e
    raise KVValueError(
        value,
        f"Unsupported value type {type(value).__name__}: use str, int, float, bool, None,"
        " bytes, list or dict",
    )


def decode(kind: str, value: Stored) -> Any:
    """The value :func:`encode` was given (``Any``: see :meth:`KVStore.get`)."""
    if kind == "s" or kind == "i" or kind == "y":
        return value
    if kind == "f":
        return float(_number(value))
    if kind == "b":
        return bool(value)
    if kind == "n":
        return None
    if kind == "I":
        return int(_number(value))
    return json.loads(_text(value))


def _number(stored: Stored) -> str | int | float:
    # Kinds f and I hold a REAL (an INTEGER when SQLite stored an integral float) or a text.
    assert isinstance(stored, str | int | float), stored
    return stored


def _text(stored: Stored) -> str:
    assert isinstance(stored, str), stored  # kind j holds JSON text
    return stored


def _ttl_deadline(ttl: float | None, now: float) -> float | None:
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0:
        raise KVValueError(ttl, f"TTL must be a positive number of seconds, got {ttl!r}")
    return now + ttl


@lru_cache(maxsize=256)
def _pattern(pattern: str) -> tuple[re.Pattern[str], str]:
    """A Redis glob as a regex, and its literal prefix (to narrow the scan)."""
    out: list[str] = []
    prefix: list[str] = []
    literal = True
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            if literal:
                prefix.append(pattern[i + 1])
            i += 2
            continue
        if char in "*?[":
            literal = False
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : end]
                negate = body[:1] == "^"
                body = body[1:] if negate else body
                inner = "".join(
                    "\\\\" if c == "\\" else c for c in body
                )  # a class keeps its ranges; only backslashes need escaping
                out.append(f"[{'^' if negate else ''}{inner}]")
                i = end
        else:
            out.append(re.escape(char))
            if literal:
                prefix.append(char)
        i += 1
    try:
        return re.compile("".join(out), re.DOTALL), "".join(prefix)
    except re.error as e:
        # A class the glob passes through as it is, with a range backwards ([z-a]).
        raise InvalidPatternError(pattern, str(e)) from e


@serialized
class KVStore:
    """One tenant's key-value store.

    Args:
        connection: returns the tenant's open connection, or None while the tenant has no file
            (lazy tenants read as empty; ``write=True`` materializes the file).
        clock: seconds since the epoch (``time.time``); tests pass a fake one.
        lock: the owning handle's lock; every public method holds it (see
            :mod:`cinchdb._serialized`), so one store may be shared between threads.
    """

    def __init__(
        self,
        connection: Callable[[bool], sqlite3.Connection | None],
        clock: Callable[[], float] = time.time,
        lock: threading.RLock | None = None,
    ) -> None:
        # Shared with the handle that owns this store: a KV call and a call of the handle
        # never run at once (they use the same connection and authorizer flags).
        self._lock = threading.RLock() if lock is None else lock
        self._connection = connection
        self._clock = clock
        self._writes = 0

    # -- plumbing ----------------------------------------------------------------------------
    def _reader(self) -> sqlite3.Connection | None:
        return self._connection(False)

    def _writer(self) -> sqlite3.Connection:
        conn = self._connection(True)
        assert conn is not None
        return conn

    @contextmanager
    def _write(self, atomic: bool = False) -> Iterator[sqlite3.Connection]:
        conn = self._writer()
        with internal(conn):
            if atomic:
                with transaction(conn):
                    yield conn
            else:
                yield conn
        self._writes += 1
        if self._writes % PURGE_EVERY == 0:
            self._purge(conn, PURGE_BATCH)

    def _purge(self, conn: sqlite3.Connection, limit: int | None) -> int:
        now = self._clock()
        with internal(conn):
            if limit is None:
                cursor = conn.execute(
                    f"DELETE FROM {_T} WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,)
                )
            else:
                cursor = conn.execute(
                    f"DELETE FROM {_T} WHERE key IN (SELECT key FROM {_T}"
                    " WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT ?)",
                    (now, limit),
                )
        return cursor.rowcount

    def _live(self, row: _Entry | None, now: float) -> bool:
        return row is not None and (row[2] is None or row[2] > now)

    # -- single keys -------------------------------------------------------------------------
    def set(self, key: str, value: Value, ttl: float | None = None) -> None:
        """Store ``value`` under ``key``, replacing any value and TTL it had."""
        validate_key(key)
        kind, stored = encode(value)
        deadline = None if ttl is None else _ttl_deadline(ttl, self._clock())
        # The hot path: no context managers (each costs microseconds), one statement.
        conn = self._writer()
        guard: Guard | None = getattr(conn, "guard", None)
        if guard is not None:
            guard.internal = True
        try:
            conn.execute(_UPSERT, (key, kind, stored, deadline))
        finally:
            if guard is not None:
                guard.internal = False
        self._writes += 1
        if self._writes % PURGE_EVERY == 0:
            self._purge(conn, PURGE_BATCH)

    def get(self, key: str) -> Any:
        """The value, or None when the key is missing or expired.

        ``Any``: one store holds values of every :data:`Value` type under different keys, and
        the caller knows which it put under this one; a union would make it narrow each read.
        """
        validate_key(key)
        conn = self._reader()
        if conn is None:
            return None
        row = conn.execute(_GET, (key,)).fetchone()
        if row is None or (row[2] is not None and row[2] <= self._clock()):
            return None
        return decode(row[0], row[1])

    def exists(self, key: str) -> bool:
        validate_key(key)
        conn = self._reader()
        if conn is None:
            return False
        return self._live(conn.execute(_GET, (key,)).fetchone(), self._clock())

    def setnx(self, key: str, value: Value, ttl: float | None = None) -> bool:
        """Set only if the key does not exist (or has expired); True if it was set."""
        validate_key(key)
        kind, stored = encode(value)
        now = self._clock()
        deadline = _ttl_deadline(ttl, now)
        with self._write(atomic=True) as conn:
            if self._live(conn.execute(_GET, (key,)).fetchone(), now):
                return False
            conn.execute(_UPSERT, (key, kind, stored, deadline))
        return True

    def increment(self, key: str, amount: int | float = 1) -> int | float:
        """Add ``amount`` to a numeric value, creating the key (at ``amount``) if missing;
        atomic across processes. The key keeps its TTL."""
        validate_key(key)
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            raise KVValueError(amount, f"Increment amount must be a number, got {amount!r}")
        now = self._clock()
        with self._write(atomic=True) as conn:
            row = conn.execute(_GET, (key,)).fetchone()
            deadline = None
            if not self._live(row, now):
                new: int | float = amount
            elif row is not None and row[0] in ("i", "I", "f"):
                new = decode(row[0], row[1]) + amount
                deadline = row[2]
            else:
                stored_value = decode(row[0], row[1]) if row is not None else None
                raise KVValueError(
                    stored_value, f"Cannot increment non-numeric value of key '{key}'"
                )
            kind, stored = encode(new)
            conn.execute(_UPSERT, (key, kind, stored, deadline))
        return new

    def delete(self, *keys: str) -> int:
        """Delete keys; return how many existed (expired keys do not count)."""
        for key in keys:
            validate_key(key)
        if not keys:
            return 0
        if self._reader() is None:
            return 0
        now = self._clock()
        marks = ", ".join("?" * len(set(keys)))
        with self._write(atomic=True) as conn:
            live = conn.execute(
                f"SELECT count(*) FROM {_T} WHERE key IN ({marks}) AND {_LIVE}",
                (*set(keys), now),
            ).fetchone()[0]
            conn.execute(f"DELETE FROM {_T} WHERE key IN ({marks})", tuple(set(keys)))
        return int(live)

    def expire(self, key: str, ttl: float) -> bool:
        """Set or replace the TTL of an existing key; False if the key does not exist."""
        validate_key(key)
        if self._reader() is None:
            return False
        now = self._clock()
        deadline = _ttl_deadline(ttl, now)
        with self._write() as conn:
            cursor = conn.execute(
                f"UPDATE {_T} SET expires_at = ? WHERE key = ? AND {_LIVE}", (deadline, key, now)
            )
        return cursor.rowcount > 0

    def ttl(self, key: str) -> int | None:
        """Whole seconds left; None when the key has no expiry; -1 when missing or expired."""
        validate_key(key)
        conn = self._reader()
        if conn is None:
            return -1
        now = self._clock()
        row = conn.execute(_GET, (key,)).fetchone()
        if not self._live(row, now):
            return -1
        assert row is not None
        return None if row[2] is None else int(row[2] - now)

    def persist(self, key: str) -> bool:
        """Remove a key's TTL; True if it had one."""
        validate_key(key)
        if self._reader() is None:
            return False
        now = self._clock()
        with self._write() as conn:
            cursor = conn.execute(
                f"UPDATE {_T} SET expires_at = NULL WHERE key = ? AND expires_at > ?", (key, now)
            )
        return cursor.rowcount > 0

    # -- many keys ---------------------------------------------------------------------------
    def mset(self, items: Mapping[str, Value], ttl: float | None = None) -> None:
        """Set several keys atomically (all or none)."""
        rows = []
        now = self._clock()
        deadline = _ttl_deadline(ttl, now)
        for key, value in items.items():
            validate_key(key)
            kind, stored = encode(value)
            rows.append((key, kind, stored, deadline))
        if not rows:
            return
        with self._write(atomic=True) as conn:
            conn.executemany(_UPSERT, rows)

    def mget(self, keys: Iterable[str]) -> dict[str, Any]:
        """Values of several keys, in the order asked (``Any`` as for :meth:`get`).

        Raises:
            KeysNotFoundError: "Keys not found: ['missing']", listing every missing key.
        """
        wanted = list(keys)
        for key in wanted:
            validate_key(key)
        conn = self._reader()
        found: dict[str, Any] = {}
        if conn is not None and wanted:
            now = self._clock()
            unique = list(dict.fromkeys(wanted))
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                for key, kind, value, _ in conn.execute(
                    f"SELECT key, kind, value, expires_at FROM {_T}"
                    f" WHERE key IN ({marks}) AND {_LIVE}",
                    (*chunk, now),
                ):
                    found[key] = decode(kind, value)
        missing = [key for key in dict.fromkeys(wanted) if key not in found]
        if missing:
            raise KeysNotFoundError(missing)
        return {key: found[key] for key in wanted}

    def keys(self, pattern: str = "*") -> list[str]:
        """Live keys matching a Redis glob (``*``, ``?``, ``[abc]``, ``[^a]``, ``\\`` escapes),
        sorted."""
        regex, prefix = _pattern(pattern)  # first: a bad pattern is refused even when empty
        conn = self._reader()
        if conn is None:
            return []
        now = self._clock()
        if prefix:
            rows = conn.execute(
                f"SELECT key FROM {_T} WHERE key >= ? AND key < ? AND {_LIVE} ORDER BY key",
                (prefix, prefix + "\U0010ffff", now),
            )
        else:
            rows = conn.execute(f"SELECT key FROM {_T} WHERE {_LIVE} ORDER BY key", (now,))
        if pattern == "*":
            return [key for (key,) in rows]
        return [key for (key,) in rows if regex.fullmatch(key)]

    def count(self, pattern: str = "*") -> int:
        """How many live keys match ``pattern``."""
        if pattern == "*":
            conn = self._reader()
            if conn is None:
                return 0
            row = conn.execute(f"SELECT count(*) FROM {_T} WHERE {_LIVE}", (self._clock(),))
            return int(row.fetchone()[0])
        # KVStore's own keys(): an observed store counts this call once, as count().
        return len(KVStore.keys(self, pattern))

    def delete_expired(self) -> int:
        """Delete every expired key now; return how many."""
        conn = self._reader()
        if conn is None:
            return 0
        return self._purge(self._writer(), None)


# -- analytics ------------------------------------------------------------------------------
class Recording(Protocol):
    """The recorder's hooks (``cinchdb.analytics.Recorder.done`` / ``failed``)."""

    def done(self, branch: str, tenant: str, shape: Shape, start: int, rows: int) -> None: ...
    def failed(self, branch: str, tenant: str, shape: Shape, start: int) -> None: ...


class Where(Protocol):
    """Whose store it is at each call: the owning handle's current branch and tenant."""

    branch: str
    tenant: str


class ObservedKVStore(KVStore):
    """A :class:`KVStore` that reports each public call to a recorder (analytics on). A
    handle with analytics off holds a plain :class:`KVStore`: it pays nothing at all.

    Each public call is one observation (``count`` of a pattern calls ``KVStore.keys``
    directly, so it is not counted twice); no lock is taken here: the recorder is
    thread-safe.
    """

    def __init__(
        self,
        connection: Callable[[bool], sqlite3.Connection | None],
        recorder: Recording,
        where: Where,
        clock: Callable[[], float] = time.time,
        lock: threading.RLock | None = None,
    ) -> None:
        super().__init__(connection, clock=clock, lock=lock)
        self._done = recorder.done
        self._failed = recorder.failed
        self._where = where


def _one(result: object, args: tuple[object, ...]) -> int:
    return 1


def _found(result: object, args: tuple[object, ...]) -> int:
    return len(result) if isinstance(result, list | dict) else 0


def _counted(result: object, args: tuple[object, ...]) -> int:
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


def _given(result: object, args: tuple[object, ...]) -> int:
    return len(args[0]) if args and isinstance(args[0], Mapping) else 0


#: Keys a KV call returned or changed (never a value: ``get`` of a list is one key); 1 for
#: the calls not named here.
_ROWS: dict[str, Callable[[object, tuple[object, ...]], int]] = {
    "mget": _found,
    "keys": _found,
    "delete": _counted,
    "delete_expired": _counted,
    "count": _counted,
    "mset": _given,
}


def _observed(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    shape = operation_shape("kv", f"KV {name.upper()}")
    rows = _ROWS.get(name)
    # The body under @serialized's lock wrapper: this one wrapper takes the same lock itself,
    # so an observed call pays one extra Python frame and argument packing, not two.
    body = inspect.unwrap(method)

    @wraps(body)
    def call(self: ObservedKVStore, *args: Any, **kwargs: Any) -> Any:
        where = self._where
        start = perf_counter_ns()
        try:
            with self._lock:
                result = body(self, *args, **kwargs)
        except Exception:
            self._failed(where.branch, where.tenant, shape, start)
            raise
        self._done(
            where.branch, where.tenant, shape, start, 1 if rows is None else rows(result, args)
        )
        return result

    return call


for _name, _method in list(vars(KVStore).items()):
    if not _name.startswith("_") and callable(_method):
        setattr(ObservedKVStore, _name, _observed(_name, _method))
