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
   :class:`Conflict`; where they did the same thing, it is applied once;
3. folds the translated operations onto ours' schema: an operation that does not apply there
   (a name already taken, a drop that would break something ours added) is a conflict too;
4. checks the result in SQLite (:func:`journal.merge_check.semantic_check`): base + ours +
   theirs and base + theirs + ours must both replay, compile every view and trigger, and give
   the same schema.

Nothing here does I/O except step 4's in-memory databases.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from journal._merge_effects import SideEffects, SideNames, side_effects, track_names
from journal._merge_replay import Replay, Untranslatable, describe, is_dependant
from journal._merge_rules import fold_conflict, replay_step
from journal._merge_types import (
    BOTH_CHANGED,
    DEPENDENCY,
    DROP_VS_CHANGE,
    NAME_COLLISION,
    RENAME_RENAME,
    SEMANTIC,
    Conflict,
    MergePlan,
    SideStep,
    Translated,
)
from journal.errors import SchemaError
from journal.events import Operation
from journal.fold import apply
from journal.schema import Schema

__all__ = [
    "BOTH_CHANGED",
    "DEPENDENCY",
    "DROP_VS_CHANGE",
    "NAME_COLLISION",
    "RENAME_RENAME",
    "SEMANTIC",
    "Conflict",
    "MergePlan",
    "SideEffects",
    "SideStep",
    "plan_merge",
    "side_effects",
    "transform",
]


def transform(
    base: Schema,
    steps: Sequence[SideStep],
    other: SideEffects,
    other_schema: Schema,
) -> tuple[list[Translated], list[Conflict], list[str], int]:
    """``steps`` (one side since the base) as operations that apply after the other side.

    Returns the operations (each with the event it came from), the conflicts found, the
    automatic resolutions made (renames carried into this side's SQL and operations) and how many
    operations were dropped as already made identically by the other side.
    """
    replay = Replay(base, other, other_schema, SideNames(base))
    for step in steps:
        try:
            replay_step(replay, step)
        except Untranslatable as gone:
            op = step.operation
            replay.conflict(
                DEPENDENCY if gone.dependency or is_dependant(op) else DROP_VS_CHANGE,
                describe(op),
                f"{describe(op).capitalize()} ({op.type}) uses {gone.what}, which the other"
                " side dropped",
                step,
                key=gone.key,
                theirs=op.type,
                ours="dropped " + gone.what,
            )
        track_names(replay.names, step.operation)
    return replay.out, replay.conflicts, replay.resolutions, replay.skipped


def plan_merge(
    base: Schema,
    ours: Sequence[SideStep],
    theirs: Sequence[SideStep],
    ours_schema: Schema,
    theirs_schema: Schema,
    *,
    check: Callable[[Schema, Sequence[Operation], Schema, Sequence[Operation]], list[Conflict]]
    | None = None,
) -> tuple[MergePlan, list[Conflict]]:
    """Merge ``theirs`` into ``ours`` (both since ``base``): the plan, and the conflicts.

    The plan is only meaningful when the conflict list is empty. ``check`` is the semantic
    check (``journal.merge_check.semantic_check``); without it only steps 1-3 run.
    """
    ours_effects = side_effects(base, ours)
    translated, conflicts, resolutions, skipped = transform(base, theirs, ours_effects, ours_schema)
    operations = [t.operation for t in translated]
    merged = ours_schema
    if not conflicts:
        for step in translated:
            try:
                merged = apply(merged, step.operation)
            except SchemaError as e:
                conflicts.append(fold_conflict(e, step, ours_effects))
                break
    if not conflicts and check is not None:
        theirs_effects = side_effects(base, theirs)
        ours_on_theirs, reverse, _, _ = transform(base, ours, theirs_effects, theirs_schema)
        conflicts.extend(reverse)
        if not conflicts:
            conflicts.extend(
                check(ours_schema, operations, theirs_schema, [t.operation for t in ours_on_theirs])
            )
    plan = MergePlan(tuple(operations), merged, tuple(resolutions), skipped)
    return plan, conflicts
