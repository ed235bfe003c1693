"""Public models of the SDK: what users pass in (``Column``, ``ForeignKey``, ``Index``) and
what they get back (``Table``, ``View``, ``Branch``, ``Tenant``).

``Column`` speaks the reference's vocabulary (``nullable``, a Python ``default``) and converts
to the journal's definitions, where defaults are SQL text and constraints are table-level.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cinchdb.errors import CinchError, InvalidFieldError
from journal import definitions as jd
from journal.errors import InvalidNameError
from journal.names import validate_identifier

#: The column types CinchDB declares. BOOLEAN is stored as 0/1 and read back as ``bool``.
COLUMN_TYPES = ("TEXT", "INTEGER", "REAL", "BLOB", "NUMERIC", "BOOLEAN")

_TYPE_ALIASES = {
    "text": "TEXT", "str": "TEXT", "string": "TEXT", "varchar": "TEXT",
    "integer": "INTEGER", "int": "INTEGER",
    "real": "REAL", "float": "REAL", "double": "REAL",
    "blob": "BLOB", "bytes": "BLOB",
    "numeric": "NUMERIC", "decimal": "NUMERIC",
    "boolean": "BOOLEAN", "bool": "BOOLEAN",
}  # fmt: skip

FKAction = Literal["NO ACTION", "RESTRICT", "SET NULL", "SET DEFAULT", "CASCADE"]


class SQL(str):
    """A default given as a SQL expression rather than a value: ``SQL("datetime('now')")``."""

    __slots__ = ()


#: What a column's ``default`` may be: a Python value SQLite stores as a literal, or
#: ``SQL("...")`` for an expression (``SQL`` and ``bool`` are named although they are ``str``
#: and ``int``: they become different SQL).
ColumnDefault = SQL | str | int | float | bool | bytes | None


#: SQL type names a column may also be declared with, kept as declared (their affinity follows
#: SQLite's rules, see :func:`affinity_type`): the names of SQLite's "affinity name examples"
#: plus DATE, TIME and TIMESTAMP. Any of them may carry a size, ``VARCHAR(255)``,
#: ``DECIMAL(10,2)``. A closed list, so a typo (``INTEGR``) is an error rather than a NUMERIC
#: column.
DECLARED_TYPES = frozenset({
    "INT", "INTEGER", "TINYINT", "SMALLINT", "MEDIUMINT", "BIGINT", "UNSIGNED BIG INT", "INT2",
    "INT8", "CHARACTER", "CHAR", "VARCHAR", "VARYING CHARACTER", "NCHAR", "NATIVE CHARACTER",
    "NVARCHAR", "TEXT", "CLOB", "BLOB", "REAL", "DOUBLE", "DOUBLE PRECISION", "FLOAT", "NUMERIC",
    "DECIMAL", "BOOLEAN", "DATE", "DATETIME", "TIMESTAMP", "TIME",
})  # fmt: skip

_DECLARED = re.compile(
    r"(?P<base>[A-Za-z][A-Za-z0-9]*(?:\s+[A-Za-z][A-Za-z0-9]*)*)"
    r"\s*(?:\(\s*[+-]?\d+\s*(?:,\s*[+-]?\d+\s*)?\))?"
)


def _alias(value: str) -> str | None:
    return _TYPE_ALIASES.get(value.strip().lower())


def is_declared_type(value: str) -> bool:
    """Whether ``value`` is an accepted name, an alias or one of :data:`DECLARED_TYPES`
    (with an optional size)."""
    if _alias(value) is not None:
        return True
    match = _DECLARED.fullmatch(value.strip())
    return match is not None and " ".join(match["base"].upper().split()) in DECLARED_TYPES


def normalize_type(value: str) -> str:
    """The type a column is declared with: ``"int"`` -> ``"INTEGER"`` (an alias becomes its
    CinchDB type), ``"VARCHAR(255)"`` and ``"DATETIME"`` are kept as given (SQL types, see
    :data:`DECLARED_TYPES`); anything else is a ValueError listing what is accepted."""
    if isinstance(value, str):
        alias = _alias(value)
        if alias is not None:
            return alias
        if is_declared_type(value):
            return value.strip()
    raise ValueError(
        f"Unknown column type {value!r}; use one of {', '.join(COLUMN_TYPES)}"
        " (or an alias such as int, str, float, bool) or an SQL type such as DATETIME, DATE,"
        " BIGINT, VARCHAR(255), DECIMAL(10,2)"
    )


def sql_literal(value: object) -> str:
    """A Python value as the SQL literal SQLite stores for it; anything that is not a
    :data:`ColumnDefault` is a ValueError."""
    if isinstance(value, SQL):
        return f"({value})"
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"Default {value!r} is not a finite number")
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, bytes):
        return "X'" + value.hex() + "'"
    raise _unsupported_default(value)


def _unsupported_default(value: object) -> ValueError:
    return ValueError(
        f"Unsupported default {value!r}: use str, int, float, bool, bytes or SQL(...)"
    )


def affinity_type(declared: str) -> str:
    """The CinchDB type of any declared SQLite type: an accepted name or alias as itself,
    otherwise by SQLite's affinity rules (``VARCHAR(20)`` -> TEXT, no type -> BLOB)."""
    alias = _alias(declared)
    if alias is not None:
        return alias
    upper = declared.upper()
    if "INT" in upper:
        return "INTEGER"
    if any(word in upper for word in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if not upper.strip() or "BLOB" in upper:
        return "BLOB"
    if any(word in upper for word in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def invalid_fields(
    owner: str, kind: str, error: ValidationError, fields: Sequence[str] = ()
) -> CinchError:
    """pydantic's ValidationError in the SDK's words: a refused name as the InvalidNameError
    its validator raised, anything else as InvalidFieldError naming each field (or argument)
    and why, without pydantic's error codes and links.

    ``fields`` (the model's or call's accepted names) are listed when an unknown one is given.
    """
    problems: list[tuple[str, str]] = []
    for detail in error.errors():
        field = ".".join(str(part) for part in detail["loc"])
        cause = detail.get("ctx", {}).get("error")
        if isinstance(cause, InvalidNameError):
            return cause
        if isinstance(cause, ValueError):
            reason = str(cause)
            if len(error.errors()) == 1:
                return InvalidFieldError(owner, kind, [(field, reason)], said=True)
        elif detail["type"] == "missing":
            reason = "missing (it is required)"
        elif detail["type"] == "extra_forbidden":
            accepted = f": use {', '.join(fields)}" if fields else ""
            reason = f"no such {kind}{accepted}"
        else:
            message = detail["msg"].removeprefix("Input ")
            reason = f"{message}, got {detail['input']!r}"
        problems.append((field, reason))
    return InvalidFieldError(owner, kind, problems)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as e:
            # From None: pydantic's own text (error codes, a URL) would follow it in the
            # traceback; the error names every field and reason itself.
            raise invalid_fields(
                type(self).__name__, "field", e, list(type(self).model_fields)
            ) from None


class ForeignKey(_Model):
    """A reference from a column to ``table.column`` (``id`` unless said otherwise)."""

    table: str
    column: str = "id"
    on_delete: FKAction = "NO ACTION"
    on_update: FKAction = "NO ACTION"

    @field_validator("table")
    @classmethod
    def _table(cls, value: str) -> str:
        return validate_identifier("table", value)

    @field_validator("column")
    @classmethod
    def _column(cls, value: str) -> str:
        return validate_identifier("column", value, object_name=False)


class Column(_Model):
    """A column as users declare it.

    ``type`` is one of :data:`COLUMN_TYPES`, an alias of one (``int``, ``str``), or an SQL type
    of :data:`DECLARED_TYPES` kept as declared (``DATETIME``, ``VARCHAR(255)``); ``affinity``
    is the CinchDB type values are stored as. ``default`` is a Python value (``0``, ``0.0``,
    ``"free"``, ``True``) or ``SQL("...")`` for an expression.
    """

    name: str
    type: str = "TEXT"
    nullable: bool = True
    default: ColumnDefault = None
    unique: bool = False
    primary_key: bool = False
    foreign_key: ForeignKey | None = None
    check: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return validate_identifier("column", value, object_name=False)

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        return normalize_type(value)

    @property
    def affinity(self) -> str:
        """The CinchDB type of :attr:`type`: ``VARCHAR(255)`` -> TEXT, ``DATETIME`` ->
        NUMERIC, ``BOOLEAN`` -> BOOLEAN (see :func:`affinity_type`)."""
        return affinity_type(self.type)

    # "plain": the value is kept exactly as given. Pydantic has no schema for ``SQL``, and its
    # union validation would convert what this refuses (a Decimal into a float, a bytearray
    # into a str). Refused at construction time: what cannot become a literal.
    @field_validator("default", mode="plain")
    @classmethod
    def _default(cls, value: object) -> ColumnDefault:
        if value is not None and not isinstance(value, str | int | float | bytes):
            raise _unsupported_default(value)
        sql_literal(value)  # a float must be finite
        return value

    def definition(self) -> jd.ColumnDef:
        """The journal's definition of this column (constraints other than NOT NULL and
        DEFAULT go to the table; see :meth:`constraints`)."""
        return jd.ColumnDef(
            name=self.name,
            type=self.type,
            not_null=not self.nullable,
            default=None if self.default is None else sql_literal(self.default),
        )

    def references(self) -> jd.ForeignKey | None:
        if self.foreign_key is None:
            return None
        fk = self.foreign_key
        return jd.ForeignKey(
            columns=(self.name,),
            ref_table=fk.table,
            ref_columns=(fk.column,),
            on_delete=fk.on_delete,
            on_update=fk.on_update,
        )


class Index(_Model):
    """An index to create with a table, or one returned by ``list_indexes``."""

    columns: list[str]
    name: str | None = None
    unique: bool = False
    where: str | None = None


class Table(_Model):
    name: str
    columns: list[Column]
    indexes: list[Index] = Field(default_factory=list)
    row_count: int | None = None


class View(_Model):
    name: str
    sql: str


class Branch(_Model):
    name: str
    head: str | None = None
    created_at: datetime | None = None


class Tenant(_Model):
    name: str
    database: str = "main"
    encrypted: bool = False
    created_at: datetime | None = None
