"""Replaying one side's operations onto the other's schema: names translated, dependants'
SQL rewritten, identical changes dropped, incompatible ones reported as conflicts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from journal._merge_effects import SideEffects, _Gone, _Names, _object_of, _track
from journal._merge_types import (
    DEPENDENCY,
    DROP_VS_CHANGE,
    Conflict,
    SideStep,
    Translated,
)
from journal.definitions import ForeignKey
from journal.events import (
    ColumnAdded,
    ColumnAltered,
    ColumnDropped,
    ColumnRenamed,
    IndexCreated,
    Operation,
    TableCreated,
    TableDropped,
    TableRenamed,
    TriggerCreated,
    ViewCreated,
    ViewReplaced,
)
from journal.names import fold_name, quote
from journal.schema import Schema
from journal.sqlrefs import (
    Ref,
    expression_refs,
    rename_in_sql,
)


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
    out: list[Translated] = attrs.field(factory=list)
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

    def emit(self, step: SideStep, operation: Operation) -> None:
        """``operation`` (``step``'s, translated) applies to the other side."""
        self.out.append(Translated(operation, step.event))

    def resolved(self, text: str) -> None:
        if text not in self.resolutions:
            self.resolutions.append(text)


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
    from journal._merge_rules import _replay_step  # the rules build on this module

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
