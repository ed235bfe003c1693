"""Facts about tables that the data hot path needs, computed once per schema: column names,
BOOLEAN columns, which values SQLite stores unchanged, the INSERT text per column tuple, the
WHERE clause of a call's filters; the ids and timestamps of CinchDB's automatic columns; and
rows as the SDK returns them (dicts, BOOLEAN values as bool, in the order given)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from itertools import repeat
from typing import TYPE_CHECKING

from cinchdb._values import ColumnCheck, column_checks, rowid_alias
from cinchdb.errors import (
    ColumnNotFoundError,
    DuplicateColumnError,
    FilterError,
    GeneratedColumnError,
    MissingValueError,
)
from journal.names import fold_name, quote, validate_identifier

if TYPE_CHECKING:  # a type only: the definition models are pydantic, costly to import
    from cinchdb.results import Row
    from journal.definitions import TableDef

FILTER_OPERATORS = ("ne", "gt", "gte", "lt", "lte", "like", "in", "isnull")
COMPARISONS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "like": "LIKE"}

BOOLEAN_TYPES = frozenset({"BOOLEAN", "BOOL"})
AUTOMATIC = ("id", "created_at", "updated_at")
# SQLite's default SQLITE_MAX_VARIABLE_NUMBER since 3.32.
MAX_PARAMS = 32766
# Largest multi-row INSERT; chunks are powers of two so a handful of statement texts, each
# compiled once, serve any batch size. Measured: 256 rows beat 64 and 1024.
MAX_CHUNK = 256


def utc_now() -> str:
    """The current UTC time as ISO-8601 text with microseconds, e.g. 2026-11-28T06:12:00.123456Z."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")[:-6] + "Z"


# The variant nibble of a uuid4 is 10xx: map any hex digit onto 8, 9, a, b.
_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}
_VARIANT_BYTES = bytes.maketrans(b"0123456789abcdef", b"89ab89ab89ab89ab")
# Where each character of a uuid's text comes from among its 32 hex digits: None for a dash;
# digit 12 is the version (always 4) and digit 16 the variant.
_UUID_LAYOUT: list[int | None] = []
for _start, _stop in ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32)):
    _UUID_LAYOUT.extend(range(_start, _stop))
    _UUID_LAYOUT.append(None)
del _UUID_LAYOUT[-1]


def new_ids(count: int) -> list[str]:
    """``count`` random uuid4 strings, with the bits of ``uuid.uuid4()``.

    ``str(uuid.uuid4())`` costs 5 us, which dominated bulk inserts. Many ids are laid out at
    once, one strided slice assignment per character position of the text.
    """
    if count < 64:
        h = os.urandom(16 * count).hex()
        v = _VARIANT
        return [
            f"{h[i : i + 8]}-{h[i + 8 : i + 12]}-4{h[i + 13 : i + 16]}-"
            f"{v[h[i + 16]]}{h[i + 17 : i + 20]}-{h[i + 20 : i + 32]}"
            for i in range(0, 32 * count, 32)
        ]
    digits = os.urandom(16 * count).hex().encode()
    out = bytearray(37 * count)
    for position, source in enumerate(_UUID_LAYOUT):
        if source is None:
            out[position::37] = b"-" * count
        elif source == 12:
            out[position::37] = b"4" * count
        elif source == 16:
            out[position::37] = digits[16::32].translate(_VARIANT_BYTES)
        else:
            out[position::37] = digits[source::32]
    out[36::37] = b"," * count
    return out[:-1].decode().split(",")


def _affinity(declared: str) -> str:
    """SQLite's column affinity rules (https://sqlite.org/datatype3.html, section 3.1)."""
    t = declared.upper()
    if "INT" in t:
        return "INTEGER"
    if "CHAR" in t or "CLOB" in t or "TEXT" in t:
        return "TEXT"
    if "BLOB" in t or not t:
        return "BLOB"
    if "REAL" in t or "FLOA" in t or "DOUB" in t:
        return "REAL"
    return "NUMERIC"


