"""The merge rules for tables and columns: how a table or column operation of the side being
replayed lands on the other side's schema, or which conflict it is (both sides created or
altered it differently, one dropped what the other changed, two renames of one thing)."""

from __future__ import annotations

from typing_extensions import assert_never  # typing has it from 3.11; we support 3.10

from journal._merge_effects import Gone
from journal._merge_replay import Replay
from journal._merge_types import BOTH_CHANGED, DROP_VS_CHANGE, RENAME_RENAME, SideStep
from journal.definitions import ColumnDef, TableDef
from journal.events import (
    ColumnAdded,
    ColumnAltered,
    ColumnDropped,
    ColumnRenamed,
    TableCreated,
    TableDropped,
    TableRenamed,
)
from journal.fold import apply
from journal.names import fold_name, quote
from journal.render import render_create_table
from journal.schema import Schema


def _same_table(a: TableDef, b: TableDef) -> bool:
    return Schema.of(tables=[a]).canonical() == Schema.of(tables=[b]).canonical()


def column_text(column: ColumnDef | None) -> str | None:
    if column is None:
        return None
    parts = [quote(column.name), column.type]
    if column.not_null:
        parts.append("NOT NULL")
    if column.default is not None:
        parts.append(f"DEFAULT {column.default}")
    return " ".join(p for p in parts if p)


def table_created(r: Replay, step: SideStep, op: TableCreated) -> None:
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


def table_dropped(r: Replay, step: SideStep, op: TableDropped) -> None:
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


def same_end(final: str, new_name: str, mine_final: str | Gone | None) -> bool:
    """Whether a rename to ``new_name`` ends where the other side's renames of the object end
    (``final``): the step itself, or this side's chain of renames (``mine_final``)."""
    ends = [new_name] + ([mine_final] if isinstance(mine_final, str) else [])
    return any(fold_name(final) == fold_name(end) for end in ends)


def table_renamed(r: Replay, step: SideStep, op: TableRenamed) -> None:
    other = r.other
    origin = r.names.table(op.table)
    if origin is not None:
        final = other.tables.get(origin)
        if isinstance(final, str):
            if same_end(final, op.new_name, r.mine.tables.get(origin)):
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


def column_added(r: Replay, step: SideStep, op: ColumnAdded) -> None:
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
        if mine is not None and column_text(mine) == column_text(op.column):
            r.skipped += 1
            return
        r.conflict(
            BOTH_CHANGED,
            f"column {table}.{op.column.name}",
            f"Both sides added column '{op.column.name}' to table '{table}' with different"
            f" definitions ({column_text(mine)} / {column_text(op.column)})",
            step,
            key=f"column {column_key[0]}.{column_key[1]}",
            ours=column_text(mine),
            theirs=column_text(op.column),
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


def replay_column_change(
    r: Replay, step: SideStep, op: ColumnDropped | ColumnRenamed | ColumnAltered
) -> None:
    other = r.other
    origin = r.names.column(op.table, op.column)
    what = f"column {op.table}.{op.column}"
    if origin is not None:
        final = other.columns.get(origin)
        if isinstance(final, Gone) and isinstance(r.mine.columns.get(origin), Gone):
            r.skipped += 1  # both sides drop it in the end: what this side did first is moot
            return
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
                    if same_end(final, op.new_name, r.mine.columns.get(origin)):
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
                        and column_text(mine.model_copy(update={"name": theirs.name}))
                        == column_text(theirs)
                    )
                    if same:
                        r.skipped += 1
                        return
                    r.conflict(
                        BOTH_CHANGED,
                        what,
                        f"Both sides altered column '{op.table}.{op.column}' differently"
                        f" ({column_text(mine)} / {column_text(theirs)})",
                        step,
                        ours=column_text(mine),
                        theirs=column_text(theirs),
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


def _table_sql(table: TableDef | None) -> str | None:
    if table is None:
        return None
    return render_create_table(table)
