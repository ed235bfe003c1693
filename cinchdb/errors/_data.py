"""The ``DataError`` subtree: inserts, updates, deletes, filters, queries and imports."""

from __future__ import annotations

from collections.abc import Sequence

from journal.errors import CinchError


class DataError(CinchError):
    """A data operation (insert, update, delete, query) was refused or failed.

    ``row_index`` is set by ``insert_many`` to the 0-based position, in the rows given, of
    the row at fault (None otherwise).
    """

    row_index: int | None = None


class ValueTypeError(DataError, ValueError):
    """A value does not fit its column's type (``"false"`` for a BOOLEAN, ``"old"`` for an
    INTEGER); nothing was written. ``type`` is the column's CinchDB type."""

    def __init__(
        self, table: str, column: str, value: object, type: str, accepts: str, kind: str = ""
    ) -> None:
        self.table = table
        self.column = column
        self.value = value
        self.type = type
        self.accepts = accepts
        #: The CinchDB type the column checks as (INTEGER for a BIGINT).
        self.kind = kind or type
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        super().__init__(
            f"Column '{column}' of table '{table}' is {type}: it takes {accepts},"
            f" not {shown} ({_type_name(value)})"
        )


class KeyColumnError(DataError, ValueError):
    """An update tried to change a column of the table's key, or a record was named by a
    key that does not fit the table's key columns."""

    def __init__(self, table: str, key: Sequence[str], reason: str) -> None:
        self.table = table
        self.key = tuple(key)
        self.reason = reason
        super().__init__(f"Table '{table}' (key: {', '.join(self.key)}): {reason}")


def _type_name(value: object) -> str:
    return type(value).__name__


class DuplicateColumnError(DataError, ValueError):
    """A row or an update names one column twice (names match as SQLite matches them)."""

    def __init__(self, table: str, keys: Sequence[str]) -> None:
        self.table = table
        self.keys = tuple(keys)
        super().__init__(f"Row for table '{table}' names a column twice: {list(self.keys)}")


class GeneratedColumnError(DataError, ValueError):
    """A row or an update sets a generated column, which SQLite computes itself."""

    def __init__(self, table: str, column: str) -> None:
        self.table = table
        self.column = column
        super().__init__(f"Column '{column}' of table '{table}' is generated; it cannot be set")


class RecordNotFoundError(DataError, ValueError, LookupError):
    """No record of the table has that id."""

    def __init__(self, table: str, record_id: object) -> None:
        self.table = table
        self.record_id = record_id
        super().__init__(f"Record with ID '{record_id}' not found")


class FilterError(DataError, ValueError):
    """A ``*_where`` filter is malformed; ``filter`` is the keyword at fault (None: all)."""

    def __init__(self, filter: str | None, reason: str) -> None:
        self.filter = filter
        self.reason = reason
        super().__init__(f"Invalid filter '{filter}': {reason}" if filter else reason)


class ConstraintError(DataError, ValueError):
    """SQLite refused a write because a constraint failed; nothing was written.

    ``kind`` is "UNIQUE", "NOT NULL", "CHECK", "FOREIGN KEY" or "PRIMARY KEY" when SQLite's
    message says which; ``code`` is SQLite's extended error name (SQLITE_CONSTRAINT_UNIQUE).
    """

    KINDS = ("UNIQUE", "NOT NULL", "CHECK", "FOREIGN KEY", "PRIMARY KEY")

    def __init__(self, table: str, reason: str, code: str | None = None) -> None:
        self.table = table
        self.reason = reason
        self.code = code
        self.kind = next((k for k in self.KINDS if reason.upper().startswith(k)), None)
        super().__init__(f"Constraint failed on table '{table}': {reason}")


class ImportRowError(DataError, ValueError):
    """A row of an import is bad (malformed, a value its column does not take, or refused by a
    constraint); nothing was imported.

    ``source`` names the input (its path, or ``<stdin>``), ``where`` the row in it ("line 3"
    of a CSV or NDJSON file, "element [2]" of a JSON array), ``column`` the column at fault
    (None: the row as a whole), ``row_index`` the row's 0-based position among the rows read.
    """

    def __init__(
        self,
        source: str,
        where: str,
        reason: str,
        *,
        column: str | None = None,
        row_index: int | None = None,
    ) -> None:
        self.source = source
        self.where = where
        self.reason = reason
        self.column = column
        self.row_index = row_index
        place = f"{source} {where}" + (f", column '{column}'" if column else "")
        super().__init__(f"{place}: {reason}; nothing was imported")


class MissingValueError(ConstraintError):
    """A NOT NULL column without a default got no value, or None; nothing was written (a
    NOT NULL ConstraintError found before SQLite saw the row)."""

    def __init__(self, table: str, column: str, given_none: bool) -> None:
        self.column = column
        self.given_none = given_none
        super().__init__(table, f"NOT NULL: column '{column}'")
        what = "cannot be None (NULL)" if given_none else "needs a value (it is NOT NULL)"
        self.args = (f"Column '{column}' of table '{table}' {what}",)


class ReadOnlyQueryError(DataError, ValueError):
    """``query()`` refused a statement that would write; it did not run.

    ``action`` is what it would have done ("DELETE", "CREATE TABLE", "ATTACH", ...), ``hint``
    the way to do it instead.
    """

    def __init__(self, sql: str, action: str, hint: str) -> None:
        self.sql = sql
        self.action = action
        self.hint = hint
        super().__init__(
            f"query() only runs reads (SELECT, WITH ... SELECT, EXPLAIN, VALUES);"
            f" refused {action or 'a write'}: {hint}"
        )


class QueryTimeoutError(DataError, TimeoutError):
    """``query()`` ran past its time limit and was stopped; nothing changed.

    ``timeout`` is the limit in seconds; pass a larger ``query(..., timeout=)`` for a query
    that is slow on purpose.
    """

    def __init__(self, sql: str, timeout: float) -> None:
        self.sql = sql
        self.timeout = timeout
        super().__init__(
            f"query() was stopped after its time limit of {timeout:g} s;"
            " pass a larger timeout= if the query is meant to run longer"
        )


class ValueTooLargeError(DataError, ValueError):
    """A value, row or SQL statement is larger than a tenant connection allows; nothing was
    written.

    ``what`` says which ("A value or row", "The SQL statement"), ``limit`` is the limit in bytes.
    """

    def __init__(self, what: str, limit: int) -> None:
        self.what = what
        self.limit = limit
        size = f"{limit // 2**20} MiB" if limit % 2**20 == 0 else f"{limit:,} bytes"
        super().__init__(f"{what} is larger than the limit of {size}")


class DeniedFunctionError(DataError, ValueError):
    """SQL called a function CinchDB never allows, because it hands out or takes native
    pointers or loads native code (``fts3_tokenizer``, ``fts5``, ``load_extension``)."""

    def __init__(self, function: str) -> None:
        self.function = function
        super().__init__(
            f"SQL function '{function}()' is not allowed: it hands out or takes native"
            " pointers, or loads native code"
        )