def _trusted_types(declared: str, boolean: bool, not_null_conflict: str | None) -> frozenset[type]:
    """Python types that a column of this declared type stores and returns unchanged.

    Anything else (a numeric string in an INTEGER column, an int in a TEXT column, any float,
    which may be NaN -> NULL or integral) makes a bulk insert read its rows back. bool is
    trusted only in BOOLEAN columns, where 0/1 come back as bool anyway.
    """
    types: set[type] = {bytes}
    if not_null_conflict != "REPLACE":  # NULL would become the default
        types.add(type(None))
    affinity = _affinity(declared)
    if affinity == "TEXT":
        types.add(str)
    elif affinity in ("INTEGER", "NUMERIC"):
        types.add(int)
    elif affinity == "BLOB":
        types.update((str, int))
    if boolean:
        types.update((int, bool))
    return frozenset(types)


class InsertPlan:
    """How to insert rows with one particular key tuple into one table."""

    def __init__(self, table: TableFacts, keys: tuple[str, ...]) -> None:
        given = [table.column_name(key) for key in keys]
        present = {fold_name(name) for name in given}
        if len(present) != len(given):
            raise DuplicateColumnError(table.name, keys)
        self.add_id = table.has["id"] and "id" not in present
        self.add_created = table.has["created_at"] and "created_at" not in present
        self.add_updated = table.has["updated_at"] and "updated_at" not in present
        adds = (self.add_id, self.add_created, self.add_updated)
        # Automatic columns first: each row's values are then (id, now, now, *row.values()),
        # which DataOps._params flattens at C speed, and come out near table order.
        automatic = [n for n, add in zip(AUTOMATIC, adds, strict=True) if add]
        names = automatic + given
        folded = [fold_name(n) for n in names]
        self.width = len(names)
        self.id_position = folded.index("id") if table.has["id"] else None
        self.columns_sql = f"INSERT INTO {table.quoted} ({', '.join(map(quote, names))}) VALUES "
        # insert_many's one-row statement for executemany: the given columns first, then the
        # automatic ones, so each row's parameters are ``values + (id, now, now)``.
        last = given + automatic
        self.many_sql = (
            f"INSERT INTO {table.quoted} ({', '.join(map(quote, last))})"
            f" VALUES ({', '.join('?' * len(last))})"
        )
        self.automatic = len(automatic)
        self.sql: dict[tuple[int, bool], str] = {}
        # The typed check of each given column's values (see cinchdb._values).
        self.value_checks: list[tuple[int, ColumnCheck]] = [
            (j, table.checks[name]) for j, name in enumerate(folded) if j >= len(automatic)
        ]
        for name in table.required:
            if name not in present:
                raise MissingValueError(table.name, table.columns[name], given_none=False)
        # For bulk inserts without RETURNING (see DataOps._insert_bulk): which given columns'
        # value types must be checked, and whether the stored rows must be read back anyway.
        self.checks: list[tuple[int, frozenset[type]]] = []
        self.read_back = not table.bulk_ok or table.has_triggers
        position = {name: j for j, name in enumerate(folded)}
        for j, name in enumerate(folded):
            trusted = table.trusted[name]
            if j >= len(automatic):
                self.checks.append((j, trusted))
            elif str not in trusted:
                self.read_back = True
        # Output in table order, like RETURNING *; omitted columns point past the row (None).
        self.order = [position.get(name, self.width) for name in table.folded_names]
        for name in table.folded_names:
            if name not in position and name in table.computed:
                self.read_back = True

    def statement(self, rows: int, returning: bool = True) -> str:
        sql = self.sql.get((rows, returning))
        if sql is None:
            group = "(" + ", ".join("?" * self.width) + ")"
            sql = self.columns_sql + ", ".join([group] * rows)
            if returning:
                sql += " RETURNING *"
            self.sql[(rows, returning)] = sql
        return sql


