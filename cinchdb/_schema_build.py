"""Between the SDK's vocabulary and the journal's: SDK arguments become journal operations, and
journal definitions become the public models that ``get_table`` and friends return.

Every table the SDK creates has the automatic columns ``id`` (TEXT primary key, filled by
CinchDB), ``created_at`` and ``updated_at`` (UTC ISO-8601 text, filled by CinchDB).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from cinchdb._unset import UNSET, Unset
from cinchdb.errors import ArgumentError
from cinchdb.models import (
    SQL,
    Column,
    ColumnDefault,
    ForeignKey,
    Index,
    Table,
    View,
    affinity_type,
    invalid_fields,
    is_declared_type,
)
from cinchdb.results import IndexInfo
from journal import definitions as jd
from journal.errors import ObjectExistsError, SchemaError
from journal.events import (
    ColumnAdded,
    ColumnAltered,
    IndexCreated,
    Operation,
    TableCreated,
    ViewCreated,
    ViewReplaced,
)
from journal.names import fold_name, follows_name_rule, quote, same_name, validate_identifier
from journal.parse import parse_statement
from journal.schema import Schema, unparenthesize

#: Columns every SDK table has, in order: ``id`` first, the timestamps last.
AUTOMATIC_COLUMNS = ("id", "created_at", "updated_at")

_ID = jd.ColumnDef(name="id", type="TEXT", not_null=True)
_CREATED = jd.ColumnDef(name="created_at", type="TEXT")
_UPDATED = jd.ColumnDef(name="updated_at", type="TEXT")


_Built = TypeVar("_Built", bound=BaseModel)


def made(call: str, model: type[_Built], **fields: Any) -> _Built:
    """``model(**fields)`` built from ``call``'s arguments: a value the journal's models refuse
    is an InvalidNameError or InvalidFieldError naming the argument, not pydantic's text."""
    try:
        return model(**fields)
    except ValidationError as e:
        # From None: the error names the argument and why; pydantic's text would follow it.
        raise invalid_fields(f"{call}()", "argument", e) from None


def is_automatic(column: str) -> bool:
    """Whether ``column`` names one of the automatic columns, as SQLite compares names."""
    return fold_name(column) in AUTOMATIC_COLUMNS


def _user_column(table: str, column: Column) -> Column:
    if is_automatic(column.name):
        raise SchemaError(
            f"Column '{column.name}' of table '{table}' is automatic: every table has"
            " 'id', 'created_at' and 'updated_at'"
        )
    if column.primary_key:
        raise SchemaError(
            f"Column '{column.name}' of table '{table}' cannot be the primary key: every table's"
            " primary key is its automatic 'id' column; declare it unique=True, nullable=False"
        )
    return column


def table_created(
    name: str, columns: Sequence[Column], indexes: Sequence[Index] | None
) -> list[Operation]:
    """The operations of ``create_table``: the table, then one per index."""
    validate_identifier("table", name)
    if not columns:
        raise SchemaError(f"Table '{name}' needs at least one column")
    user = [_user_column(name, column) for column in columns]
    seen: set[str] = set()
    for column in user:
        # TableDef refuses a repeated name too, but as pydantic's error rather than ours.
        if fold_name(column.name) in seen:
            raise ObjectExistsError("column", column.name, name)
        seen.add(fold_name(column.name))
    table = made(
        "create_table",
        jd.TableDef,
        name=name,
        columns=(_ID, *(column.definition() for column in user), _CREATED, _UPDATED),
        primary_key=jd.PrimaryKey(columns=("id",)),
        uniques=tuple(jd.Unique(columns=(c.name,)) for c in user if c.unique),
        foreign_keys=tuple(fk for c in user if (fk := c.references()) is not None),
        checks=tuple(jd.Check(expr=c.check) for c in user if c.check),
    )
    operations: list[Operation] = [TableCreated(table=table)]
    for index in indexes or ():
        operations.append(
            index_created(index.name, name, index.columns, unique=index.unique, where=index.where)
        )
    return operations


def column_added(table: str, column: Column) -> ColumnAdded:
    column = _user_column(table, column)
    return ColumnAdded(
        table=table,
        column=column.definition(),
        unique=column.unique,
        references=column.references(),
        check=column.check,
    )


def column_altered(
    table: str,
    column: str,
    *,
    nullable: bool | None,
    default: ColumnDefault | Unset,
    type: str | None,
) -> ColumnAltered:
    """``default=UNSET`` leaves the default alone; ``default=None`` drops it."""
    if is_automatic(column):
        raise SchemaError(f"Column '{column}' of table '{table}' is automatic; it cannot change")
    if nullable is None and isinstance(default, Unset) and type is None:
        raise ArgumentError("alter_column", "needs a change: give type, nullable or default")
    probe = Column(
        name=column, type=type or "TEXT", default=None if isinstance(default, Unset) else default
    )
    return made(
        "alter_column",
        ColumnAltered,
        table=table,
        column=column,
        new_type=None if type is None else probe.type,
        not_null=None if nullable is None else not nullable,
        default=None if default is UNSET or default is None else probe.definition().default,
        drop_default=default is None,
    )


