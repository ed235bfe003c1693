"""API keys for ``cinch serve``: created, listed and revoked here (and by ``cinch key``), and
checked by the server on every request.

A key is printed once, when it is made, as ``ck_<id>_<secret>``; ``metadata.db`` keeps only a
hash of the secret (see :mod:`cinchdb._key_store`), with the key's scopes, limits and times.
A key has scopes (:data:`SCOPES`; none given means every one) and limits: the databases, the
branches (patterns such as ``feature/*``) and the tenants it may reach, each empty for "any".

Revocation and expiry take effect at once in every process: :meth:`ApiKeys.authenticate` reads
the key's row on each call (one primary-key lookup on a kept-open connection; nothing is
cached that another process could make stale).

::

    keys = ApiKeys(project_dir)
    created = keys.create(scopes=["data:read"], tenants=["acme"])
    principal = keys.authenticate(created.token)
    principal.require("data:read", database="main", branch="main", tenant="acme")
"""

from __future__ import annotations

import builtins
import json
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from fnmatch import fnmatchcase
from types import TracebackType
from typing import Any

import attrs

from cinchdb._key_store import (
    INFO_COLUMNS,
    UNKNOWN_HASH,
    hash_matches,
    is_key_id,
    new_key,
    parse_token,
    prepare_key_table,
    secret_hash,
)
from cinchdb._tenant_registry import prepare_registry, validate_tenant_name
from cinchdb.errors import (
    AuthenticationError,
    InvalidFieldError,
    KeyNotFoundError,
    PermissionDeniedError,
)
from cinchdb.project import CINCHDB_DIR, METADATA_FILE, find_project, require_journal
from journal.names import validate_database_name
from journal.store import JournalStore

__all__ = ["SCOPES", "ApiKeys", "CreatedKey", "KeyInfo", "Principal"]

#: Every scope, in the order they are listed.
SCOPES: tuple[str, ...] = (
    "schema:read",
    "schema:write",
    "data:read",
    "data:write",
    "kv:read",
    "kv:write",
    "tenants:admin",
    "branches:admin",
    "keys:admin",
    "metrics:read",
)
_SCOPE_SET = frozenset(SCOPES)
MAX_NAME_LENGTH = 100
MAX_BRANCH_PATTERN_LENGTH = 100
# A branch name's characters, with '*' (any run of characters, '/' included) and '?' (one
# character). '[' cannot appear in a branch name, so fnmatch's character classes are refused
# rather than half-supported.
_BRANCH_PATTERN = re.compile(r"[A-Za-z0-9._/*?-]+")
_MALFORMED = "is malformed: a key looks like ck_<id>_<secret>"
#: Rows whose principal is kept (see ApiKeys._principals); more keys than this in use at once
#: only means parsing again.
_PRINCIPAL_CACHE_SIZE = 1024
_UNKNOWN = "is not recognized (unknown id or wrong secret)"


def _utc_text(moment: datetime) -> str:
    """ISO-8601 UTC text of one fixed width (as ``cinchdb._rows.utc_now``): compares as text."""
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")[:-6] + "Z"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@attrs.frozen
class KeyInfo:
    """What is known of a key, never its secret or hash. Empty limits mean "any"."""

    id: str
    name: str | None
    scopes: tuple[str, ...]
    databases: tuple[str, ...]
    branches: tuple[str, ...]
    tenants: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def status(self, now: datetime | None = None) -> str:
        """``revoked``, ``expired`` or ``active``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or _now()):
            return "expired"
        return "active"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, times as ISO-8601 UTC text."""
        return {
            "id": self.id,
            "name": self.name,
            "scopes": list(self.scopes),
            "databases": list(self.databases),
            "branches": list(self.branches),
            "tenants": list(self.tenants),
            "created_at": _utc_text(self.created_at),
            "expires_at": None if self.expires_at is None else _utc_text(self.expires_at),
            "revoked_at": None if self.revoked_at is None else _utc_text(self.revoked_at),
            "status": self.status(),
        }


@attrs.frozen
class CreatedKey:
    """A key just made: ``token`` is the key itself, shown this once and never stored (left out
    of ``repr`` so that logging the object does not log the key)."""

    token: str = attrs.field(repr=False)
    info: KeyInfo


