"""The merge rules for data steps: a data step of the side being replayed that the other side's
schema changes or data steps affect, and a schema step that changes what a data step of the
other side names (both are data_dependency conflicts; the facts they read are
:mod:`journal._merge_data`'s)."""

from __future__ import annotations

from typing_extensions import assert_never  # typing has it from 3.11; we support 3.10

from journal._merge_data import Change, changes_under, data_use, overlaps, users_of
from journal._merge_replay import Replay, Untranslatable
from journal._merge_rules_objects import defined, moved_trigger, moved_view
from journal._merge_rules_tables import column_text
from journal._merge_types import DATA_DEPENDENCY, SideStep
from journal.definitions import IndexDef
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
    data_step_text,
)
from journal.names import fold_name
from journal.schema import Schema
from journal.sqlrefs import canonical_sql


def data_migrated(r: Replay, step: SideStep, op: DataMigrated) -> None:
    """A data step of the replayed side (rules: :mod:`journal._merge_data`)."""
    if r.position in r.data_matched:
        r.skipped += 1  # the other side ran the identical step: once is enough
        return
    use = r.data_mine.get(r.position) or data_use(r.names, step, op)
    what = f"data {use.target}"
    text = data_step_text(op)
    try:
        taking: DataMigrated | None = op.model_copy(update={"sql": r.sql(op.sql, use.refs)})
    except Untranslatable:
        taking = None  # it names what the other side dropped: it can only be left out
    changes = [c for c in changes_under(r.other, use) if not _same_for_step(r, step, c)]
    if changes:
        change = changes[0]
        r.conflict(
            DATA_DEPENDENCY,
            what,
            change.sentence(text),
            step,
            key=change.key,
            ours=change.done(),
            theirs=op.sql,
            taking=taking,
        )
        return
    clash = [other for other in r.data_live if overlaps(other, use)]
    if clash:
        first = clash[0]
        shared = first.writes if first.writes in use.tables else use.writes
        r.conflict(
            DATA_DEPENDENCY,
            what,
            f"Data step '{text}' and the other side's data step"
            f" '{data_step_text(DataMigrated(sql=first.sql))}' both use table"
            f" '{use.name(shared) if shared in use.tables else first.name(shared)}', which one"
            " of them writes: the rows depend on which runs first",
            step,
            cite=[other.event for other in clash],
            ours=first.sql,
            theirs=op.sql,
            taking=taking,
        )
        return
    if taking is None:
        r.sql(op.sql, use.refs)  # raises the Untranslatable the driver reports
    assert taking is not None
    r.emit(step, taking)


def _same_for_step(r: Replay, step: SideStep, change: Change) -> bool:
    """Whether the other side's ``change`` leaves what the data step names as the step saw
    it: the same rename made on both sides (the step already uses the new name), the same
    alteration, the same columns added, the same view or trigger. A drop of a table or column
    never does."""
    kind, _, name = change.key.partition(" ")
    if kind in ("view", "trigger"):
        # What the step saw against what the other side ends with (None: no such object).
        return _object_sql(step.before, kind, name) == _object_sql(r.other_schema, kind, name)
    if change.did == "dropped":
        return False
    if change.did == "renamed":
        used = change.spelled.rpartition(".")[2]
        return change.new_name is not None and fold_name(change.new_name) == fold_name(used)
    table, _, column = change.spelled.partition(".")
    try:
        mine = step.before.table(table)
        theirs = r.other_schema.table(r.table(table))
        if mine is None or theirs is None:
            return False
        if change.did == "altered":
            a, b = mine.column(column), theirs.column(r.column(table, column))
            return (
                a is not None
                and b is not None
                and column_text(b.model_copy(update={"name": a.name})) == column_text(a)
            )
    except Untranslatable:
        return False
    # Reshaped: the same columns, in the same order, on both sides.
    return [(fold_name(c.name), column_text(c)) for c in mine.columns] == [
        (fold_name(c.name), column_text(c)) for c in theirs.columns
    ]


def _object_sql(schema: Schema, kind: str, name: str) -> str | None:
    """The canonical SQL of view or trigger ``name`` in ``schema`` (None: there is none)."""
    found = defined(schema, kind, name)
    return None if found is None or isinstance(found, IndexDef) else canonical_sql(found.sql)


