"""Typed values: which Python values a column takes, checked before anything is written.

Each column gets a :class:`ColumnCheck` once per schema value (kept by ``TableFacts``). The hot
path is a set of exact types per column: ``set(map(type, values)) <= check.fast`` runs at C
speed over a whole batch, and only values of other types reach :meth:`ColumnCheck.slow`, which
accepts the few that fit (0 and 1 in a BOOLEAN, a str subclass in a TEXT) and raises for the
rest.

What each type takes (``kind`` is the CinchDB type; other declared types, from ``migrate``,
check by SQLite's affinity rules, as :func:`cinchdb.models.affinity_type`):

- BOOLEAN: ``True``/``False``, and the ints 0 and 1.
- INTEGER: ints; ``True``/``False`` too (stored as 1/0, as ``sqlite3`` binds them: Python's
  bool is an int, and SQLite databases keep flags in INTEGER columns).
- REAL: ints and floats (not bools).
- NUMERIC: ints, floats and bools; a declared type naming a date or time (``DATETIME``,
  ``DATE``, ``TIMESTAMP``) also takes str, which is how SQLite keeps dates.
- TEXT: str.
- BLOB: bytes, bytearray, memoryview.
- a column with no declared type (or ``ANY`` in a STRICT table): any value SQLite stores.

``None`` only where the column is nullable: not NOT NULL and not a primary key column (except
an INTEGER PRIMARY KEY, where None lets SQLite assign the rowid).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from cinchdb.errors import MissingValueError, ValueTypeError
from journal.names import fold_name

if TYPE_CHECKING:  # a type only: the definition models are pydantic, costly to import
    from journal.definitions import ColumnDef, TableDef

__all__ = ["ColumnCheck", "check_batch", "check_columns", "column_checks", "kind_of", "rowid_alias"]

# The aliases cinchdb.models.normalize_type accepts, as the CinchDB type they name.
_ALIASES = {
    "TEXT": "TEXT", "STR": "TEXT", "STRING": "TEXT", "VARCHAR": "TEXT",
    "INTEGER": "INTEGER", "INT": "INTEGER",
    "REAL": "REAL", "FLOAT": "REAL", "DOUBLE": "REAL",
    "BLOB": "BLOB", "BYTES": "BLOB",
    "NUMERIC": "NUMERIC", "DECIMAL": "NUMERIC",
    "BOOLEAN": "BOOLEAN", "BOOL": "BOOLEAN",
}  # fmt: skip

_NONE = type(None)
_BYTES = frozenset({bytes, bytearray, memoryview})
_ANYTHING: frozenset[type] = frozenset({str, int, float, bool, _NONE, *_BYTES})
_FAST: dict[str, frozenset[type]] = {
    "BOOLEAN": frozenset({bool}),
    "INTEGER": frozenset({int, bool}),
    "REAL": frozenset({int, float}),
    "NUMERIC": frozenset({int, float, bool}),
    "TEXT": frozenset({str}),
    "BLOB": _BYTES,
    "ANY": _ANYTHING,
}
_ACCEPTS = {
    "BOOLEAN": "True or False (or 1 or 0)",
    "INTEGER": "whole numbers (int)",
    "REAL": "numbers (int or float)",
    "NUMERIC": "numbers (int or float)",
    "TEXT": "text (str)",
    "BLOB": "bytes",
}


def kind_of(declared: str) -> str:
    """The CinchDB type a declared SQLite type checks as: an accepted name or alias as itself,
    otherwise by SQLite's affinity rules; ``ANY`` for no type or STRICT's ``ANY``."""
    upper = " ".join(declared.upper().split())
    if upper in _ALIASES:
        return _ALIASES[upper]
    if not upper or upper == "ANY":
        return "ANY"
    if "INT" in upper:
        return "INTEGER"
    if "CHAR" in upper or "CLOB" in upper or "TEXT" in upper:
        return "TEXT"
    if "BLOB" in upper:
        return "BLOB"
    if "REAL" in upper or "FLOA" in upper or "DOUB" in upper:
        return "REAL"
    return "NUMERIC"


def rowid_alias(table: TableDef) -> str | None:
    """The column that is the table's rowid (``id INTEGER PRIMARY KEY``), if any."""
    pk = table.primary_key
    if pk is None or table.without_rowid or len(pk.columns) != 1:
        return None
    for column in table.columns:
        if fold_name(column.name) == fold_name(pk.columns[0]):
            return column.name if column.type.upper() == "INTEGER" else None
    return None


