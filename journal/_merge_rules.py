"""The merge rules, one function per kind of operation: how an operation of the side being
replayed lands on the other side's schema, or which conflict it is."""

from __future__ import annotations

from typing_extensions import assert_never  # typing has it from 3.11; we support 3.10

from journal._merge_data import Change, changes_under, data_use, overlaps, users_of
from journal._merge_effects import Gone, SideEffects, object_of
from journal._merge_replay import Replay, Untranslatable, describe
from journal._merge_types import (
    BOTH_CHANGED,
    DATA_DEPENDENCY,
    DEPENDENCY,
    DROP_VS_CHANGE,
    NAME_COLLISION,
    RENAME_RENAME,
    SEMANTIC,
    SIDES,
    Conflict,
    SideStep,
    Translated,
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
)
from journal.fold import apply
from journal.names import fold_name, quote
from journal.render import render_create_table
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


def replay_step(r: Replay, step: SideStep) -> None:
    """Replay one step of the side onto the other side's schema (``r``): emit the translated
    operation, count it as skipped (the other side made it identically), or report a conflict.

    Raises:
        Untranslatable: the step names a base object the other side dropped.
    """
    op = step.operation
    if _changes_data_of_other(r, step):
        return
    match op:
        case TableCreated():
            _table_created(r, step, op)
        case TableDropped():
            _table_dropped(r, step, op)
        case TableRenamed():
            _table_renamed(r, step, op)
        case ColumnAdded():
            _column_added(r, step, op)
        case ColumnDropped() | ColumnRenamed() | ColumnAltered():
            _replay_column_change(r, step, op)
        case IndexCreated():
            _index_created(r, step, op)
        case ViewCreated() | ViewReplaced():
            _view_defined(r, step, op)
        case TriggerCreated():
            _trigger_created(r, step, op)
        case IndexDropped() | ViewDropped() | TriggerDropped():
            _object_dropped(r, step, op)
        case DataMigrated():
            _data_migrated(r, step, op)
        case _:
            assert_never(op)


def _data_migrated(r: Replay, step: SideStep, op: DataMigrated) -> None:
    """A data step of the replayed side (rules: :mod:`journal._merge_data`)."""
    if r.position in r.data_matched:
        r.skipped += 1  # the other side ran the identical step: once is enough
        return
    use = r.data_mine.get(r.position) or data_use(r.names, step, op)
    what = f"data {use.target}"
    text = data_step_text(op)
    try:
        taking: DataMigrated | None = op.model_copy(update={"sql": r.sql(op.sql, use.refs)})
    except Untranslatable:
        taking = None  # it names what the other side dropped: it can only be left out
    changes = [c for c in changes_under(r.other, use) if not _same_for_step(r, step, c)]
    if changes:
        change = changes[0]
        r.conflict(
            DATA_DEPENDENCY,
            what,
            change.sentence(text),
            step,
            key=change.key,
            ours=change.done(),
            theirs=op.sql,
            taking=taking,
        )
        return
    clash = [other for other in r.data_live if overlaps(other, use)]
    if clash:
        first = clash[0]
        shared = first.writes if first.writes in use.tables else use.writes
        r.conflict(
            DATA_DEPENDENCY,
            what,
            f"Data step '{text}' and the other side's data step"
            f" '{data_step_text(DataMigrated(sql=first.sql))}' both use table"
            f" '{use.name(shared) if shared in use.tables else first.name(shared)}', which one"
            " of them writes: the rows depend on which runs first",
            step,
            cite=[other.event for other in clash],
            ours=first.sql,
            theirs=op.sql,
            taking=taking,
        )
        return
    if taking is None:
        r.sql(op.sql, use.refs)  # raises the Untranslatable the driver reports
    assert taking is not None
    r.emit(step, taking)


def _same_for_step(r: Replay, step: SideStep, change: Change) -> bool:
    """Whether the other side's ``change`` leaves what the data step names as the step saw
    it: the same rename made on both sides (the step already uses the new name), the same
    alteration, the same columns added. A drop never does."""
    if change.did == "dropped":
        return False
    if change.did == "renamed":
        used = change.spelled.rpartition(".")[2]
        return change.new_name is not None and fold_name(change.new_name) == fold_name(used)
    table, _, column = change.spelled.partition(".")
    try:
        mine = step.before.table(table)
        theirs = r.other_schema.table(r.table(table))
        if mine is None or theirs is None:
            return False
        if change.did == "altered":
            a, b = mine.column(column), theirs.column(r.column(table, column))
            return (
                a is not None
                and b is not None
                and _column_text(b.model_copy(update={"name": a.name})) == _column_text(a)
            )
    except Untranslatable:
        return False
    # Reshaped: the same columns, in the same order, on both sides.
    return [(fold_name(c.name), _column_text(c)) for c in mine.columns] == [
        (fold_name(c.name), _column_text(c)) for c in theirs.columns
    ]


