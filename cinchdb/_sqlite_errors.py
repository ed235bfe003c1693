"""SQLite's errors on a tenant connection, in CinchDB's terms: a constraint that failed names
its table, a value or statement over the size limits is ValueTooLargeError, a query on a
table that is not there is the reference's TableNotFoundError."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from cinchdb._guard import MAX_SQL_BYTES, MAX_VALUE_BYTES
from cinchdb.errors import ConstraintError, TableNotFoundError, ValueTooLargeError
from journal import drivers

__all__ = ["ONE_STATEMENT_ERRORS", "constraint_errors", "error_code", "missing_table", "too_big"]

# sqlite3 refuses a second statement with ProgrammingError; sqlcipher3 (an older pysqlite)
# with Warning (sqlite3's is a DatabaseError, so it is caught first).
ONE_STATEMENT_ERRORS: tuple[type[Exception], ...] = (sqlite3.ProgrammingError,) + (
    ()
    if drivers.sqlcipher is None
    else (drivers.sqlcipher.ProgrammingError, drivers.sqlcipher.Warning)
)

_NO_SUCH_TABLE = re.compile(r"no such table: (?:main\.)?(\S+)$")


@contextmanager
def constraint_errors(table: str) -> Iterator[None]:
    """SQLite's constraint failures, as ConstraintError naming ``table``; a value over the
    size limit, as ValueTooLargeError."""
    try:
        yield
    except drivers.IntegrityError as e:
        raise ConstraintError(table, str(e), error_code(e)) from e
    except drivers.DatabaseError as e:
        found = too_big(e)
        if found is None:
            raise
        raise found from e


def too_big(error: Exception) -> ValueTooLargeError | None:
    """SQLite's SQLITE_TOOBIG (a string, blob or row over SQLITE_LIMIT_LENGTH), or sqlite3's
    own refusal of a statement over SQLITE_LIMIT_SQL_LENGTH, as ValueTooLargeError."""
    text = str(error)
    if "query string is too large" in text or "statement too long" in text:
        return ValueTooLargeError("The SQL statement", MAX_SQL_BYTES)
    if error_code(error) == "SQLITE_TOOBIG" or "string or blob too big" in text:
        return ValueTooLargeError("A value or row", MAX_VALUE_BYTES)
    return None


def missing_table(error: Exception) -> TableNotFoundError | None:
    """ "no such table: x" as the reference's documented error for a query on a table that is
    not there."""
    missing = _NO_SUCH_TABLE.match(str(error))
    return None if missing is None else TableNotFoundError(missing.group(1))


def error_code(error: Exception) -> str | None:
    return getattr(error, "sqlite_errorname", None)