@attrs.frozen
class Principal:
    """Who a request comes from: an authenticated key, with its scopes and limits."""

    key_id: str
    name: str | None
    scopes: frozenset[str]
    databases: tuple[str, ...]
    branches: tuple[str, ...]
    tenants: tuple[str, ...]
    expires_at: datetime | None

    def denial(
        self,
        scope: str,
        *,
        database: str | None = None,
        branch: str | None = None,
        tenant: str | None = None,
    ) -> PermissionDeniedError | None:
        """Why this key may not do ``scope`` on what is named, or None when it may. The scope
        is checked first, then the database, branch and tenant (a name left out is not
        checked)."""
        if scope not in _SCOPE_SET:
            raise InvalidFieldError(
                "Principal.require()", "argument", [("scope", _unknown_scope(scope))]
            )
        if scope not in self.scopes:
            held = [s for s in SCOPES if s in self.scopes]
            return PermissionDeniedError(self.key_id, "scope", scope, held)
        if database is not None and self.databases and database not in self.databases:
            return PermissionDeniedError(self.key_id, "database", database, self.databases)
        if (
            branch is not None
            and self.branches
            and not any(fnmatchcase(branch, pattern) for pattern in self.branches)
        ):
            return PermissionDeniedError(self.key_id, "branch", branch, self.branches)
        if tenant is not None and self.tenants and tenant not in self.tenants:
            return PermissionDeniedError(self.key_id, "tenant", tenant, self.tenants)
        return None

    def permits(
        self,
        scope: str,
        *,
        database: str | None = None,
        branch: str | None = None,
        tenant: str | None = None,
    ) -> bool:
        """Whether :meth:`require` would pass (for filtering a list, say)."""
        return self.denial(scope, database=database, branch=branch, tenant=tenant) is None

    def require(
        self,
        scope: str,
        *,
        database: str | None = None,
        branch: str | None = None,
        tenant: str | None = None,
    ) -> None:
        """Raises:
        PermissionDeniedError: naming the missing scope, or the database, branch or tenant
            outside the key's limits.
        InvalidFieldError: ``scope`` is not one of :data:`SCOPES` (a bug in the caller).
        """
        denied = self.denial(scope, database=database, branch=branch, tenant=tenant)
        if denied is not None:
            raise denied


def _unknown_scope(scope: object) -> str:
    return f"unknown scope {scope!r}; use one of: {', '.join(SCOPES)}"


def _listed(
    argument: str, values: str | Iterable[str], check: Callable[[str], object]
) -> tuple[str, ...]:
    """``values`` (one string is one value) checked, without repeats, in the order given."""
    items = (values,) if isinstance(values, str) else tuple(values)
    for item in items:
        if not isinstance(item, str):
            raise InvalidFieldError(
                "ApiKeys.create()", "argument", [(argument, f"{item!r} is not a string")]
            )
        check(item)
    return tuple(dict.fromkeys(items))


def _check_scope(scope: str) -> None:
    if scope not in _SCOPE_SET:
        raise InvalidFieldError("ApiKeys.create()", "argument", [("scopes", _unknown_scope(scope))])


def _check_branch_pattern(pattern: str) -> None:
    problem = ""
    if len(pattern) > MAX_BRANCH_PATTERN_LENGTH:
        problem = f"longer than {MAX_BRANCH_PATTERN_LENGTH} characters"
    elif not _BRANCH_PATTERN.fullmatch(pattern):
        problem = "use a branch name's characters, with '*' and '?' as wildcards"
    if problem:
        raise InvalidFieldError(
            "ApiKeys.create()", "argument", [("branches", f"branch pattern {pattern!r}: {problem}")]
        )


def _check_name(name: str | None) -> None:
    if name is None:
        return
    problem = ""
    if not isinstance(name, str):
        problem = "must be a string"
    elif not name or len(name) > MAX_NAME_LENGTH:
        problem = f"must be 1 to {MAX_NAME_LENGTH} characters"
    elif not name.isprintable():
        problem = "must be printable text on one line"
    if problem:
        raise InvalidFieldError("ApiKeys.create()", "argument", [("name", problem)])


