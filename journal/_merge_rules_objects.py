"""The merge rules for indexes, views and triggers: how such an operation of the side being
replayed lands on the other side's schema, or which conflict it is (both sides defined it
differently, or one dropped what the other redefined)."""

from __future__ import annotations

from journal._merge_effects import object_of
from journal._merge_replay import Replay
from journal._merge_types import BOTH_CHANGED, DROP_VS_CHANGE, SideStep
from journal.definitions import IndexDef, TriggerDef, ViewDef
from journal.events import (
    IndexCreated,
    IndexDropped,
    TriggerCreated,
    TriggerDropped,
    ViewCreated,
    ViewDropped,
    ViewReplaced,
)
from journal.names import fold_name
from journal.schema import Schema
from journal.sqlrefs import canonical_sql, trigger_refs, view_refs


def _same_index(a: IndexDef, b: IndexDef) -> bool:
    return Schema.of(indexes=[a]).canonical() == Schema.of(indexes=[b]).canonical()


def _same_sql(a: str, b: str) -> bool:
    return canonical_sql(a) == canonical_sql(b)


def index_created(r: Replay, step: SideStep, op: IndexCreated) -> None:
    other = r.other
    index = op.index
    index_table = r.table(index.table)
    terms = tuple(
        term.model_copy(
            update={
                "column": None if term.column is None else r.column(index.table, term.column),
                "expr": r.expression(term.expr, index.table),
            }
        )
        for term in index.columns
    )
    moved = index.model_copy(
        update={
            "table": index_table,
            "columns": terms,
            "where": r.expression(index.where, index.table),
        }
    )
    if moved != index:
        r.resolved(f"index {index.name} follows the renamed table or column")
    key = fold_name(index.name)
    if ("index", key) in other.dropped and r.base.index(index.name) is not None:
        r.conflict(
            DROP_VS_CHANGE,
            f"index {index.name}",
            f"One side dropped index '{index.name}' while the other redefined it",
            step,
            ours="dropped",
            theirs="re-created",
            taking=IndexCreated(index=moved),
        )
        return
    if ("index", key) in other.created:
        mine_index = r.other_schema.index(index.name)
        if mine_index is not None and _same_index(mine_index, moved):
            r.skipped += 1
            return
        r.conflict(
            BOTH_CHANGED,
            f"index {index.name}",
            f"Both sides created index '{index.name}' with different definitions",
            step,
            taking=IndexCreated(index=moved),
        )
        return
    r.emit(step, IndexCreated(index=moved))


def object_dropped(
    r: Replay, step: SideStep, op: IndexDropped | ViewDropped | TriggerDropped
) -> None:
    other = r.other
    kind, name = object_of(op)
    key = fold_name(name)
    if (kind, key) in other.dropped:
        r.skipped += 1
        return
    if (kind, key) in other.created and defined(r.base, kind, name) is not None:
        # The other side dropped the base's object too, then defined it again.
        if defined(r.mine_final, kind, name) is not None:
            r.skipped += 1  # so does this side: its create is judged against the other's
            return
        r.conflict(
            DROP_VS_CHANGE,
            f"{kind} {name}",
            f"One side dropped {kind} '{name}' while the other redefined it",
            step,
            ours="re-created",
            theirs="dropped",
            taking=op,
        )
        return
    if kind == "view" and key in other.replaced:
        r.conflict(
            DROP_VS_CHANGE,
            f"view {name}",
            f"One side dropped view '{name}' while the other redefined it",
            step,
            ours="replaced",
            theirs="dropped",
            taking=op,
        )
        return
    r.emit(step, op)


def defined(schema: Schema, kind: str, name: str) -> IndexDef | ViewDef | TriggerDef | None:
    """The index, view or trigger ``name`` (``kind``) of ``schema``, or None."""
    find = {"index": schema.index, "view": schema.view, "trigger": schema.trigger}[kind]
    return find(name)


def moved_trigger(r: Replay, step: SideStep, op: TriggerCreated) -> TriggerCreated:
    """``op`` with its SQL and table in the other side's names."""
    trigger = op.trigger
    sql = r.sql(trigger.sql, trigger_refs(trigger.sql, step.before.columns_of))
    return TriggerCreated(
        trigger=trigger.model_copy(update={"sql": sql, "table": r.table(trigger.table)})
    )


def moved_view(r: Replay, step: SideStep, op: ViewCreated | ViewReplaced) -> ViewDef:
    """``op``'s view with its SQL in the other side's names."""
    view = op.view
    return ViewDef(name=view.name, sql=r.sql(view.sql, view_refs(view.sql, step.before.columns_of)))


def trigger_created(r: Replay, step: SideStep, op: TriggerCreated) -> None:
    trigger = op.trigger
    moved = moved_trigger(r, step, op)
    sql = moved.trigger.sql
    if sql != trigger.sql:
        r.resolved(f"trigger {trigger.name} rewritten for the renamed table or column")
    key = fold_name(trigger.name)
    if ("trigger", key) in r.other.dropped and r.base.trigger(trigger.name) is not None:
        r.conflict(
            DROP_VS_CHANGE,
            f"trigger {trigger.name}",
            f"One side dropped trigger '{trigger.name}' while the other redefined it",
            step,
            ours="dropped",
            theirs=sql,
            taking=moved,
        )
        return
    if ("trigger", key) in r.other.created:
        mine_trigger = r.other_schema.trigger(trigger.name)
        if mine_trigger is not None and _same_sql(mine_trigger.sql, sql):
            r.skipped += 1
            return
        r.conflict(
            BOTH_CHANGED,
            f"trigger {trigger.name}",
            f"Both sides created trigger '{trigger.name}' with different definitions",
            step,
            ours=mine_trigger.sql if mine_trigger else None,
            theirs=sql,
            taking=moved,
        )
        return
    r.emit(step, moved)


def view_defined(r: Replay, step: SideStep, op: ViewCreated | ViewReplaced) -> None:
    view = op.view
    moved = moved_view(r, step, op)
    sql = moved.sql
    if sql != view.sql:
        r.resolved(f"view {view.name} rewritten for the renamed table or column")
    key = fold_name(view.name)
    mine = r.other_schema.view(view.name)
    both = ("view", key) in r.other.created or (
        isinstance(op, ViewReplaced) and key in r.other.replaced
    )
    if both:
        if mine is not None and _same_sql(mine.sql, sql):
            r.skipped += 1
            return
        r.conflict(
            BOTH_CHANGED,
            f"view {view.name}",
            f"Both sides defined view '{view.name}' differently",
            step,
            ours=mine.sql if mine else None,
            theirs=sql,
            taking=type(op)(view=moved),
        )
        return
    if ("view", key) in r.other.dropped and r.base.view(view.name) is not None:
        r.conflict(
            DROP_VS_CHANGE,
            f"view {view.name}",
            f"One side dropped view '{view.name}' while the other redefined it",
            step,
            ours="dropped",
            theirs=sql,
            taking=type(op)(view=moved),
        )
        return
    r.emit(step, type(op)(view=moved))
