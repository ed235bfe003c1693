"""Three-way merge of schema changes: a plan of operations, or the list of conflicts.

Both sides are the operations each branch applied since the merge base, in order, each with
the event that made it and the schema just before it (the fold cache has those). The merge:

1. records what *ours* (the target) did to every object of the base, by identity: a table or
   column keeps its identity across renames (:class:`SideEffects`);
2. replays *theirs* (the source) onto ours, translating every name theirs uses for a base
   object into ours' name for it, and rewriting the SQL of theirs' views, indexes and triggers
   the same way SQLite rewrites dependants on a rename. Where the two sides did incompatible
   things to one object, that is a :class:`Conflict`; where they did the same thing, it is
   applied once;
3. folds the translated operations onto ours' schema: an operation that does not apply there
   (a name already taken, a drop that would break something ours added) is a conflict too;
4. checks the result in SQLite (:func:`journal.merge_check.semantic_check`): base + ours +
   theirs and base + theirs + ours must both replay, compile every view and trigger, and give
   the same schema.

Nothing here does I/O except step 4's in-memory databases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from journal.definitions import Column, ForeignKey, IndexDef, TableDef, ViewDef
from journal.errors import (
    DependencyError,
    ObjectExistsError,
    ObjectNotFoundError,
    SchemaError,
)
from journal.events import (
    ColumnAdded,
    ColumnAltered,
    ColumnDropped,
    ColumnRenamed,
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
from journal.names import fold_name, quote
from journal.schema import Schema
from journal.sqlrefs import (
    Ref,
    canonical_sql,
    expression_refs,
    rename_in_sql,
    trigger_refs,
    view_refs,
)

__all__ = ["Conflict", "MergePlan", "SideStep", "plan_merge", "transform"]

#: Conflict kinds.
BOTH_CHANGED = "both_changed"
DROP_VS_CHANGE = "drop_vs_change"
RENAME_RENAME = "rename_rename"
DEPENDENCY = "dependency"
NAME_COLLISION = "name_collision"
SEMANTIC = "semantic"


@attrs.frozen
class Conflict:
    """One reason a merge cannot be made automatically.

    ``object`` is "table users", "column users.email", "view adults"...; ``base``, ``ours``,
    ``theirs`` describe the object on each side (SQL or a short phrase; None: absent);
    ``events`` are the ids of the events involved.
    """

    kind: str
    object: str
    message: str
    base: str | None = None
    ours: str | None = None
    theirs: str | None = None
    events: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class SideStep:
    """One operation of a side: the event that made it and the schema just before it."""

    event: str
    before: Schema
    operation: Operation


@attrs.frozen
class MergePlan:
    """A clean merge: the operations that take ours' schema to the merged one."""

    operations: tuple[Operation, ...]
    schema: Schema
    resolutions: tuple[str, ...] = ()
    skipped: int = 0  # operations of theirs that ours already had (identical changes)


class _Gone:
    """Marks a base object the other side dropped."""

    def __repr__(self) -> str:
        return "GONE"


