"""Schema A vs schema B: the fewest operations that turn A into B, renames included.

A schema value has no identities, so a rename is known in one of two ways. Given the operations
that led from A to B (read from the journal), :func:`net_renames` composes the renames along
them into net renames of A's objects: exact. Without it, a rename is *guessed* only where
it is unambiguous: one table that left and one that appeared, identical but for the name (and
what the rename itself rewrites), or, in one table, a column that left and one that appeared at
the same position with the same definition. The renames come first (SQLite rewrites the views,
triggers, indexes, CHECKs and foreign keys that use the name, and so does the fold); what is
left is compared by name, in canonical forms, so a dependant whose text only the rename rewrote
is not a change. A rename that cannot be made first (two tables swapping names) is shown as
drop and create instead.

By name, column-level differences become ``ColumnAdded`` / ``ColumnDropped`` /
``ColumnAltered``; a table whose keys, constraints or options differ in a way no column
operation expresses is dropped and created again. A view, trigger or index is dropped and
created again only when it changed, or when it stands in the way of a drop; a view whose SQL
changed and stands in no one's way is replaced. Applying the result to A gives B up to the
order of columns. :func:`lint` flags what in such a list can lose data or fail on existing rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, TypeVar

import attrs
from typing_extensions import assert_never

from journal._dml_shape import dml_shape
from journal.definitions import ColumnDef, IndexDef, TableDef, TriggerDef, ViewDef
from journal.dependencies import check_columns, dependents_of
from journal.errors import SchemaError
from journal.events import (
    BranchesMerged,
    Change,
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
    operations_of,
)
from journal.fold import apply, apply_all
from journal.names import fold_name
from journal.schema import Schema
from journal.sqlrefs import canonical_sql, identifiers

__all__ = ["Finding", "count_data_steps", "diff_schemas", "lint", "net_renames"]

Rename = TableRenamed | ColumnRenamed


class _Named(Protocol):
    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=_Named)


def _keys(items: Sequence[T]) -> dict[str, T]:
    return {fold_name(item.name): item for item in items}


# -- renames ---------------------------------------------------------------------------------


def net_renames(a: Schema, path: Iterable[Operation]) -> list[Rename]:
    """The renames of ``a``'s tables and columns that ``path`` (operations applied to ``a``)
    makes in all: a rename of something later dropped is none, ``x -> y -> z`` is ``x -> z``.
    Table renames first, then column renames under the tables' new names."""
    # Current folded name -> (name in a, or None for something created on the way; current).
    tables: dict[str, tuple[str | None, str]] = {fold_name(t.name): (t.name, t.name)
                                                 for t in a.tables}  # fmt: skip
    columns: dict[str, dict[str, tuple[str | None, str]]] = {
        fold_name(t.name): {fold_name(c.name): (c.name, c.name) for c in t.columns}
        for t in a.tables
    }
    for op in path:
        match op:
            case TableCreated():
                key = fold_name(op.table.name)
                tables[key] = (None, op.table.name)
                columns[key] = {fold_name(c.name): (None, c.name) for c in op.table.columns}
            case TableDropped():
                tables.pop(fold_name(op.table), None)
                columns.pop(fold_name(op.table), None)
            case TableRenamed():
                old, new = fold_name(op.table), fold_name(op.new_name)
                if old in tables:
                    tables[new] = (tables.pop(old)[0], op.new_name)
                    columns[new] = columns.pop(old, {})
            case ColumnAdded():
                columns.setdefault(fold_name(op.table), {})[fold_name(op.column.name)] = (
                    None,
                    op.column.name,
                )
            case ColumnDropped():
                columns.get(fold_name(op.table), {}).pop(fold_name(op.column), None)
            case ColumnRenamed():
                cols = columns.get(fold_name(op.table), {})
                old_col = cols.pop(fold_name(op.column), None)
                if old_col is not None:
                    cols[fold_name(op.new_name)] = (old_col[0], op.new_name)
            case (
                ColumnAltered()
                | IndexCreated()
                | IndexDropped()
                | ViewCreated()
                | ViewReplaced()
                | ViewDropped()
                | TriggerCreated()
                | TriggerDropped()
                | DataMigrated()
            ):
                pass  # no table or column changes name
            case _:
                assert_never(op)
    renames: list[Rename] = []
    column_renames: list[Rename] = []
    for key, (was, now) in tables.items():
        if was is None:
            continue
        if was != now:
            renames.append(TableRenamed(table=was, new_name=now))
        for col_was, col_now in columns.get(key, {}).values():
            if col_was is not None and col_was != col_now:
                column_renames.append(ColumnRenamed(table=now, column=col_was, new_name=col_now))
    return renames + column_renames


def count_data_steps(changes: Iterable[Change]) -> int:
    """How many data steps ``changes`` run: what a schema diff does not show. A merge's
    operations are copies of its source branch's own events, which count themselves, so a merge
    counts none; a revert's inverse data steps count."""
    return sum(
        isinstance(op, DataMigrated)
        for change in changes
        if not isinstance(change, BranchesMerged)
        for op in operations_of(change)
    )


