"""The ``CinchDB`` handle: one database, branch and tenant of a project.

A thin facade. Schema calls become journal events through :class:`cinchdb.changes.SchemaChanges`;
data calls go to the tenant's open connection through :class:`cinchdb.tenants.TenantFiles`,
which keeps it caught up with the journal at the cost of one pragma per call.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from time import perf_counter_ns
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, overload

from cinchdb import analytics as _analytics
from cinchdb import transfer
from cinchdb._analytics_store import analytics_path, read_slow, read_stats
from cinchdb._data_step_rows import data_step_rows as step_rows
from cinchdb._query_shapes import Shape, ShapeKind, operation_shape, shape_of
from cinchdb._serialized import serialized
from cinchdb._unset import UNSET
from cinchdb.analytics import ROWS_COUNT
from cinchdb.catalog import Catalog
from cinchdb.changes import Progress
from cinchdb.crypto import EncryptionError, derive_key, new_salt
from cinchdb.data import QUERY_TIMEOUT_S, Params
from cinchdb.errors import (
    ArgumentError,
    HandleClosedError,
    InvalidFieldError,
    ProtectedError,
    TableNotFoundError,
)
from cinchdb.kv import KVStore, ObservedKVStore
from cinchdb.project import MAIN, read_config
from cinchdb.results import (
    AnalyticsStats,
    CheckReport,
    DataStepRows,
    IndexInfo,
    LintFinding,
    MergeResult,
    MigrateResult,
    QueryRows,
    RangeInfo,
    RepairResult,
    ResetResult,
    Row,
    SlowStatement,
    SyncResult,
    TenantStatus,
)
from cinchdb.tenants import TenantFiles, TenantNotFoundError, TenantRecord, validate_tenant_name
from journal._lazy import lazy_module
from journal.errors import BranchNotFoundError, ObjectNotFoundError, SchemaError
from journal.names import quote, validate_branch_name, validate_identifier

if TYPE_CHECKING:
    import journal.parse as _parse
    from cinchdb import _schema_build as build
    from cinchdb import codegen, history, merging, models
    from cinchdb.models import Branch, Column, Index, Table, Tenant, View
    from journal import events as _events
    from journal.definitions import ViewDef
    from journal.events import Event, Operation
    from journal.schema import Schema
else:
    # Schema building (the SQL parser), history, merges and codegen load on their first call,
    # so opening a handle to read or write data does not import sqlglot or the merge engine
    # (start-up time of a command; journal._lazy). The public models and the events are
    # pydantic models: a handle that only queries rows or keys never loads pydantic.
    models = lazy_module("cinchdb.models")
    _events = lazy_module("journal.events")
    build = lazy_module("cinchdb._schema_build")
    codegen = lazy_module("cinchdb.codegen")
    history = lazy_module("cinchdb.history")
    merging = lazy_module("cinchdb.merging")
    _parse = lazy_module("journal.parse")

__all__ = ["CinchDB"]


@serialized
class CinchDB:
    """A connection to one tenant of one branch of a CinchDB database.

    Args:
        database: the database's name; created (with its ``main`` branch and ``main`` tenant)
            if the project does not have it yet.
        branch: the branch schema calls change and data calls read.
        tenant: whose data the data calls touch.
        project_dir: the project root; default ``$CINCHDB_PROJECT_DIR``, else the nearest
            directory holding ``.cinchdb/`` from the current one upwards.
        encryption_key: the key of an encrypted ``tenant`` (checked here; never stored).
        analytics: record query analytics (docs/analytics.md) for this handle's statements;
            None: as the project's ``analytics`` setting says (default off).

    Raises:
        ProjectNotFoundError: no project was found (run ``cinch init``).
        BranchNotFoundError, TenantNotFoundError, InvalidNameError.
    """

    #: Called as ``progress(done, total)`` while a change reaches a branch's tenants.
    progress: Progress | None = None

    def __init__(
        self,
        database: str = MAIN,
        branch: str = MAIN,
        tenant: str = MAIN,
        project_dir: str | os.PathLike[str] | None = None,
        encryption_key: str | None = None,
        analytics: bool | None = None,
    ) -> None:
        validate_branch_name(branch)
        validate_tenant_name(tenant)
        # One lock for the handle and its kv: each public call holds it (see _serialized).
        self._lock = threading.RLock()
        self._catalog = Catalog.open(project_dir)
        try:
            self._changes = self._catalog.ensure_database(database, branch)
            self._files: TenantFiles = self._changes.files
            if not self._files.exists(tenant):
                raise TenantNotFoundError(database, tenant)
            if encryption_key is not None:
                self._files.unlock(tenant, encryption_key)
            # The hook: None with analytics off, so each statement pays one ``is None`` test.
            self._analytics = self._open_analytics(database, analytics)
        except BaseException:
            self._catalog.close()
            raise
        self._recorder = None if self._analytics is None else self._analytics.recorder
        #: This handle's tenant's key-value store (follows ``switch_branch`` and ``tenant``).
        self.kv = (
            KVStore(self._kv_connection, lock=self._lock)
            if self._recorder is None
            else ObservedKVStore(self._kv_connection, self._recorder, self, lock=self._lock)
        )
        self.database = database
        self.branch = branch
        self.tenant = tenant

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def project_dir(self) -> Path:
        return self._catalog.root

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
        """Close every open file; any later call raises HandleClosedError (closing twice is
        harmless)."""
        if isinstance(self._catalog, _ClosedParts):
            return
        if self._analytics is not None:
            # The last handle of the process on this database stops the flusher, which writes
            # what is pending first.
            self._analytics.release()
        closed: Any = _ClosedParts(self._catalog.root, self.database, self.branch, self.tenant)
        self._files.close()
        self._catalog.close()
        # Every call reaches the files through these three parts: a stand-in that raises makes
        # each one refuse with one clear error instead of sqlite3's "closed database".
        self._files = self._catalog = self._changes = closed

    def __enter__(self) -> CinchDB:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"CinchDB(database={self.database!r}, branch={self.branch!r},"
            f" tenant={self.tenant!r}, project_dir={str(self.project_dir)!r})"
        )

    # -- schema: reading ---------------------------------------------------------------------
    def schema(self) -> Schema:
        """The branch's schema at its head (the journal's own value, immutable)."""
        return self._changes.schema(self.branch)

    def get_table(self, name: str) -> Table:
        """A table's columns (automatic ones included), indexes and this tenant's row count.

        Raises:
            TableNotFoundError: "Table 'users' does not exist".
        """
        validate_identifier("table", name)
        schema = self.schema()
        table = schema.table(name)
        if table is None:
            raise TableNotFoundError(name)
        rows = self._files.reader(self.branch, self.tenant).query(
            f"SELECT COUNT(*) AS n FROM {quote(table.name)}"
        )
        return build.table_model(schema, table, row_count=rows[0]["n"])

    def list_tables(self) -> list[Table]:
        """Every table of the branch in the order they were created (row counts left out: see
        :meth:`get_table`)."""
        schema = self.schema()
        return [build.table_model(schema, table) for table in schema.tables]

    def list_indexes(self, table: str | None = None) -> list[IndexInfo]:
        """Indexes as dicts with ``name, table, columns, unique, where``, optionally of one
        table."""
        schema = self.schema()
        if table is not None and schema.table(table) is None:
            raise TableNotFoundError(table)
        indexes = schema.indexes_on(table) if table is not None else schema.indexes
        return [build.index_dict(index) for index in sorted_by_name(indexes)]

    def list_views(self) -> list[View]:
        return [build.view_model(view) for view in self.schema().views]

    # -- schema: changing --------------------------------------------------------------------
    def _commit(self, operations: Sequence[Operation], message: str = "") -> Schema:
        commit = self._changes.commit
        if self._recorder is None:
            _, schema, _ = commit(self.branch, operations, message=message, progress=self.progress)
        else:
            shape = _schema_shape(tuple(operation.type for operation in operations))
            _, schema, _ = self._recorder.run(
                self.branch,
                self.tenant,
                shape,
                0,
                commit,
                self.branch,
                operations,
                message=message,
                progress=self.progress,
            )
        return schema

    def create_table(
        self, name: str, columns: Sequence[Column], indexes: Sequence[Index] | None = None
    ) -> Table:
        """Create a table with ``columns`` plus the automatic ``id``, ``created_at`` and
        ``updated_at``, and any ``indexes``; every tenant of the branch gets it."""
        schema = self._commit(build.table_created(name, columns, indexes))
        return build.table_model(schema, schema.require_table(name), row_count=0)

    def drop_table(self, name: str) -> None:
        self._commit([build.made("drop_table", _events.TableDropped, table=name)])

    def rename_table(self, old_name: str, new_name: str) -> None:
        self._commit(
            [build.made("rename_table", _events.TableRenamed, table=old_name, new_name=new_name)]
        )

    def add_column(self, table: str, column: Column) -> None:
        self._commit([build.column_added(table, column)])

    def drop_column(self, table: str, column: str) -> None:
        _refuse_automatic(table, column, "dropped")
        self._commit([build.made("drop_column", _events.ColumnDropped, table=table, column=column)])

    def rename_column(self, table: str, old_name: str, new_name: str) -> None:
        _refuse_automatic(table, old_name, "renamed")
        renamed = build.made(
            "rename_column", _events.ColumnRenamed, table=table, column=old_name, new_name=new_name
        )
        self._commit([renamed])

    def alter_column(
        self,
        table: str,
        column: str,
        *,
        nullable: bool | None = None,
        default: Any = UNSET,
        type: str | None = None,
    ) -> None:
        """Change a column's nullability, default (``None`` drops it) or type; existing rows
        are checked on every tenant first."""
        self._commit(
            [build.column_altered(table, column, nullable=nullable, default=default, type=type)]
        )

    def create_index(
        self,
        name: str,
        table: str,
        columns: Sequence[str],
        unique: bool = False,
        where: str | None = None,
    ) -> Index:
        operation = build.index_created(name, table, columns, unique=unique, where=where)
        self._commit([operation])
        index = operation.index
        return models.Index(
            name=index.name, columns=list(index.column_names()), unique=index.unique, where=where
        )

    def drop_index(self, name: str) -> None:
        self._commit([build.made("drop_index", _events.IndexDropped, index=name)])

    def create_view(self, name: str, sql: str) -> View:
        """Create a view from its query (``SELECT ...``)."""
        schema = self._commit([build.view_operation(name, sql, replace=False)])
        return build.view_model(_require_view(schema, name))

    def update_view(self, name: str, sql: str) -> View:
        schema = self._commit([build.view_operation(name, sql, replace=True)])
        return build.view_model(_require_view(schema, name))

    def drop_view(self, name: str) -> None:
        self._commit([build.made("drop_view", _events.ViewDropped, view=name)])

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
        """Insert rows; return the stored row (one given) or the list of them.

        ``insert(t, row)`` -> dict; ``insert(t, row1, row2, ...)`` or ``insert(t, [rows])``
        -> list of dicts. Several rows go in one transaction.
        """
        data = self._files.data(self.branch, self.tenant)
        if len(rows) == 1 and isinstance(rows[0], list | tuple):
            records: Sequence[Mapping[str, Any]] = rows[0]
            one = False
        else:
            if not rows:
                raise ArgumentError("insert", "needs at least one row")
            records = [row for row in rows if isinstance(row, Mapping)]
            if len(records) != len(rows):
                raise ArgumentError(
                    "insert", "takes rows as dicts: insert(t, row, ...) or insert(t, [rows])"
                )
            one = len(rows) == 1
        if self._recorder is None:
            stored = data.insert(table, records)
        else:
            shape = _insert_shape(table)
            start = perf_counter_ns()
            try:
                stored = data.insert(table, records)
            except Exception:
                self._recorder.failed(self.branch, self.tenant, shape, start)
                raise
            self._recorder.done(self.branch, self.tenant, shape, start, len(stored))
        return stored[0] if one else stored

    def insert_many(self, table: str, rows: Iterable[Mapping[str, object]]) -> int:
        """Insert every row of ``rows`` (any iterable, consumed in chunks: memory stays
        constant) in one transaction; return how many. The stored rows are not returned.

        Values are checked as in :meth:`insert`. On any error nothing is written, and the
        error's ``row_index`` is the 0-based position of the row at fault in ``rows``.
        """
        data = self._files.data(self.branch, self.tenant)
        if self._recorder is None:
            return data.insert_many(table, rows)
        shape = _data_shape("insert", "insert_many", table)
        return self._recorder.run(
            self.branch, self.tenant, shape, ROWS_COUNT, data.insert_many, table, rows
        )

    def update(
        self,
        table: str,
        record_or_id: Any,
        data: Mapping[str, Any] | None = None,
    ) -> Row:
        """Update one record; return the whole row after the change.

        ``update(t, id, data)``, ``update(t, row, data)`` where ``row`` holds the key, or
        ``update(t, row)`` to write back a row's own values. The record is named by the
        table's key: ``id`` for CinchDB's tables; for a table with a composite key, a tuple
        of its values in key order or a dict holding them. Key columns are never changed.

        Raises:
            RecordNotFoundError: "Record with ID '999' not found".
            KeyColumnError: ``data`` names a key column, or the record lacks the key.
            ValueTypeError, MissingValueError: a value does not fit its column.
        """
        ops = self._files.data(self.branch, self.tenant)
        if self._recorder is None:
            return ops.update(table, record_or_id, data)
        shape = _data_shape("update", "update", table)
        return self._recorder.run(
            self.branch, self.tenant, shape, 1, ops.update, table, record_or_id, data
        )

    def get(self, table: str, key: Any) -> Row:
        """The record named by ``key`` (as for :meth:`update`).

        Raises:
            RecordNotFoundError: no record has that key.
        """
        data = self._files.data(self.branch, self.tenant)
        recorder = self._recorder
        if recorder is None:
            return data.get(table, key)
        # The hot paths time their call inline (no wrapper call, no argument packing).
        shape = _get_shape(table)
        start = perf_counter_ns()
        try:
            row = data.get(table, key)
        except Exception:
            recorder.failed(self.branch, self.tenant, shape, start)
            raise
        recorder.done(self.branch, self.tenant, shape, start, 1)
        return row

    def update_where(
        self, table: str, data: Mapping[str, Any], operator: str = "AND", **filters: Any
    ) -> int:
        """Update every record matching ``filters`` (``col=v``, ``col__gt=v``...); return the
        count."""
        ops = self._files.data(self.branch, self.tenant)
        if self._recorder is None:
            return ops.update_where(table, data, operator, **filters)
        shape = _data_shape("update", "update_where", table, operator, tuple(filters))
        return self._recorder.run(
            self.branch,
            self.tenant,
            shape,
            ROWS_COUNT,
            ops.update_where,
            table,
            data,
            operator,
            **filters,
        )

    def key_columns(self, table: str) -> tuple[str, ...]:
        """The columns that name a record of ``table`` for :meth:`update`, :meth:`get` and
        :meth:`delete`: its primary key; else its ``id`` column; else ``("rowid",)``."""
        return self._files.data(self.branch, self.tenant).key_columns(table)

    def value_from_text(self, table: str, column: str, text: str) -> Any:
        """The value that ``text`` (as typed on a command line) stands for in ``column``:
        ``"5"`` is 5 in an INTEGER column, ``"true"`` is True in a BOOLEAN one.

        Raises:
            ValueTypeError: ``text`` is no value of the column's type.
        """
        return self._files.data(self.branch, self.tenant).from_text(table, column, text)

    def delete(self, table: str, *ids: Any) -> int:
        """Delete records by key (``id``, or for a composite key a tuple or dict of its
        values each); return how many existed."""
        data = self._files.data(self.branch, self.tenant)
        if self._recorder is None:
            return data.delete(table, ids)
        shape = _data_shape("delete", "delete", table)
        return self._recorder.run(
            self.branch, self.tenant, shape, ROWS_COUNT, data.delete, table, ids
        )

    def delete_where(self, table: str, operator: str = "AND", **filters: Any) -> int:
        data = self._files.data(self.branch, self.tenant)
        if self._recorder is None:
            return data.delete_where(table, operator, **filters)
        shape = _data_shape("delete", "delete_where", table, operator, tuple(filters))
        return self._recorder.run(
            self.branch,
            self.tenant,
            shape,
            ROWS_COUNT,
            data.delete_where,
            table,
            operator,
            **filters,
        )

    def query(
        self, sql: str, params: Params | None = None, *, timeout: float | None = QUERY_TIMEOUT_S
    ) -> QueryRows:
        """Run a read (SELECT, WITH ... SELECT, EXPLAIN); rows as dicts.

        Writes are refused with a message naming the method to use instead. A query running
        longer than ``timeout`` seconds (default 30; None: no limit) is stopped with
        ``QueryTimeoutError``.
        """
        reader = self._files.reader(self.branch, self.tenant)
        recorder = self._recorder
        if recorder is None:
            return reader.query(sql, params, timeout=timeout)
        shape = shape_of(sql) if isinstance(sql, str) else _data_shape("other", "query", "?")
        start = perf_counter_ns()
        try:
            rows = reader.query(sql, params, timeout=timeout)
        except Exception:
            recorder.failed(self.branch, self.tenant, shape, start)
            raise
        recorder.done(self.branch, self.tenant, shape, start, len(rows))
        return rows

    def import_rows(
        self,
        table: str,
        source: transfer.Source,
        format: str | None = None,
        *,
        progress: transfer.Progress | None = None,
    ) -> int:
        """Import the rows of a CSV file, a JSON array or NDJSON into ``table``, all or none;
        return how many. See docs/data.md, "Import".

        Args:
            table: the table the rows go into.
            source: a path, or an open text stream (``newline=""`` for CSV).
            format: "csv", "json" or "ndjson"; None: from the path's extension, or a
                stream's first non-space character (``[`` JSON, ``{`` NDJSON, else CSV).
            progress: called as ``progress(bytes_read, total_bytes)`` while a file is read.

        Raises:
            ImportRowError: a row is malformed or refused (naming its line, or its element of
                a JSON array, and the column); nothing was imported.
            TableNotFoundError, ArgumentError (an unknown format).
        """
        definition = self.schema().table(table)
        if definition is None:
            validate_identifier("table", table)
            raise TableNotFoundError(table)
        return transfer.import_rows(self.insert_many, definition, source, format, progress=progress)

    def export_rows(
        self,
        table: str | None,
        target: transfer.Target,
        format: str | None = None,
        *,
        query: str | None = None,
        params: Params | None = None,
    ) -> int:
        """Write the rows of ``table`` (or of a read-only ``query``, with ``table`` None) to
        ``target`` as CSV, a JSON array or NDJSON, streamed in constant memory; return how
        many. See docs/data.md, "Export".

        Args:
            table: the table to export; None with ``query``.
            target: a path (written whole or not at all) or an open text stream.
            format: "csv", "json" or "ndjson"; None: from the path's extension, else CSV.
            query: a read-only statement whose rows to export instead of a table.
            params: the query's parameters.

        Raises:
            TableNotFoundError, ReadOnlyQueryError (a query that writes), ArgumentError.
        """
        if (table is None) == (query is None):
            raise ArgumentError("export_rows", "takes a table or query=, not both or neither")
        if table is not None:
            schema = self.schema()
            if schema.table(table) is None:
                validate_identifier("table", table)
                raise TableNotFoundError(table)
            query = f"SELECT * FROM {quote(schema.require_table(table).name)}"
        assert query is not None  # one of the two, checked above
        stream = self._files.reader(self.branch, self.tenant).stream(query, params)
        return transfer.export_rows(stream, target, format)

    # -- branches ----------------------------------------------------------------------------
    def create_branch(
        self, name: str, source_branch: str | None = None, with_data: bool = False
    ) -> Branch:
        """Fork ``source_branch`` (default: this handle's) at its head. Only rows are written
        unless ``with_data``, which copies every materialized tenant's file."""
        return self._catalog.create_branch(
            self._files, name, source_branch or self.branch, with_data=with_data
        )

    def list_branches(self) -> list[Branch]:
        """``main`` first, then the others by name."""
        return main_first(self._catalog.list_branches(self.database))

    def delete_branch(self, name: str, force: bool = False) -> None:
        """Delete a branch and its tenant files (never ``main``, nor this handle's).

        Raises:
            UnmergedBranchError: the branch has events no other branch has (work that would
                be lost); ``force=True`` deletes it anyway, like ``git branch -D``.
        """
        if name == self.branch and name != MAIN:
            raise ProtectedError("branch", name, "deleted", "this handle is on it; switch first")
        self._catalog.delete_branch(self._files, name, force=force)

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
        """Merge branch ``source`` into ``target`` (any two branches; no "update first").

        Returns ``status`` ("success" or "up_to_date"), ``changes_applied``, ``conflicts``
        (empty), ``fast_forward``, ``event_id``, ``base``, ``resolutions`` (renames carried
        through automatically) and ``resolved`` (the conflicts resolved as asked). ``dry_run``
        computes all of it and writes nothing.

        ``resolve={"view v": "theirs"}`` resolves conflicts by object, named exactly as the
        conflicts name them: "ours" keeps the target's version, "theirs" takes the source's.
        ``strategy="ours"`` or ``"theirs"`` resolves every other conflict that way. The
        resolved merge is checked like any other; the merge event records each resolution.

        Raises:
            ConflictError: with ``.conflicts``; nothing was written.
            UnknownResolutionError: ``resolve`` names an object not in conflict, or a side
                that is neither "ours" nor "theirs".
            PreflightError: the merged changes would fail on some target tenants' rows.
        """
        return merging.merge(
            self._changes,
            source,
            target,
            dry_run=dry_run,
            progress=self.progress,
            resolve=resolve,
            strategy=strategy,
        )

    def merge_preview(self, source: str, target: str = MAIN) -> MergeResult:
        """What :meth:`merge_branches` would do, conflicts included (``status`` "conflict"),
        without writing or raising."""
        return merging.merge(self._changes, source, target, dry_run=True, raise_on_conflict=False)

    def can_merge(self, source: str, target: str = MAIN) -> MergeResult:
        """:meth:`merge_preview`; its ``can_merge`` key is the answer."""
        return self.merge_preview(source, target)

    def branch_heads(self, name: str | None = None) -> list[str]:
        """The heads of branch ``name`` (default: this handle's), sorted: one (none before its
        first event), or two or more after git merged lines of its history; then schema
        changes on it are refused until :meth:`merge_heads` joins them."""
        return self._changes.store.branch_heads(self.database, name or self.branch)

    def head(self) -> str | None:
        """The event this handle's branch points at (None before its first event): what a
        compare-and-swap change expects (``cinch serve``'s ``If-Match`` and ``X-Cinch-Head``)."""
        return self._changes.store.branch_head(self.database, self.branch)

    def merge_heads(
        self,
        branch: str | None = None,
        dry_run: bool = False,
        resolve: Mapping[str, str] | None = None,
        strategy: str | None = None,
    ) -> MergeResult:
        """Join the two heads of ``branch`` (default: this handle's) that a git merge left,
        with one merge event, as :meth:`merge_branches` merges two branches.

        *Ours* is the head the branch reads (the newer line's, which its tenants follow),
        *theirs* the other; ``resolve`` and ``strategy`` choose sides as for
        :meth:`merge_branches`. Returns its result with ``source`` and ``target`` both the
        branch; ``status`` is "up_to_date" when the branch has one head. Tenants catch up.

        Raises:
            ConflictError: with ``.conflicts``; nothing was written.
            TooManyHeadsError: more than two heads.
            UnknownResolutionError, PreflightError: as :meth:`merge_branches`.
        """
        return merging.merge_heads(
            self._changes,
            branch or self.branch,
            dry_run=dry_run,
            progress=self.progress,
            resolve=resolve,
            strategy=strategy,
        )

    def merge_heads_preview(self, branch: str | None = None) -> MergeResult:
        """What :meth:`merge_heads` would do, conflicts included (``status`` "conflict"),
        without writing or raising."""
        return merging.merge_heads(
            self._changes, branch or self.branch, dry_run=True, raise_on_conflict=False
        )

    def log(
        self, branch: str | None = None, limit: int | None = None, path: str | None = None
    ) -> list[Event]:
        """Events newest first; ``branch`` may be a range ``"main..feature"`` (the events
        reachable from feature and not from main, as ``git log``); ``path="users.email"`` (or
        ``"users"``) keeps the events that touched that object, followed back through
        renames."""
        return history.log(self._changes, branch or self.branch, limit, path)

    def log_range(self, spec: str) -> RangeInfo:
        """Which events :meth:`log` and :meth:`lint` judge for ``spec`` (``"A..B"``)."""
        return history.log_range(self._changes, spec)

    def diff(self, a: str, b: str | None = None) -> list[Operation]:
        """The operations that turn schema ``a`` into schema ``b``; refs are branch names,
        event ids or prefixes, or ``branch~N``. ``diff("A..B")`` is ``diff("A", "B")``;
        ``diff("A...B")`` starts from the merge base of A and B (as ``git diff A...B``)."""
        return history.diff(self._changes, a, b)

    def diff_range(self, a: str, b: str | None = None) -> tuple[RangeInfo, list[Operation]]:
        """:meth:`diff`, with what it compared (the range and the two events)."""
        return history.diff_range(self._changes, a, b)

    def data_step_rows(self, event: str, branch: str | None = None) -> list[DataStepRows]:
        """What each data step of ``event`` (an id, prefix or ref) changed, one summary per
        step in order: ``total`` rows over ``tenants`` files, ``max`` and ``max_tenant``,
        ``template`` (the branch template's rows) and ``per_tenant``, as recorded on this
        machine for ``branch``'s files (every branch's when None). Empty for an event without
        data steps; a step no file here has applied reads 0 rows in 0 tenants, ``template``
        None."""
        return history.data_step_rows(self._changes, event, branch)

    def schema_at(self, ref: str) -> Schema:
        """The schema at any ref (``schema_at("main~3").sql()`` gives its SQL)."""
        return history.schema_at(self._changes, ref)

    def migrate(
        self,
        sql: str,
        message: str = "",
        down: str | None = None,
        allow_nondeterministic: bool = False,
    ) -> MigrateResult:
        """Apply a migration script as journal events, all or nothing: checked, preflighted
        and appended together. DDL (CREATE TRIGGER included) changes the schema; each
        ``INSERT``, ``UPDATE`` or ``DELETE`` is a data step, run in script order with the
        schema steps on the branch template and on every tenant, in one transaction with the
        tenant's cursor (exactly once per tenant). A data step is preflighted on the template
        and every materialized tenant first: if any tenant's rows refuse it, nothing is
        written.

        Args:
            down: SQL that undoes the script's one data step (INSERT, UPDATE or DELETE
                statements), which ``revert`` runs; a data step without it cannot be
                reverted.
            allow_nondeterministic: let data steps call functions whose result differs per
                tenant (``random()``, ``datetime('now')``); the journal records that.

        Returns:
            The events appended (a list); ``.data_steps`` holds the rows each data step
            changed, in total and per tenant.

        Raises:
            ArgumentError: ``down`` given for a script with no data step, or with several.
            SQLParseError, DataStepRefusedError: a statement that is not supported, or a data
                step that touches CinchDB's own tables, another database, or calls a
                non-deterministic function without ``allow_nondeterministic``.
            PreflightError: a data step (or a change) fails on some tenant's rows, naming them.
        """
        operations = _parse.parse(sql, allow_nondeterministic)
        if down is not None:
            operations = _with_down(operations, down, allow_nondeterministic)
        events, _, _ = self._changes.commit(
            self.branch, operations, message=message, progress=self.progress
        )
        steps = [
            rows
            for event in events
            for rows in step_rows(
                self._changes.store, self.database, event.id, branch=self.branch,
                sql=_data_sql(event),
            )
        ]  # fmt: skip
        return MigrateResult(events, steps)

    def lint(self, a: str, b: str | None = None) -> list[LintFinding]:
        """What B introduces over A (``lint("A..B")`` or ``lint("A", "B")``: the events
        reachable from B and not from A, as ``git log A..B``) that drops data or can fail on
        existing rows: dropped tables and columns, type changes, NOT NULL without default,
        unique indexes."""
        return history.lint(self._changes, a, b)

    def check(self) -> CheckReport:
        """Journal integrity (every event id matches its content) and tenant drift (every
        materialized file's cursor and actual schema match the journal); ``ok`` says both."""
        return history.check(self._changes)

    def revert(self, event_id: str, force: bool = False) -> Event:
        """Append the inverse of an event. Refused when the inverse cannot restore what was
        lost (rows of a dropped table, values of a dropped column), unless ``force``."""
        event, _ = history.revert(self._changes, self.branch, event_id, force=force)
        return event

    def reset_branch(self, branch: str, ref: str) -> ResetResult:
        """Move ``branch`` back to an earlier event of its first-parent history (``ref``: an
        event id or prefix, or ``branch~N``), like ``git reset``: the recovery for a branch
        whose head holds an event SQLite refuses. Refused (ResetRefusedError, nothing changed)
        when a tenant file of the branch already holds an event past ``ref``, naming the
        tenants. The dropped events stay in the journal."""
        return history.reset_branch(self._changes, branch, ref)

    # -- code generation ---------------------------------------------------------------------
    def generate_models(
        self, language: str, directory: str | os.PathLike[str], *, tsc: str | None = None
    ) -> list[str]:
        """Write typed code for this branch's schema into ``directory``: ``"python"`` (a
        package of pydantic models and a typed client over this SDK) or ``"typescript"``
        (interfaces and a typed HTTP client; ``tsc``: the TypeScript compiler to check it
        with, default ``$CINCHDB_TSC`` or ``tsc`` on PATH). Returns the files' paths; an
        unchanged schema gives byte-identical files."""
        paths = codegen.generate(
            self.schema(), language, directory, database=self.database, branch=self.branch,
            tsc=tsc,
        )  # fmt: skip
        return [str(path) for path in paths]

    def stale_models(
        self, language: str, directory: str | os.PathLike[str], *, tsc: str | None = None
    ) -> list[str]:
        """Files of ``directory`` that no longer match this branch's schema (empty: current)."""
        return codegen.stale_files(
            self.schema(), language, directory, database=self.database, branch=self.branch,
            tsc=tsc,
        )  # fmt: skip

    # -- tenants -----------------------------------------------------------------------------
    def create_tenant(
        self,
        name: str,
        lazy: bool = True,
        encrypt: bool = False,
        encryption_key: str | None = None,
    ) -> Tenant:
        """Register a tenant. Lazy (default): no file until its first write; otherwise its
        file on this handle's branch is made now. ``encrypt=True`` with ``encryption_key``
        makes every file of the tenant a SQLCipher file under that key (kept in memory only;
        open the tenant later with ``connect(tenant=..., encryption_key=...)``)."""
        if encrypt != (encryption_key is not None):
            raise EncryptionError(
                "Give encrypt=True together with encryption_key (and a key only to encrypt)"
            )
        raw_key = salt = None
        if encryption_key is not None:
            salt = new_salt()
            raw_key = derive_key(encryption_key, salt)
        record = self._files.create(name, encrypted=encrypt, raw_key=raw_key, salt=salt)
        if not lazy:
            self._files.connection(self.branch, name)
        return models.Tenant(
            name=record.name,
            database=self.database,
            encrypted=record.encrypted,
            created_at=record.created_at,
        )

    def rotate_tenant_key(
        self,
        name: str,
        old_key: str | None = None,
        new_key: str | None = None,
        *,
        resume: bool = False,
    ) -> None:
        """Re-encrypt every file of tenant ``name`` (on every branch) under ``new_key``; the
        old key stops working.

        Crash-safe: the new key is recorded as pending before the first file changes, so an
        interrupted rotation (a crash, or metadata.db locked too long) is finished by the
        next open of the tenant with either key, or by ``resume=True`` with either key
        (which also rotates now if nothing was recorded yet and both keys are given, and does
        nothing if ``new_key`` is already the tenant's key). A rotation is never rolled back
        once recorded. See docs/encryption.md.

        Raises:
            WrongKeyError: a key given is not the tenant's; KeyRotationError: metadata.db
                stayed locked (the message says whether anything changed), or an unfinished
                rotation must be resumed first.
        """
        self._files.rotate_key(name, old_key, new_key, resume=resume)

    def list_tenants(self) -> list[Tenant]:
        """``main`` first, then the others by name."""
        return main_first(
            [
                models.Tenant(
                    name=r.name,
                    database=self.database,
                    encrypted=r.encrypted,
                    created_at=r.created_at,
                )
                for r in self._files.records()
            ]
        )

    def delete_tenant(self, name: str) -> None:
        """Delete a tenant and its data in every branch (never ``main``)."""
        if name == MAIN:
            raise ProtectedError("tenant", MAIN, "deleted")
        self._files.delete(name)

    def reset_tenant(self, name: str) -> None:
        """Rebuild tenant ``name``'s file on this handle's branch at the branch head: every
        row it has on this branch is lost (its files of other branches are kept). For a
        file that followed another git branch and cannot come back without losing data
        (:class:`~cinchdb.errors.TenantCheckoutLosesDataError`): development data is often
        throwaway, but it is never dropped without this explicit call."""
        self._files.reset(self.branch, name)

    def copy_tenant(self, source: str, target: str, encryption_key: str | None = None) -> Tenant:
        """A new tenant ``target`` with a copy of ``source``'s data in every branch. An
        encrypted ``source`` needs its key (``encryption_key``, unless this handle has it);
        the copy is encrypted under the same key."""
        if encryption_key is not None:
            self._files.unlock(source, encryption_key)
        return self._tenant_model(self._files.copy(source, target))

    def rename_tenant(
        self, old_name: str, new_name: str, encryption_key: str | None = None
    ) -> Tenant:
        """Rename a tenant (never ``main``) in every branch; an encrypted one needs its key
        (``encryption_key``, unless this handle has it) and keeps it."""
        if old_name == MAIN:
            raise ProtectedError("tenant", MAIN, "renamed")
        if encryption_key is not None:
            self._files.unlock(old_name, encryption_key)
        record = self._files.copy(old_name, new_name, remove_source=True)
        if self.tenant == old_name:
            self.tenant = new_name
        return self._tenant_model(record)

    def repair_tenant(self, name: str, encryption_key: str | None = None) -> RepairResult:
        """Rebuild tenant ``name``'s schema on this handle's branch from the journal, keeping
        every row of every column the journal has: for a file ``check()`` reports as drifted
        (changed outside CinchDB). Refused, changing nothing, when rows or values would be
        lost (:class:`~cinchdb.errors.RepairRefusedError` names the table, column and row
        count). One transaction on the file: a crash leaves it as it was or repaired. An
        encrypted tenant needs its key (``encryption_key``, unless this handle has it)."""
        if encryption_key is not None:
            self._files.unlock(name, encryption_key)
        return history.repair_tenant(self._changes, self.branch, name)

    def _tenant_model(self, record: TenantRecord) -> Tenant:
        return models.Tenant(
            name=record.name,
            database=self.database,
            encrypted=record.encrypted,
            created_at=record.created_at,
        )

    def tenant_status(self) -> list[TenantStatus]:
        """Per tenant on this branch: ``name``, ``materialized``, ``cursor`` (last event
        applied), ``behind`` (events it has yet to apply; it applies them when opened) and
        ``needs_key``: an encrypted tenant whose key this handle does not have (its cursor
        and lag are unknown: "behind, needs key")."""
        return [
            {
                "name": state.name,
                "materialized": state.materialized,
                "cursor": state.cursor,
                "behind": state.behind,
                "needs_key": state.needs_key,
            }
            for state in self._files.status(self.branch)
        ]

    def sync_tenants(self, progress: Progress | None = None) -> SyncResult:
        """Bring every materialized tenant of this branch to the head; say what was done."""
        done = self._files.propagate(self.branch, progress or self.progress)
        updated = [step for step in done if step.applied]
        return {
            "branch": self.branch,
            "tenants": len(done),
            "updated": [step.tenant for step in updated],
            "events_applied": sum(step.applied for step in updated),
            "left_behind": [step.tenant for step in done if step.outcome == "behind"],
        }

    # -- analytics ---------------------------------------------------------------------------
    def get_analytics_stats(
        self,
        since: datetime | timedelta | None = None,
        tenant: str | None = None,
        limit: int = 20,
    ) -> AnalyticsStats:
        """What analytics recorded for this database, every process's rows merged: the
        ``limit`` slowest shapes (highest mean time), the most frequent ones, and the tenants
        with the most time, with calls, errors, rows, total and mean time and p50/p95/p99.

        This process's pending observations are written first, so its own statements count.

        Args:
            since: a time (naive: UTC) or a span back from now (``timedelta(hours=1)``);
                counted by the minute. None: everything kept (see ``analytics_retention_days``).
            tenant: one tenant's statements only (every branch's); None: every tenant.
            limit: how many shapes (and tenants) each list holds.

        Raises:
            InvalidFieldError: a ``since``, ``tenant`` or ``limit`` it cannot take.
        """
        _check_analytics_args("get_analytics_stats", since, tenant, limit)
        self._flush_analytics()
        return read_stats(
            analytics_path(self._catalog.meta_dir, self.database), since, tenant, limit
        )

    def get_slow_queries(
        self,
        since: datetime | timedelta | None = None,
        tenant: str | None = None,
        limit: int = 50,
        *,
        threshold_ms: float | None = None,
    ) -> list[SlowStatement]:
        """Statements of this database that took at least ``slow_query_ms`` (or
        ``threshold_ms``, when higher), most recent first, with their tenant, branch, time and
        normalized SQL (never the parameter values).

        Raises:
            InvalidFieldError: a ``since``, ``tenant``, ``limit`` or ``threshold_ms`` it cannot
                take.
        """
        _check_analytics_args("get_slow_queries", since, tenant, limit)
        if threshold_ms is not None and (
            isinstance(threshold_ms, bool)
            or not isinstance(threshold_ms, int | float)
            or threshold_ms < 0
        ):
            raise InvalidFieldError(
                "get_slow_queries()",
                "argument",
                [("threshold_ms", f"must be a number of milliseconds >= 0, not {threshold_ms!r}")],
            )
        self._flush_analytics()
        return read_slow(
            analytics_path(self._catalog.meta_dir, self.database),
            since,
            tenant,
            limit,
            threshold_ms=threshold_ms,
        )

    def _flush_analytics(self) -> None:
        """Write this process's pending observations (a no-op with analytics off)."""
        if self._analytics is not None:
            self._analytics.flush()

    # -- analytics: the hook -----------------------------------------------------------------
    def _open_analytics(self, database: str, analytics: bool | None) -> _analytics.Lease | None:
        meta_dir = self._catalog.meta_dir
        config = read_config(meta_dir) if analytics is None or analytics else None
        if analytics is None:
            assert config is not None
            analytics = config.analytics
        if not analytics:
            return None
        assert config is not None
        return _analytics.lease(
            meta_dir,
            database,
            slow_query_ms=config.slow_query_ms,
            retention_days=config.analytics_retention_days,
        )

    def _kv_connection(self, write: bool) -> sqlite3.Connection | None:
        return self._files.kv_connection(self.branch, self.tenant, write)

    # -- databases ---------------------------------------------------------------------------
    def create_database(self, name: str) -> None:
        """A new database with a ``main`` branch and ``main`` tenant."""
        self._catalog.create_database(name)

    def list_databases(self) -> list[str]:
        return self._catalog.store.list_databases()

    def delete_database(self, name: str) -> None:
        """Delete a database: its journal, branches, tenants and files (not this handle's)."""
        if name == self.database:
            raise ProtectedError("database", name, "deleted", "this handle is connected to it")
        self._catalog.delete_database(name)


class _ClosedParts:
    """Stands in for a closed handle's parts: the project root stays readable, anything else
    raises :class:`HandleClosedError`."""

    def __init__(self, root: Path, database: str, branch: str, tenant: str) -> None:
        self.root = root
        self._where = (database, branch, tenant)

    def __getattr__(self, name: str) -> NoReturn:
        raise HandleClosedError(*self._where)


_T = TypeVar("_T")


@functools.lru_cache(maxsize=1024)
def _data_shape(
    kind: ShapeKind, call: str, table: str, operator: str = "", filters: tuple[str, ...] = ()
) -> Shape:
    """The shape of an SDK data call: the call and the names it touched (a table, the
    filters' columns and operators), never a value: ``update_where posts: a AND b__gt``."""
    text = f"{call} {table}"
    if filters:
        text += ": " + f" {operator} ".join(filters)
    return operation_shape(kind, text)


# One argument, a str: functools' cache uses it as its own key (no tuple per call).
@functools.lru_cache(maxsize=1024)
def _get_shape(table: str) -> Shape:
    return _data_shape("select", "get", table)


@functools.lru_cache(maxsize=1024)
def _insert_shape(table: str) -> Shape:
    return _data_shape("insert", "insert", table)


@functools.lru_cache(maxsize=256)
def _schema_shape(operations: tuple[str, ...]) -> Shape:
    """A schema change's shape: the kinds of its operations (``TableCreated``)."""
    return operation_shape("schema", " ".join(operations) or "schema change")


def _check_analytics_args(call: str, since: object, tenant: str | None, limit: object) -> None:
    """Refuse what the analytics readers cannot take, naming it (a wrong type would otherwise
    surface as a TypeError deep in the reader, or match nothing and look like no data)."""
    problems: list[tuple[str, str]] = []
    if since is not None and not isinstance(since, datetime | timedelta):
        problems.append(("since", f"must be a datetime or a timedelta, not {since!r}"))
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        problems.append(("limit", f"must be a whole number >= 1, not {limit!r}"))
    if problems:
        raise InvalidFieldError(f"{call}()", "argument", problems)
    if tenant is not None:
        validate_tenant_name(tenant)


def _with_down(
    operations: list[Operation], down: str, allow_nondeterministic: bool
) -> list[Operation]:
    """``operations`` with ``down`` attached to their one data step."""
    data = [i for i, op in enumerate(operations) if isinstance(op, _events.DataMigrated)]
    if not data:
        raise ArgumentError(
            "migrate", "down SQL applies to a data step (INSERT, UPDATE or DELETE); this"
            " script has none",
        )  # fmt: skip
    if len(data) > 1:
        raise ArgumentError(
            "migrate", f"down SQL applies to one data step; this script has {len(data)}:"
            " split it into one migrate per data step",
        )  # fmt: skip
    step = operations[data[0]]
    assert isinstance(step, _events.DataMigrated)
    undo = _parse.parse_down(down, allow_nondeterministic)
    return [
        *operations[: data[0]],
        _events.DataMigrated(sql=step.sql, down=undo, nondeterministic=step.nondeterministic),
        *operations[data[0] + 1 :],
    ]


def _data_sql(event: Event) -> str:
    """The statement of a migration's data step event ('' for any other event)."""
    operation = event.operations[0] if len(event.operations) == 1 else None
    return operation.sql if isinstance(operation, _events.DataMigrated) else ""


def sorted_by_name(items: Sequence[Any]) -> list[Any]:
    return sorted(items, key=lambda item: item.name.lower())


def main_first(items: list[Any]) -> list[Any]:
    return sorted(items, key=lambda item: (item.name != MAIN, item.name))


def _refuse_automatic(table: str, column: str, action: str) -> None:
    if build.is_automatic(column):
        raise SchemaError(
            f"Column '{column}' of table '{table}' is automatic; it cannot be {action}"
        )


def _require_view(schema: Schema, name: str) -> ViewDef:
    view = schema.view(name)
    if view is None:  # pragma: no cover - the commit just created it
        raise ObjectNotFoundError("view", name)
    return view