GONE = _Gone()
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
    """

    tables: dict[str, str | _Gone] = attrs.field(factory=dict)
    columns: dict[tuple[str, str], str | _Gone] = attrs.field(factory=dict)
    dropped: set[tuple[str, str]] = attrs.field(factory=set)
    altered: set[tuple[str, str]] = attrs.field(factory=set)
    replaced: set[str] = attrs.field(factory=set)
    created: set[tuple[str, str]] = attrs.field(factory=set)
    added_columns: set[tuple[str, str]] = attrs.field(factory=set)
    touched: set[str] = attrs.field(factory=set)
    events: dict[str, list[str]] = attrs.field(factory=dict)

    def note(self, key: str, event: str) -> None:
        self.events.setdefault(key, []).append(event)


class _Names:
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


def side_effects(base: Schema, steps: Sequence[SideStep]) -> SideEffects:
    """What ``steps`` (a side since the base) did to the base's objects."""
    effects = SideEffects()
    names = _Names(base)
    for step in steps:
        op, event = step.operation, step.event
        if isinstance(op, TableCreated):
            names.create_table(op.table)
            effects.created.add(("table", fold_name(op.table.name)))
            effects.note(f"table {fold_name(op.table.name)}", event)
        elif isinstance(op, TableDropped | TableRenamed):
            origin = names.table(op.table)
            if origin is not None:
                if isinstance(op, TableDropped):
                    effects.tables[origin] = GONE
                else:
                    effects.tables[origin] = op.new_name
                effects.touched.add(origin)
                effects.note(f"table {origin}", event)
            if isinstance(op, TableDropped):
                names.drop_table(op.table)
            else:
                names.rename_table(op.table, op.new_name)
        elif isinstance(op, ColumnAdded | ColumnDropped | ColumnRenamed | ColumnAltered):
            table = names.table(op.table)
            name = op.column.name if isinstance(op, ColumnAdded) else op.column
            if table is not None:
                effects.touched.add(table)
                effects.note(f"table {table}", event)
            if isinstance(op, ColumnAdded):
                names.columns[(fold_name(op.table), fold_name(name))] = _NEW
                if table is not None:
                    effects.added_columns.add((table, fold_name(name)))
                continue
            origin_column = names.column(op.table, name)
            if origin_column is not None:
                effects.note(f"column {origin_column[0]}.{origin_column[1]}", event)
                if isinstance(op, ColumnDropped):
                    effects.columns[origin_column] = GONE
                elif isinstance(op, ColumnRenamed):
                    effects.columns[origin_column] = op.new_name
                else:
                    effects.altered.add(origin_column)
            if isinstance(op, ColumnDropped):
                names.columns.pop((fold_name(op.table), fold_name(name)), None)
            elif isinstance(op, ColumnRenamed):
                value = names.columns.pop((fold_name(op.table), fold_name(name)), None)
                names.columns[(fold_name(op.table), fold_name(op.new_name))] = value
        else:
            kind, name = _object_of(op)
            key = fold_name(name)
            effects.note(f"{kind} {key}", event)
            if isinstance(op, IndexCreated | ViewCreated | TriggerCreated):
                effects.created.add((kind, key))
                effects.dropped.discard((kind, key))
            elif isinstance(op, ViewReplaced):
                if (kind, key) not in effects.created:
                    effects.replaced.add(key)
            elif (kind, key) in effects.created:
                effects.created.discard((kind, key))
            else:
                effects.dropped.add((kind, key))
            if isinstance(op, IndexCreated):
                origin = names.table(op.index.table)
                if origin is not None:
                    effects.touched.add(origin)
    return effects


def _object_of(op: Operation) -> tuple[str, str]:
    if isinstance(op, IndexCreated):
        return "index", op.index.name
    if isinstance(op, IndexDropped):
        return "index", op.index
    if isinstance(op, ViewCreated | ViewReplaced):
        return "view", op.view.name
    if isinstance(op, ViewDropped):
        return "view", op.view
    if isinstance(op, TriggerCreated):
        return "trigger", op.trigger.name
    if isinstance(op, TriggerDropped):
        return "trigger", op.trigger
    raise TypeError(op)


class _Untranslatable(Exception):
    """A name of the replayed side refers to a base object the other side dropped."""

    def __init__(self, what: str, key: str, *, dependency: bool = False) -> None:
        self.what = what
        self.key = key  # the object's key in SideEffects.events
        self.dependency = dependency  # found in SQL or a foreign key, not the object itself


@attrs.define
class _Replay:
    """Replaying one side's steps onto the other side's schema (see :func:`transform`)."""

    base: Schema
    other: SideEffects
    other_schema: Schema
    names: _Names
    conflicts: list[Conflict] = attrs.field(factory=list)
    resolutions: list[str] = attrs.field(factory=list)
    out: list[Operation] = attrs.field(factory=list)
    skipped: int = 0

    # -- translating names ---------------------------------------------------------------
    def table(self, name: str) -> str:
        origin = self.names.table(name)
        if origin is None or origin != fold_name(name):
            return name  # created or renamed by this side: the name stands
        final = self.other.tables.get(origin)
        if isinstance(final, _Gone):
            raise _Untranslatable(f"table '{name}'", f"table {origin}")
        if final is not None:
            return final
        base = self.base.table(origin)
        return base.name if base is not None else name

    def column(self, table: str, name: str) -> str:
        origin = self.names.column(table, name)
        if origin is None or origin[1] != fold_name(name):
            return name  # added or renamed by this side: the name stands
        final = self.other.columns.get(origin)
        if isinstance(final, _Gone):
            raise _Untranslatable(f"column '{table}.{name}'", f"column {origin[0]}.{origin[1]}")
        if final is not None:
            return final
        return name

    def sql(self, sql: str, refs: Iterable[Ref]) -> str:
        try:
            return self._sql(sql, refs)
        except _Untranslatable as gone:
            raise _Untranslatable(gone.what, gone.key, dependency=True) from None

    def _sql(self, sql: str, refs: Iterable[Ref]) -> str:
        def replacement(ref: Ref) -> str | None:
            if ref.column is None:
                new = self.table(ref.table)
                return None if new == ref.table else quote(new)
            new = self.column(ref.table, ref.column)
            return None if new == ref.column else quote(new)

        return rename_in_sql(sql, refs, replacement)

    def expression(self, text: str | None, table: str) -> str | None:
        if text is None:
            return None
        return self.sql(text, expression_refs(text, table))

    def foreign_key(self, fk: ForeignKey) -> ForeignKey:
        try:
            return self._foreign_key(fk)
        except _Untranslatable as gone:
            raise _Untranslatable(gone.what, gone.key, dependency=True) from None

    def _foreign_key(self, fk: ForeignKey) -> ForeignKey:
        table = fk.ref_table
        return fk.model_copy(
            update={
                "ref_table": self.table(table),
                "ref_columns": tuple(self.column(table, c) for c in fk.ref_columns),
            }
        )

    # -- reporting -----------------------------------------------------------------------
    def conflict(
        self,
        kind: str,
        what: str,
        message: str,
        step: SideStep,
        *,
        key: str | None = None,
        **sides: Any,
    ) -> None:
        kind_name = what.split(" ", 1)
        key = key or f"{kind_name[0]} {fold_name(kind_name[1])}"
        ours_events = self.other.events.get(key, [])
        self.conflicts.append(
            Conflict(
                kind=kind,
                object=what,
                message=message,
                events=(*ours_events, step.event),
                **sides,
            )
        )

    def resolved(self, text: str) -> None:
        if text not in self.resolutions:
            self.resolutions.append(text)


