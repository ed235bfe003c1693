"""Three-way merge of schema changes: a plan of operations, or the list of conflicts.

Both sides are the operations each branch applied since the merge base, in order, each with
the event that made it and the schema just before it (the fold cache has those). The merge:

1. records what *ours* (the target) did to every object of the base, by identity: a table or
   column keeps its identity across renames (:class:`SideEffects`);
2. replays *theirs* (the source) onto ours (:func:`transform`, the driver: one rule of
   :mod:`journal._merge_rules` per operation, on the state of :mod:`journal._merge_replay`),
   translating every name theirs uses for a base object into ours' name for it, and rewriting
   the SQL of theirs' views, indexes and triggers the same way SQLite rewrites dependants on a
   rename. Where the two sides did incompatible things to one object, that is a
   :class:`Conflict`; where they did the same thing, it is applied once. Data steps (rows, not
   objects) have rules of their own, judged against both sides' steps
   (:mod:`journal._merge_data`);
3. folds the translated operations onto ours' schema: an operation that does not apply there
   (a name already taken, a drop that would break something ours added) is a conflict too;
4. checks the result in SQLite (:func:`journal.merge_check.semantic_check`): base + ours +
   theirs and base + theirs + ours must both replay, compile every view and trigger, and give
   the same schema.

Nothing here does I/O except step 4's in-memory databases.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs
from typing_extensions import assert_never

from journal._merge_data import data_uses, match_identical
from journal._merge_effects import SideEffects, SideNames, side_effects, track_names
from journal._merge_replay import Replay, Untranslatable, describe, is_dependant
from journal._merge_resolve import take, touches
from journal._merge_rules import fold_conflict, replay_step
from journal._merge_types import (
    BOTH_CHANGED,
    DATA_DEPENDENCY,
    DEPENDENCY,
    DROP_VS_CHANGE,
    NAME_COLLISION,
    OURS,
    RENAME_RENAME,
    SEMANTIC,
    SIDES,
    THEIRS,
    Conflict,
    MergePlan,
    Resolver,
    SideStep,
    Translated,
    object_key,
)
from journal.diff import diff_schemas
from journal.errors import SchemaError
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
from journal.fold import apply, apply_all
from journal.schema import Schema

__all__ = [
    "BOTH_CHANGED",
    "DATA_DEPENDENCY",
    "DEPENDENCY",
    "DROP_VS_CHANGE",
    "NAME_COLLISION",
    "OURS",
    "RENAME_RENAME",
    "SEMANTIC",
    "SIDES",
    "THEIRS",
    "Conflict",
    "MergePlan",
    "Resolver",
    "SideEffects",
    "SideStep",
    "object_key",
    "plan_merge",
    "side_effects",
    "transform",
]


def transform(
    base: Schema,
    steps: Sequence[SideStep],
    other: SideEffects,
    other_schema: Schema,
    resolver: Resolver | None = None,
    other_steps: Sequence[SideStep] = (),
) -> tuple[list[Translated], list[Conflict], list[str], int]:
    """``steps`` (one side since the base) as operations that apply after the other side.

    Returns the operations (each with the event it came from), the conflicts found, the
    automatic resolutions made (renames carried into this side's SQL and operations) and how many
    operations were dropped as already made identically by the other side. ``resolver``: the
    sides a person chose for conflicting objects (see :mod:`journal._merge_resolve`).
    ``other_steps``: the other side's steps, whose data steps this side's are judged against.
    """
    replay = Replay(base, other, other_schema, SideNames(base), resolver=resolver or Resolver())
    replay.mine_final = apply(steps[-1].before, steps[-1].operation) if steps else base
    replay.mine = side_effects(base, steps)
    mine = data_uses(SideNames(base), steps)
    if mine:
        # The other side's data steps, which this side's data and schema steps are judged
        # against (journal._merge_data); identical ones on both sides are applied once.
        theirs_data = data_uses(SideNames(base), other_steps)
        replay.data_mine = mine
        replay.data_matched, replay.data_live = match_identical(list(theirs_data.values()), mine)
    elif other_steps:
        replay.data_live = list(data_uses(SideNames(base), other_steps).values())
    for position, step in enumerate(steps):
        replay.position = position
        if replay.kept and touches(step.operation, replay.kept):
            replay.skipped += 1  # on an object kept as the other side has it
            track_names(replay.names, step.operation)
            continue
        try:
            replay_step(replay, step)
        except Untranslatable as gone:
            op = step.operation
            if isinstance(op, DataMigrated):
                kind = DATA_DEPENDENCY
            elif gone.dependency or is_dependant(op):
                kind = DEPENDENCY
            else:
                kind = DROP_VS_CHANGE
            replay.conflict(
                kind,
                describe(op),
                f"{describe(op).capitalize()} ({op.type}) uses {gone.what}, which the other"
                " side dropped",
                step,
                key=gone.key,
                theirs=op.type,
                ours="dropped " + gone.what,
                taking=None if gone.dependency else _recreation(replay, step),
            )
        track_names(replay.names, step.operation)
    return replay.out, replay.conflicts, replay.resolutions, replay.skipped


def _recreation(replay: Replay, step: SideStep) -> Operation | None:
    """For a change to a column the other side dropped: the column re-added as this side has it
    after the change (None: not a column's change, or its table is gone too)."""
    op = step.operation
    match op:
        case ColumnAltered() | ColumnRenamed():
            try:
                table = replay.table(op.table)
            except Untranslatable:
                return None
            after = apply(step.before, op).table(op.table)
            name = op.new_name if isinstance(op, ColumnRenamed) else op.column
            column = None if after is None else after.column(name)
            return None if column is None else ColumnAdded(table=table, column=column)
        case (
            TableCreated()
            | TableDropped()
            | TableRenamed()
            | ColumnAdded()
            | ColumnDropped()
            | IndexCreated()
            | IndexDropped()
            | ViewCreated()
            | ViewReplaced()
            | ViewDropped()
            | TriggerCreated()
            | TriggerDropped()
            | DataMigrated()
        ):
            return None
        case _:
            assert_never(op)


def _fold(
    start: Schema, translated: list[Translated], other: SideEffects, resolver: Resolver
) -> tuple[list[Translated], Schema, list[Conflict]]:
    """Fold ``translated`` onto ``start``: the operations kept (resolutions applied), the
    schema reached, and the first conflict (an operation that does not apply there)."""
    merged = start
    kept: list[Translated] = []
    for step in translated:
        try:
            merged = apply(merged, step.operation)
            kept.append(step)
            continue
        except SchemaError as e:
            conflict = fold_conflict(e, step, other)
        side = resolver.side(conflict.object)
        if side == OURS:
            resolver.record(conflict.object, OURS)
            continue
        if side == THEIRS:
            try:
                operations = take(merged, step.operation)
                merged = apply_all(merged, operations)
            except SchemaError as e:
                conflict = attrs.evolve(
                    conflict,
                    message=f"{conflict.message}; it cannot be resolved as theirs: {e}",
                    sides=(OURS,),
                )
            else:
                kept += [Translated(op, step.event) for op in operations]
                resolver.record(conflict.object, THEIRS)
                continue
        return kept, merged, [conflict]
    return kept, merged, []


def plan_merge(
    base: Schema,
    ours: Sequence[SideStep],
    theirs: Sequence[SideStep],
    ours_schema: Schema,
    theirs_schema: Schema,
    *,
    check: Callable[[Schema, Sequence[Operation], Schema, Sequence[Operation]], list[Conflict]]
    | None = None,
    resolver: Resolver | None = None,
) -> tuple[MergePlan, list[Conflict]]:
    """Merge ``theirs`` into ``ours`` (both since ``base``): the plan, and the conflicts.

    The plan is only meaningful when the conflict list is empty. ``check`` is the semantic
    check (``journal.merge_check.semantic_check``); without it only steps 1-3 run.
    ``resolver`` carries the sides a person chose; a resolved plan is checked in SQLite like
    any other (a resolution that leaves a broken schema is a conflict).
    """
    resolver = resolver or Resolver()
    ours_effects = side_effects(base, ours)
    translated, conflicts, resolutions, skipped = transform(
        base, theirs, ours_effects, ours_schema, resolver, ours
    )
    merged = ours_schema
    if not conflicts:
        translated, merged, conflicts = _fold(ours_schema, translated, ours_effects, resolver)
    operations = [t.operation for t in translated]
    asked = list(resolver.asked)
    if not conflicts and check is not None:
        if resolver.given:
            # Resolved: the result is the one the person chose, reached from ours' side; the
            # other order is theirs' schema taken to that result. Both are built in SQLite.
            ours_on_theirs = [Translated(op, "") for op in diff_schemas(theirs_schema, merged)]
        else:
            theirs_effects = side_effects(base, theirs)
            # The other order checks the schema: ours' data steps have already run on ours'
            # tenants, and the rules above judged them against theirs' steps (left out, they
            # cannot raise the same conflict again with the sides swapped).
            schema_steps = [s for s in ours if not isinstance(s.operation, DataMigrated)]
            ours_on_theirs, reverse, _, _ = transform(
                base, schema_steps, theirs_effects, theirs_schema
            )
            conflicts.extend(reverse)
        if not conflicts:
            conflicts.extend(
                check(ours_schema, operations, theirs_schema, [t.operation for t in ours_on_theirs])
            )
    plan = MergePlan(
        tuple(operations),
        merged,
        tuple(resolutions),
        skipped,
        resolved=tuple(resolver.given),
        in_conflict=tuple(dict.fromkeys([*asked, *(c.object for c in conflicts)])),
    )
    return plan, conflicts
