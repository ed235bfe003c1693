"""The state of replaying one side's operations onto the other's schema: names translated,
dependants' SQL rewritten, conflicts and resolutions reported. The rules
(:mod:`journal._merge_rules`) use it; the driver (:func:`journal.merge.transform`) runs them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs
from typing_extensions import assert_never  # typing has it from 3.11; we support 3.10

from journal._merge_data import DataUse, target_of
from journal._merge_effects import Gone, SideEffects, SideNames, object_of
from journal._merge_resolve import take
from journal._merge_types import (
    OURS,
    SIDES,
    THEIRS,
    Conflict,
    Resolver,
    SideStep,
    Translated,
    object_key,
)
from journal.definitions import ForeignKey
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
from journal.fold import apply_all
from journal.names import fold_name, quote
from journal.schema import Schema
from journal.sqlrefs import (
    Ref,
    expression_refs,
    rename_in_sql,
)


class Untranslatable(Exception):
    """A name of the replayed side refers to a base object the other side dropped."""

    def __init__(self, what: str, key: str, *, dependency: bool = False) -> None:
        self.what = what
        self.key = key  # the object's key in SideEffects.events
        self.dependency = dependency  # found in SQL or a foreign key, not the object itself


@attrs.define
class Replay:
    """Replaying one side's steps onto the other side's schema (see :func:`transform`)."""

    base: Schema
    other: SideEffects
    other_schema: Schema
    names: SideNames
    conflicts: list[Conflict] = attrs.field(factory=list)
    resolutions: list[str] = attrs.field(factory=list)
    out: list[Translated] = attrs.field(factory=list)
    skipped: int = 0
    resolver: Resolver = attrs.field(factory=Resolver)
    #: Objects (keys) kept as the other side has them: this side's operations on them are
    #: left out.
    kept: set[str] = attrs.field(factory=set)
    #: This side's names for tables and columns whose rename was left out: the other side's.
    aliases: dict[str, str] = attrs.field(factory=dict)
    #: The other side's data steps that no data step of this side repeats identically
    #: (journal._merge_data), and the positions of this side's steps that repeat one.
    data_live: list[DataUse] = attrs.field(factory=list)
    data_matched: set[int] = attrs.field(factory=set)
    #: This side's data steps by position, and the position of the step being replayed.
    data_mine: dict[int, DataUse] = attrs.field(factory=dict)
    position: int = 0
    #: This side's schema after its last step: whether an object it drops is back by then.
    mine_final: Schema = attrs.field(factory=Schema)
    #: What this side did to the base's objects in all (where a chain of renames ends).
    mine: SideEffects = attrs.field(factory=SideEffects)

    # -- translating names ---------------------------------------------------------------
    def table(self, name: str) -> str:
        alias = self.aliases.get(fold_name(name))
        if alias is not None:
            return alias
        origin = self.names.table(name)
        if origin is None or origin != fold_name(name):
            return name  # created or renamed by this side: the name stands
        final = self.other.tables.get(origin)
        if isinstance(final, Gone):
            raise Untranslatable(f"table '{name}'", f"table {origin}")
        if final is not None:
            return final
        base = self.base.table(origin)
        return base.name if base is not None else name

    def column(self, table: str, name: str) -> str:
        alias = self.aliases.get(f"{fold_name(table)}.{fold_name(name)}")
        if alias is not None:
            return alias
        origin = self.names.column(table, name)
        if origin is None or origin[1] != fold_name(name):
            return name  # added or renamed by this side: the name stands
        final = self.other.columns.get(origin)
        if isinstance(final, Gone):
            raise Untranslatable(f"column '{table}.{name}'", f"column {origin[0]}.{origin[1]}")
        if final is not None:
            return final
        return name

    def sql(self, sql: str, refs: Iterable[Ref]) -> str:
        try:
            return self._sql(sql, refs)
        except Untranslatable as gone:
            raise Untranslatable(gone.what, gone.key, dependency=True) from None

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
        except Untranslatable as gone:
            raise Untranslatable(gone.what, gone.key, dependency=True) from None

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
        taking: Operation | None = None,
        cite: Sequence[str] | None = None,
        **sides: Any,
    ) -> None:
        """Report a conflict over object ``what``, or resolve it as the person chose.

        ``taking`` is this side's operation, translated, that defines its version of the
        object (None: this side's version cannot be taken, only left out). ``cite``: the
        other side's events to name (default: those on the object ``key``)."""
        side = self.resolver.side(what)
        if side == OURS:
            self.keep_other(what, step)
            return
        if side == THEIRS:
            if taking is None:
                message += "; it cannot be resolved as theirs"
            else:
                try:
                    current = apply_all(self.other_schema, [t.operation for t in self.out])
                    operations = take(current, taking)
                except SchemaError as e:
                    message += f"; it cannot be resolved as theirs: {e}"
                else:
                    self.out += [Translated(op, step.event) for op in operations]
                    self.resolver.record(what, THEIRS)
                    return
        kind_name = what.split(" ", 1)
        key = key or f"{kind_name[0]} {fold_name(kind_name[1])}"
        ours_events = self.other.events.get(key, []) if cite is None else cite
        self.conflicts.append(
            Conflict(
                kind=kind,
                object=what,
                message=message,
                events=(*ours_events, step.event),
                sides=SIDES if taking is not None else (OURS,),
                **sides,
            )
        )

    def keep_other(self, what: str, step: SideStep) -> None:
        """Leave this side's operations on ``what`` out, those already emitted included."""
        op = step.operation
        keys = {object_key(what), object_key(describe(op))}
        self.kept |= keys
        self.out = [t for t in self.out if object_key(describe(t.operation)) not in keys]
        match op:
            case TableRenamed():
                table = self.names.table(op.table)
                final = None if table is None else self.other.tables.get(table)
                if isinstance(final, str):
                    self.aliases[fold_name(op.new_name)] = final
            case ColumnRenamed():
                column = self.names.column(op.table, op.column)
                final = None if column is None else self.other.columns.get(column)
                if isinstance(final, str):
                    self.aliases[f"{fold_name(op.table)}.{fold_name(op.new_name)}"] = final
            case _:
                pass  # only renames leave names behind
        self.resolver.record(what, OURS)

    def emit(self, step: SideStep, operation: Operation) -> None:
        """``operation`` (``step``'s, translated) applies to the other side."""
        self.out.append(Translated(operation, step.event))

    def resolved(self, text: str) -> None:
        if text not in self.resolutions:
            self.resolutions.append(text)


def is_dependant(op: Operation) -> bool:
    """Whether ``op`` defines an object that depends on others (through its SQL or columns)."""
    match op:
        case IndexCreated() | ViewCreated() | ViewReplaced() | TriggerCreated() | DataMigrated():
            return True
        case (
            TableCreated()
            | TableDropped()
            | TableRenamed()
            | ColumnAdded()
            | ColumnDropped()
            | ColumnRenamed()
            | ColumnAltered()
            | IndexDropped()
            | ViewDropped()
            | TriggerDropped()
        ):
            return False
        case _:
            assert_never(op)


def describe(op: Operation) -> str:
    """The object ``op`` is about, as conflicts name it: "table users", "column users.email"."""
    match op:
        case TableCreated():
            return f"table {op.table.name}"
        case TableDropped() | TableRenamed():
            return f"table {op.table}"
        case ColumnAdded():
            return f"column {op.table}.{op.column.name}"
        case ColumnDropped() | ColumnRenamed() | ColumnAltered():
            return f"column {op.table}.{op.column}"
        case (
            IndexCreated()
            | IndexDropped()
            | ViewCreated()
            | ViewReplaced()
            | ViewDropped()
            | TriggerCreated()
            | TriggerDropped()
        ):
            kind, name = object_of(op)
            return f"{kind} {name}"
        case DataMigrated():
            return f"data {target_of(op.sql)}"  # the rows of the table the step writes
        case _:
            assert_never(op)