def _changes_data_of_other(r: Replay, step: SideStep) -> bool:
    """A schema step of the replayed side that drops, renames or alters what a data step of
    the other side names: a data_dependency conflict (reported here: True). Where the other
    side changed the same object itself, the object's own rules decide (False)."""
    op = step.operation
    users = users_of(r.data_live, r.names, op) if r.data_live else []
    if not users or _changed_by_other(r, op):
        return False
    try:
        change = _schema_change(r, op)
    except Untranslatable:
        return False  # names what the other side dropped: the driver reports it
    if change is None:
        return False
    taking, object_name, did = change
    first = users[0]
    it = "every column of its table" if did == "added" else "it"
    kind, _, name = object_name.partition(" ")
    r.conflict(
        DATA_DEPENDENCY,
        object_name,
        f"{kind.capitalize()} '{name}' is {did} on one side while the other side's data step"
        f" '{data_step_text(DataMigrated(sql=first.sql))}' uses {it}: the step ran against the"
        f" {kind} before that change",
        step,
        cite=[u.event for u in users],
        ours=first.sql,
        theirs=did,
        taking=taking,
    )
    return True


def _changed_by_other(r: Replay, op: Operation) -> bool:
    """Whether the other side itself changed the table or column schema step ``op`` changes
    (True for an operation on neither: no data step rule applies to it)."""
    other = r.other
    match op:
        case TableDropped() | TableRenamed():
            table = r.names.table(op.table)
            return table is not None and other.tables.get(table) is not None
        case ColumnAdded():
            table = r.names.table(op.table)
            return (table is not None and other.tables.get(table) is not None) or (
                table or "",
                fold_name(op.column.name),
            ) in other.added_columns
        case ColumnDropped() | ColumnRenamed() | ColumnAltered():
            table = r.names.table(op.table)
            column = r.names.column(op.table, op.column)
            return (table is not None and other.tables.get(table) is not None) or (
                column is not None
                and (other.columns.get(column) is not None or column in other.altered)
            )
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
            return True
        case _:
            assert_never(op)


def _schema_change(r: Replay, op: Operation) -> tuple[Operation, str, str] | None:
    """``op`` translated to the other side's names, the object it changes (as conflicts name
    it) and what it does to it, for a conflict with the other side's data step (None: ``op``
    changes no table or column)."""
    match op:
        case TableDropped():
            return TableDropped(table=r.table(op.table)), f"table {op.table}", "dropped"
        case TableRenamed():
            return (
                TableRenamed(table=r.table(op.table), new_name=op.new_name),
                f"table {op.table}",
                f"renamed to '{op.new_name}'",
            )
        case ColumnAdded():
            added = op.model_copy(
                update={
                    "table": r.table(op.table),
                    "references": None if op.references is None else r.foreign_key(op.references),
                    "check": r.expression(op.check, op.table),
                }
            )
            return added, f"column {op.table}.{op.column.name}", "added"
        case ColumnDropped() | ColumnRenamed() | ColumnAltered():
            translated = op.model_copy(
                update={"table": r.table(op.table), "column": r.column(op.table, op.column)}
            )
            if isinstance(op, ColumnRenamed):
                did = f"renamed to '{op.new_name}'"
            else:
                did = "dropped" if isinstance(op, ColumnDropped) else "altered"
            return translated, f"column {op.table}.{op.column}", did
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
            return None
        case _:
            assert_never(op)


def _table_created(r: Replay, step: SideStep, op: TableCreated) -> None:
    other = r.other
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
            taking=TableCreated(table=created),
        )
        return
    r.emit(step, TableCreated(table=created))


def _table_dropped(r: Replay, step: SideStep, op: TableDropped) -> None:
    other = r.other
    origin = r.names.table(op.table)
    if origin is not None:
        final = other.tables.get(origin)
        if isinstance(final, Gone):
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
                taking=TableDropped(table=r.table(op.table)),
            )
            return
    r.emit(step, TableDropped(table=r.table(op.table)))


def _table_renamed(r: Replay, step: SideStep, op: TableRenamed) -> None:
    other = r.other
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
                taking=TableRenamed(table=final, new_name=op.new_name),
            )
            return
    r.emit(step, TableRenamed(table=r.table(op.table), new_name=op.new_name))


