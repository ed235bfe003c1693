"""The pure fold: ``apply(schema, operation) -> schema`` (its cache per event id is
:class:`journal._fold_cache.FoldCache`).

``apply`` validates an operation against a schema (names exist or are free, nothing that
depends on a dropped object is left dangling) and returns the next value. It carries renames
through the SQL of dependent views, triggers, indexes, CHECKs and foreign keys exactly where
SQLite's own ``ALTER TABLE ... RENAME`` rewrites them, so a SQLite file that replays the same
events has the same schema (``journal.introspect``). No I/O happens here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from typing_extensions import assert_never

from journal.definitions import (
    Check,
    ColumnDef,
    TableDef,
    Unique,
    strict_type_problem,
)
from journal.dependencies import (
    check_columns,
    dependents_of,
    has_name,
    trigger_references,
    view_references,
)
from journal.errors import (
    ColumnNotFoundError,
    DependencyError,
    ObjectExistsError,
    ObjectNotFoundError,
    SchemaError,
    TableNotFoundError,
)
from journal.events import (
    ColumnAdded,
    ColumnAltered,
    ColumnDropped,
    ColumnRenamed,
    DataMigrated,
    Event,
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
    operations_of,
)
from journal.names import fold_name, same_name
from journal.schema import Schema
from journal.sqlrefs import (
    Ref,
    column_renamer,
    data_step_refs,
    expression_refs,
    identifiers,
    index_refs,
    mentions,
    rename_in_sql,
    table_renamer,
)

# -- apply -------------------------------------------------------------------------------------


def apply(schema: Schema, operation: Operation) -> Schema:
    """Return the schema after ``operation``; raise SchemaError if it does not apply."""
    # One case per operation type; a type without one is a mypy error (assert_never).
    match operation:
        case TableCreated():
            return _table_created(schema, operation)
        case TableDropped():
            return _table_dropped(schema, operation)
        case TableRenamed():
            return _table_renamed(schema, operation)
        case ColumnAdded():
            return _column_added(schema, operation)
        case ColumnDropped():
            return _column_dropped(schema, operation)
        case ColumnRenamed():
            return _column_renamed(schema, operation)
        case ColumnAltered():
            return _column_altered(schema, operation)
        case IndexCreated():
            return _index_created(schema, operation)
        case IndexDropped():
            return _index_dropped(schema, operation)
        case ViewCreated():
            return _view_created(schema, operation)
        case ViewReplaced():
            return _view_replaced(schema, operation)
        case ViewDropped():
            return _view_dropped(schema, operation)
        case TriggerCreated():
            return _trigger_created(schema, operation)
        case TriggerDropped():
            return _trigger_dropped(schema, operation)
        case DataMigrated():
            return _data_migrated(schema, operation)
        case _:
            assert_never(operation)


def apply_all(schema: Schema, operations: Iterable[Operation]) -> Schema:
    for operation in operations:
        schema = apply(schema, operation)
    return schema


def _ensure_free(schema: Schema, kind: str, name: str, *, allow: str | None = None) -> None:
    if allow is not None and same_name(name, allow):
        return
    if kind == "trigger":
        if schema.trigger(name) is not None:
            raise ObjectExistsError("trigger", name)
        return
    existing = schema.kind_of(name)
    if existing is not None:
        raise ObjectExistsError(existing, name)


def _check_table(schema: Schema, table: TableDef) -> None:
    """Foreign keys point at existing tables and columns; expressions use own columns;
    a STRICT table's columns have types STRICT allows."""
    problem = strict_type_problem(table)
    if problem is not None:
        raise SchemaError(problem)
    names = {fold_name(c.name) for c in table.columns}
    for fk in table.foreign_keys:
        target = table if same_name(fk.ref_table, table.name) else schema.table(fk.ref_table)
        if target is None:
            raise TableNotFoundError(fk.ref_table)
        for ref_column in fk.ref_columns:
            if target.column(ref_column) is None:
                raise ColumnNotFoundError(target.name, ref_column)
        if not fk.ref_columns and target.primary_key is None:
            raise SchemaError(
                f"Foreign key to '{target.name}' names no columns and that table has no primary key"
            )
    expressions = [c.expr for c in table.checks] + [c.generated for c in table.columns]
    for text in expressions:
        if text is None:
            continue
        for ref in expression_refs(text, table.name):
            if ref.column is not None and fold_name(ref.column) not in names:
                raise ColumnNotFoundError(table.name, ref.column)


