"""Data steps in a merge: what each one reads and writes, by base identity, and its rules.

A data step (``DataMigrated``: one INSERT, UPDATE or DELETE) changes rows, not the schema, so
none of the object rules fits it. What it depends on is found with the reference finder the
merge uses for views and triggers (:func:`journal.sqlrefs.data_step_refs`), and the rules are:

- a data step on one side and, on the other, a drop, rename or alteration of a table or
  column it names (or an added or dropped column of the table an ``INSERT`` without a column
  list fills, or of a table it reads with ``*``) is a ``data_dependency`` conflict: the
  statement was written against the schema before that change, and the two orders would not
  give the same rows (or one would not run);
- data steps on both sides conflict when one writes a table the other reads or writes,
  unless they are identical (the same statement up to formatting): identical steps are applied
  once, as identical schema changes are;
- otherwise a data step of the replayed side lands after the other side's changes, in its
  side's order, so after the schema steps of its own side it depends on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import attrs
from typing_extensions import assert_never

from journal._lazy import lazy_module
from journal._merge_effects import Gone, SideEffects, SideNames, track_names
from journal._merge_types import SideStep
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
from journal.sqlrefs import Ref, canonical_sql, data_step_refs, parse_query_or_dml

if TYPE_CHECKING:
    from sqlglot import expressions as exp
else:  # sqlglot loads on the first SQL text read (start-up time, journal._lazy)
    exp = lazy_module("sqlglot.expressions")


@attrs.frozen
class DataUse:
    """What one data step of a side names, by base identity (folded base names; a table the
    side created is ``+name``), at the point of the side's history where it ran."""

    event: str
    sql: str
    key: str  # canonical SQL: identical steps have equal keys
    target: str  # the written table, as the statement names it
    writes: str  # identity of the written table
    tables: frozenset[str]  # identities of every table read or written
    columns: frozenset[tuple[str, str]]  # base columns named
    shape: frozenset[str]  # base tables whose whole list of columns the statement relies on
    refs: tuple[Ref, ...]
    #: identity -> the name the statement uses ("users", "users.age"), for messages.
    spelled: tuple[tuple[str, str], ...] = ()

    def name(self, identity: str) -> str:
        return dict(self.spelled).get(identity, identity)


def identity(names: SideNames, table: str) -> str:
    """A table's identity on a side: its base name (folded), or ``+name`` when created there."""
    origin = names.table(table)
    return origin if origin is not None else "+" + fold_name(table)


def target_of(sql: str) -> str:
    """The table a data step writes, as the statement names it."""
    tree = parse_query_or_dml(sql)
    target = tree.this if isinstance(tree, (exp.Insert, exp.Update, exp.Delete)) else None
    if isinstance(target, exp.Schema):
        target = target.this
    if isinstance(target, exp.Table) and isinstance(target.this, exp.Identifier):
        return str(target.this.this)
    raise ValueError(f"not a data step: {sql}")


def data_use(names: SideNames, step: SideStep, op: DataMigrated) -> DataUse:
    """What ``op`` (``step``'s) names, with the side's names as they stand before it."""
    refs = tuple(data_step_refs(op.sql, step.before.columns_of))
    tree = parse_query_or_dml(op.sql)
    target = target_of(op.sql)
    tables = {identity(names, ref.table) for ref in refs} | {identity(names, target)}
    columns = {
        origin
        for ref in refs
        if ref.column is not None and (origin := names.column(ref.table, ref.column)) is not None
    }
    spelled = {identity(names, target): target}
    for ref in refs:
        if ref.column is None:
            spelled.setdefault(identity(names, ref.table), ref.table)
        elif (origin := names.column(ref.table, ref.column)) is not None:
            spelled.setdefault(f"{origin[0]}.{origin[1]}", f"{ref.table}.{ref.column}")
    shape: set[str] = set()
    if isinstance(tree, exp.Insert) and not isinstance(tree.this, exp.Schema):
        shape.add(identity(names, target))  # INSERT INTO t VALUES (...): every column, in order
    if any(True for _ in tree.find_all(exp.Star)):
        shape |= tables  # a * reads whatever columns the tables have
    return DataUse(
        event=step.event,
        sql=op.sql,
        key=canonical_sql(op.sql),
        target=target,
        writes=identity(names, target),
        tables=frozenset(tables),
        columns=frozenset(columns),
        shape=frozenset(t for t in shape if not t.startswith("+")),
        refs=refs,
        spelled=tuple(spelled.items()),
    )


def data_uses(base_names: SideNames, steps: Iterable[SideStep]) -> dict[int, DataUse]:
    """The data steps of ``steps`` (a side since the base), by position in ``steps``."""
    names = base_names
    uses: dict[int, DataUse] = {}
    for position, step in enumerate(steps):
        if isinstance(step.operation, DataMigrated):
            uses[position] = data_use(names, step, step.operation)
        track_names(names, step.operation)
    return uses


