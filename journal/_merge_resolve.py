"""Conflicts a person resolved: taking one side's version of an object.

"ours" keeps the target's object: the source's operations on it are left out (and so are the
source's later operations on it or, for a table, on its columns, indexes and triggers).
"theirs" makes the target's object the source's: the schema the merge has reached so far, with
the object cleared and the source's operation applied, is the wanted schema, and the
operations that take the one to the other (:func:`journal.diff.diff_schemas`, minimal: a
column's change is an ALTER, not a table rebuilt) are what the merge applies.
"""

from __future__ import annotations

from typing_extensions import assert_never

from journal._merge_data import target_of
from journal.diff import diff_schemas
from journal.events import (
    ColumnAdded,
    ColumnAltered,
    ColumnDropped,
    ColumnRenamed,
    DataMigrated,
    IndexCreated,
    IndexDropped,
    Operation,
    TableCreated,
    TableDropped,
    TableRenamed,
    TriggerCreated,
    TriggerDropped,
    ViewCreated,
    ViewDropped,
    ViewReplaced,
)
from journal.fold import apply
from journal.names import fold_name
from journal.schema import Schema
from journal.sqlrefs import references


def _created_name(op: Operation) -> str | None:
    """The name ``op`` creates in the one namespace of tables, indexes, views and triggers."""
    match op:
        case TableCreated():
            return op.table.name
        case IndexCreated():
            return op.index.name
        case ViewCreated() | ViewReplaced():
            return op.view.name
        case TriggerCreated():
            return op.trigger.name
        case (
            TableDropped()
            | TableRenamed()
            | ColumnAdded()
            | ColumnDropped()
            | ColumnRenamed()
            | ColumnAltered()
            | IndexDropped()
            | ViewDropped()
            | TriggerDropped()
            | DataMigrated()
        ):
            return None
        case _:
            assert_never(op)


def _cleared(schema: Schema, op: Operation) -> tuple[Schema, Operation]:
    """``schema`` without what ``op`` is about to define, and ``op`` as a creation there."""
    if isinstance(op, ColumnAdded):
        table = schema.table(op.table)
        key = fold_name(op.column.name)
        if table is not None and table.column(op.column.name) is not None:
            columns = tuple(c for c in table.columns if fold_name(c.name) != key)
            schema = schema.put("table", table.model_copy(update={"columns": columns}))
        return schema, op
    name = _created_name(op)
    if name is None:
        return schema, op
    if isinstance(op, TriggerCreated):  # triggers have their own namespace
        kind = "trigger" if schema.trigger(name) is not None else None
    else:
        kind = schema.kind_of(name)
    if kind is not None:
        schema = schema.remove(kind, name)
    if isinstance(op, ViewReplaced):
        op = ViewCreated(view=op.view)
    return schema, op


def take(current: Schema, op: Operation) -> list[Operation]:
    """The operations that give ``current`` the version of an object that ``op`` defines.

    Raises:
        SchemaError: that version does not fit ``current`` (it reads what is not there).
    """
    if isinstance(op, DataMigrated):
        apply(current, op)  # everything it names is there (raises if not)
        return [op]  # rows, not schema: no difference of schemas carries it
    cleared, creation = _cleared(current, op)
    return diff_schemas(current, apply(cleared, creation))


def touches(op: Operation, dropped: set[str]) -> bool:
    """Whether ``op`` is about an object (or a table's part) in ``dropped`` (object keys)."""
    match op:
        case TableCreated() | TableDropped() | TableRenamed():
            tables = [op.table.name if isinstance(op, TableCreated) else op.table]
            objects: list[str] = []
        case ColumnAdded():
            tables, objects = [op.table], [f"column {op.table}.{op.column.name}"]
        case ColumnDropped() | ColumnRenamed() | ColumnAltered():
            tables, objects = [op.table], [f"column {op.table}.{op.column}"]
        case IndexCreated():
            tables, objects = [op.index.table], [f"index {op.index.name}"]
        case TriggerCreated():
            tables, objects = [op.trigger.table], [f"trigger {op.trigger.name}"]
        case ViewCreated() | ViewReplaced():
            tables, objects = [], [f"view {op.view.name}"]
        case IndexDropped():
            tables, objects = [], [f"index {op.index}"]
        case ViewDropped():
            tables, objects = [], [f"view {op.view}"]
        case TriggerDropped():
            tables, objects = [], [f"trigger {op.trigger}"]
        case DataMigrated():
            # The rows of its table, and whatever tables it names.
            tables = sorted({table for table, _column in references(op.sql)})
            objects = [f"data {target_of(op.sql)}"]
        case _:
            assert_never(op)
    keys = [f"table {fold_name(t)}" for t in tables]
    keys += [f"{o.split(' ', 1)[0]} {fold_name(o.split(' ', 1)[1])}" for o in objects]
    return any(k in dropped for k in keys)
