"""Definitions of schema objects: the vocabulary shared by events and schema state.

These are frozen pydantic models because they travel inside events through the journal. SQL
fragments (types, defaults, CHECK expressions, view and trigger statements) are kept verbatim
as the user wrote them: SQLite derives column affinity from the declared type text, so
regenerating it (as sqlglot would, turning NUMERIC into REAL) would change stored values.
Column-level and table-level spellings of the same constraint share one canonical form here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from journal.names import fold_name, validate_identifier

#: The only column types a STRICT table accepts (compared case-insensitively).
STRICT_TYPES = frozenset({"INT", "INTEGER", "REAL", "TEXT", "BLOB", "ANY"})

OnConflict = Literal["ROLLBACK", "ABORT", "FAIL", "IGNORE", "REPLACE"]
FKAction = Literal["NO ACTION", "RESTRICT", "SET NULL", "SET DEFAULT", "CASCADE"]


class Definition(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_distinct(kind: str, names: tuple[str, ...]) -> tuple[str, ...]:
    seen: set[str] = set()
    for name in names:
        validate_identifier(kind, name, object_name=False)
        key = fold_name(name)
        if key in seen:
            raise ValueError(f"{kind} '{name}' is listed twice")
        seen.add(key)
    return names


class ColumnDef(Definition):
    """One column. ``default`` and ``generated`` are SQL expression text, e.g. ``'free'``."""

    name: str
    type: str = ""
    not_null: bool = False
    not_null_conflict: OnConflict | None = None
    default: str | None = None
    collate: str | None = None
    generated: str | None = None
    stored: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return validate_identifier("column", value, object_name=False)

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        if any(ch in value for ch in ";\"'`[]\x00") or value != value.strip():
            raise ValueError(f"invalid column type {value!r}")
        return value

    @field_validator("collate")
    @classmethod
    def _collate(cls, value: str | None) -> str | None:
        if value is not None and not value.replace("_", "").isalnum():
            raise ValueError(f"invalid collation {value!r}")
        return value

    @model_validator(mode="after")
    def _generated(self) -> ColumnDef:
        if self.generated is not None and self.default is not None:
            raise ValueError(f"generated column '{self.name}' cannot have a DEFAULT")
        if self.stored and self.generated is None:
            raise ValueError(f"column '{self.name}' is STORED but not generated")
        return self


class PrimaryKey(Definition):
    columns: tuple[str, ...]
    autoincrement: bool = False
    on_conflict: OnConflict | None = None
    name: str | None = None

    @field_validator("columns")
    @classmethod
    def _columns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("a primary key needs at least one column")
        return _check_distinct("primary key column", value)

    @model_validator(mode="after")
    def _autoincrement(self) -> PrimaryKey:
        if self.autoincrement and len(self.columns) != 1:
            raise ValueError("AUTOINCREMENT needs a single-column INTEGER primary key")
        return self


class Unique(Definition):
    columns: tuple[str, ...]
    on_conflict: OnConflict | None = None
    name: str | None = None

    @field_validator("columns")
    @classmethod
    def _columns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("a UNIQUE constraint needs at least one column")
        return _check_distinct("unique column", value)


class ForeignKey(Definition):
    """``ref_columns`` empty means the referenced table's primary key."""

    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...] = ()
    on_delete: FKAction = "NO ACTION"
    on_update: FKAction = "NO ACTION"
    deferrable: str | None = None
    name: str | None = None

    @field_validator("columns", "ref_columns")
    @classmethod
    def _columns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_distinct("foreign key column", value)

    @field_validator("ref_table")
    @classmethod
    def _ref_table(cls, value: str) -> str:
        return validate_identifier("table", value, object_name=False)

    @model_validator(mode="after")
    def _shape(self) -> ForeignKey:
        if not self.columns:
            raise ValueError("a foreign key needs at least one column")
        if self.ref_columns and len(self.ref_columns) != len(self.columns):
            raise ValueError("a foreign key must reference as many columns as it has")
        return self


class Check(Definition):
    expr: str
    name: str | None = None


class TableDef(Definition):
    name: str
    columns: tuple[ColumnDef, ...]
    primary_key: PrimaryKey | None = None
    uniques: tuple[Unique, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    checks: tuple[Check, ...] = ()
    strict: bool = False
    without_rowid: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return validate_identifier("table", value)

    @model_validator(mode="after")
    def _consistent(self) -> TableDef:
        if not self.columns:
            raise ValueError(f"table '{self.name}' needs at least one column")
        _check_distinct("column", tuple(c.name for c in self.columns))
        known = {fold_name(c.name) for c in self.columns}
        constrained: list[tuple[str, tuple[str, ...]]] = [
            ("unique", u.columns) for u in self.uniques
        ] + [("foreign key", fk.columns) for fk in self.foreign_keys]
        if self.primary_key is not None:
            constrained.append(("primary key", self.primary_key.columns))
        for kind, names in constrained:
            for name in names:
                if fold_name(name) not in known:
                    raise ValueError(
                        f"{kind} names column '{name}' which table '{self.name}' does not have"
                    )
        problem = strict_type_problem(self)
        if problem is not None:
            raise ValueError(problem)
        if self.without_rowid and self.primary_key is None:
            raise ValueError(f"WITHOUT ROWID table '{self.name}' needs a PRIMARY KEY")
        if self.without_rowid and self.primary_key and self.primary_key.autoincrement:
            raise ValueError("AUTOINCREMENT is not allowed on WITHOUT ROWID tables")
        return self

    def column(self, name: str) -> ColumnDef | None:
        key = fold_name(name)
        for column in self.columns:
            if fold_name(column.name) == key:
                return column
        return None


def strict_type_problem(table: TableDef) -> str | None:
    """Why a STRICT table's column types are not allowed, or None when they are."""
    if not table.strict:
        return None
    for column in table.columns:
        if column.type.upper() not in STRICT_TYPES:
            return (
                f"STRICT table '{table.name}' cannot have column '{column.name}' of type"
                f" {column.type or '(none)'!r}; use INT, INTEGER, REAL, TEXT, BLOB or ANY"
            )
    return None


class IndexedColumn(Definition):
    """One term of an index: a plain column, or an expression (SQL text)."""

    column: str | None = None
    expr: str | None = None
    collate: str | None = None
    desc: bool = False

    @model_validator(mode="after")
    def _one(self) -> IndexedColumn:
        if (self.column is None) == (self.expr is None):
            raise ValueError("an indexed term is either a column or an expression")
        return self


class IndexDef(Definition):
    name: str
    table: str
    columns: tuple[IndexedColumn, ...]
    unique: bool = False
    where: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return validate_identifier("index", value)

    @field_validator("table")
    @classmethod
    def _table(cls, value: str) -> str:
        return validate_identifier("table", value)

    @field_validator("columns")
    @classmethod
    def _columns(cls, value: tuple[IndexedColumn, ...]) -> tuple[IndexedColumn, ...]:
        if not value:
            raise ValueError("an index needs at least one column")
        return value

    def column_names(self) -> tuple[str, ...]:
        """The plain columns of the index, expressions shown as their SQL."""
        return tuple(c.column if c.column is not None else (c.expr or "") for c in self.columns)


class ViewDef(Definition):
    """``sql`` is the whole ``CREATE VIEW`` statement as written."""

    name: str
    sql: str

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return validate_identifier("view", value)


class TriggerDef(Definition):
    """``sql`` is the whole ``CREATE TRIGGER`` statement as written; ``table`` is its target."""

    name: str
    table: str
    sql: str

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return validate_identifier("trigger", value)
