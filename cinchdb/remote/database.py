"""``RemoteCinchDB``: a :class:`~cinchdb.CinchDB` over the HTTP API of ``cinch serve``.

The same methods, results and exceptions as a local handle: each call becomes the request the
API table (:mod:`cinchdb.api`) describes for the SDK method of that name, and its answer is
decoded into the type the local method returns. A method the API has no endpoint for (one that
works on local files, runs on the server's files, or the project's other databases) raises
:class:`~cinchdb.errors.RemoteUnsupportedError` naming it (:data:`UNSUPPORTED`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn, overload

import httpx

from cinchdb import api
from cinchdb._unset import UNSET
from cinchdb.errors import (
    ArgumentError,
    BranchNotFoundError,
    HandleClosedError,
    InvalidFieldError,
    KeyColumnError,
    ProtectedError,
)
from cinchdb.project import MAIN
from cinchdb.remote._decode import decode_result, encode_model, encode_value
from cinchdb.remote._transport import DEFAULT_TIMEOUT, Location, Transport
from cinchdb.remote._unsupported import unsupported as _unsupported
from cinchdb.remote.kv import RemoteKV
from cinchdb.results import (
    AnalyticsStats,
    DataStepRows,
    IndexInfo,
    MergeResult,
    MigrateResult,
    QueryRows,
    Row,
    SlowStatement,
    TenantStatus,
)
from cinchdb.tenants import validate_tenant_name
from journal.names import validate_branch_name

if TYPE_CHECKING:
    from cinchdb.models import Branch, Column, Index, Table, Tenant, View
    from journal.events import Event, Operation

__all__ = ["RemoteCinchDB"]


class RemoteCinchDB:
    """A connection to one tenant of one branch of a database served by ``cinch serve``.

    Args:
        api_url: the server's base URL (``https://db.example.com``).
        api_key: a key from ``cinch key create`` (sent as ``Authorization: Bearer``).
        database, branch, tenant: as for :class:`~cinchdb.CinchDB`.
        encryption_key: an encrypted tenant's key, sent with each of its calls (HTTPS only,
            except on loopback).
        client: an ``httpx.Client`` to send the requests with (a test's
            ``starlette.testclient.TestClient``); default a new one, closed by :meth:`close`.
        timeout: seconds a request may take (the server bounds a query's own time).
    """

    #: As :attr:`CinchDB.progress`; the server does the work, so it is never called.
    progress: Any = None

    def __init__(
        self,
        api_url: str,
        api_key: str,
        database: str = MAIN,
        branch: str = MAIN,
        tenant: str = MAIN,
        *,
        encryption_key: str | None = None,
        client: httpx.Client | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        validate_branch_name(branch)
        validate_tenant_name(tenant)
        self._transport: Transport | None = Transport(api_url, api_key, client, timeout)
        self._keys: dict[str, str] = {}
        if encryption_key is not None:
            self._keys[tenant] = encryption_key
        self.database = database
        self.branch = branch
        self.tenant = tenant
        #: This handle's tenant's key-value store (follows ``branch`` and ``tenant``).
        self.kv = RemoteKV(self._call)
        # Per thread: one thread's expecting_head() block does not make another thread's
        # changes compare-and-swap (a handle may be shared, as a local one may).
        self._cas = threading.local()

    # -- the wire ----------------------------------------------------------------------------
    def _call(self, name: str, /, tenant_key: str | None = None, **arguments: Any) -> Any:
        transport = self._transport
        if transport is None:
            raise HandleClosedError(self.database, self.branch, self.tenant)
        endpoint = api.endpoint(name)
        where = Location(self.database, self.branch, self.tenant)
        if tenant_key is None and endpoint.tenant_scoped:
            tenant_key = self._keys.get(self.tenant)
        body = transport.call(
            name,
            where,
            arguments,
            expected_head=getattr(self._cas, "head", None) if endpoint.cas else None,
            tenant_key=tenant_key,
        )
        return decode_result(endpoint.result, body)

    def head(self) -> str | None:
        """The event this handle's branch points at (None before its first event), asked of
        the server now, as :meth:`CinchDB.head`."""
        for branch in self.list_branches():
            if branch.name == self.branch:
                return branch.head
        raise BranchNotFoundError(self.database, self.branch)

    def _seen_head(self) -> str | None:
        """The head of this handle's branch as the server last reported it."""
        if self._transport is None:
            return None
        return self._transport.heads.get((self.database, self.branch))

    @contextmanager
    def expecting_head(self, head: str | None = None) -> Iterator[str | None]:
        """Within the block, schema changes are compare-and-swap: each is refused (412,
        ``ConcurrentChangeError``, nothing changed) when the branch head is no longer ``head``
        (default: the last head a response of the server reported, ``X-Cinch-Head``).
        Outside it, as on a local handle, a change applies to whatever the head is by then.
        Yields the head expected."""
        expected = head if head is not None else self._seen_head()
        self._cas.head = expected
        try:
            yield expected
        finally:
            self._cas.head = None

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def project_dir(self) -> NoReturn:
        _unsupported("project_dir")

    @property
    def current_database(self) -> str:
        return self.database

    @property
    def current_branch(self) -> str:
        return self.branch

    @property
    def current_tenant(self) -> str:
        return self.tenant

    def close(self) -> None:
        """Close the HTTP client (unless it was given); later calls raise HandleClosedError."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def __enter__(self) -> RemoteCinchDB:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        url = self._transport.url if self._transport is not None else "closed"
        return (
            f"RemoteCinchDB(database={self.database!r}, branch={self.branch!r},"
            f" tenant={self.tenant!r}, api_url={url!r})"
        )

    # -- schema: reading ---------------------------------------------------------------------
    def schema(self) -> NoReturn:
        _unsupported("schema")

    def schema_at(self, ref: str) -> NoReturn:
        _unsupported("schema_at")

    def get_table(self, name: str) -> Table:
        result: Table = self._call("get_table", name=name)
        return result

    def list_tables(self) -> list[Table]:
        result: list[Table] = self._call("list_tables")
        return result

    def list_indexes(self, table: str | None = None) -> list[IndexInfo]:
        result: list[IndexInfo] = self._call("list_indexes", table=table)
        return result

    def list_views(self) -> list[View]:
        result: list[View] = self._call("list_views")
        return result

    # -- schema: changing --------------------------------------------------------------------
    def create_table(
        self, name: str, columns: Sequence[Column], indexes: Sequence[Index] | None = None
    ) -> Table:
        result: Table = self._call(
            "create_table",
            name=name,
            columns=encode_model(list(columns)),
            indexes=None if indexes is None else encode_model(list(indexes)),
        )
        return result

    def drop_table(self, name: str) -> None:
        self._call("drop_table", name=name)

    def rename_table(self, old_name: str, new_name: str) -> None:
        self._call("rename_table", old_name=old_name, new_name=new_name)

    def add_column(self, table: str, column: Column) -> None:
        self._call("add_column", table=table, column=encode_model(column))

    def drop_column(self, table: str, column: str) -> None:
        self._call("drop_column", table=table, column=column)

    def rename_column(self, table: str, old_name: str, new_name: str) -> None:
        self._call("rename_column", table=table, old_name=old_name, new_name=new_name)

    def alter_column(
        self,
        table: str,
        column: str,
        *,
        nullable: bool | None = None,
        default: Any = UNSET,
        type: str | None = None,
    ) -> None:
        self._call(
            "alter_column",
            table=table,
            column=column,
            nullable=nullable,
            default=default if default is UNSET else encode_model(default),
            type=type,
        )

    def create_index(
        self,
        name: str,
        table: str,
        columns: Sequence[str],
        unique: bool = False,
        where: str | None = None,
    ) -> Index:
        result: Index = self._call(
            "create_index", name=name, table=table, columns=list(columns), unique=unique,
            where=where,
        )  # fmt: skip
        return result

    def drop_index(self, name: str) -> None:
        self._call("drop_index", name=name)

    def create_view(self, name: str, sql: str) -> View:
        result: View = self._call("create_view", name=name, sql=sql)
        return result

    def update_view(self, name: str, sql: str) -> View:
        result: View = self._call("update_view", name=name, sql=sql)
        return result

    def drop_view(self, name: str) -> None:
        self._call("drop_view", name=name)

    def migrate(
        self,
        sql: str,
        message: str = "",
        down: str | None = None,
        allow_nondeterministic: bool = False,
    ) -> MigrateResult:
        """As :meth:`CinchDB.migrate`: the events, with ``.data_steps`` (the rows each data
        step changed in the server's tenant files)."""
        result: MigrateResult = self._call(
            "migrate", sql=sql, message=message, down=down,
            allow_nondeterministic=allow_nondeterministic,
        )  # fmt: skip
        return result

    # -- data --------------------------------------------------------------------------------
    @overload
    def insert(self, table: str, row: Mapping[str, Any], /) -> Row: ...
    @overload
    def insert(self, table: str, rows: Sequence[Mapping[str, Any]], /) -> list[Row]: ...
    @overload
    def insert(
        self,
        table: str,
        first: Mapping[str, Any],
        second: Mapping[str, Any],
        /,
        *rows: Mapping[str, Any],
    ) -> list[Row]: ...
    def insert(
        self, table: str, *rows: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> Row | list[Row]:
        """As :meth:`CinchDB.insert`: several rows go in one request, one transaction."""
        if len(rows) == 1 and isinstance(rows[0], list | tuple):
            return self._insert(table, list(rows[0]))
        if not rows:
            raise ArgumentError("insert", "needs at least one row")
        records = [row for row in rows if isinstance(row, Mapping)]
        if len(records) != len(rows):
            raise ArgumentError(
                "insert", "takes rows as dicts: insert(t, row, ...) or insert(t, [rows])"
            )
        if len(records) == 1:
            row: Row = self._call("insert", table=table, rows=encode_value(records[0]))
            return row
        return self._insert(table, records)

    def _insert(self, table: str, rows: list[Any]) -> list[Row]:
        if not rows:
            return []  # as locally: nothing to insert (the API takes at least one row)
        stored: list[Row] = self._call("insert", table=table, rows=encode_value(rows))
        return stored

    def insert_many(self, table: str, rows: Iterable[Mapping[str, object]]) -> int:
        """As :meth:`CinchDB.insert_many`: every row in one request (one transaction, all or
        none), so ``rows`` is held in memory here; the count."""
        records = list(rows)
        if not records:
            return 0
        return len(self._insert(table, records))

    def get(self, table: str, key: Any) -> Row:
        row: Row = self._call("get", table=table, key=self._key(table, key))
        return row

    def update(
        self,
        table: str,
        record_or_id: Any,
        data: Mapping[str, Any] | None = None,
    ) -> Row:
        """As :meth:`CinchDB.update`."""
        key = self._key(table, record_or_id)
        if data is None:
            if not isinstance(record_or_id, Mapping):
                raise ArgumentError("update", "needs the data to change")
            columns = {c.lower() for c in self.key_columns(table)}
            data = {
                k: v
                for k, v in record_or_id.items()
                if not (isinstance(k, str) and k.lower() in columns)
                and k not in ("created_at", "updated_at")
            }
        row: Row = self._call("update", table=table, key=key, data=encode_value(dict(data)))
        return row

    def delete(self, table: str, *ids: Any) -> int:
        """As :meth:`CinchDB.delete`; one request per key, so several keys are not one
        transaction."""
        deleted = 0
        for record in ids:
            count: int = self._call("delete", table=table, key=self._key(table, record))
            deleted += count
        return deleted

    def key_columns(self, table: str) -> tuple[str, ...]:
        """The columns that name a record of ``table``: its primary key (in key order); else
        its ``id`` column; else ``("rowid",)``. Read with one query of SQLite's
        ``pragma_table_info``, which says the key's order (the ``Table`` model does not)."""
        columns = self.query("SELECT name, pk FROM pragma_table_info(?) ORDER BY pk, cid", [table])
        if not columns:
            self.get_table(table)  # the server's TableNotFoundError, in its wording
        key = tuple(c["name"] for c in columns if c["pk"])
        if key:
            return key
        ids = [c["name"] for c in columns if c["name"].lower() == "id"]
        return (ids[0],) if ids else ("rowid",)

    def _key(self, table: str, record: Any) -> Any:
        """``record`` as the path's key: a scalar as itself, a composite key as a JSON array,
        a row (a dict) by its key columns."""
        if isinstance(record, Mapping):
            lowered = {k.lower(): v for k, v in record.items() if isinstance(k, str)}
            columns = self.key_columns(table)
            missing = [c for c in columns if c.lower() not in lowered]
            if missing:
                shown = ", ".join(f"'{c}'" for c in missing)
                reason = f"got a record without its key column {shown}"
                raise KeyColumnError(table, columns, reason)
            values = [lowered[c.lower()] for c in columns]
            return values[0] if len(values) == 1 else encode_value(values)
        if isinstance(record, tuple | list):
            return encode_value(list(record))
        return encode_value(record)

    def update_where(self, *args: Any, **kwargs: Any) -> NoReturn:
        _unsupported("update_where")

    def delete_where(self, *args: Any, **kwargs: Any) -> NoReturn:
        _unsupported("delete_where")

    def value_from_text(self, table: str, column: str, text: str) -> NoReturn:
        _unsupported("value_from_text")

    def query(self, sql: str, params: Any = None, *, timeout: float | None = None) -> QueryRows:
        """As :meth:`CinchDB.query`; the server bounds the query's time (its own limit)."""
        rows = self._call("query", sql=sql, params=encode_value(params))
        if isinstance(rows, QueryRows):
            return rows
        return QueryRows(rows, list(rows[0]) if rows else [])

    def import_rows(self, *args: Any, **kwargs: Any) -> NoReturn:
        _unsupported("import_rows")

    def export_rows(self, *args: Any, **kwargs: Any) -> NoReturn:
        _unsupported("export_rows")

    # -- branches ----------------------------------------------------------------------------
    def create_branch(
        self, name: str, source_branch: str | None = None, with_data: bool = False
    ) -> Branch:
        validate_branch_name(name)
        result: Branch = self._call(
            "create_branch", name=name, source_branch=source_branch, with_data=with_data
        )
        return result

    def list_branches(self) -> list[Branch]:
        result: list[Branch] = self._call("list_branches")
        return result

    def delete_branch(self, name: str, force: bool = False) -> None:
        if name == self.branch and name != MAIN:
            raise ProtectedError("branch", name, "deleted", "this handle is on it; switch first")
        self._call("delete_branch", name=name, force=force)

    def switch_branch(self, name: str) -> Branch:
        """Point this handle at another branch of the database."""
        for branch in self.list_branches():
            if branch.name == name:
                self.branch = name
                return branch
        raise BranchNotFoundError(self.database, name)

    # -- merges and history ------------------------------------------------------------------
    def merge_branches(
        self,
        source: str,
        target: str = MAIN,
        dry_run: bool = False,
        resolve: Mapping[str, str] | None = None,
        strategy: str | None = None,
    ) -> MergeResult:
        result: MergeResult = self._call(
            "merge_branches", source=source, target=target, dry_run=dry_run,
            resolve=None if resolve is None else dict(resolve), strategy=strategy,
        )  # fmt: skip
        return result

    def merge_preview(self, source: str, target: str = MAIN) -> MergeResult:
        result: MergeResult = self._call("merge_preview", source=source, target=target)
        return result

    def can_merge(self, source: str, target: str = MAIN) -> MergeResult:
        result: MergeResult = self._call("can_merge", source=source, target=target)
        return result

    def branch_heads(self, name: str | None = None) -> NoReturn:
        _unsupported("branch_heads")

    def merge_heads(self, *args: Any, **kwargs: Any) -> NoReturn:
        _unsupported("merge_heads")

    def merge_heads_preview(self, branch: str | None = None) -> NoReturn:
        _unsupported("merge_heads_preview")

    def log(
        self, branch: str | None = None, limit: int | None = None, path: str | None = None
    ) -> list[Event]:
        result: list[Event] = self._call("log", branch=branch, limit=limit, path=path)
        return result

    def log_range(self, spec: str) -> NoReturn:
        _unsupported("log_range")

    def diff(self, a: str, b: str | None = None) -> list[Operation]:
        result: list[Operation] = self._call("diff", a=a, b=b)
        return result

    def diff_range(self, a: str, b: str | None = None) -> NoReturn:
        _unsupported("diff_range")

    def data_step_rows(self, event: str, branch: str | None = None) -> list[DataStepRows]:
        """As :meth:`CinchDB.data_step_rows`: the row counts the server recorded."""
        result: list[DataStepRows] = self._call("data_step_rows", event=event, branch=branch)
        return result

    def lint(self, a: str, b: str | None = None) -> NoReturn:
        _unsupported("lint")

    def check(self) -> NoReturn:
        _unsupported("check")

    def revert(self, event_id: str, force: bool = False) -> NoReturn:
        _unsupported("revert")

    def reset_branch(self, branch: str, ref: str) -> NoReturn:
        _unsupported("reset_branch")

    # -- code generation ---------------------------------------------------------------------
    def generate_models(self, language: str, directory: Any) -> NoReturn:
        _unsupported("generate_models")

    def stale_models(self, language: str, directory: Any) -> NoReturn:
        _unsupported("stale_models")

    # -- tenants -----------------------------------------------------------------------------
    def create_tenant(
        self,
        name: str,
        lazy: bool = True,
        encrypt: bool = False,
        encryption_key: str | None = None,
    ) -> Tenant:
        """As :meth:`CinchDB.create_tenant`; an encrypted tenant's key travels in a header
        and is kept by this handle for its later calls on that tenant."""
        result: Tenant = self._call(
            "create_tenant", tenant_key=encryption_key, name=name, lazy=lazy, encrypt=encrypt
        )
        if encryption_key is not None:
            self._keys[name] = encryption_key
        return result

    def list_tenants(self) -> list[Tenant]:
        result: list[Tenant] = self._call("list_tenants")
        return result

    def delete_tenant(self, name: str) -> None:
        if name == MAIN:
            raise ProtectedError("tenant", MAIN, "deleted")
        self._call("delete_tenant", name=name)

    def copy_tenant(self, source: str, target: str, encryption_key: str | None = None) -> Tenant:
        key = encryption_key if encryption_key is not None else self._keys.get(source)
        result: Tenant = self._call("copy_tenant", tenant_key=key, source=source, target=target)
        if key is not None:
            self._keys[target] = key
        return result

    def rename_tenant(
        self, old_name: str, new_name: str, encryption_key: str | None = None
    ) -> Tenant:
        if old_name == MAIN:
            raise ProtectedError("tenant", MAIN, "renamed")
        key = encryption_key if encryption_key is not None else self._keys.get(old_name)
        result: Tenant = self._call(
            "rename_tenant", tenant_key=key, old_name=old_name, new_name=new_name
        )
        if key is not None:
            self._keys[new_name] = key
        if self.tenant == old_name:
            self.tenant = new_name
        return result

    def tenant_status(self) -> list[TenantStatus]:
        result: list[TenantStatus] = self._call("tenant_status")
        return result

    def rotate_tenant_key(self, *args: Any, **kwargs: Any) -> NoReturn:
        _unsupported("rotate_tenant_key")

    def reset_tenant(self, name: str) -> NoReturn:
        _unsupported("reset_tenant")

    def repair_tenant(self, name: str, encryption_key: str | None = None) -> NoReturn:
        _unsupported("repair_tenant")

    def sync_tenants(self, progress: Any = None) -> NoReturn:
        _unsupported("sync_tenants")

    # -- analytics ---------------------------------------------------------------------------
    def get_analytics_stats(
        self,
        since: datetime | timedelta | None = None,
        tenant: str | None = None,
        limit: int = 20,
    ) -> AnalyticsStats:
        """As :meth:`CinchDB.get_analytics_stats`, of the server's analytics (every process
        of it), with the key's ``metrics:read`` scope. A key limited to one tenant sees that
        tenant's; one limited to several must name one (``PermissionDeniedError``)."""
        result: AnalyticsStats = self._call(
            "get_analytics_stats", since=_since_text("get_analytics_stats", since),
            tenant=tenant, limit=limit,
        )  # fmt: skip
        return result

    def get_slow_queries(
        self,
        since: datetime | timedelta | None = None,
        tenant: str | None = None,
        limit: int = 50,
        *,
        threshold_ms: float | None = None,
    ) -> list[SlowStatement]:
        """As :meth:`CinchDB.get_slow_queries`, with the key's ``metrics:read`` scope; a key
        limited to tenants sees only theirs."""
        result: list[SlowStatement] = self._call(
            "get_slow_queries", since=_since_text("get_slow_queries", since), tenant=tenant,
            limit=limit, threshold_ms=threshold_ms,
        )  # fmt: skip
        return result

    # -- databases ---------------------------------------------------------------------------
    def create_database(self, name: str) -> NoReturn:
        _unsupported("create_database")

    def list_databases(self) -> NoReturn:
        _unsupported("list_databases")

    def delete_database(self, name: str) -> NoReturn:
        _unsupported("delete_database")


def _since_text(call: str, since: object) -> str | None:
    """``since`` on the wire: an ISO 8601 time, or a span as seconds back from the server's
    now (a local handle refuses anything else in the same words)."""
    if since is None:
        return None
    if isinstance(since, datetime):
        return since.isoformat()
    if isinstance(since, timedelta):
        return repr(since.total_seconds())
    raise InvalidFieldError(
        f"{call}()", "argument", [("since", f"must be a datetime or a timedelta, not {since!r}")]
    )