def _same_table(x: TableDef | None, y: TableDef | None) -> bool:
    return x is not None and y is not None and _canonical_table(x) == _canonical_table(y)


def _canonical_table(table: TableDef) -> object:
    return Schema.of(tables=[table]).canonical()["tables"][0]


def _guess_renames(a: Schema, b: Schema) -> list[Rename]:
    """Renames that are the only reading of the difference (see the module docstring)."""
    renames: list[Rename] = []
    a_tables, b_tables = _keys(a.tables), _keys(b.tables)
    for key, table in a_tables.items():  # a rename of the case of a name only
        if key in b_tables and b_tables[key].name != table.name:
            renames.append(TableRenamed(table=table.name, new_name=b_tables[key].name))
    gone = [t for k, t in a_tables.items() if k not in b_tables]
    new = [t for k, t in b_tables.items() if k not in a_tables]
    pairs: dict[str, list[str]] = {}
    for old in gone:
        for candidate in new:
            try:
                moved = apply(a, TableRenamed(table=old.name, new_name=candidate.name))
            except (SchemaError, ValueError):
                continue
            if _same_table(moved.table(candidate.name), candidate):
                pairs.setdefault(old.name, []).append(candidate.name)
    targets = [n for found in pairs.values() for n in found]
    for old_name, found in pairs.items():
        if len(found) == 1 and targets.count(found[0]) == 1:
            renames.append(TableRenamed(table=old_name, new_name=found[0]))
    renamed = _apply_renames(a, renames)[1]
    for table in renamed.tables:
        target = b.table(table.name)
        if target is None:
            continue
        b_cols = {fold_name(c.name): c for c in target.columns}
        a_keys = {fold_name(c.name) for c in table.columns}
        for position, column in enumerate(table.columns):
            if position >= len(target.columns):
                break
            there = target.columns[position]
            if fold_name(column.name) == fold_name(there.name):
                if column.name != there.name:  # the case of the name only
                    renames.append(
                        ColumnRenamed(table=table.name, column=column.name, new_name=there.name)
                    )
                continue
            if (
                fold_name(column.name) not in b_cols
                and fold_name(there.name) not in a_keys
                and column.model_copy(update={"name": there.name}) == there
            ):
                renames.append(
                    ColumnRenamed(table=table.name, column=column.name, new_name=there.name)
                )
    return renames


def _apply_renames(a: Schema, renames: Sequence[Rename]) -> tuple[list[Rename], Schema]:
    """The renames that can be made on ``a`` (in an order where each new name is free), and
    the schema after them; the rest are left to the comparison by name."""
    done: list[Rename] = []
    pending = list(renames)
    schema = a
    progress = True
    while pending and progress:
        progress = False
        for op in list(pending):
            try:
                schema = apply(schema, op)
            except (SchemaError, ValueError):
                continue
            done.append(op)
            pending.remove(op)
            progress = True
    return done, schema


def diff_schemas(
    a: Schema, b: Schema, *, renames: Sequence[Rename] | None = None
) -> list[Operation]:
    """Operations that take ``a`` to ``b``: renames first (``renames`` when known, e.g.
    :func:`net_renames` of the operations that led from ``a`` to ``b``; else guessed where
    unambiguous), then the differences by name (see :func:`_by_name`)."""
    if renames is None:
        renames = _guess_renames(a, b)
    done, renamed = _apply_renames(a, renames)
    return [*done, *_by_name(renamed, b)]


# -- by name ---------------------------------------------------------------------------------


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


def _table_operations(a: TableDef, b: TableDef, b_schema: Schema) -> list[Operation] | None:
    """Column operations from ``a`` to ``b``; None when only re-creating the table will do.

    They are tried on ``a`` beside ``b_schema``'s other tables, the ones a foreign key of an
    unchanged or added column can point at."""
    if _table_shape(a) != _table_shape(b):
        return None
    ops: list[Operation] = []
    a_cols = {fold_name(c.name): c for c in a.columns}
    b_cols = {fold_name(c.name): c for c in b.columns}
    for key, column in a_cols.items():
        if key not in b_cols:
            ops.append(ColumnDropped(table=a.name, column=column.name))
    a_checks = {canonical_sql(c.expr) for c in a.checks}
    new_checks = [c for c in b.checks if canonical_sql(c.expr) not in a_checks]
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
        # A new CHECK on the new column alone is the column's own.
        check = next((c for c in new_checks if check_columns(c, b.name) == {key}), None)
        if check is not None:
            new_checks.remove(check)
        ops.append(
            ColumnAdded(
                table=a.name,
                column=column,
                unique=unique,
                references=fk,
                check=None if check is None else check.expr,
            )
        )
    others = [t for t in b_schema.tables if fold_name(t.name) != fold_name(a.name)]
    try:
        trial = apply_all(Schema.of(tables=[*others, a]), ops)
    except (SchemaError, ValueError):
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
) -> set[str]:
    return {key for key, item in old.items() if key not in new or not same(item, new[key])}


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


