"""The inverse of a change: what ``revert`` appends.

Each operation is undone against the schema it was applied to. Some inverses are exact
(renames, indexes, views, triggers, a column alteration); others cannot bring back what was
lost: re-creating a dropped table or column restores its definition, not its rows, and undoing
a creation drops whatever was written since. Those are returned as ``losses``, sentences a
person can read before deciding to ``force`` the revert.
"""

from __future__ import annotations

from collections.abc import Sequence

from typing_extensions import assert_never

from journal.definitions import ViewDef
from journal.errors import DataStepNotReversibleError, SchemaError
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

__all__ = ["inverse_operations"]


def inverse_operations(
    before: Schema, operations: Sequence[Operation], *, event_id: str = ""
) -> tuple[list[Operation], list[str]]:
    """The operations that undo ``operations`` (applied in order to ``before``), and what the
    undo cannot restore.

    Raises:
        DataStepNotReversibleError: a data step has no down SQL (``event_id``, the event the
            operations come from, names it in the message).
        SchemaError: an operation does not apply.
    """
    inverse: list[Operation] = []
    losses: list[str] = []
    schema = before
    for op in operations:
        undo, lost = _inverse(schema, op, event_id)
        inverse[:0] = undo  # the last change is undone first
        losses += lost
        schema = apply(schema, op)
    return inverse, losses


def _inverse(schema: Schema, op: Operation, event_id: str) -> tuple[list[Operation], list[str]]:
    match op:
        case TableCreated():
            return [TableDropped(table=op.table.name)], [
                f"table '{op.table.name}' is dropped with every row written to it since"
            ]
        case TableDropped():
            table = schema.require_table(op.table)
            undo: list[Operation] = [TableCreated(table=table)]
            undo += [IndexCreated(index=i) for i in schema.indexes_on(table.name)]
            undo += [TriggerCreated(trigger=t) for t in schema.triggers_on(table.name)]
            return undo, [f"table '{table.name}' comes back empty: its rows are not restored"]
        case TableRenamed():
            return [TableRenamed(table=op.new_name, new_name=op.table)], []
        case ColumnAdded():
            return [ColumnDropped(table=op.table, column=op.column.name)], [
                f"column '{op.table}.{op.column.name}' is dropped with the values written to it"
            ]
        case ColumnDropped():
            table = schema.require_table(op.table)
            column = table.column(op.column)
            if column is None:
                raise SchemaError(f"Column '{op.column}' of '{op.table}' was not there to drop")
            key = fold_name(column.name)
            unique = any(
                len(u.columns) == 1 and fold_name(u.columns[0]) == key for u in table.uniques
            )
            fk = next(
                (
                    f
                    for f in table.foreign_keys
                    if len(f.columns) == 1 and fold_name(f.columns[0]) == key
                ),
                None,
            )
            added = ColumnAdded(table=table.name, column=column, unique=unique, references=fk)
            return [added], [
                f"column '{table.name}.{column.name}' comes back with its default,"
                " not its old values"
            ]
        case ColumnRenamed():
            return [ColumnRenamed(table=op.table, column=op.new_name, new_name=op.column)], []
        case ColumnAltered():
            table = schema.require_table(op.table)
            column = table.column(op.column)
            if column is None:
                raise SchemaError(f"Column '{op.column}' of '{op.table}' was not there to alter")
            default_changed = op.default is not None or op.drop_default
            old_default = column.default if default_changed else None
            return [
                ColumnAltered(
                    table=table.name,
                    column=column.name,
                    new_type=column.type if op.new_type is not None else None,
                    not_null=column.not_null if op.not_null is not None else None,
                    default=old_default,
                    drop_default=default_changed and column.default is None,
                )
            ], []
        case IndexCreated():
            return [IndexDropped(index=op.index.name)], []
        case IndexDropped():
            index = schema.index(op.index)
            if index is None:
                raise SchemaError(f"Index '{op.index}' was not there to drop")
            return [IndexCreated(index=index)], []
        case ViewCreated():
            return [ViewDropped(view=op.view.name)], []
        case ViewReplaced():
            return [ViewReplaced(view=_view_before(schema, op.view.name))], []
        case ViewDropped():
            return [ViewCreated(view=_view_before(schema, op.view))], []
        case TriggerCreated():
            return [TriggerDropped(trigger=op.trigger.name)], []
        case TriggerDropped():
            trigger = schema.trigger(op.trigger)
            if trigger is None:
                raise SchemaError(f"Trigger '{op.trigger}' was not there to drop")
            return [TriggerCreated(trigger=trigger)], []
        case DataMigrated():
            return _data_inverse(op, event_id), []
        case _:
            assert_never(op)


def _data_inverse(op: DataMigrated, event_id: str) -> list[Operation]:
    """The down statements as data steps. A one-statement down gets the step's own statement as
    its down, so reverting the revert runs the step again."""
    if not op.down:
        raise DataStepNotReversibleError(event_id, op.sql)
    if len(op.down) == 1:
        return [DataMigrated(sql=op.down[0], down=(op.sql,), nondeterministic=op.nondeterministic)]
    return [DataMigrated(sql=d, nondeterministic=op.nondeterministic) for d in op.down]


def _view_before(schema: Schema, name: str) -> ViewDef:
    view = schema.view(name)
    if view is None:
        raise SchemaError(f"View '{name}' was not there to change")
    return view