def _column_added(r: Replay, step: SideStep, op: ColumnAdded) -> None:
    other = r.other
    table = r.table(op.table)
    origin = r.names.table(op.table)
    column_key = (origin or "", fold_name(op.column.name))
    if origin is not None and column_key in other.added_columns:
        translated = op.model_copy(
            update={
                "table": table,
                "references": None if op.references is None else r.foreign_key(op.references),
                "check": r.expression(op.check, op.table),
            }
        )
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
            key=f"column {column_key[0]}.{column_key[1]}",
            ours=_column_text(mine),
            theirs=_column_text(op.column),
            taking=translated,
        )
        return
    references = op.references
    if references is not None:
        references = r.foreign_key(references)
    if table != op.table:
        r.resolved(f"column {op.table}.{op.column.name} added to '{table}' (renamed)")
    r.emit(
        step,
        op.model_copy(
            update={
                "table": table,
                "references": references,
                "check": r.expression(op.check, op.table),
            }
        ),
    )


def _index_created(r: Replay, step: SideStep, op: IndexCreated) -> None:
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


def _object_dropped(
    r: Replay, step: SideStep, op: IndexDropped | ViewDropped | TriggerDropped
) -> None:
    other = r.other
    kind, name = object_of(op)
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
            taking=op,
        )
        return
    r.emit(step, op)


def _replay_column_change(
    r: Replay, step: SideStep, op: ColumnDropped | ColumnRenamed | ColumnAltered
) -> None:
    other = r.other
    origin = r.names.column(op.table, op.column)
    what = f"column {op.table}.{op.column}"
    if origin is not None:
        final = other.columns.get(origin)
        match op:
            case ColumnDropped():
                if isinstance(final, Gone):
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
                        taking=op.model_copy(
                            update={
                                "table": r.table(op.table),
                                "column": r.column(op.table, op.column),
                            }
                        ),
                    )
                    return
            case ColumnRenamed():
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
                        taking=op.model_copy(update={"table": r.table(op.table), "column": final}),
                    )
                    return
            case ColumnAltered():
                if origin in other.altered:
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
                        taking=op.model_copy(
                            update={"table": table, "column": r.column(op.table, op.column)}
                        ),
                    )
                    return
            case _:
                assert_never(op)
    table = r.table(op.table)
    column = r.column(op.table, op.column)
    if (table, column) != (op.table, op.column):
        r.resolved(f"{what} follows the rename to '{table}.{column}'")
    r.emit(step, op.model_copy(update={"table": table, "column": column}))


def _trigger_created(r: Replay, step: SideStep, op: TriggerCreated) -> None:
    before = step.before
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
            taking=TriggerCreated(trigger=moved_trigger),
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
            taking=TriggerCreated(trigger=moved_trigger),
        )
        return
    r.emit(step, TriggerCreated(trigger=moved_trigger))


def _view_defined(r: Replay, step: SideStep, op: ViewCreated | ViewReplaced) -> None:
    before = step.before
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


def _table_sql(table: TableDef | None) -> str | None:
    if table is None:
        return None
    return render_create_table(table)


def fold_conflict(error: SchemaError, translated: Translated, other: SideEffects) -> Conflict:
    """A translated operation that does not apply to the other side's schema.

    Cites the other side's events that made the object in the way (the name taken, the
    dependants that would break), then the event the operation came from.
    """
    op = translated.operation
    blocking: list[tuple[str, str]] = []
    if isinstance(error, ObjectExistsError):
        kind = NAME_COLLISION
        # Tables, indexes, views and triggers share one namespace in SQLite.
        blocking = [(k, error.name) for k in ("table", "index", "view", "trigger")]
    elif isinstance(error, DependencyError):
        kind = DEPENDENCY
        blocking = list(error.dependents)
    elif isinstance(error, ObjectNotFoundError):
        kind = DROP_VS_CHANGE
    else:
        kind = SEMANTIC
    if isinstance(op, DataMigrated):
        kind = DATA_DEPENDENCY  # a data step names what is not there after the other side
    cited: list[str] = []
    for what, name in blocking:
        for event in other.events.get(f"{what} {fold_name(name)}", []):
            if event not in cited:
                cited.append(event)
    return Conflict(
        kind=kind,
        object=describe(op),
        message=f"{describe(op).capitalize()} ({op.type}) does not apply after the other"
        f" side's changes: {error}",
        theirs=op.type,
        events=(*cited, translated.event),
        sides=SIDES,
    )