class TableFacts:
    """Per-schema facts about one table, and the SQL built for it so far."""

    def __init__(self, table: TableDef, has_triggers: bool) -> None:
        self.name = table.name
        self.quoted = quote(table.name)
        self.columns: dict[str, str] = {fold_name(c.name): c.name for c in table.columns}
        self.generated = frozenset(fold_name(c.name) for c in table.columns if c.generated)
        self.booleans = frozenset(
            c.name for c in table.columns if " ".join(c.type.upper().split()) in BOOLEAN_TYPES
        )
        #: Per column: which values it takes (cinchdb._values).
        self.checks = column_checks(table)
        alias = rowid_alias(table)
        self.rowid_alias = None if alias is None else fold_name(alias)
        # The automatic columns CinchDB fills in: present, taking text, and not the rowid (a
        # table from `migrate` with `id INTEGER PRIMARY KEY` lets SQLite assign it).
        self.has = {
            name: name in self.columns
            and self.checks[name].text_ok
            and name != self.rowid_alias
            and self.checks[name].kind != "ANY"
            for name in AUTOMATIC
        }
        # The columns that name a row: the primary key; else an ``id`` column; else the rowid.
        if table.primary_key is not None:
            key = [self.columns[fold_name(n)] for n in table.primary_key.columns]
        elif "id" in self.columns:
            key = [self.columns["id"]]
        else:
            key = ["rowid"]
        self.key: tuple[str, ...] = tuple(key)
        self.folded_key = frozenset(fold_name(n) for n in key)
        self.key_where = " AND ".join(f"{quote(n)} = ?" for n in key)
        self.get_sql = f"SELECT * FROM {quote(table.name)} WHERE {self.key_where}"
        # NOT NULL columns that SQLite cannot fill in: a row must give them.
        self.required = [
            fold_name(c.name)
            for c in table.columns
            if c.not_null
            and c.default is None
            and c.generated is None
            and fold_name(c.name) != self.rowid_alias
            and not self.has.get(fold_name(c.name), False)
        ]
        self.names = [c.name for c in table.columns]
        self.folded_names = [fold_name(c.name) for c in table.columns]
        self.id_index = self.folded_names.index("id") if self.has["id"] else -1
        # Values of these Python types are stored exactly as given (see _trusted_types).
        self.trusted = {
            fold_name(c.name): _trusted_types(c.type, c.name in self.booleans, c.not_null_conflict)
            for c in table.columns
        }
        # Omitted columns whose stored value is not simply NULL: defaults, generated columns,
        # primary key columns (an INTEGER PRIMARY KEY is the rowid).
        pk = {fold_name(n) for n in table.primary_key.columns} if table.primary_key else set()
        self.computed = frozenset(
            fold_name(c.name)
            for c in table.columns
            if c.default is not None or c.generated is not None or fold_name(c.name) in pk
        )
        # Bulk inserts can skip RETURNING only where no row can be silently skipped or replaced
        # (ON CONFLICT IGNORE/REPLACE) and rows have rowids to read back by.
        conflicts = [table.primary_key.on_conflict if table.primary_key else None]
        conflicts += [u.on_conflict for u in table.uniques]
        conflicts += [c.not_null_conflict for c in table.columns]
        self.plain_conflicts = all(c in (None, "ABORT") for c in conflicts)
        self.bulk_ok = not table.without_rowid and self.has["id"] and self.plain_conflicts
        self.has_triggers = has_triggers
        self.range_sql = f"SELECT * FROM {self.quoted} WHERE rowid BETWEEN ? AND ? ORDER BY rowid"
        self.by_id_sql = f'SELECT * FROM {self.quoted} WHERE "id" = ?'
        self.inserts: dict[tuple[str, ...], InsertPlan] = {}
        self.updates: dict[
            tuple[str, ...], tuple[str, str, bool, list[tuple[int, ColumnCheck]]]
        ] = {}
        self.filters: dict[str, tuple[str, str]] = {}

    def column_name(self, key: object) -> str:
        """The declared name of column ``key`` (matched as SQLite does), or an error."""
        if not isinstance(key, str):
            raise ColumnNotFoundError(self.name, repr(key))
        name = self.columns.get(fold_name(key))
        if name is None:
            validate_identifier("column", key, object_name=False)
            raise ColumnNotFoundError(self.name, key)
        if fold_name(key) in self.generated:
            raise GeneratedColumnError(self.name, name)
        return name

    def column_name_any(self, key: str) -> str:
        """The declared name of column ``key``, generated columns included, or an error."""
        name = self.columns.get(fold_name(key))
        if name is None:
            validate_identifier("column", key, object_name=False)
            raise ColumnNotFoundError(self.name, key)
        return name

    def filter(self, key: str) -> tuple[str, str]:
        """``age__lt`` -> (quoted column, operator); a plain column name means equality."""
        parsed = self.filters.get(key)
        if parsed is None:
            if fold_name(key) in self.columns:
                column, op = key, "eq"
            else:
                column, sep, op = key.rpartition("__")
                if not sep or not column:
                    column, op = key, "eq"
                elif op not in FILTER_OPERATORS:
                    raise FilterError(
                        key,
                        f"unknown operator '{op}'; use one of {', '.join(FILTER_OPERATORS)}",
                    )
            name = self.columns.get(fold_name(column))
            if name is None:
                validate_identifier("column", column, object_name=False)
                raise ColumnNotFoundError(self.name, column)
            parsed = self.filters[key] = (quote(name), op)
        return parsed