class ColumnCheck:
    """What one column takes; ``fast`` are the exact types accepted without a closer look."""

    __slots__ = ("accepts", "declared", "fast", "kind", "name", "nullable", "table", "text_ok")

    def __init__(self, table: str, column: ColumnDef, nullable: bool) -> None:
        self.table = table
        self.name = column.name
        self.declared = column.type
        self.kind = kind_of(column.type)
        fast = set(_FAST[self.kind])
        upper = column.type.upper()
        if self.kind == "NUMERIC" and ("DATE" in upper or "TIME" in upper):
            fast.add(str)
        self.text_ok = str in fast
        self.nullable = nullable
        if nullable:
            fast.add(_NONE)
        self.fast = frozenset(fast)
        self.accepts = _ACCEPTS.get(self.kind, "any value")
        if self.kind == "NUMERIC" and self.text_ok:
            self.accepts = "numbers or text (a date)"

    def _fits(self, value: object) -> bool:
        if self.kind == "BOOLEAN":
            return type(value) is int and value in (0, 1)
        return _subclass_fits(value, self.fast)

    def slow(self, value: object, row_index: int | None = None) -> None:
        """Accept ``value`` (whose exact type is not in ``fast``) or raise naming it."""
        if value is None:
            if self.nullable:
                return
            error: MissingValueError | ValueTypeError = MissingValueError(
                self.table, self.name, given_none=True
            )
        elif self._fits(value):
            return
        else:
            same = self.declared.upper() == self.kind
            kind = self.declared if same else f"{self.declared} ({self.kind})"
            error = ValueTypeError(self.table, self.name, value, kind, self.accepts)
        error.row_index = row_index
        raise error


def _subclass_fits(value: object, fast: frozenset[type]) -> bool:
    # A subclass of an accepted type (an IntEnum, a str subclass) binds as its base; bool is
    # an int subclass but is accepted only where listed.
    if isinstance(value, bool):
        return bool in fast
    return any(isinstance(value, base) for base in fast if base is not _NONE)


def column_checks(table: TableDef) -> dict[str, ColumnCheck]:
    """Per column (by folded name): its check."""
    alias = rowid_alias(table)
    pk = {fold_name(n) for n in table.primary_key.columns} if table.primary_key else set()
    checks = {}
    for column in table.columns:
        folded = fold_name(column.name)
        if alias is not None and folded == fold_name(alias):
            nullable = True  # None: SQLite assigns the rowid
        else:
            nullable = (
                not column.not_null and folded not in pk
            ) or column.not_null_conflict == "REPLACE"
        checks[folded] = ColumnCheck(table.name, column, nullable)
    return checks


def check_batch(
    checks: Sequence[tuple[int, ColumnCheck]], params: Sequence[object], width: int, first: int
) -> None:
    """Check the values of ``params`` (rows of ``width`` values, flattened) at the positions
    of ``checks``; an error's ``row_index`` counts from ``first``."""
    if len(params) == width:
        for j, check in checks:
            value = params[j]
            if type(value) not in check.fast:
                check.slow(value, first)
        return
    for j, check in checks:
        column = params[j::width]
        if not set(map(type, column)) <= check.fast:
            fast = check.fast
            for i, value in enumerate(column):
                if type(value) not in fast:
                    check.slow(value, first + i)


def check_columns(
    checks: Sequence[tuple[int, ColumnCheck]],
    columns: Sequence[Sequence[object]],
    offset: int,
    first: int,
) -> None:
    """Check transposed rows: ``columns[j - offset]`` holds the values of check position
    ``j``; an error's ``row_index`` counts from ``first``."""
    for j, check in checks:
        column = columns[j - offset]
        fast = check.fast
        if not set(map(type, column)) <= fast:
            for i, value in enumerate(column):
                if type(value) not in fast:
                    check.slow(value, first + i)