def changes_data_of_other(r: Replay, step: SideStep) -> bool:
    """A schema step of the replayed side that drops, renames or alters what a data step of
    the other side names: a data_dependency conflict (reported here: True). Where the other
    side changed the same object itself, the object's own rules decide (False)."""
    op = step.operation
    users = users_of(r.data_live, r.names, step.before, op) if r.data_live else []
    if not users or _changed_by_other(r, op):
        return False
    try:
        change = _schema_change(r, step, op)
    except Untranslatable:
        return False  # names what the other side dropped: the driver reports it
    if change is None:
        return False
    taking, object_name, did = change
    first = users[0]
    kind, _, name = object_name.partition(" ")
    if kind == "trigger":
        uses, why = "writes its table", "the trigger fires for the step in one order only"
    else:
        uses = "uses every column of its table" if did == "added" else "uses it"
        why = f"the step ran against the {kind} before that change"
    r.conflict(
        DATA_DEPENDENCY,
        object_name,
        f"{kind.capitalize()} '{name}' is {did} on one side while the other side's data step"
        f" '{data_step_text(DataMigrated(sql=first.sql))}' {uses}: {why}",
        step,
        cite=[u.event for u in users],
        ours=first.sql,
        theirs=did,
        taking=taking,
    )
    return True


def _changed_by_other(r: Replay, op: Operation) -> bool:
    """Whether the other side itself changed the table or column schema step ``op`` changes
    (True for an operation on neither: no data step rule applies to it)."""
    other = r.other
    match op:
        case TableDropped() | TableRenamed():
            table = r.names.table(op.table)
            return table is not None and other.tables.get(table) is not None
        case ColumnAdded():
            table = r.names.table(op.table)
            return (table is not None and other.tables.get(table) is not None) or (
                table or "",
                fold_name(op.column.name),
            ) in other.added_columns
        case ColumnDropped() | ColumnRenamed() | ColumnAltered():
            table = r.names.table(op.table)
            column = r.names.column(op.table, op.column)
            return (table is not None and other.tables.get(table) is not None) or (
                column is not None
                and (other.columns.get(column) is not None or column in other.altered)
            )
        case ViewCreated() | ViewReplaced() | ViewDropped():
            view = fold_name(op.view if isinstance(op, ViewDropped) else op.view.name)
            return view in other.replaced or any(
                ("view", view) in changed for changed in (other.created, other.dropped)
            )
        case TriggerCreated() | TriggerDropped():
            trigger = fold_name(op.trigger if isinstance(op, TriggerDropped) else op.trigger.name)
            return trigger in other.trigger_tables
        case TableCreated() | IndexCreated() | IndexDropped() | DataMigrated():
            return True
        case _:
            assert_never(op)


def _schema_change(r: Replay, step: SideStep, op: Operation) -> tuple[Operation, str, str] | None:
    """``op`` translated to the other side's names, the object it changes (as conflicts name
    it) and what it does to it, for a conflict with the other side's data step (None: ``op``
    changes nothing a data step can depend on)."""
    match op:
        case TableDropped():
            return TableDropped(table=r.table(op.table)), f"table {op.table}", "dropped"
        case TableRenamed():
            return (
                TableRenamed(table=r.table(op.table), new_name=op.new_name),
                f"table {op.table}",
                f"renamed to '{op.new_name}'",
            )
        case ColumnAdded():
            added = op.model_copy(
                update={
                    "table": r.table(op.table),
                    "references": None if op.references is None else r.foreign_key(op.references),
                    "check": r.expression(op.check, op.table),
                }
            )
            return added, f"column {op.table}.{op.column.name}", "added"
        case ColumnDropped() | ColumnRenamed() | ColumnAltered():
            translated = op.model_copy(
                update={"table": r.table(op.table), "column": r.column(op.table, op.column)}
            )
            if isinstance(op, ColumnRenamed):
                did = f"renamed to '{op.new_name}'"
            else:
                did = "dropped" if isinstance(op, ColumnDropped) else "altered"
            return translated, f"column {op.table}.{op.column}", did
        case ViewCreated() | ViewReplaced():
            return type(op)(view=moved_view(r, step, op)), f"view {op.view.name}", "redefined"
        case ViewDropped():
            return op, f"view {op.view}", "dropped"
        case TriggerCreated():
            return moved_trigger(r, step, op), f"trigger {op.trigger.name}", "created"
        case TriggerDropped():
            return op, f"trigger {op.trigger}", "dropped"
        case TableCreated() | IndexCreated() | IndexDropped() | DataMigrated():
            return None
        case _:
            assert_never(op)
