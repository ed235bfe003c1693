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
- a view a data step reads counts as what it names: the other side dropping or redefining it
  is a ``data_dependency`` conflict, and the tables under the view are tables the step reads;
- a trigger the other side created or dropped on the table a data step writes is a
  ``data_dependency`` conflict: the trigger fires for the step in one order only;
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
from journal.schema import Schema
from journal.sqlrefs import Ref, canonical_sql, data_step_refs, parse_query_or_dml, view_refs

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
    views: frozenset[str] = frozenset()  # views read (folded names), through other views too
    #: identity -> the name the statement uses ("users", "users.age"), for messages.
    spelled: tuple[tuple[str, str], ...] = ()

    def name(self, identity: str) -> str:
        return dict(self.spelled).get(identity, identity)


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
    views, read = views_read(step.before, refs)
    tables = {names.identity(table) for table in read} | {names.identity(target)}
    columns = {
        origin
        for ref in refs
        if ref.column is not None and (origin := names.column(ref.table, ref.column)) is not None
    }
    spelled = {names.identity(target): target}
    for ref in refs:
        if ref.column is None:
            spelled.setdefault(names.identity(ref.table), ref.table)
        elif (origin := names.column(ref.table, ref.column)) is not None:
            spelled.setdefault(f"{origin[0]}.{origin[1]}", f"{ref.table}.{ref.column}")
    shape: set[str] = set()
    if isinstance(tree, exp.Insert) and not isinstance(tree.this, exp.Schema):
        shape.add(names.identity(target))  # INSERT INTO t VALUES (...): every column, in order
    if any(True for _ in tree.find_all(exp.Star)):
        shape |= tables  # a * reads whatever columns the tables have
    return DataUse(
        event=step.event,
        sql=op.sql,
        key=canonical_sql(op.sql),
        target=target,
        writes=names.identity(target),
        tables=frozenset(tables),
        columns=frozenset(columns),
        shape=frozenset(t for t in shape if not t.startswith("+")),
        refs=refs,
        views=frozenset(views),
        spelled=tuple(spelled.items()),
    )


def views_read(before: Schema, refs: Iterable[Ref]) -> tuple[set[str], set[str]]:
    """The views among ``refs`` (folded names), with the views they read in turn, and the
    tables ``refs`` name, those views' tables included, in ``before``."""
    views: set[str] = set()
    tables: set[str] = set()
    pending = [ref.table for ref in refs]
    while pending:  # bounded: each view is expanded once
        name = pending.pop()
        view = before.view(name)
        if view is None:
            tables.add(name)
        elif fold_name(name) not in views:
            views.add(fold_name(name))
            pending.extend(ref.table for ref in view_refs(view.sql, before.columns_of))
    return views, tables


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
        if self.key.startswith("trigger "):
            return f"{self.did} {self.what} on table '{self.spelled}'"
        if self.did == "renamed":
            return f"renamed {self.what} to '{self.new_name}'"
        if self.did == "reshaped":
            return f"added or dropped columns of {self.what}"
        return f"{self.did} {self.what}"

    def sentence(self, text: str) -> str:
        """The conflict's message for data step ``text`` (its first characters)."""
        if self.key.startswith("trigger "):
            return (
                f"Data step '{text}' writes table '{self.spelled}', on which the other side"
                f" {self.did} {self.what}: the trigger fires for the step in one order only"
            )
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
            "redefined": "the step read the old definition",
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
    for view in sorted(use.views):
        what = f"view '{view}'"
        if ("view", view) in other.dropped:
            found.append(Change(f"view {view}", what, "dropped", spelled=view))
        elif view in other.replaced or ("view", view) in other.created:
            found.append(Change(f"view {view}", what, "redefined", spelled=view))
    for trigger, table in sorted(other.trigger_tables.items()):
        if table != use.writes:
            continue
        if ("trigger", trigger) in other.created:
            did = "created"
        elif ("trigger", trigger) in other.dropped:
            did = "dropped"
        else:
            continue  # created and dropped again: no trigger fires in either order
        found.append(Change(f"trigger {trigger}", f"trigger '{trigger}'", did, spelled=use.target))
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


def users_of(
    live: Sequence[DataUse], names: SideNames, before: Schema, op: Operation
) -> list[DataUse]:
    """The data steps of ``live`` (the other side's) that name what schema step ``op`` of the
    replayed side drops, renames or alters, or that write the table of a trigger it creates or
    drops (``names`` and ``before``: the replayed side's, before ``op``)."""
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
        case ViewCreated() | ViewReplaced():
            return [u for u in live if fold_name(op.view.name) in u.views]
        case ViewDropped():
            return [u for u in live if fold_name(op.view) in u.views]
        case TriggerCreated():
            return [u for u in live if u.writes == names.identity(op.trigger.table)]
        case TriggerDropped():
            dropped = before.trigger(op.trigger)
            if dropped is None:
                return []
            return [u for u in live if u.writes == names.identity(dropped.table)]
        case TableCreated() | IndexCreated() | IndexDropped() | DataMigrated():
            return []
        case _:
            assert_never(op)