def _table_created(schema: Schema, op: TableCreated) -> Schema:
    _ensure_free(schema, "table", op.table.name)
    _check_table(schema, op.table)
    return schema.put("table", op.table)


def _table_dropped(schema: Schema, op: TableDropped) -> Schema:
    table = schema.require_table(op.table)
    blockers = dependents_of(schema, table.name)
    if blockers:
        raise DependencyError(f"drop table '{table.name}'", blockers)
    # SQLite drops a table's indexes and triggers with it.
    schema = schema.remove("table", table.name)
    for index in schema.indexes_on(table.name):
        schema = schema.remove("index", index.name)
    for trigger in schema.triggers_on(table.name):
        schema = schema.remove("trigger", trigger.name)
    return schema


def _rewrite_dependents(
    schema: Schema, renamer: Callable[[Ref], str | None], names: tuple[str, ...]
) -> Schema:
    """Views and triggers with renamed identifiers replaced (resolved against ``schema``,
    the schema *before* the rename).

    Only SQL that mentions every one of ``names`` (the table, and the column for a column
    rename) can change, so the rest is not parsed at all.
    """
    result = schema
    keys = {fold_name(name) for name in names}
    for view in schema.views:
        if keys <= identifiers(view.sql):
            sql = rename_in_sql(view.sql, view_references(schema, view), renamer)
            if sql != view.sql:
                result = result.put("view", view.model_copy(update={"sql": sql}))
    for trigger in schema.triggers:
        if keys <= identifiers(trigger.sql):
            sql = rename_in_sql(trigger.sql, trigger_references(schema, trigger), renamer)
            if sql != trigger.sql:
                result = result.put("trigger", trigger.model_copy(update={"sql": sql}))
    return result


def _table_renamed(schema: Schema, op: TableRenamed) -> Schema:
    table = schema.require_table(op.table)
    _ensure_free(schema, "table", op.new_name, allow=table.name)
    old, new_name = table.name, op.new_name
    result = _rewrite_dependents(schema, table_renamer(old, new_name), (old,))
    # Foreign keys that point at the table follow it (SQLite rewrites them the same way).
    for other in schema.tables:
        if any(same_name(fk.ref_table, old) for fk in other.foreign_keys):
            fks = tuple(
                fk.model_copy(update={"ref_table": new_name})
                if same_name(fk.ref_table, old)
                else fk
                for fk in other.foreign_keys
            )
            result = result.put("table", other.model_copy(update={"foreign_keys": fks}))
    moved = result.require_table(old).model_copy(update={"name": new_name})
    result = result.put("table", moved, was=old)
    for index in schema.indexes_on(old):
        result = result.put("index", index.model_copy(update={"table": new_name}))
    for trigger in schema.triggers_on(old):
        current = result.trigger(trigger.name)
        assert current is not None
        result = result.put("trigger", current.model_copy(update={"table": new_name}))
    return result


def _column_added(schema: Schema, op: ColumnAdded) -> Schema:
    table = schema.require_table(op.table)
    if table.column(op.column.name) is not None:
        raise ObjectExistsError("column", op.column.name, table.name)
    new = table.model_copy(
        update={
            "columns": (*table.columns, op.column),
            "uniques": table.uniques + ((Unique(columns=(op.column.name,)),) if op.unique else ()),
            "foreign_keys": table.foreign_keys + ((op.references,) if op.references else ()),
            "checks": table.checks + ((Check(expr=op.check),) if op.check else ()),
        }
    )
    _check_table(schema, new)
    return schema.put("table", new)