def transform(
    base: Schema,
    steps: Sequence[SideStep],
    other: SideEffects,
    other_schema: Schema,
) -> tuple[list[Operation], list[Conflict], list[str], int]:
    """``steps`` (one side since the base) as operations that apply after the other side.

    Returns the operations, the conflicts found, the automatic resolutions made (renames carried
    into this side's SQL and operations) and how many operations were dropped as already made
    identically by the other side.
    """
    replay = _Replay(base, other, other_schema, _Names(base))
    for step in steps:
        try:
            _replay_step(replay, step)
        except _Untranslatable as gone:
            op = step.operation
            replay.conflict(
                DEPENDENCY if gone.dependency or _is_dependant(op) else DROP_VS_CHANGE,
                _describe(op),
                f"{_describe(op).capitalize()} ({op.type}) uses {gone.what}, which the other"
                " side dropped",
                step,
                key=gone.key,
                theirs=op.type,
                ours="dropped " + gone.what,
            )
        _track(replay.names, step.operation)
    return replay.out, replay.conflicts, replay.resolutions, replay.skipped


def _is_dependant(op: Operation) -> bool:
    return isinstance(op, IndexCreated | ViewCreated | ViewReplaced | TriggerCreated)


def _describe(op: Operation) -> str:
    if isinstance(op, TableCreated):
        return f"table {op.table.name}"
    if isinstance(op, TableDropped | TableRenamed):
        return f"table {op.table}"
    if isinstance(op, ColumnAdded):
        return f"column {op.table}.{op.column.name}"
    if isinstance(op, ColumnDropped | ColumnRenamed | ColumnAltered):
        return f"column {op.table}.{op.column}"
    kind, name = _object_of(op)
    return f"{kind} {name}"


def _track(names: _Names, op: Operation) -> None:
    """Keep the replayed side's name map current after ``op``."""
    if isinstance(op, TableCreated):
        names.create_table(op.table)
    elif isinstance(op, TableDropped):
        names.drop_table(op.table)
    elif isinstance(op, TableRenamed):
        names.rename_table(op.table, op.new_name)
    elif isinstance(op, ColumnAdded):
        names.columns[(fold_name(op.table), fold_name(op.column.name))] = _NEW
    elif isinstance(op, ColumnDropped):
        names.columns.pop((fold_name(op.table), fold_name(op.column)), None)
    elif isinstance(op, ColumnRenamed):
        value = names.columns.pop((fold_name(op.table), fold_name(op.column)), None)
        names.columns[(fold_name(op.table), fold_name(op.new_name))] = value


def _same_table(a: TableDef, b: TableDef) -> bool:
    return Schema.of(tables=[a]).canonical() == Schema.of(tables=[b]).canonical()


def _same_index(a: IndexDef, b: IndexDef) -> bool:
    return Schema.of(indexes=[a]).canonical() == Schema.of(indexes=[b]).canonical()


def _same_sql(a: str, b: str) -> bool:
    return canonical_sql(a) == canonical_sql(b)


