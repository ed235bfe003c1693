"""The merge rules, one function per kind of operation: how an operation of the side being
replayed lands on the other side's schema, or which conflict it is."""

from __future__ import annotations

from journal._merge_effects import _Gone, _object_of
from journal._merge_replay import _describe, _Replay
from journal._merge_types import (
    BOTH_CHANGED,
    DEPENDENCY,
    DROP_VS_CHANGE,
    NAME_COLLISION,
    RENAME_RENAME,
    SEMANTIC,
    Conflict,
    SideStep,
)
from journal.definitions import ColumnDef, IndexDef, TableDef, ViewDef
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
    canonical_sql,
    trigger_refs,
    view_refs,
)


def _same_table(a: TableDef, b: TableDef) -> bool:
    return Schema.of(tables=[a]).canonical() == Schema.of(tables=[b]).canonical()


def _same_index(a: IndexDef, b: IndexDef) -> bool:
    return Schema.of(indexes=[a]).canonical() == Schema.of(indexes=[b]).canonical()


def _same_sql(a: str, b: str) -> bool:
    return canonical_sql(a) == canonical_sql(b)


def _column_text(column: ColumnDef | None) -> str | None:
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
    from journal.render import render_create_table

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
