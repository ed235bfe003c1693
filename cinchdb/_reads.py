"""Read-only statements on one tenant connection: :class:`Reads` runs ``query`` and
``stream`` for :class:`cinchdb.data.DataOps`, and learns which result columns are BOOLEAN.

:meth:`Reads.query` first checks the statement's leading keyword, then runs it with an
authorizer that denies every write action. The authorizer (a :class:`cinchdb._readonly.Gate`)
is installed once, when the ``DataOps`` is made, and only switched into read-only mode by a
flag while a read runs: ``sqlite3_set_authorizer`` expires every prepared statement, and
setting and restoring it per call made a select by id 3.6x slower. Python cannot read a
connection's current authorizer, so a caller with its own policy (tenant isolation) passes it
to the gate: it is consulted for every statement, before the read-only rule.

BOOLEAN columns. From :meth:`Reads.query`, a result column is turned into ``bool`` when its
name (as in ``cursor.description``) is the name of a BOOLEAN column of a table that the query
reads, according to SQLite's authorizer; ``SELECT active AS on_duty`` is left as 0/1. The
columns are learned per SQL text when SQLite compiles it (again after a schema change, since
SQLite recompiles every statement then).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from cinchdb._readonly import READ_WORDS, Gate, Params, denial, leading_word, refusal
from cinchdb._rows import BOOLEAN_TYPES
from cinchdb._sqlite_errors import ONE_STATEMENT_ERRORS, missing_table, too_big
from cinchdb.errors import ArgumentError, QueryTimeoutError
from cinchdb.results import QueryRows, Row
from journal import drivers
from journal.names import fold_name

if TYPE_CHECKING:  # a type only: the schema's definitions are pydantic models, costly to import
    from journal.schema import Schema

__all__ = ["QUERY_TIMEOUT_S", "Reads", "RowStream", "with_bools"]

#: Seconds a ``query()`` may run before it is stopped with QueryTimeoutError (the default of
#: its ``timeout=``; None lifts the limit).
QUERY_TIMEOUT_S = 30.0
# The progress handler runs every this many SQLite VM instructions (a few hundred microseconds
# of work): a lookup by id finishes before the first call, and a runaway query is checked
# often enough to stop within a millisecond or so of its deadline.
_PROGRESS_STEPS = 10_000


class Reads:
    """Read-only statements on ``conn``, through its installed ``gate``; ``schema`` returns the
    tenant's current schema (read only when a result may hold BOOLEAN columns)."""

    def __init__(self, conn: sqlite3.Connection, gate: Gate, schema: Callable[[], Schema]) -> None:
        self.conn = conn
        self._gate = gate
        self._schema_source = schema
        self._schema: Schema | None = None
        # sql text -> result positions to turn into bool (None: none)
        self._query_bools: dict[str, tuple[tuple[str, ...], tuple[int, ...]] | None] = {}

    def query(
        self, sql: str, params: Params | None = None, *, timeout: float | None = QUERY_TIMEOUT_S
    ) -> QueryRows:
        """Run a read-only statement (SELECT, WITH ... SELECT, EXPLAIN, VALUES); return rows.

        Args:
            sql: one statement.
            params: its parameters, by position or by name.
            timeout: seconds it may run (default :data:`QUERY_TIMEOUT_S`); None: no limit.

        Raises:
            ReadOnlyQueryError: the statement would write; nothing ran.
            QueryTimeoutError: it ran past ``timeout`` and was stopped.
            ValueTooLargeError: it built a value larger than the limit, or is too long itself.
            DeniedFunctionError: it calls a function that is never allowed.
            ArgumentError: more than one statement, or a bad ``timeout``.
        """
        # type() rather than isinstance: True is not a timeout; NaN fails "> 0".
        if timeout is not None and not (type(timeout) in (float, int) and timeout > 0):
            raise ArgumentError(
                "query", f"timeout must be a positive number of seconds or None, got {timeout!r}"
            )
        plan = self._query_bools.get(sql, False)
        if plan is False:
            word = leading_word(sql)
            if word not in READ_WORDS:
                raise refusal(sql, word)
        gate = self._gate
        gate.start_read()
        conn = self.conn
        stopped: list[bool] = []
        if timeout is not None:
            deadline = time.monotonic() + timeout

            def past_deadline() -> int:
                if time.monotonic() < deadline:
                    return 0
                stopped.append(True)
                return 1  # non-zero: SQLite interrupts the statement

            conn.set_progress_handler(past_deadline, _PROGRESS_STEPS)
        try:
            cursor = conn.execute(sql, () if params is None else params)
            fetched = cursor.fetchall()
        except ONE_STATEMENT_ERRORS as e:
            if "one statement at a time" in str(e):
                raise ArgumentError(
                    "query", "runs one statement at a time; split the SQL into separate calls"
                ) from e
            raise
        except drivers.DatabaseError as e:
            if gate.denied:
                raise denial(sql, *gate.denied[0]) from e
            if stopped:
                raise QueryTimeoutError(sql, timeout or 0.0) from e
            found = too_big(e) or missing_table(e)
            if found is not None:
                raise found from e
            raise
        finally:
            gate.read_only = False
            if timeout is not None:
                conn.set_progress_handler(None, 0)
        if gate.compiled or plan is False:
            # The statement was (re)compiled just now, or never seen here: learn which columns
            # are booleans. SQLite recompiles every statement after a schema change, so a plan
            # learned under an older schema is relearned before it is used again.
            plan = self._query_bools[sql] = self._bool_plan(sql, cursor, gate.reads, gate.compiled)
        if plan is None:
            names = [d[0] for d in cursor.description] if cursor.description else []
            return QueryRows([dict(zip(names, values, strict=True)) for values in fetched], names)
        assert isinstance(plan, tuple)  # False (not yet learned) was replaced just above
        names_t, flags = plan
        names = list(names_t)
        return QueryRows([with_bools(names, values, flags) for values in fetched], names)

    def stream(self, sql: str, params: Params | None = None, *, size: int = 1000) -> RowStream:
        """Run a read-only statement, as :meth:`query` does, and return its rows in chunks of
        ``size`` instead of a list: for exports, in constant memory. No timeout: an export
        takes as long as its rows take. Read the stream before the next call on this
        connection (the statement keeps its read snapshot open until it is drained).

        Raises:
            The errors of :meth:`query` (but not QueryTimeoutError).
        """
        word = leading_word(sql)
        if word not in READ_WORDS:
            raise refusal(sql, word)
        gate = self._gate
        gate.start_read()
        try:
            cursor = self.conn.execute(sql, () if params is None else params)
        except ONE_STATEMENT_ERRORS as e:
            raise ArgumentError(
                "export_rows", "runs one statement at a time; split the SQL into separate calls"
            ) from e
        except drivers.DatabaseError as e:
            if gate.denied:
                raise denial(sql, *gate.denied[0]) from e
            missing = missing_table(e)
            if missing is not None:
                raise missing from e
            raise
        finally:
            gate.read_only = False
        plan = self._bool_plan(sql, cursor, gate.reads, gate.compiled)
        names = [d[0] for d in cursor.description] if cursor.description else []
        return RowStream(cursor, names, plan[1] if plan else (), size)

    def _bool_plan(
        self, sql: str, cursor: sqlite3.Cursor, reads: set[str], compiled: bool
    ) -> tuple[tuple[str, ...], tuple[int, ...]] | None:
        if not cursor.description or (compiled and not reads):
            # Nothing returned, or compiled just now and no table read (SELECT 1): no BOOLEAN
            # column can be in the result, and the schema is not needed (nor built).
            return None
        schema = self._schema_source()
        if schema is not self._schema:
            # A new schema: plans learned under the old one are dropped (SQLite recompiles
            # every statement after a schema change, so each is relearned when next run).
            self._schema = schema
            self._query_bools = {}
        # A statement that sqlite3 had already compiled outside query() reports no reads:
        # fall back to the tables whose names appear in its text.
        tables = (
            [schema.table(name) for name in reads]
            if reads
            else [t for t in schema.tables if fold_name(t.name) in fold_name(sql)]
        )
        booleans = {
            fold_name(c.name)
            for t in tables
            if t is not None
            for c in t.columns
            if " ".join(c.type.upper().split()) in BOOLEAN_TYPES
        }
        if not booleans:
            return None
        names = tuple(d[0] for d in cursor.description)
        flags = tuple(i for i, name in enumerate(names) if fold_name(name) in booleans)
        return (names, flags) if flags else None


class RowStream:
    """The rows of a read-only statement, fetched in chunks (:meth:`Reads.stream`).

    ``columns`` are the result's names; ``booleans`` the positions of BOOLEAN columns, whose
    0/1 the reader turns into bool (the chunks hold SQLite's own values).
    """

    def __init__(
        self, cursor: sqlite3.Cursor, columns: list[str], booleans: Sequence[int], size: int
    ) -> None:
        self.columns = columns
        self.booleans = tuple(booleans)
        self._cursor = cursor
        self._size = size

    def chunks(self) -> Iterator[list[tuple[object, ...]]]:
        fetch = self._cursor.fetchmany
        size = self._size
        while chunk := fetch(size):
            yield chunk


def with_bools(names: list[str], values: Sequence[object], flags: Sequence[int]) -> Row:
    """One row as a dict, the values at ``flags`` (0/1, None stays None) as bool."""
    row = list(values)
    for i in flags:
        if row[i] is not None:
            row[i] = bool(row[i])
    return dict(zip(names, row, strict=True))
