"""Schema A vs schema B: the operations that turn A into B.

A pure comparison of two schema values by name, so a rename shows as a drop and a create (the
journal, not the diff, knows identities: ``log`` shows renames). Column-level differences
become ``ColumnAdded`` / ``ColumnDropped`` / ``ColumnAltered``; a table whose keys, constraints
or options differ in a way no column operation expresses is dropped and created again.
Applying the result to A gives B up to the order of columns. :func:`lint` flags what in such a
list can lose data or fail on existing rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

import attrs
from typing_extensions import assert_never

from journal.definitions import ColumnDef, IndexDef, TableDef, TriggerDef, ViewDef
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
from journal.fold import apply_all
from journal.names import fold_name
from journal.schema import Schema
from journal.sqlrefs import canonical_sql, identifiers

__all__ = ["Finding", "diff_schemas", "lint"]


class _Named(Protocol):
    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=_Named)


def _keys(items: Sequence[T]) -> dict[str, T]:
    return {fold_name(item.name): item for item in items}


def _column_change(table: str, a: ColumnDef, b: ColumnDef) -> ColumnAltered | None:
    if a.collate != b.collate or a.generated != b.generated or a.stored != b.stored:
        return None  # not expressible as an alteration
    new_type = (
        b.type if " ".join(a.type.upper().split()) != " ".join(b.type.upper().split()) else None
    )
    not_null = b.not_null if a.not_null != b.not_null else None
    default_changed = (a.default or None) != (b.default or None)
    if new_type is None and not_null is None and not default_changed:
        return None
    return ColumnAltered(
        table=table,
        column=a.name,
        new_type=new_type,
        not_null=not_null,
        default=b.default if default_changed and b.default is not None else None,
        drop_default=default_changed and b.default is None,
    )


def _table_shape(table: TableDef) -> dict[str, object]:
    """What must match for a table to be changed column by column rather than re-created."""
    shape = Schema.of(tables=[table]).canonical()["tables"][0]
    return {k: v for k, v in shape.items() if k not in ("columns", "uniques", "foreign_keys",
                                                       "checks", "name")}  # fmt: skip


def _table_operations(a: TableDef, b: TableDef) -> list[Operation] | None:
    """Column operations from ``a`` to ``b``; None when only re-creating the table will do."""
    if _table_shape(a) != _table_shape(b):
        return None
    ops: list[Operation] = []
    a_cols = {fold_name(c.name): c for c in a.columns}
    b_cols = {fold_name(c.name): c for c in b.columns}
    for key, column in a_cols.items():
        if key not in b_cols:
            ops.append(ColumnDropped(table=a.name, column=column.name))
    for key, column in b_cols.items():
        if key in a_cols:
            if a_cols[key] != column:
                change = _column_change(a.name, a_cols[key], column)
                if change is None:
                    return None
                ops.append(change)
            continue
        unique = any(len(u.columns) == 1 and fold_name(u.columns[0]) == key for u in b.uniques)
        fk = next(
            (f for f in b.foreign_keys if len(f.columns) == 1 and fold_name(f.columns[0]) == key),
            None,
        )
        ops.append(ColumnAdded(table=a.name, column=column, unique=unique, references=fk))
    try:
        trial = apply_all(Schema.of(tables=[a]), ops)
    except ValueError:
        return None
    after = trial.table(a.name)
    if after is None or _unordered(after) != _unordered(b):
        return None
    return ops


def _unordered(table: TableDef) -> object:
    shape = Schema.of(tables=[table]).canonical()["tables"][0]
    shape["columns"] = sorted(shape["columns"], key=lambda c: str(c["name"]))
    for key in ("uniques", "foreign_keys", "checks"):
        if isinstance(shape.get(key), list):
            shape[key] = sorted(shape[key], key=repr)
    return shape


def _same_index(x: IndexDef, y: IndexDef) -> bool:
    return Schema.of(indexes=[x]).canonical() == Schema.of(indexes=[y]).canonical()


def _same_sql(x: ViewDef | TriggerDef, y: ViewDef | TriggerDef) -> bool:
    return canonical_sql(x.sql) == canonical_sql(y.sql)


def _removed_or_changed(
    old: dict[str, T], new: dict[str, T], same: Callable[[T, T], bool]
) -> list[str]:
    return [key for key, item in old.items() if key not in new or not same(item, new[key])]


def _fk_order(tables: dict[str, TableDef], keys: set[str]) -> list[str]:
    """``keys`` ordered so that a table comes after the tables its foreign keys point at."""
    ordered: list[str] = []
    seen: set[str] = set()

    def visit(key: str, path: frozenset[str]) -> None:
        if key in seen or key in path:
            return
        for fk in tables[key].foreign_keys:
            parent = fold_name(fk.ref_table)
            if parent in keys and parent != key:
                visit(parent, path | {key})
        seen.add(key)
        ordered.append(key)

    for key in tables:
        if key in keys:
            visit(key, frozenset())
    return ordered


def _keeps_reference(a: TableDef, b: TableDef, targets: set[str]) -> bool:
    """Whether the table has a foreign key to one of ``targets`` before and after."""
    before = {fold_name(fk.ref_table) for fk in a.foreign_keys}
    return bool(before & targets & {fold_name(fk.ref_table) for fk in b.foreign_keys})


def diff_schemas(a: Schema, b: Schema) -> list[Operation]:
    """Operations that take ``a`` to ``b``: drops of dependants first, then dropped tables and
    dropped columns (children before parents), new tables and the other column changes (parents
    first), and the dependants that are new, changed, or had to go while a table they read
    changed."""
    a_tables, b_tables = _keys(a.tables), _keys(b.tables)
    a_views, b_views = _keys(a.views), _keys(b.views)
    a_index, b_index = _keys(a.indexes), _keys(b.indexes)
    a_trig, b_trig = _keys(a.triggers), _keys(b.triggers)

    column_ops: dict[str, list[Operation]] = {}
    recreated: set[str] = set()
    for key, table in b_tables.items():
        if key in a_tables and a_tables[key] != table:
            found = _table_operations(a_tables[key], table)
            if found is None:
                recreated.add(key)
            else:
                column_ops[key] = found
    # A table re-created is dropped first, which SQLite refuses while another table's foreign
    # key points at it; a table that keeps such a foreign key is re-created around it too.
    while more := {
        key
        for key, table in a_tables.items()
        if key in b_tables
        and key not in recreated
        and _keeps_reference(table, b_tables[key], recreated)
    }:
        recreated |= more
        for key in more:
            column_ops.pop(key, None)
    dropped = {k for k in a_tables if k not in b_tables} | recreated
    # Tables whose columns change: what reads them is re-created around the change.
    unsettled = dropped | set(column_ops)

    def reads_unsettled(sql: str, leaving: set[str]) -> bool:
        return bool(identifiers(sql) & (unsettled | leaving))

    views: set[str] = {k for k, v in a_views.items() if k not in b_views
                       or not _same_sql(v, b_views[k])}  # fmt: skip
    while True:  # views over views: a fixpoint
        more = {k for k, v in a_views.items() if k not in views and reads_unsettled(v.sql, views)}
        if not more:
            break
        views |= more
    triggers = set(_removed_or_changed(a_trig, b_trig, _same_sql))
    triggers |= {k for k, t in a_trig.items()
                 if fold_name(t.table) in unsettled or reads_unsettled(t.sql, views)}  # fmt: skip
    indexes = set(_removed_or_changed(a_index, b_index, _same_index))
    indexes |= {k for k, i in a_index.items() if fold_name(i.table) in recreated}

    ops: list[Operation] = [TriggerDropped(trigger=a_trig[k].name) for k in a_trig if k in triggers]
    ops += [ViewDropped(view=a_views[k].name) for k in reversed(list(a_views)) if k in views]
    ops += [IndexDropped(index=a_index[k].name) for k in a_index if k in indexes]
    # Removals, children before parents (by A's foreign keys): a table that loses its foreign
    # key to a dropped table, by being dropped or by dropping the column, does so before the
    # table it pointed at goes.
    removals = {k: [op for op in o if isinstance(op, ColumnDropped)] for k, o in column_ops.items()}
    for key in reversed(_fk_order(a_tables, dropped | {k for k, o in removals.items() if o})):
        ops += removals[key] if key in removals else [TableDropped(table=a_tables[key].name)]
    # Additions, parents before children (by B's foreign keys): a new foreign key finds its
    # table there.
    additions = {k: [op for op in o if not isinstance(op, ColumnDropped)]
                 for k, o in column_ops.items()}  # fmt: skip
    created = {k for k in b_tables if k not in a_tables} | recreated
    for key in _fk_order(b_tables, created | {k for k, o in additions.items() if o}):
        ops += additions[key] if key in additions else [TableCreated(table=b_tables[key])]
    ops += [IndexCreated(index=i) for k, i in b_index.items() if k not in a_index or k in indexes]
    for key, view in b_views.items():
        if key not in a_views or key in views:
            ops.append(ViewCreated(view=view))
    ops += [
        TriggerCreated(trigger=t) for k, t in b_trig.items() if k not in a_trig or k in triggers
    ]
    return ops


@attrs.frozen
class Finding:
    """Something in a change that can lose data or fail on existing rows."""

    kind: str
    object: str
    message: str


def lint(operations: Sequence[Operation]) -> list[Finding]:
    """Flag destructive or data-dependent operations."""
    found: list[Finding] = []
    for op in operations:
        match op:
            case TableDropped():
                found.append(
                    Finding("drop_table", op.table, f"drops table '{op.table}' and its rows")
                )
            case ColumnDropped():
                what = f"{op.table}.{op.column}"
                found.append(Finding("drop_column", what, f"drops column '{what}' and its data"))
            case ColumnAltered():
                what = f"{op.table}.{op.column}"
                if op.new_type is not None:
                    found.append(Finding("type_change", what,
                                         f"changes the type of '{what}' to {op.new_type}:"
                                         " existing values are converted"))  # fmt: skip
                if op.not_null:
                    found.append(Finding("not_null", what,
                                         f"makes '{what}' NOT NULL: fails where rows hold"
                                         " NULL"))  # fmt: skip
            case ColumnAdded():
                if op.column.not_null and op.column.default is None:
                    what = f"{op.table}.{op.column.name}"
                    found.append(Finding("not_null", what,
                                         f"adds NOT NULL column '{what}' without a"
                                         " default"))  # fmt: skip
            case IndexCreated():
                if op.index.unique:
                    found.append(Finding("unique_index", op.index.name,
                                         f"creates unique index '{op.index.name}': fails on"
                                         " duplicate rows"))  # fmt: skip
            case (
                TableCreated()
                | TableRenamed()
                | ColumnRenamed()
                | IndexDropped()
                | ViewCreated()
                | ViewReplaced()
                | ViewDropped()
                | TriggerCreated()
                | TriggerDropped()
            ):
                pass  # loses nothing and cannot fail on existing rows
            case _:
                assert_never(op)
    return found