def where_clause(
    facts: TableFacts, method: str, operator: str, filters: Mapping[str, object]
) -> tuple[str, list[object]]:
    """The WHERE clause (and its parameters) of ``method``'s ``filters`` on ``facts``'s table
    (``age__gte=18``, joined by ``operator``, AND or OR).

    Raises:
        FilterError: a bad operator, an unknown column or lookup, no filter at all.
    """
    joiner = operator.upper() if isinstance(operator, str) else None
    if joiner not in ("AND", "OR"):
        raise FilterError("operator", f"must be 'AND' or 'OR', not {operator!r}")
    if not filters:
        raise FilterError(
            None,
            f"{method}() needs at least one filter; without one it would change every row"
            f" of table '{facts.name}'",
        )
    parts: list[str] = []
    params: list[object] = []
    for key, value in filters.items():
        column, op = facts.filter(key)
        if op == "eq":
            if value is None:
                parts.append(f"{column} IS NULL")
            else:
                parts.append(f"{column} = ?")
                params.append(value)
        elif op == "ne":
            if value is None:
                parts.append(f"{column} IS NOT NULL")
            else:
                parts.append(f"{column} != ?")
                params.append(value)
        elif op == "isnull":
            if not isinstance(value, bool):
                raise FilterError(key, f"takes True or False, not {value!r}")
            parts.append(f"{column} IS NULL" if value else f"{column} IS NOT NULL")
        elif op == "in":
            if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
                raise FilterError(key, f"takes a list of values, not {value!r}")
            values = list(value)
            parts.append(f"{column} IN ({', '.join('?' * len(values))})")
            params.extend(values)
        else:
            parts.append(f"{column} {COMPARISONS[op]} ?")
            params.append(value)
    return f" {joiner} ".join(f"({p})" for p in parts) if len(parts) > 1 else parts[0], params


def shown_key(key: Sequence[object]) -> object:
    """A key as a RecordNotFoundError shows it: the value, or a tuple for a composite key."""
    return key[0] if len(key) == 1 else tuple(key)


def dicts(names: Sequence[str], rows: Iterable[Sequence[object]]) -> list[Row]:
    """One dict per row; map() keeps the loop in C, twice as fast as a comprehension."""
    return list(map(dict, map(zip, repeat(names), rows)))


def to_bools(rows: list[Row], booleans: Iterable[str]) -> None:
    """Turn the 0/1 of BOOLEAN columns into bool, in place (None stays None)."""
    for name in booleans:
        for row in rows:
            value = row.get(name)
            if value is not None:
                row[name] = bool(value)


def in_order(
    fetched: list[tuple[object, ...]], expected: list[object], position: int
) -> list[tuple[object, ...]]:
    """RETURNING rows in the order the rows were given.

    SQLite documents the order of RETURNING rows as unspecified (in practice it is the VALUES
    order, which this checks at list-comparison speed).
    """
    if [row[position] for row in fetched] == expected:
        return fetched
    by_id = {row[position]: row for row in fetched}
    try:
        return [by_id[key] for key in expected]
    except (KeyError, TypeError):
        # The column's affinity changed the given id (5 -> '5'): keep SQLite's order.
        return fetched