def _column_text(column: Column | None) -> str | None:
    if column is None:
        return None
    parts = [quote(column.name), column.type]
    if column.not_null:
        parts.append("NOT NULL")
    if column.default is not None:
        parts.append(f"DEFAULT {column.default}")
    return " ".join(p for p in parts if p)


def _replay_step(r: _Replay, step: SideStep) -> None:
    op = step.operation
    other = r.other
    if isinstance(op, TableCreated):
        key = fold_name(op.table.name)
        created = op.table.model_copy(
            update={"foreign_keys": tuple(r.foreign_key(fk) for fk in op.table.foreign_keys)}
        )
        if ("table", key) in other.created:
            mine_table = r.other_schema.table(op.table.name)
            if mine_table is not None and _same_table(mine_table, created):
                r.skipped += 1
                return
            r.conflict(
                BOTH_CHANGED,
                f"table {op.table.name}",
                f"Both sides created table '{op.table.name}' with different definitions",
                step,
                ours=_table_sql(mine_table),
                theirs=_table_sql(created),
            )
            return
        r.out.append(TableCreated(table=created))
    elif isinstance(op, TableDropped):
        origin = r.names.table(op.table)
        if origin is not None:
            final = other.tables.get(origin)
            if isinstance(final, _Gone):
                r.skipped += 1
                return
            if origin in other.touched:
                r.conflict(
                    DROP_VS_CHANGE,
                    f"table {op.table}",
                    f"One side dropped table '{op.table}' while the other changed it",
                    step,
                    base=_table_sql(r.base.table(origin)),
                    ours="changed",
                    theirs="dropped",
                )
                return
        r.out.append(TableDropped(table=r.table(op.table)))
    elif isinstance(op, TableRenamed):
        origin = r.names.table(op.table)
        if origin is not None:
            final = other.tables.get(origin)
            if isinstance(final, str):
                if fold_name(final) == fold_name(op.new_name):
                    r.skipped += 1
                    return
                r.conflict(
                    RENAME_RENAME,
                    f"table {op.table}",
                    f"Table '{op.table}' was renamed to '{final}' on one side and to"
                    f" '{op.new_name}' on the other",
                    step,
                    base=op.table,
                    ours=final,
                    theirs=op.new_name,
                )
                return
        r.out.append(TableRenamed(table=r.table(op.table), new_name=op.new_name))
    elif isinstance(op, ColumnAdded):
        table = r.table(op.table)
        origin = r.names.table(op.table)
        column_key = (origin or "", fold_name(op.column.name))
        if origin is not None and column_key in other.added_columns:
            mine_table = r.other_schema.table(table)
            mine = mine_table.column(op.column.name) if mine_table is not None else None
            if mine is not None and _column_text(mine) == _column_text(op.column):
                r.skipped += 1
                return
            r.conflict(
                BOTH_CHANGED,
                f"column {table}.{op.column.name}",
                f"Both sides added column '{op.column.name}' to table '{table}' with different"
                f" definitions ({_column_text(mine)} / {_column_text(op.column)})",
                step,
                ours=_column_text(mine),
                theirs=_column_text(op.column),
            )
            return
        references = op.references
        if references is not None:
            references = r.foreign_key(references)
        if table != op.table:
            r.resolved(f"column {op.table}.{op.column.name} added to '{table}' (renamed)")
        r.out.append(
            op.model_copy(
                update={
                    "table": table,
                    "references": references,
                    "check": r.expression(op.check, op.table),
                }
            )
        )
    elif isinstance(op, ColumnDropped | ColumnRenamed | ColumnAltered):
        _replay_column_change(r, step, op)
    elif isinstance(op, IndexCreated):
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
            )
            return
        r.out.append(IndexCreated(index=moved))
    elif isinstance(op, ViewCreated | ViewReplaced | TriggerCreated):
        _replay_sql_object(r, step, op)
    elif isinstance(op, IndexDropped | ViewDropped | TriggerDropped):
        kind, name = _object_of(op)
        key = fold_name(name)
        if (kind, key) in other.dropped:
            r.skipped += 1
            return
        if kind == "view" and key in other.replaced:
            r.conflict(
                DROP_VS_CHANGE,
                f"view {name}",
                f"One side dropped view '{name}' while the other redefined it",
                step,
                ours="replaced",
                theirs="dropped",
            )
            return
        r.out.append(op)


