"""What depends on what inside a schema: the references of views, triggers, indexes and
CHECKs, resolved against the schema, and the dependants of a table or column. The fold uses
these to refuse drops that would leave a broken object behind; merges use them to find
conflicts.
"""

from __future__ import annotations

from collections.abc import Iterable

from journal.definitions import (
    Check,
    ForeignKey,
    TriggerDef,
    ViewDef,
)
from journal.names import fold_name, same_name
from journal.schema import Schema
from journal.sqlrefs import (
    Ref,
    expression_refs,
    index_refs,
    mentions,
    trigger_refs,
    view_refs,
)

# -- dependencies ------------------------------------------------------------------------------


def view_references(schema: Schema, view: ViewDef) -> list[Ref]:
    return view_refs(view.sql, schema.columns_of)


def trigger_references(schema: Schema, trigger: TriggerDef) -> list[Ref]:
    return trigger_refs(trigger.sql, schema.columns_of)


def dependents_of(schema: Schema, table: str, column: str | None = None) -> list[tuple[str, str]]:
    """Views, triggers, indexes and other tables' foreign keys that use a table or column.

    For a column, the table's own CHECKs, generated columns and multi-column constraints count
    too. Triggers *on* the table count only for a column (dropping a table drops its triggers).
    """
    found: list[tuple[str, str]] = []

    def uses(refs: Iterable[Ref]) -> bool:
        return any(
            same_name(r.table, table)
            and (column is None or (r.column is not None and same_name(r.column, column)))
            for r in refs
        )

    names = (table,) if column is None else (table, column)
    for view in schema.views:
        if mentions(view.sql, *names) and uses(view_references(schema, view)):
            found.append(("view", view.name))
    for trigger in schema.triggers:
        if column is None and same_name(trigger.table, table):
            continue
        if mentions(trigger.sql, *names) and uses(trigger_references(schema, trigger)):
            found.append(("trigger", trigger.name))
    if column is not None:
        for index in schema.indexes_on(table):
            if uses(index_refs(index)):
                found.append(("index", index.name))
    for other in schema.tables:
        for fk in other.foreign_keys:
            if not same_name(fk.ref_table, table):
                continue
            if same_name(other.name, table) and column is None:
                continue
            if column is None or _fk_targets_column(schema, fk, column):
                found.append(("foreign key of table", other.name))
    if column is not None:
        own = schema.require_table(table)
        for check in own.checks:
            # A CHECK on the column alone goes with it (as a column CHECK does in SQLite).
            if check_columns(check, table) - {fold_name(column)} and fold_name(
                column
            ) in check_columns(check, table):
                found.append(("check", check.name or check.expr))
        for col in own.columns:
            if col.generated and any(
                same_name(r.column or "", column) for r in expression_refs(col.generated, table)
            ):
                found.append(("generated column", col.name))
        for constraint in own.uniques:
            if len(constraint.columns) > 1 and has_name(constraint.columns, column):
                found.append(("unique constraint", ", ".join(constraint.columns)))
        for fk in own.foreign_keys:
            if len(fk.columns) > 1 and has_name(fk.columns, column):
                found.append(("foreign key", ", ".join(fk.columns)))
    return list(dict.fromkeys(found))


def check_columns(check: Check, table: str) -> set[str]:
    return {fold_name(r.column) for r in expression_refs(check.expr, table) if r.column}


def _fk_targets_column(schema: Schema, fk: ForeignKey, column: str) -> bool:
    if fk.ref_columns:
        return has_name(fk.ref_columns, column)
    target = schema.table(fk.ref_table)
    return bool(target and target.primary_key and has_name(target.primary_key.columns, column))


def has_name(names: Iterable[str], name: str) -> bool:
    return any(same_name(n, name) for n in names)
