"""Data operations on one open tenant connection: insert, update, delete, filters, query.

A :class:`DataOps` wraps one ``sqlite3`` connection (autocommit, ``isolation_level=None``) and a
source of the tenant's current :class:`journal.Schema`. Every CinchDB table has the automatic
columns ``id`` (a uuid4 string unless given), ``created_at`` and ``updated_at`` (UTC ISO-8601
with microseconds); they are filled in here when the table has them and they take text (a
table from ``migrate`` with ``id INTEGER PRIMARY KEY`` gets its rowid from SQLite). Records are
named by the table's key (its primary key, else ``id``, else the rowid), and every value is
checked against its column's type first (cinchdb._values): a call writes all or nothing.

Hot path. Everything derived from the schema (column names, BOOLEAN columns, the SQL text per
column tuple) is computed once per schema value and kept in dicts, so a call costs a dict lookup
before it reaches SQLite; ``sqlite3`` keeps the prepared statements for the repeated texts.
Inserts. ``executemany`` discards ``RETURNING`` rows, so rows go in as multi-row
``INSERT ... VALUES (...), (...)`` statements (up to 256 rows each), in one transaction when
there are several. One statement's worth uses ``RETURNING *``. Beyond that, ``RETURNING`` costs
SQLite about as much as the insert itself, so bulk inserts skip it: the stored rows are built
from the values given where SQLite provably stores them unchanged (types matching the column
affinity, no DEFAULT or generated column left out, no trigger, no ON CONFLICT clause), and
otherwise read back by rowid inside the transaction and checked against the ids. SQLite's own
time for 10,000 rows in 256-row statements: 59 ms plain, 109 ms with RETURNING, 88 ms plus the
read-back (raw ``executemany``: 68 ms); a statement per row with RETURNING took 355 ms.
``benchmarks/bench_data.py`` has the end-to-end ratios.

Read-only queries (``query``, ``stream``) are :class:`cinchdb._reads.Reads`'s, through the
authorizer this installs once per connection (a caller's own policy, such as tenant isolation,
is passed as ``authorizer=``). One ``DataOps`` per connection.

BOOLEAN columns. Values are stored as 0/1 and come back as ``bool`` (``None`` stays ``None``)
from insert, update and get; from ``query`` as :mod:`cinchdb._reads` says.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import chain, groupby, islice, repeat
from operator import methodcaller
from typing import TYPE_CHECKING

from cinchdb._readonly import Authorizer, Gate, Params
from cinchdb._reads import QUERY_TIMEOUT_S, Reads, RowStream, with_bools
from cinchdb._rows import (
    FILTER_OPERATORS,
    MAX_CHUNK,
    MAX_PARAMS,
    InsertPlan,
    TableFacts,
    dicts,
    in_order,
    new_ids,
    shown_key,
    to_bools,
    utc_now,
    where_clause,
)
from cinchdb._sqlite_errors import constraint_errors
from cinchdb._values import ColumnCheck, check_batch, check_columns, rowid_check
from cinchdb.errors import (
    ArgumentError,
    CinchError,
    DuplicateColumnError,
    KeyColumnError,
    RecordNotFoundError,
    TableNotFoundError,
)
from cinchdb.results import QueryRows, Row
from journal.names import fold_name, quote, validate_identifier
from journal.transactions import savepoint, transaction

if TYPE_CHECKING:  # a type only: the schema's definitions are pydantic models, costly to import
    from journal.schema import Schema

__all__ = [
    "FILTER_OPERATORS",
    "QUERY_TIMEOUT_S",
    "DataOps",
    "Params",
    "RowStream",
    "new_ids",
    "utc_now",
]

# insert_many consumes its rows this many at a time.
_MANY_CHUNK = 4096
_DICTS = frozenset({dict})


class DataOps:
    """Data operations on one tenant connection.

    Args:
        conn: an open connection in autocommit mode (``isolation_level=None``).
        schema: the tenant's schema, or a callable returning its current value (called once
            per operation; facts are rebuilt only when it returns a different object).
        authorizer: the caller's own authorizer policy, if any (see the module docstring).
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        schema: Schema | Callable[[], Schema],
        *,
        authorizer: Authorizer | None = None,
    ) -> None:
        self.conn = conn
        self._schema_source: Callable[[], Schema] = schema if callable(schema) else (lambda: schema)
        self._schema: Schema | None = None
        self._tables: dict[str, TableFacts] = {}
        self._gate = Gate(authorizer)
        conn.set_authorizer(self._gate)
        self._reads = Reads(conn, self._gate, self._schema_source)

    # -- schema facts ----------------------------------------------------------------------
    def _table(self, table: str) -> TableFacts:
        schema = self._schema_source()
        if schema is not self._schema:
            self._table_reset(schema)
        facts = self._tables.get(table)
        if facts is None:
            validate_identifier("table", table)
            definition = schema.table(table)
            if definition is None:
                raise TableNotFoundError(table)
            facts = self._tables[table] = TableFacts(
                definition, bool(schema.triggers_on(definition.name))
            )
        return facts

    # -- transactions ----------------------------------------------------------------------
    @contextmanager
    def _transaction(self, facts: TableFacts) -> Iterator[None]:
        """All or nothing: commit when the block ends, roll back on any error. Inside a
        transaction the caller holds, a savepoint, so the caller's transaction stays open."""
        scope = (
            savepoint(self.conn, "cinch_data")
            if self.conn.in_transaction
            else transaction(self.conn)
        )
        with scope, constraint_errors(facts.name):
            yield

    # -- insert ----------------------------------------------------------------------------
    def insert(self, table: str, rows: Sequence[Mapping[str, object]]) -> list[Row]:
        """Insert ``rows`` (all or none) and return them as stored, defaults included.

        Rows may have different keys. ``id``, ``created_at`` and ``updated_at`` are filled in
        unless given.

        Raises:
            TableNotFoundError: no such table.
            ColumnNotFoundError: a row names a column the table does not have.
            ValueTypeError: a value does not fit its column's type.
            MissingValueError: a NOT NULL column without a default got no value or None.
            ConstraintError: a UNIQUE, NOT NULL, CHECK or FOREIGN KEY constraint failed.
        """
        facts = self._table(table)
        total = len(rows)
        if total == 0:
            return []
        now = utc_now()
        # Group consecutive rows with the same keys: one statement shape per group.
        groups: list[tuple[InsertPlan, int, int]] = []
        plans = facts.inserts
        start = 0
        for keys, run in groupby(map(tuple, rows)):
            plan = plans.get(keys)
            if plan is None:
                plan = plans[keys] = InsertPlan(facts, keys)
            stop = start + len(list(run))
            groups.append((plan, start, stop))
            start = stop
        if len(groups) == 1 and total <= MAX_CHUNK:
            # One statement: atomic without a transaction of our own.
            with constraint_errors(facts.name):
                return self._insert_returning(facts, groups[0], rows, now)
        out: list[Row] = []
        with self._transaction(facts):
            for group in groups:
                if facts.bulk_ok:
                    out.extend(self._insert_bulk(facts, group, rows, now))
                else:
                    out.extend(self._insert_returning(facts, group, rows, now))
        return out

    def insert_many(self, table: str, rows: Iterable[Mapping[str, object]]) -> int:
        """Insert every row of ``rows`` in one transaction; return how many.

        For loading data: the iterable is consumed in chunks (memory stays constant), the
        stored rows are not returned, and every value is checked against its column as in
        :meth:`insert`. On any error nothing is written, and the error's ``row_index`` is the
        0-based position of the row at fault in ``rows`` (None when SQLite cannot say which
        row of a table with triggers failed).

        Raises:
            TableNotFoundError, ColumnNotFoundError, ValueTypeError, MissingValueError,
            ConstraintError (each with ``row_index``).
        """
        facts = self._table(table)
        now = utc_now()
        done = 0
        iterator = iter(rows)
        inserted = 0
        with self._transaction(facts):
            while chunk := list(islice(iterator, _MANY_CHUNK)):
                inserted += self._insert_chunk(facts, chunk, done, now)
                done += len(chunk)
        return inserted

    def _insert_chunk(
        self, facts: TableFacts, chunk: list[Mapping[str, object]], first: int, now: str
    ) -> int:
        """Insert one chunk of insert_many's rows (``first``: the index of its first row);
        return how many rows SQLite inserted."""
        if not set(map(type, chunk)) <= _DICTS:
            for i, row in enumerate(chunk):
                if not isinstance(row, Mapping):
                    error = ArgumentError("insert_many", f"takes rows as dicts, not {row!r}")
                    error.row_index = first + i
                    raise error
        plans = facts.inserts
        start = inserted = 0
        for keys, run in groupby(map(tuple, chunk)):
            stop = start + sum(1 for _ in run)
            plan = plans.get(keys)
            if plan is None:
                try:
                    plan = plans[keys] = InsertPlan(facts, keys)
                except CinchError as error:
                    error.row_index = first + start  # type: ignore[attr-defined]
                    raise
            part = chunk if start == 0 and stop == len(chunk) else chunk[start:stop]
            values = list(map(tuple, map(_values, part)))
            if plan.value_checks:
                columns = list(zip(*values, strict=True))
                check_columns(plan.value_checks, columns, plan.automatic, first + start)
            params: Iterable[tuple[object, ...]]
            if plan.automatic:
                heads: list[Iterable[object]] = []
                if plan.add_id:
                    heads.append(new_ids(len(values)))
                heads.extend([repeat(now)] * (plan.automatic - plan.add_id))
                params = map(tuple.__add__, values, zip(*heads, strict=False))
            else:
                params = values
            inserted += self._execute_many(facts, plan.many_sql, params, first + start)
            start = stop
        return inserted

    def _execute_many(
        self, facts: TableFacts, sql: str, params: Iterable[tuple[object, ...]], first: int
    ) -> int:
        conn = self.conn
        if facts.has_triggers or not facts.plain_conflicts:
            # total_changes counts the triggers' rows and skips rows ON CONFLICT IGNORE left
            # out: the failing row is found by inserting one row per statement.
            inserted = 0
            for i, row in enumerate(params):
                try:
                    with constraint_errors(facts.name):
                        inserted += conn.execute(sql, row).rowcount
                except CinchError as error:
                    error.row_index = first + i  # type: ignore[attr-defined]
                    raise
            return inserted
        before = conn.total_changes
        try:
            with constraint_errors(facts.name):
                conn.executemany(sql, params)
        except CinchError as error:
            # executemany stops at the failing row; each row before it was inserted.
            error.row_index = first + conn.total_changes - before  # type: ignore[attr-defined]
            raise
        return conn.total_changes - before

    @staticmethod
    def _params(
        plan: InsertPlan, rows: Sequence[Mapping[str, object]], lo: int, hi: int, now: str
    ) -> list[object]:
        """The rows' values, automatic columns first, as one flat list."""
        values = map(_values, rows[lo:hi] if lo or hi < len(rows) else rows)
        nows = plan.add_created + plan.add_updated
        if plan.add_id:
            heads: Iterable[tuple[object, ...]] = zip(
                new_ids(hi - lo), *[repeat(now)] * nows, strict=False
            )
        elif nows:
            heads = repeat((now,) * nows)
        else:
            return list(chain.from_iterable(values))
        return list(chain.from_iterable(chain.from_iterable(zip(heads, values, strict=False))))

    def _chunks(self, plan: InsertPlan, count: int) -> Iterable[tuple[int, int]]:
        """(start row, rows) of each statement: powers of two, largest first, within SQLite's
        parameter limit, so a few statement texts serve every batch size."""
        limit = min(MAX_CHUNK, MAX_PARAMS // plan.width)
        chunk = 1 << (limit.bit_length() - 1)
        done = 0
        while done < count:
            while chunk > count - done:
                chunk >>= 1
            yield done, chunk
            done += chunk

    def _insert_returning(
        self,
        facts: TableFacts,
        group: tuple[InsertPlan, int, int],
        rows: Sequence[Mapping[str, object]],
        now: str,
    ) -> list[Row]:
        plan, lo, hi = group
        params = self._params(plan, rows, lo, hi, now)
        width = plan.width
        check_batch(plan.value_checks, params, width, lo)
        out: list[Row] = []
        for start, chunk in self._chunks(plan, hi - lo):
            cursor = self.conn.execute(
                plan.statement(chunk), params[start * width : (start + chunk) * width]
            )
            fetched = cursor.fetchall()
            if plan.id_position is not None:
                expected = params[
                    start * width + plan.id_position : (start + chunk) * width : width
                ]
                fetched = in_order(fetched, expected, facts.id_index)
            out.extend(dicts([d[0] for d in cursor.description], fetched))
        to_bools(out, facts.booleans)
        return out

    def _insert_bulk(
        self,
        facts: TableFacts,
        group: tuple[InsertPlan, int, int],
        rows: Sequence[Mapping[str, object]],
        now: str,
    ) -> list[Row]:
        """Insert without RETURNING, which costs SQLite about as much as the insert itself.

        The stored rows are the values given wherever SQLite keeps values as they are (the
        types in ``_trusted_types``, no defaults to fill in, no triggers); otherwise they are
        read back by rowid, inside the same transaction, and checked against the ids.
        """
        plan, lo, hi = group
        params = self._params(plan, rows, lo, hi, now)
        width = plan.width
        check_batch(plan.value_checks, params, width, lo)
        read_back = plan.read_back
        if not read_back:
            for j, trusted in plan.checks:
                if not set(map(type, params[j::width])) <= trusted:
                    read_back = True
                    break
        execute = self.conn.execute
        first = last = 0
        for start, chunk in self._chunks(plan, hi - lo):
            last = (
                execute(
                    plan.statement(chunk, returning=False),
                    params[start * width : (start + chunk) * width],
                ).lastrowid
                or 0
            )
            if start == 0:
                first = last - chunk + 1
        names = facts.names
        if read_back:
            expected = params[plan.id_position :: width]
            fetched = execute(facts.range_sql, (first, last)).fetchall()
            index = facts.id_index
            if [values[index] for values in fetched] != expected:
                # Rowids were not consecutive (a trigger inserted into this table, say).
                fetched = [
                    found
                    for key in expected
                    for found in execute(facts.by_id_sql, (key,)).fetchall()
                ]
            out = dicts(names, fetched)
        else:
            # Transpose column slices (C speed) rather than slicing the params row by row.
            nones = [None] * (hi - lo)
            columns = [params[j::width] if j < width else nones for j in plan.order]
            out = dicts(names, zip(*columns, strict=True))
        to_bools(out, facts.booleans)
        return out

    # -- update ----------------------------------------------------------------------------
    def _set_clause(
        self, facts: TableFacts, data: Mapping[str, object]
    ) -> tuple[str, bool, list[tuple[int, ColumnCheck]]]:
        keys = tuple(data)
        cached = facts.updates.get(keys)
        if cached is None:
            names = [facts.column_name(key) for key in keys]
            folded = [fold_name(n) for n in names]
            if len(set(folded)) != len(names):
                raise DuplicateColumnError(facts.name, keys)
            for name in names:
                if fold_name(name) in facts.folded_key:
                    raise KeyColumnError(
                        facts.name,
                        facts.key,
                        f"update cannot change key column '{name}'; leave it out of the data",
                    )
            touch = facts.has["updated_at"] and "updated_at" not in folded
            if touch:
                names.append("updated_at")
            if not names:
                raise ArgumentError("update", f"has nothing to update in table '{facts.name}'")
            cached = facts.updates[keys] = (
                ", ".join(f"{quote(n)} = ?" for n in names),
                f"UPDATE {facts.quoted} SET ",
                touch,
                [(j, facts.checks[name]) for j, name in enumerate(folded)],
            )
        set_sql, prefix, touch, checks = cached
        return prefix + set_sql, touch, checks

    def key_values(self, facts: TableFacts, record: object) -> list[object]:
        """The values of the table's key that name ``record``: for a one-column key the value
        itself (or a row holding it); for a composite key a tuple in key order, or a dict (a
        row) holding every key column."""
        key = facts.key
        if isinstance(record, Mapping):
            folded = {fold_name(k): v for k, v in record.items() if isinstance(k, str)}
            missing = [n for n in key if fold_name(n) not in folded]
            if missing:
                shown = ", ".join(f"'{n}'" for n in missing)
                reason = f"got a record without its key column {shown}"
                raise KeyColumnError(facts.name, key, reason)
            return [folded[fold_name(n)] for n in key]
        if len(key) == 1:
            return [record]
        if isinstance(record, tuple | list) and len(record) == len(key):
            return list(record)
        raise KeyColumnError(
            facts.name,
            key,
            f"name a record by a tuple of {len(key)} values ({', '.join(key)}) or a dict of"
            f" them, not {record!r}",
        )

    def update(self, table: str, record: object, data: Mapping[str, object] | None) -> Row:
        """Change one record; return the whole row after the change.

        ``record`` names the row by the table's key (see :meth:`key_values`); a dict holding
        the key columns may stand for the row, and without ``data`` its other values (not
        the automatic ``created_at``/``updated_at``) are written back.

        Raises:
            RecordNotFoundError: no record has that key.
            KeyColumnError: ``data`` names a key column (a key is never changed here).
        """
        facts = self._table(table)
        key = self.key_values(facts, record)
        if data is None:
            if not isinstance(record, Mapping):
                raise ArgumentError("update", "needs the data to change")
            data = {
                k: v
                for k, v in record.items()
                if not (isinstance(k, str) and fold_name(k) in facts.folded_key)
                and k not in ("created_at", "updated_at")
            }
        head, touch, checks = self._set_clause(facts, data)
        params = [*data.values(), utc_now(), *key] if touch else [*data.values(), *key]
        if checks:
            check_batch(checks, params, len(params), 0)
        with constraint_errors(facts.name):
            cursor = self.conn.execute(f"{head} WHERE {facts.key_where} RETURNING *", params)
            values = cursor.fetchone()
        if values is None:
            raise RecordNotFoundError(facts.name, shown_key(key))
        # Drain the cursor so the statement finishes and autocommits.
        cursor.fetchall()
        names = [d[0] for d in cursor.description]
        flags = [i for i, name in enumerate(names) if name in facts.booleans]
        return with_bools(names, values, flags) if flags else dict(zip(names, values, strict=True))

    def key_columns(self, table: str) -> tuple[str, ...]:
        """The columns that name a record of ``table``: its primary key; else its ``id``
        column; else ``("rowid",)``."""
        return self._table(table).key

    def from_text(self, table: str, column: str, text: str) -> object:
        """The value command-line ``text`` stands for in ``column`` (typed by the column:
        ``"5"`` is 5 in an INTEGER column); ValueTypeError when it cannot be one."""
        facts = self._table(table)
        if column == "rowid" and facts.key == ("rowid",):
            check = rowid_check(facts.name)
        else:
            check = facts.checks[fold_name(facts.column_name_any(column))]
        return check.from_text(text)

    def get(self, table: str, record: object) -> Row:
        """The record named by ``record`` (its key, as for :meth:`update`).

        Raises:
            RecordNotFoundError: no record has that key.
        """
        facts = self._table(table)
        key = self.key_values(facts, record)
        cursor = self.conn.execute(facts.get_sql, key)
        values = cursor.fetchone()
        if values is None:
            raise RecordNotFoundError(facts.name, shown_key(key))
        names = [d[0] for d in cursor.description]
        flags = [i for i, name in enumerate(names) if name in facts.booleans]
        return with_bools(names, values, flags) if flags else dict(zip(names, values, strict=True))

    def update_where(
        self, table: str, data: Mapping[str, object], /, operator: str = "AND", **filters: object
    ) -> int:
        """Change every record matching ``filters``; return how many changed.

        Filters are ``column=value`` or ``column__op=value`` with op one of
        :data:`FILTER_OPERATORS`; ``operator`` ("AND" or "OR") joins them.
        """
        facts = self._table(table)
        where, where_params = where_clause(facts, "update_where", operator, filters)
        head, touch, checks = self._set_clause(facts, data)
        params = [*data.values(), utc_now()] if touch else list(data.values())
        if checks:
            check_batch(checks, params, len(params), 0)
        params.extend(where_params)
        return self._write(facts, f"{head} WHERE {where}", params)

    # -- delete ----------------------------------------------------------------------------
    def delete(self, table: str, ids: Iterable[object]) -> int:
        """Delete the records with these keys (see :meth:`key_values`); return how many were
        deleted."""
        facts = self._table(table)
        if len(facts.key) == 1:
            id_list: list[Sequence[object]] = [
                self.key_values(facts, i) if isinstance(i, Mapping) else (i,) for i in ids
            ]
        else:
            id_list = [self.key_values(facts, i) for i in ids]
        if not id_list:
            return 0
        sql = f"DELETE FROM {facts.quoted} WHERE {facts.key_where}"
        if len(id_list) == 1:
            return self._write(facts, sql, id_list[0])
        with self._transaction(facts):
            count = self.conn.executemany(sql, id_list).rowcount
        return count

    def delete_where(self, table: str, /, operator: str = "AND", **filters: object) -> int:
        """Delete every record matching ``filters`` (as in :meth:`update_where`)."""
        facts = self._table(table)
        where, params = where_clause(facts, "delete_where", operator, filters)
        return self._write(facts, f"DELETE FROM {facts.quoted} WHERE {where}", params)

    def _write(self, facts: TableFacts, sql: str, params: Sequence[object]) -> int:
        with constraint_errors(facts.name):
            return self.conn.execute(sql, params).rowcount

    # -- query (cinchdb._reads) -------------------------------------------------------------
    def query(
        self, sql: str, params: Params | None = None, *, timeout: float | None = QUERY_TIMEOUT_S
    ) -> QueryRows:
        """Run a read-only statement and return its rows (see :meth:`Reads.query`)."""
        return self._reads.query(sql, params, timeout=timeout)

    def stream(self, sql: str, params: Params | None = None, *, size: int = 1000) -> RowStream:
        """Run a read-only statement and return its rows in chunks (see :meth:`Reads.stream`)."""
        return self._reads.stream(sql, params, size=size)

    def _table_reset(self, schema: Schema) -> None:
        self._schema = schema
        self._tables = {}


_values = methodcaller("values")