def match_identical(
    other: Sequence[DataUse], mine: dict[int, DataUse]
) -> tuple[set[int], list[DataUse]]:
    """Pair each of this side's data steps with an identical one of the other side, in order.

    Returns this side's matched positions (applied once: left out) and the other side's
    unmatched data steps (the ones this side's data steps can clash with)."""
    left = list(other)
    matched: set[int] = set()
    for position, use in sorted(mine.items()):
        for n, candidate in enumerate(left):
            if candidate.key == use.key and candidate.writes == use.writes:
                matched.add(position)
                del left[n]
                break
    return matched, left


def overlaps(a: DataUse, b: DataUse) -> bool:
    """Whether the order of two data steps can matter: one writes a table the other names."""
    return a.writes in b.tables or b.writes in a.tables


@attrs.frozen
class Change:
    """The other side's change to something a data step names."""

    key: str  # the object's key in SideEffects.events
    what: str  # "column 'users.age'", as the data step names it
    did: str  # "dropped", "renamed", "altered", "reshaped" (columns added or dropped)
    new_name: str | None = None
    spelled: str = ""  # the table ("users") or column ("users.age") as the step names it

    def done(self) -> str:
        """What the other side did, for a conflict's side: "dropped column 'users.age'"."""
        if self.did == "renamed":
            return f"renamed {self.what} to '{self.new_name}'"
        if self.did == "reshaped":
            return f"added or dropped columns of {self.what}"
        return f"{self.did} {self.what}"

    def sentence(self, text: str) -> str:
        """The conflict's message for data step ``text`` (its first characters)."""
        if self.did == "reshaped":
            return (
                f"Data step '{text}' relies on every column of {self.what}, which the other side"
                " added to or dropped from: the step's values no longer match the table's columns"
            )
        did = f"renamed to '{self.new_name}'" if self.did == "renamed" else self.did
        why = {
            "dropped": "the step cannot run after the drop",
            "renamed": "the step was written for the old name",
            "altered": "the new definition may refuse or change the values the step writes",
        }[self.did]
        return f"Data step '{text}' uses {self.what}, which the other side {did}: {why}"


def changes_under(other: SideEffects, use: DataUse) -> list[Change]:
    """What ``other`` dropped, renamed or altered among what ``use`` names."""
    found: list[Change] = []
    for table in sorted(use.tables):
        final = other.tables.get(table)
        if final is not None:
            spelled = use.name(table)
            what = f"table '{spelled}'"
            if isinstance(final, Gone):
                found.append(Change(f"table {table}", what, "dropped", spelled=spelled))
            else:
                found.append(Change(f"table {table}", what, "renamed", final, spelled))
    for table, column in sorted(use.columns):
        if other.tables.get(table) is not None:
            continue  # reported for the table
        final = other.columns.get((table, column))
        spelled = use.name(f"{table}.{column}")
        what = f"column '{spelled}'"
        key = f"column {table}.{column}"
        if isinstance(final, Gone):
            found.append(Change(key, what, "dropped", spelled=spelled))
        elif final is not None:
            found.append(Change(key, what, "renamed", final, spelled))
        elif (table, column) in other.altered:
            found.append(Change(key, what, "altered", spelled=spelled))
    for table in sorted(use.shape):
        if other.tables.get(table) is not None:
            continue  # reported for the table
        reshaped = any(t == table for t, _ in other.added_columns) or any(
            t == table and isinstance(final, Gone) for (t, _), final in other.columns.items()
        )
        if reshaped:
            spelled = use.name(table)
            found.append(
                Change(f"table {table}", f"table '{spelled}'", "reshaped", spelled=spelled)
            )
    return found


def users_of(live: Sequence[DataUse], names: SideNames, op: Operation) -> list[DataUse]:
    """The data steps of ``live`` (the other side's) that name what schema step ``op`` of the
    replayed side drops, renames or alters (``names``: the replayed side's, before ``op``)."""
    match op:
        case TableDropped() | TableRenamed():
            table = names.table(op.table)
            return [u for u in live if table is not None and table in u.tables]
        case ColumnDropped() | ColumnRenamed() | ColumnAltered():
            column = names.column(op.table, op.column)
            table = names.table(op.table)
            reshapes = isinstance(op, ColumnDropped)
            return [
                u
                for u in live
                if (column is not None and column in u.columns)
                or (reshapes and table is not None and table in u.shape)
            ]
        case ColumnAdded():
            table = names.table(op.table)
            return [u for u in live if table is not None and table in u.shape]
        case (
            TableCreated()
            | IndexCreated()
            | IndexDropped()
            | ViewCreated()
            | ViewReplaced()
            | ViewDropped()
            | TriggerCreated()
            | TriggerDropped()
            | DataMigrated()
        ):
            return []
        case _:
            assert_never(op)
