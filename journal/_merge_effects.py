"""What one side of a merge did to the base's objects, by identity across renames."""

from __future__ import annotations

from collections.abc import Sequence

import attrs
from typing_extensions import assert_never  # typing has it from 3.11; we support 3.10

from journal._merge_types import SideStep
from journal.definitions import TableDef
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
from journal.names import fold_name
from journal.schema import Schema


class Gone:
    """Marks a base object the other side dropped."""

    def __repr__(self) -> str:
        return "GONE"


GONE = Gone()
_NEW = None  # origin of an object created on the side being replayed


@attrs.define
class SideEffects:
    """What one side did to the base's objects, keyed by base identity (folded names).

    ``tables``: base table -> final name, or GONE. ``columns``: (base table, base column) ->
    final name, or GONE. ``dropped``: (kind, base name) of dropped indexes, views, triggers.
    ``altered``: base columns whose type, nullability or default changed. ``replaced``: base
    views redefined. ``created``: (kind, folded final name) of objects the side created.
    ``added_columns``: (table identity, folded column) of columns added to base tables.
    ``touched``: base tables the side changed in any way. ``events``: object -> event ids.
    ``trigger_tables``: (folded) triggers the side created or dropped -> the identity of the
    table each is on (a data step writing that table fires it in one order only).
    """

    tables: dict[str, str | Gone] = attrs.field(factory=dict)
    columns: dict[tuple[str, str], str | Gone] = attrs.field(factory=dict)
    dropped: set[tuple[str, str]] = attrs.field(factory=set)
    altered: set[tuple[str, str]] = attrs.field(factory=set)
    replaced: set[str] = attrs.field(factory=set)
    created: set[tuple[str, str]] = attrs.field(factory=set)
    added_columns: set[tuple[str, str]] = attrs.field(factory=set)
    touched: set[str] = attrs.field(factory=set)
    events: dict[str, list[str]] = attrs.field(factory=dict)
    trigger_tables: dict[str, str] = attrs.field(factory=dict)

    def note(self, key: str, event: str) -> None:
        self.events.setdefault(key, []).append(event)


class SideNames:
    """A side's current names, each mapped to its base identity (None: created on the side)."""

    def __init__(self, base: Schema) -> None:
        self.tables: dict[str, str | None] = {
            fold_name(t.name): fold_name(t.name) for t in base.tables
        }
        self.columns: dict[tuple[str, str], tuple[str, str] | None] = {
            (fold_name(t.name), fold_name(c.name)): (fold_name(t.name), fold_name(c.name))
            for t in base.tables
            for c in t.columns
        }

    def table(self, name: str) -> str | None:
        return self.tables.get(fold_name(name))

    def identity(self, table: str) -> str:
        """A table's identity on the side: its base name (folded), or ``+name`` when the side
        created it."""
        origin = self.table(table)
        return origin if origin is not None else "+" + fold_name(table)

    def column(self, table: str, column: str) -> tuple[str, str] | None:
        return self.columns.get((fold_name(table), fold_name(column)))

    def rename_table(self, old: str, new: str) -> None:
        o, n = fold_name(old), fold_name(new)
        self.tables[n] = self.tables.pop(o, None)
        for key in [k for k in self.columns if k[0] == o]:
            self.columns[(n, key[1])] = self.columns.pop(key)

    def drop_table(self, name: str) -> None:
        key = fold_name(name)
        self.tables.pop(key, None)
        for column in [k for k in self.columns if k[0] == key]:
            del self.columns[column]

    def create_table(self, table: TableDef) -> None:
        key = fold_name(table.name)
        self.tables[key] = _NEW
        for column in table.columns:
            self.columns[(key, fold_name(column.name))] = _NEW


#: The operations on indexes, views and triggers: objects known by one name, never renamed.
NamedObjectOperation = (
    IndexCreated | IndexDropped | ViewCreated | ViewReplaced | ViewDropped | TriggerCreated
    | TriggerDropped
)  # fmt: skip
ColumnOperation = ColumnAdded | ColumnDropped | ColumnRenamed | ColumnAltered


def side_effects(base: Schema, steps: Sequence[SideStep]) -> SideEffects:
    """What ``steps`` (a side since the base) did to the base's objects."""
    effects = SideEffects()
    names = SideNames(base)
    for step in steps:
        op, event = step.operation, step.event
        match op:
            case TableCreated():
                names.create_table(op.table)
                effects.created.add(("table", fold_name(op.table.name)))
                effects.note(f"table {fold_name(op.table.name)}", event)
            case TableDropped() | TableRenamed():
                _table_changed(effects, names, op, event, step.before)
            case ColumnAdded() | ColumnDropped() | ColumnRenamed() | ColumnAltered():
                _column_changed(effects, names, op, event)
            case (
                IndexCreated()
                | IndexDropped()
                | ViewCreated()
                | ViewReplaced()
                | ViewDropped()
                | TriggerCreated()
                | TriggerDropped()
            ):
                _object_changed(effects, names, op, event)
                _trigger_changed(effects, names, step.before, op)
            case DataMigrated():
                pass  # rows, not objects: journal._merge_data finds what a data step names
            case _:
                assert_never(op)
    return effects


