"""The merge rules, one function per kind of operation: how an operation of the side being
replayed lands on the other side's schema, or which conflict it is.

:func:`replay_step` dispatches each operation to its rule, kept by the kind of object it changes:
:mod:`journal._merge_rules_tables` (tables and columns), :mod:`journal._merge_rules_objects`
(indexes, views, triggers) and :mod:`journal._merge_rules_data` (data steps).
:func:`fold_conflict` names the conflict of a translated operation that does not apply."""

from __future__ import annotations

from typing_extensions import assert_never  # typing has it from 3.11; we support 3.10

from journal._merge_data import target_of
from journal._merge_effects import Gone, SideEffects
from journal._merge_replay import Replay, describe
from journal._merge_rules_data import changes_data_of_other, data_migrated
from journal._merge_rules_objects import (
    index_created,
    object_dropped,
    trigger_created,
    view_defined,
)
from journal._merge_rules_tables import (
    column_added,
    replay_column_change,
    table_created,
    table_dropped,
    table_renamed,
)
from journal._merge_types import (
    DATA_DEPENDENCY,
    DEPENDENCY,
    DROP_VS_CHANGE,
    NAME_COLLISION,
    SEMANTIC,
    SIDES,
    Conflict,
    SideStep,
    Translated,
)
from journal.errors import DependencyError, ObjectExistsError, ObjectNotFoundError, SchemaError
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


def _on_a_table_both_drop(r: Replay, op: Operation) -> bool:
    """Whether ``op`` changes only a base table that both sides drop in the end (its columns,
    an index or trigger on it, its rows, its name)."""
    match op:
        case TableRenamed() | ColumnAdded() | ColumnDropped() | ColumnRenamed() | ColumnAltered():
            table = op.table
        case IndexCreated():
            table = op.index.table
        case TriggerCreated():
            table = op.trigger.table
        case DataMigrated():
            table = target_of(op.sql)
        case (
            TableCreated() | TableDropped() | IndexDropped() | ViewCreated() | ViewReplaced()
            | ViewDropped() | TriggerDropped()
        ):  # fmt: skip
            return False
        case _:
            assert_never(op)
    origin = r.names.table(table)
    return (
        origin is not None
        and isinstance(r.other.tables.get(origin), Gone)
        and isinstance(r.mine.tables.get(origin), Gone)
    )


def replay_step(r: Replay, step: SideStep) -> None:
    """Replay one step of the side onto the other side's schema (``r``): emit the translated
    operation, count it as skipped (the other side made it identically), or report a conflict.

    Raises:
        Untranslatable: the step names a base object the other side dropped.
    """
    op = step.operation
    if _on_a_table_both_drop(r, op):
        r.skipped += 1  # the table is gone on both sides in the end: the change is moot
        return
    if changes_data_of_other(r, step):
        return
    match op:
        case TableCreated():
            table_created(r, step, op)
        case TableDropped():
            table_dropped(r, step, op)
        case TableRenamed():
            table_renamed(r, step, op)
        case ColumnAdded():
            column_added(r, step, op)
        case ColumnDropped() | ColumnRenamed() | ColumnAltered():
            replay_column_change(r, step, op)
        case IndexCreated():
            index_created(r, step, op)
        case ViewCreated() | ViewReplaced():
            view_defined(r, step, op)
        case TriggerCreated():
            trigger_created(r, step, op)
        case IndexDropped() | ViewDropped() | TriggerDropped():
            object_dropped(r, step, op)
        case DataMigrated():
            data_migrated(r, step, op)
        case _:
            assert_never(op)


def fold_conflict(error: SchemaError, translated: Translated, other: SideEffects) -> Conflict:
    """A translated operation that does not apply to the other side's schema.

    Cites the other side's events that made the object in the way (the name taken, the
    dependants that would break), then the event the operation came from.
    """
    op = translated.operation
    blocking: list[tuple[str, str]] = []
    if isinstance(error, ObjectExistsError):
        kind = NAME_COLLISION
        # Tables, indexes, views and triggers share one namespace in SQLite.
        blocking = [(k, error.name) for k in ("table", "index", "view", "trigger")]
    elif isinstance(error, DependencyError):
        kind = DEPENDENCY
        blocking = list(error.dependents)
    elif isinstance(error, ObjectNotFoundError):
        kind = DROP_VS_CHANGE
    else:
        kind = SEMANTIC
    if isinstance(op, DataMigrated):
        kind = DATA_DEPENDENCY  # a data step names what is not there after the other side
    cited: list[str] = []
    for what, name in blocking:
        for event in other.events.get(f"{what} {fold_name(name)}", []):
            if event not in cited:
                cited.append(event)
    return Conflict(
        kind=kind,
        object=describe(op),
        message=f"{describe(op).capitalize()} ({op.type}) does not apply after the other"
        f" side's changes: {error}",
        theirs=op.type,
        events=(*cited, translated.event),
        sides=SIDES,
    )