def index_created(
    name: str | None,
    table: str,
    columns: Sequence[str],
    *,
    unique: bool = False,
    where: str | None = None,
) -> IndexCreated:
    """An index on plain columns; unnamed indexes are called ``idx_{table}_{columns}``."""
    if isinstance(columns, str):
        columns = [columns]
    if not columns:
        raise SchemaError(f"An index on table '{table}' needs at least one column")
    # An old table or column name outside the names rule ("my table") gives an unnamed
    # index a name inside it: the index's name is new.
    name = name or "".join(
        char if follows_name_rule("a" + char) else "_"
        for char in "_".join(["idx", table, *columns])
    )
    index = made(
        "create_index",
        jd.IndexDef,
        name=name,
        table=table,
        columns=tuple(made("create_index", jd.IndexedColumn, column=c) for c in columns),
        unique=unique,
        where=where,
    )
    return IndexCreated(index=index)


_VIEW_HEAD = re.compile(r"\s*CREATE\s+VIEW\b", re.IGNORECASE)


def view_operation(name: str, sql: str, *, replace: bool) -> ViewCreated | ViewReplaced:
    """``sql`` is the view's query (``SELECT ...`` / ``WITH ...``), parsed and checked here."""
    validate_identifier("view", name)
    if _VIEW_HEAD.match(sql):
        raise SchemaError(f"Give view '{name}' its query (SELECT ...), not a CREATE VIEW statement")
    operation = parse_statement(f"CREATE VIEW {quote(name)} AS {sql.strip().rstrip(';')}")
    if not isinstance(operation, ViewCreated):
        raise SchemaError(f"'{sql}' is not a query a view can hold")
    return ViewReplaced(view=operation.view) if replace else operation


# -- journal definitions -> public models ------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def default_value(sql: str | None, type: str) -> ColumnDefault:
    """A stored DEFAULT back as the Python value it came from, or ``SQL(...)``."""
    if sql is None:
        return None
    text = unparenthesize(sql)
    if text.upper() == "NULL":
        return None
    if len(text) >= 2 and text[0] == text[-1] == "'" and "'" not in text[1:-1].replace("''", ""):
        return text[1:-1].replace("''", "'")
    if _NUMBER.fullmatch(text):
        value: int | float = float(text) if any(c in text for c in ".eE") else int(text)
        if type == "BOOLEAN" and value in (0, 1):
            return bool(value)
        return value
    if text[:2].upper() == "X'" and text.endswith("'"):
        try:
            return bytes.fromhex(text[2:-1])
        except ValueError:
            pass
    return SQL(text)


def column_model(table: jd.TableDef, column: jd.ColumnDef) -> Column:
    single_uniques = {fold_name(u.columns[0]) for u in table.uniques if len(u.columns) == 1}
    pk = table.primary_key
    foreign_key = next(
        (
            fk
            for fk in table.foreign_keys
            if len(fk.columns) == 1 and same_name(fk.columns[0], column.name)
        ),
        None,
    )
    # A declared SQL type Column accepts is shown as declared (DATETIME, VARCHAR(255)); any
    # other (from migrate) as its affinity.
    type_ = column.type if is_declared_type(column.type) else affinity_type(column.type)
    return Column(
        name=column.name,
        type=type_,
        nullable=not column.not_null,
        default=default_value(column.default, affinity_type(column.type)),
        unique=fold_name(column.name) in single_uniques,
        primary_key=pk is not None
        and [fold_name(c) for c in pk.columns] == [fold_name(column.name)],
        foreign_key=None
        if foreign_key is None
        else ForeignKey(
            table=foreign_key.ref_table,
            column=foreign_key.ref_columns[0] if foreign_key.ref_columns else "id",
            on_delete=foreign_key.on_delete,
            on_update=foreign_key.on_update,
        ),
    )


def _term_text(term: jd.IndexedColumn) -> str:
    """An index term as ``list_indexes`` shows it: the column's name, or the expression."""
    if term.column is not None:
        return term.column
    # IndexedColumn's validator: a term without a column has an expression.
    assert term.expr is not None
    return term.expr


def index_dict(index: jd.IndexDef) -> IndexInfo:
    return {
        "name": index.name,
        "table": index.table,
        "columns": [_term_text(term) for term in index.columns],
        "unique": index.unique,
        "where": index.where,
    }


def table_model(schema: Schema, table: jd.TableDef, row_count: int | None = None) -> Table:
    return Table(
        name=table.name,
        columns=[column_model(table, column) for column in table.columns],
        indexes=[
            Index(name=i.name, columns=index_dict(i)["columns"], unique=i.unique, where=i.where)
            for i in schema.indexes_on(table.name)
        ],
        row_count=row_count,
    )


_VIEW_QUERY = re.compile(
    r'\s*CREATE\s+VIEW\s+(?:"(?:[^"]|"")+"|`[^`]+`|\[[^\]]+\]|\w+)\s+AS\s+(.*)',
    re.IGNORECASE | re.DOTALL,
)


def view_model(view: jd.ViewDef) -> View:
    """The view with its query (what ``create_view`` was given, as the journal keeps it)."""
    query = _VIEW_QUERY.match(view.sql)
    return View(name=view.name, sql=query.group(1).strip() if query else view.sql)