def _table_changed(
    effects: SideEffects,
    names: SideNames,
    op: TableDropped | TableRenamed,
    event: str,
    before: Schema,
) -> None:
    origin = names.table(op.table)
    created = ("table", fold_name(op.table))
    match op:
        case TableDropped():
            if origin is not None:
                effects.tables[origin] = GONE
            effects.created.discard(created)  # one the side created is gone again
            # So are the indexes and triggers the side created on it (SQLite drops them).
            for index in before.indexes_on(op.table):
                effects.created.discard(("index", fold_name(index.name)))
            for trigger in before.triggers_on(op.table):
                effects.created.discard(("trigger", fold_name(trigger.name)))
            names.drop_table(op.table)
        case TableRenamed():
            if origin is not None:
                effects.tables[origin] = op.new_name
            names.rename_table(op.table, op.new_name)
        case _:
            assert_never(op)
    if origin is not None:
        effects.touched.add(origin)
        effects.note(f"table {origin}", event)


def _column_changed(
    effects: SideEffects, names: SideNames, op: ColumnOperation, event: str
) -> None:
    table = names.table(op.table)
    if table is not None:
        effects.touched.add(table)
        effects.note(f"table {table}", event)
    if isinstance(op, ColumnAdded):
        name = fold_name(op.column.name)
        names.columns[(fold_name(op.table), name)] = _NEW
        if table is not None:
            effects.added_columns.add((table, name))
            effects.note(f"column {table}.{name}", event)
        return
    origin = names.column(op.table, op.column)
    if origin is not None:
        effects.note(f"column {origin[0]}.{origin[1]}", event)
    match op:
        case ColumnDropped():
            if origin is not None:
                effects.columns[origin] = GONE
        case ColumnRenamed():
            if origin is not None:
                effects.columns[origin] = op.new_name
        case ColumnAltered():
            if origin is not None:
                effects.altered.add(origin)
        case _:
            assert_never(op)
    track_names(names, op)


def _object_changed(
    effects: SideEffects, names: SideNames, op: NamedObjectOperation, event: str
) -> None:
    kind, name = object_of(op)
    key = fold_name(name)
    effects.note(f"{kind} {key}", event)
    match op:
        case IndexCreated() | ViewCreated() | TriggerCreated():
            effects.created.add((kind, key))
            effects.dropped.discard((kind, key))
            if isinstance(op, IndexCreated):
                origin = names.table(op.index.table)
                if origin is not None:
                    effects.touched.add(origin)
        case ViewReplaced():
            if (kind, key) not in effects.created:
                effects.replaced.add(key)
        case IndexDropped() | ViewDropped() | TriggerDropped():
            if (kind, key) in effects.created:
                effects.created.discard((kind, key))
            else:
                effects.dropped.add((kind, key))
        case _:
            assert_never(op)


def _trigger_changed(
    effects: SideEffects, names: SideNames, before: Schema, op: NamedObjectOperation
) -> None:
    match op:
        case TriggerCreated():
            table: str | None = op.trigger.table
            key = fold_name(op.trigger.name)
        case TriggerDropped():
            dropped = before.trigger(op.trigger)
            table = None if dropped is None else dropped.table
            key = fold_name(op.trigger)
        case IndexCreated() | IndexDropped() | ViewCreated() | ViewReplaced() | ViewDropped():
            return
        case _:
            assert_never(op)
    if table is not None:
        effects.trigger_tables[key] = names.identity(table)


def object_of(op: NamedObjectOperation) -> tuple[str, str]:
    """The kind and name of the index, view or trigger ``op`` is about."""
    match op:
        case IndexCreated():
            return "index", op.index.name
        case IndexDropped():
            return "index", op.index
        case ViewCreated() | ViewReplaced():
            return "view", op.view.name
        case ViewDropped():
            return "view", op.view
        case TriggerCreated():
            return "trigger", op.trigger.name
        case TriggerDropped():
            return "trigger", op.trigger
        case _:
            assert_never(op)


def track_names(names: SideNames, op: Operation) -> None:
    """Keep the replayed side's name map current after ``op``."""
    match op:
        case TableCreated():
            names.create_table(op.table)
        case TableDropped():
            names.drop_table(op.table)
        case TableRenamed():
            names.rename_table(op.table, op.new_name)
        case ColumnAdded():
            names.columns[(fold_name(op.table), fold_name(op.column.name))] = _NEW
        case ColumnDropped():
            names.columns.pop((fold_name(op.table), fold_name(op.column)), None)
        case ColumnRenamed():
            value = names.columns.pop((fold_name(op.table), fold_name(op.column)), None)
            names.columns[(fold_name(op.table), fold_name(op.new_name))] = value
        case (
            ColumnAltered()
            | IndexCreated()
            | IndexDropped()
            | ViewCreated()
            | ViewReplaced()
            | ViewDropped()
            | TriggerCreated()
            | TriggerDropped()
            | DataMigrated()
        ):
            pass  # names of tables and columns are unchanged
        case _:
            assert_never(op)