def _replay_column_change(
    r: _Replay, step: SideStep, op: ColumnDropped | ColumnRenamed | ColumnAltered
) -> None:
    other = r.other
    origin = r.names.column(op.table, op.column)
    what = f"column {op.table}.{op.column}"
    if origin is not None:
        final = other.columns.get(origin)
        if isinstance(op, ColumnDropped):
            if isinstance(final, _Gone):
                r.skipped += 1
                return
            if final is not None or origin in other.altered:
                r.conflict(
                    DROP_VS_CHANGE,
                    what,
                    f"One side dropped column '{op.table}.{op.column}' while the other"
                    f" {'renamed' if final is not None else 'altered'} it",
                    step,
                    ours="renamed to " + final if isinstance(final, str) else "altered",
                    theirs="dropped",
                )
                return
        elif isinstance(op, ColumnRenamed):
            if isinstance(final, str):
                if fold_name(final) == fold_name(op.new_name):
                    r.skipped += 1
                    return
                r.conflict(
                    RENAME_RENAME,
                    what,
                    f"Column '{op.table}.{op.column}' was renamed to '{final}' on one side and"
                    f" to '{op.new_name}' on the other",
                    step,
                    base=op.column,
                    ours=final,
                    theirs=op.new_name,
                )
                return
        elif origin in other.altered:
            table = r.table(op.table)
            mine_table = r.other_schema.table(table)
            mine = mine_table.column(r.column(op.table, op.column)) if mine_table else None
            theirs_table = apply(step.before, op).table(op.table)
            theirs = theirs_table.column(op.column) if theirs_table else None
            same = (
                mine is not None
                and theirs is not None
                and _column_text(mine.model_copy(update={"name": theirs.name}))
                == _column_text(theirs)
            )
            if same:
                r.skipped += 1
                return
            r.conflict(
                BOTH_CHANGED,
                what,
                f"Both sides altered column '{op.table}.{op.column}' differently"
                f" ({_column_text(mine)} / {_column_text(theirs)})",
                step,
                ours=_column_text(mine),
                theirs=_column_text(theirs),
            )
            return
    table = r.table(op.table)
    column = r.column(op.table, op.column)
    if (table, column) != (op.table, op.column):
        r.resolved(f"{what} follows the rename to '{table}.{column}'")
    r.out.append(op.model_copy(update={"table": table, "column": column}))


def _replay_sql_object(
    r: _Replay, step: SideStep, op: ViewCreated | ViewReplaced | TriggerCreated
) -> None:
    before = step.before
    if isinstance(op, TriggerCreated):
        trigger = op.trigger
        sql = r.sql(trigger.sql, trigger_refs(trigger.sql, before.columns_of))
        moved_trigger = trigger.model_copy(update={"sql": sql, "table": r.table(trigger.table)})
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
            )
            return
        r.out.append(TriggerCreated(trigger=moved_trigger))
        return
    view = op.view
    sql = r.sql(view.sql, view_refs(view.sql, before.columns_of))
    if sql != view.sql:
        r.resolved(f"view {view.name} rewritten for the renamed table or column")
    moved = ViewDef(name=view.name, sql=sql)
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
        )
        return
    r.out.append(type(op)(view=moved))


def _table_sql(table: TableDef | None) -> str | None:
    if table is None:
        return None
    from journal.ddl import render_create_table

    return render_create_table(table)


def fold_conflict(error: SchemaError, op: Operation, event: str) -> Conflict:
    """A translated operation that does not apply to the other side's schema."""
    if isinstance(error, ObjectExistsError):
        kind = NAME_COLLISION
    elif isinstance(error, DependencyError):
        kind = DEPENDENCY
    elif isinstance(error, ObjectNotFoundError):
        kind = DROP_VS_CHANGE
    else:
        kind = SEMANTIC
    return Conflict(
        kind=kind,
        object=_describe(op),
        message=f"{_describe(op).capitalize()} ({op.type}) does not apply after the other"
        f" side's changes: {error}",
        theirs=op.type,
        events=(event,),
    )


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
    operations, conflicts, resolutions, skipped = transform(base, theirs, ours_effects, ours_schema)
    merged = ours_schema
    if not conflicts:
        events = {id(op): step.event for op, step in zip(operations, theirs, strict=False)}
        for op in operations:
            try:
                merged = apply(merged, op)
            except SchemaError as e:
                conflicts.append(fold_conflict(e, op, events.get(id(op), "")))
                break
    if not conflicts and check is not None:
        theirs_effects = side_effects(base, theirs)
        ours_on_theirs, reverse, _, _ = transform(base, ours, theirs_effects, theirs_schema)
        conflicts.extend(reverse)
        if not conflicts:
            conflicts.extend(check(ours_schema, operations, theirs_schema, ours_on_theirs))
    plan = MergePlan(tuple(operations), merged, tuple(resolutions), skipped)
    return plan, conflicts