def _check_expiry(expires_in: timedelta | None) -> None:
    if expires_in is None:
        return
    if not isinstance(expires_in, timedelta) or expires_in <= timedelta(0):
        raise InvalidFieldError(
            "ApiKeys.create()",
            "argument",
            [("expires_in", f"must be a positive timedelta or None, not {expires_in!r}")],
        )


class ApiKeys:
    """The API keys of one project, in its ``metadata.db``.

    Safe to share between threads. Open one per process and keep it open: authenticating
    is then one primary-key lookup.

    Args:
        project_dir: the project (found as :func:`cinchdb.project.find_project` finds it).

    Raises:
        ProjectNotFoundError; JournalMissingError.
    """

    def __init__(self, project_dir: str | os.PathLike[str] | None = None) -> None:
        meta_dir = find_project(project_dir) / CINCHDB_DIR
        require_journal(meta_dir)
        # The journal's own store, for its connection settings (WAL, busy timeout) and its
        # transaction(); keys are local state, never part of the shared history, so none is
        # attached.
        self._store = JournalStore(meta_dir / METADATA_FILE)
        try:
            prepare_registry(self._store)
            prepare_key_table(self._store)
        except BaseException:
            self._store.close()
            raise
        # One statement at a time on the shared connection: a read must not run inside
        # another thread's open write transaction.
        self._lock = threading.Lock()
        # Principals by the whole row they were built from (secret hash included): a row that
        # changed is a different key, so this can never answer with stale scopes or limits;
        # the row itself is still read on every call. Saves parsing four JSON lists a request.
        self._principals: dict[tuple[Any, ...], Principal] = {}

    def close(self) -> None:
        with self._lock:
            self._store.close()

    def __enter__(self) -> ApiKeys:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def create(
        self,
        *,
        scopes: str | Iterable[str] | None = None,
        databases: str | Iterable[str] = (),
        branches: str | Iterable[str] = (),
        tenants: str | Iterable[str] = (),
        expires_in: timedelta | None = None,
        name: str | None = None,
    ) -> CreatedKey:
        """A new key. ``token`` in the result is the only time the key can be seen.

        Args:
            scopes: what it may do (:data:`SCOPES`); None gives every scope.
            databases: the databases it may reach; empty for any.
            branches: branch patterns it may reach (``feature/*``: ``*`` matches any run of
                characters, ``/`` included; ``?`` one character); empty for any.
            tenants: the tenants it may reach; empty for any.
            expires_in: how long it is valid; None for no expiry.
            name: a label for people (``cinch key list``).

        Raises:
            InvalidFieldError: an unknown scope, a bad branch pattern, name or expiry, or no
                scope at all.
            InvalidNameError; InvalidTenantNameError: a database or tenant name that cannot
                exist.
        """
        granted = SCOPES if scopes is None else _listed("scopes", scopes, _check_scope)
        if not granted:
            raise InvalidFieldError(
                "ApiKeys.create()",
                "argument",
                [("scopes", "is empty: give at least one scope, or None for every scope")],
            )
        granted = tuple(s for s in SCOPES if s in granted)
        database_limits = _listed("databases", databases, validate_database_name)
        branch_limits = _listed("branches", branches, _check_branch_pattern)
        tenant_limits = _listed("tenants", tenants, validate_tenant_name)
        _check_expiry(expires_in)
        _check_name(name)
        created = _now()
        try:
            expires = None if expires_in is None else created + expires_in
        except OverflowError:
            raise InvalidFieldError(
                "ApiKeys.create()", "argument", [("expires_in", "ends after the year 9999")]
            ) from None
        row = (
            name,
            json.dumps(granted),
            json.dumps(database_limits),
            json.dumps(branch_limits),
            json.dumps(tenant_limits),
            _utc_text(created),
            None if expires is None else _utc_text(expires),
        )
        # 80 random bits make a repeated id all but impossible; it would be refused by the
        # primary key rather than overwrite a key, and a fresh one is drawn.
        for _attempt in range(3):
            key_id, secret, token = new_key()
            try:
                with self._lock, self._store.transaction() as conn:
                    conn.execute(
                        "INSERT INTO cinch_api_keys (id, secret_hash, name, scopes, databases,"
                        " branches, tenants, created_at, expires_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (key_id, secret_hash(key_id, secret), *row),
                    )
            except sqlite3.IntegrityError:
                continue
            return CreatedKey(token, self._info(key_id))
        raise sqlite3.IntegrityError("three random API key ids in a row were taken")

    def list(self) -> builtins.list[KeyInfo]:
        """Every key, revoked and expired ones included, oldest first."""
        with self._lock:
            rows = self._store.connection.execute(
                f"SELECT {INFO_COLUMNS} FROM cinch_api_keys ORDER BY created_at, id"
            ).fetchall()
        return [_key_info(row) for row in rows]

    def revoke(self, key_id: str) -> KeyInfo:
        """Revoke a key (given by id, or as the whole key): from the next :meth:`authenticate`
        on, in every process, it is refused. Revoking a revoked key changes nothing.

        Raises:
            KeyNotFoundError: no key has that id.
        """
        parsed = parse_token(key_id)
        if parsed is not None:
            key_id = parsed[0]
        if not is_key_id(key_id):
            raise KeyNotFoundError(None)
        with self._lock, self._store.transaction() as conn:
            conn.execute(
                "UPDATE cinch_api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (_utc_text(_now()), key_id),
            )
        return self._info(key_id)

    def authenticate(self, token: object) -> Principal:
        """The principal of a key, checked against its row as it is now.

        Raises:
            AuthenticationError: the key is malformed, unknown, has the wrong secret, is
                revoked or has expired. The message never contains the key.
        """
        parsed = parse_token(token)
        if parsed is None:
            raise AuthenticationError(_MALFORMED)
        key_id, secret = parsed
        with self._lock:
            row = self._store.connection.execute(
                "SELECT secret_hash, name, scopes, databases, branches, tenants, expires_at,"
                " revoked_at FROM cinch_api_keys WHERE id = ?",
                (key_id,),
            ).fetchone()
        if row is None:
            hash_matches(UNKNOWN_HASH, key_id, secret)
            raise AuthenticationError(_UNKNOWN)
        stored, *_, expires_at, revoked_at = row
        if not hash_matches(stored, key_id, secret):
            raise AuthenticationError(_UNKNOWN)
        # Only the holder of the secret learns whether the key was revoked or has expired.
        if revoked_at is not None:
            raise AuthenticationError(f"was revoked at {revoked_at}", key_id)
        principal = self._principals.get(row)
        if principal is None:
            principal = _principal(key_id, row)
            if len(self._principals) >= _PRINCIPAL_CACHE_SIZE:
                self._principals.clear()
            self._principals[row] = principal
        if principal.expires_at is not None and principal.expires_at <= _now():
            raise AuthenticationError(f"expired at {expires_at}", key_id)
        return principal

    def _info(self, key_id: str) -> KeyInfo:
        with self._lock:
            row = self._store.connection.execute(
                f"SELECT {INFO_COLUMNS} FROM cinch_api_keys WHERE id = ?", (key_id,)
            ).fetchone()
        if row is None:
            raise KeyNotFoundError(key_id)
        return _key_info(row)


def _principal(key_id: str, row: tuple[Any, ...]) -> Principal:
    _, name, scopes, databases, branches, tenants, expires_at, _ = row
    return Principal(
        key_id=key_id,
        name=name,
        scopes=frozenset(json.loads(scopes)),
        databases=tuple(json.loads(databases)),
        branches=tuple(json.loads(branches)),
        tenants=tuple(json.loads(tenants)),
        expires_at=_time(expires_at),
    )


def _key_info(row: tuple[Any, ...]) -> KeyInfo:
    key_id, name, scopes, databases, branches, tenants, created, expires, revoked = row
    return KeyInfo(
        id=key_id,
        name=name,
        scopes=tuple(json.loads(scopes)),
        databases=tuple(json.loads(databases)),
        branches=tuple(json.loads(branches)),
        tenants=tuple(json.loads(tenants)),
        created_at=datetime.fromisoformat(created),
        expires_at=_time(expires),
        revoked_at=_time(revoked),
    )