def _view_order(views: dict[str, ViewDef], keys: set[str]) -> list[str]:
    """``keys`` in ``views``' order, a view after the views among ``keys`` it reads."""
    ordered: list[str] = []

    def visit(key: str, path: frozenset[str]) -> None:
        if key in ordered or key in path:
            return
        for read in identifiers(views[key].sql) & keys:
            if read != key:
                visit(read, path | {key})
        ordered.append(key)

    for key in views:
        if key in keys:
            visit(key, frozenset())
    return ordered


def _by_name(a: Schema, b: Schema) -> list[Operation]:
    """Operations that take ``a`` to ``b`` comparing objects by name: drops of the dependants
    that change or stand in the way, dropped tables and columns (children before parents), new
    tables and the other column changes (parents first), then the new, changed and re-made
    dependants."""
    a_tables, b_tables = _keys(a.tables), _keys(b.tables)
    a_views, b_views = _keys(a.views), _keys(b.views)
    a_index, b_index = _keys(a.indexes), _keys(b.indexes)
    a_trig, b_trig = _keys(a.triggers), _keys(b.triggers)

    column_ops: dict[str, list[Operation]] = {}
    recreated: set[str] = set()
    for key, table in b_tables.items():
        if key in a_tables and a_tables[key] != table:
            found = _table_operations(a_tables[key], table, b)
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

    # What stands in the way of a drop is dropped first and made again if B has it; what
    # merely reads a changed table stays as it is.
    blockers: set[tuple[str, str]] = set()
    for key in dropped:
        blockers |= {(kind, fold_name(name)) for kind, name in dependents_of(a, key)}
    for key, table_ops in column_ops.items():
        for op in table_ops:
            if isinstance(op, ColumnDropped):
                found_deps = dependents_of(a, key, op.column)
                blockers |= {(kind, fold_name(name)) for kind, name in found_deps}
    changed_views = _removed_or_changed(a_views, b_views, _same_sql)
    views = {k for k in a_views if ("view", k) in blockers}
    views |= {k for k in changed_views if k not in b_views}

    def readers(kind: str, keys: set[str]) -> set[str]:
        """The objects of ``kind`` that read one of the views ``keys`` (as the fold sees it)."""
        return {fold_name(name) for key in keys for found, name in
                dependents_of(a, a_views[key].name) if found == kind}  # fmt: skip

    while more := readers("view", views) - views:  # views over views that must go
        views |= more
    replaced = {k for k in changed_views if k in b_views and k not in views}
    triggers = _removed_or_changed(a_trig, b_trig, _same_sql)
    triggers |= {k for k, t in a_trig.items() if ("trigger", k) in blockers
                 or fold_name(t.table) in dropped | views}  # fmt: skip
    triggers |= readers("trigger", views)
    indexes = _removed_or_changed(a_index, b_index, _same_index)
    indexes |= {k for k in a_index if ("index", k) in blockers}
    indexes |= {k for k, i in a_index.items() if fold_name(i.table) in recreated}

    # A dropped table takes its indexes and triggers along: no drop of their own, unless
    # they stand in the way of another drop that may come first.
    def goes_with_table(kind: str, key: str, table: str) -> bool:
        return fold_name(table) in dropped and (kind, key) not in blockers

    ops: list[Operation] = [
        TriggerDropped(trigger=t.name)
        for k, t in a_trig.items()
        if k in triggers and not goes_with_table("trigger", k, t.table)
    ]
    ops += [ViewDropped(view=a_views[k].name) for k in reversed(list(a_views)) if k in views]
    ops += [
        IndexDropped(index=i.name)
        for k, i in a_index.items()
        if k in indexes and not goes_with_table("index", k, i.table)
    ]
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
    made = {k for k in b_views if k not in a_views or k in views} | replaced
    for key in _view_order(b_views, made):
        view = b_views[key]
        ops.append(ViewReplaced(view=view) if key in replaced else ViewCreated(view=view))
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
    """Flag destructive or data-dependent operations, and every data step (it changes rows in
    every tenant, so a person should read it before it reaches them)."""
    found: list[Finding] = []
    for op in operations:
        match op:
            case DataMigrated():
                found += _data_step_findings(op)
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


def _data_step_findings(step: DataMigrated) -> list[Finding]:
    """``data_step`` for every data step; ``no_where`` as well for an UPDATE or DELETE without
    WHERE, which changes every row of its table in every tenant."""
    shape = dml_shape(step.sql)
    verb = "data step" if shape is None else shape.verb
    table = None if shape is None else shape.table
    of_table = "" if table is None else f" of '{table}'"
    found = [Finding("data_step", table or verb,
                     f"{verb} changes rows{of_table} in every tenant: review it"
                     f" ({data_step_text(step)})")]  # fmt: skip
    if shape is not None and shape.every_row:
        found.append(Finding("no_where", table or verb,
                             f"{verb} without WHERE changes every row{of_table} in every"
                             " tenant"))  # fmt: skip
    return found