def _column_dropped(schema: Schema, op: ColumnDropped) -> Schema:
    table = schema.require_table(op.table)
    column = table.column(op.column)
    if column is None:
        raise ColumnNotFoundError(table.name, op.column)
    if len(table.columns) == 1:
        raise SchemaError(
            f"Cannot drop column '{column.name}': it is the only column of"
            f" table '{table.name}'; drop the table instead"
        )
    if table.primary_key is not None and has_name(table.primary_key.columns, column.name):
        raise SchemaError(
            f"Cannot drop column '{column.name}': it is part of the primary key"
            f" of table '{table.name}'"
        )
    blockers = dependents_of(schema, table.name, column.name)
    if blockers:
        raise DependencyError(f"drop column '{table.name}.{column.name}'", blockers)
    new = table.model_copy(
        update={
            "columns": tuple(c for c in table.columns if c is not column),
            "uniques": tuple(u for u in table.uniques if not has_name(u.columns, column.name)),
            "foreign_keys": tuple(
                fk for fk in table.foreign_keys if not has_name(fk.columns, column.name)
            ),
            "checks": tuple(
                c
                for c in table.checks
                if fold_name(column.name) not in check_columns(c, table.name)
            ),
        }
    )
    return schema.put("table", new)


def _column_renamed(schema: Schema, op: ColumnRenamed) -> Schema:
    table = schema.require_table(op.table)
    column = table.column(op.column)
    if column is None:
        raise ColumnNotFoundError(table.name, op.column)
    if table.column(op.new_name) is not None and not same_name(op.new_name, column.name):
        raise ObjectExistsError("column", op.new_name, table.name)
    old, new_name = column.name, op.new_name
    renamer = column_renamer(table.name, old, new_name)
    result = _rewrite_dependents(schema, renamer, (table.name, old))

    def names(items: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(new_name if same_name(n, old) else n for n in items)

    def expr(text: str | None) -> str | None:
        if text is None or not mentions(text, old):
            return text
        return rename_in_sql(text, expression_refs(text, table.name), renamer)

    # Other tables' foreign keys that name the column follow it.
    for other in schema.tables:
        if other is table:
            continue
        if any(same_name(fk.ref_table, table.name) and fk.ref_columns for fk in other.foreign_keys):
            fks = tuple(
                fk.model_copy(update={"ref_columns": names(fk.ref_columns)})
                if same_name(fk.ref_table, table.name)
                else fk
                for fk in other.foreign_keys
            )
            result = result.put("table", other.model_copy(update={"foreign_keys": fks}))
    pk = table.primary_key
    own_fks = tuple(
        fk.model_copy(
            update={
                "columns": names(fk.columns),
                "ref_columns": names(fk.ref_columns)
                if same_name(fk.ref_table, table.name)
                else fk.ref_columns,
            }
        )
        for fk in table.foreign_keys
    )
    renamed = table.model_copy(
        update={
            "columns": tuple(
                c.model_copy(
                    update={
                        "name": new_name if c is column else c.name,
                        "generated": expr(c.generated),
                    }
                )
                for c in table.columns
            ),
            "primary_key": None
            if pk is None
            else pk.model_copy(update={"columns": names(pk.columns)}),
            "uniques": tuple(
                u.model_copy(update={"columns": names(u.columns)}) for u in table.uniques
            ),
            "foreign_keys": own_fks,
            "checks": tuple(c.model_copy(update={"expr": expr(c.expr)}) for c in table.checks),
        }
    )
    result = result.put("table", renamed)
    for index in schema.indexes_on(table.name):
        terms = tuple(
            term.model_copy(
                update={
                    "column": new_name
                    if term.column is not None and same_name(term.column, old)
                    else term.column,
                    "expr": expr(term.expr),
                }
            )
            for term in index.columns
        )
        result = result.put(
            "index", index.model_copy(update={"columns": terms, "where": expr(index.where)})
        )
    return result


def _column_altered(schema: Schema, op: ColumnAltered) -> Schema:
    table = schema.require_table(op.table)
    column = table.column(op.column)
    if column is None:
        raise ColumnNotFoundError(table.name, op.column)
    if column.generated is not None and (op.default is not None or op.drop_default):
        raise SchemaError(f"Column '{column.name}' is generated and cannot have a default")
    update: dict[str, Any] = {}
    if op.new_type is not None:
        update["type"] = op.new_type
    if op.not_null is not None:
        update["not_null"] = op.not_null
        if not op.not_null:
            update["not_null_conflict"] = None
    if op.default is not None:
        update["default"] = op.default
    if op.drop_default:
        update["default"] = None
    new_column = ColumnDef.model_validate({**column.model_dump(), **update})
    new = table.model_copy(
        update={"columns": tuple(new_column if c is column else c for c in table.columns)}
    )
    _check_table(schema, new)
    return schema.put("table", new)


def _index_created(schema: Schema, op: IndexCreated) -> Schema:
    index = op.index
    _ensure_free(schema, "index", index.name)
    table = schema.table(index.table)
    if table is None:
        raise TableNotFoundError(index.table)
    for ref in index_refs(index):
        if ref.column is not None and table.column(ref.column) is None:
            raise ColumnNotFoundError(table.name, ref.column)
    return schema.put("index", index)


def _index_dropped(schema: Schema, op: IndexDropped) -> Schema:
    if schema.index(op.index) is None:
        raise ObjectNotFoundError("index", op.index)
    return schema.remove("index", op.index)


def _check_reads(schema: Schema, refs: Iterable[Ref]) -> None:
    """Every table a view, trigger or data step reads exists, and so does every column of it."""
    for ref in refs:
        if ref.column is None:
            if schema.table(ref.table) is None and schema.view(ref.table) is None:
                raise TableNotFoundError(ref.table)
            continue
        table = schema.table(ref.table)
        if table is not None and table.column(ref.column) is None:
            raise ColumnNotFoundError(table.name, ref.column)


def _view_created(schema: Schema, op: ViewCreated) -> Schema:
    _ensure_free(schema, "view", op.view.name)
    _check_reads(schema, view_references(schema, op.view))
    return schema.put("view", op.view)


def _view_replaced(schema: Schema, op: ViewReplaced) -> Schema:
    if schema.view(op.view.name) is None:
        raise ObjectNotFoundError("view", op.view.name)
    _check_reads(schema, view_references(schema, op.view))
    return schema.put("view", op.view, was=op.view.name)


def _view_dropped(schema: Schema, op: ViewDropped) -> Schema:
    view = schema.view(op.view)
    if view is None:
        raise ObjectNotFoundError("view", op.view)
    blockers = [
        item
        for item in dependents_of(schema, view.name)
        if not (item[0] == "view" and same_name(item[1], view.name))
    ]
    if blockers:
        raise DependencyError(f"drop view '{view.name}'", blockers)
    return schema.remove("view", view.name)


def _trigger_created(schema: Schema, op: TriggerCreated) -> Schema:
    _ensure_free(schema, "trigger", op.trigger.name)
    if schema.table(op.trigger.table) is None and schema.view(op.trigger.table) is None:
        raise TableNotFoundError(op.trigger.table)
    _check_reads(schema, trigger_references(schema, op.trigger))
    return schema.put("trigger", op.trigger)


def _data_migrated(schema: Schema, op: DataMigrated) -> Schema:
    """A data step changes rows, not the schema; everything it names must exist, so a step
    is refused at the fold (merge, replay) and not only when SQLite runs it."""
    _check_reads(schema, data_step_refs(op.sql, schema.columns_of))
    return schema


def _trigger_dropped(schema: Schema, op: TriggerDropped) -> Schema:
    if schema.trigger(op.trigger) is None:
        raise ObjectNotFoundError("trigger", op.trigger)
    return schema.remove("trigger", op.trigger)


# -- fold ----------------------------------------------------------------------------------------


def fold(events: Sequence[Event], base: Schema | None = None) -> Schema:
    """The schema after applying every operation of ``events`` (a first-parent chain) in order."""
    schema = base or Schema()
    for event in events:
        schema = apply_all(schema, operations_of(event.change))
    return schema
