"""Schema state and the pure fold: ``apply(schema, operation) -> schema``.

A :class:`Schema` is an immutable value. ``apply`` validates an operation against it (names
exist or are free, nothing that depends on a dropped object is left dangling) and returns the
next value; it carries renames through the SQL of dependent views, triggers, indexes, CHECKs and
foreign keys exactly where SQLite's own ``ALTER TABLE ... RENAME`` rewrites them, so a SQLite
file that replays the same events has the same schema (``journal.introspect``).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from journal.definitions import (
    Check,
    Column,
    ForeignKey,
    IndexDef,
    TableDef,
    TriggerDef,
    Unique,
    ViewDef,
)
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
from journal.sqlrefs import (
    Ref,
    canonical_sql,
    column_renamer,
    expression_refs,
    identifiers,
    mentions,
    rename_in_sql,
    table_renamer,
    trigger_refs,
    view_refs,
)


def _keyed(items: Iterable[Any]) -> dict[str, Any]:
    return {fold_name(item.name): item for item in items}


@attrs.frozen(eq=True, hash=False)
class Schema:
    """Tables, indexes, views and triggers, each in creation order, keyed by folded name.

    Keyed storage keeps the fold linear: an operation copies one dict (at C speed) and
    touches one entry, instead of rebuilding every collection. Build one from definitions with
    :meth:`of`; read them back as tuples through ``tables``, ``indexes``, ``views``,
    ``triggers``.
    """

    table_map: Mapping[str, TableDef] = attrs.field(factory=dict)
    index_map: Mapping[str, IndexDef] = attrs.field(factory=dict)
    view_map: Mapping[str, ViewDef] = attrs.field(factory=dict)
    trigger_map: Mapping[str, TriggerDef] = attrs.field(factory=dict)

    @classmethod
    def of(
        cls,
        tables: Iterable[TableDef] = (),
        indexes: Iterable[IndexDef] = (),
        views: Iterable[ViewDef] = (),
        triggers: Iterable[TriggerDef] = (),
    ) -> Schema:
        return cls(_keyed(tables), _keyed(indexes), _keyed(views), _keyed(triggers))

    @functools.cached_property
    def tables(self) -> tuple[TableDef, ...]:
        return tuple(self.table_map.values())

    @functools.cached_property
    def indexes(self) -> tuple[IndexDef, ...]:
        return tuple(self.index_map.values())

    @functools.cached_property
    def views(self) -> tuple[ViewDef, ...]:
        return tuple(self.view_map.values())

    @functools.cached_property
    def triggers(self) -> tuple[TriggerDef, ...]:
        return tuple(self.trigger_map.values())

    # -- lookups ---------------------------------------------------------------------------
    def table(self, name: str) -> TableDef | None:
        return self.table_map.get(fold_name(name))

    def index(self, name: str) -> IndexDef | None:
        return self.index_map.get(fold_name(name))

    def view(self, name: str) -> ViewDef | None:
        return self.view_map.get(fold_name(name))

    def trigger(self, name: str) -> TriggerDef | None:
        return self.trigger_map.get(fold_name(name))

    # -- building the next value -----------------------------------------------------------
    def put(self, kind: str, item: Any, *, was: str | None = None) -> Schema:
        """A copy with ``item`` added or replaced; ``was`` names it before a rename, which
        keeps its position."""
        field = _FIELD[kind]
        current: Mapping[str, Any] = getattr(self, field)
        key = fold_name(item.name)
        if was is not None and fold_name(was) != key:
            old_key = fold_name(was)
            updated = {
                (key if k == old_key else k): (item if k == old_key else v)
                for k, v in current.items()
            }
        else:
            updated = dict(current)
            updated[key] = item
        return attrs.evolve(self, **{field: updated})

    def remove(self, kind: str, name: str) -> Schema:
        field = _FIELD[kind]
        updated = dict(getattr(self, field))
        del updated[fold_name(name)]
        return attrs.evolve(self, **{field: updated})

    def require_table(self, name: str) -> TableDef:
        table = self.table(name)
        if table is None:
            raise ObjectNotFoundError("table", name)
        return table

    def kind_of(self, name: str) -> str | None:
        """Tables, views and indexes share one namespace in SQLite; triggers have their own."""
        if self.table(name) is not None:
            return "table"
        if self.view(name) is not None:
            return "view"
        if self.index(name) is not None:
            return "index"
        return None

    def columns_of(self, name: str) -> tuple[str, ...] | None:
        table = self.table(name)
        return None if table is None else tuple(c.name for c in table.columns)

    def indexes_on(self, table: str) -> tuple[IndexDef, ...]:
        key = fold_name(table)
        return tuple(i for i in self.index_map.values() if fold_name(i.table) == key)

    def triggers_on(self, table: str) -> tuple[TriggerDef, ...]:
        key = fold_name(table)
        return tuple(t for t in self.trigger_map.values() if fold_name(t.table) == key)

    # -- identity --------------------------------------------------------------------------
    def canonical(self) -> dict[str, Any]:
        """A formatting-independent description; equal schemas have equal canonical forms."""
        return {
            "tables": sorted((_canonical_table(t) for t in self.tables), key=_by_name),
            "indexes": sorted((_canonical_index(i) for i in self.indexes), key=_by_name),
            "views": sorted(
                ({"name": v.name, "sql": canonical_sql(v.sql)} for v in self.views), key=_by_name
            ),
            "triggers": sorted(
                (
                    {"name": t.name, "table": fold_name(t.table), "sql": canonical_sql(t.sql)}
                    for t in self.triggers
                ),
                key=_by_name,
            ),
        }

    def canonical_text(self) -> str:
        return json.dumps(self.canonical(), sort_keys=True, indent=1)

    def hash(self) -> str:
        return hashlib.sha256(self.canonical_text().encode()).hexdigest()


_FIELD = {"table": "table_map", "index": "index_map", "view": "view_map", "trigger": "trigger_map"}


def _by_name(item: dict[str, Any]) -> str:
    return fold_name(item["name"])


def _canonical_table(table: TableDef) -> dict[str, Any]:
    def columns(names: Iterable[str]) -> list[str]:
        return [fold_name(n) for n in names]

    return {
        "name": table.name,
        "columns": [
            {
                "name": c.name,
                "type": " ".join(c.type.split()),
                "not_null": c.not_null,
                "not_null_conflict": c.not_null_conflict,
                "default": None if c.default is None else canonical_sql(_unparen(c.default)),
                "collate": None if c.collate is None else c.collate.upper(),
                "generated": None if c.generated is None else canonical_sql(c.generated),
                "stored": c.stored,
            }
            for c in table.columns
        ],
        "primary_key": None
        if table.primary_key is None
        else {
            "columns": columns(table.primary_key.columns),
            "autoincrement": table.primary_key.autoincrement,
            "on_conflict": table.primary_key.on_conflict,
        },
        "uniques": sorted(
            [{"columns": columns(u.columns), "on_conflict": u.on_conflict} for u in table.uniques],
            key=str,
        ),
        "foreign_keys": sorted(
            [
                {
                    "columns": columns(fk.columns),
                    "ref_table": fold_name(fk.ref_table),
                    "ref_columns": columns(fk.ref_columns),
                    "on_delete": fk.on_delete,
                    "on_update": fk.on_update,
                    "deferrable": fk.deferrable,
                }
                for fk in table.foreign_keys
            ],
            key=str,
        ),
        "checks": sorted(canonical_sql(c.expr) for c in table.checks),
        "strict": table.strict,
        "without_rowid": table.without_rowid,
    }


def _canonical_index(index: IndexDef) -> dict[str, Any]:
    return {
        "name": index.name,
        "table": fold_name(index.table),
        "unique": index.unique,
        "columns": [
            {
                "column": None if c.column is None else fold_name(c.column),
                "expr": None if c.expr is None else canonical_sql(_unparen(c.expr)),
                "collate": None if c.collate is None else c.collate.upper(),
                "desc": c.desc,
            }
            for c in index.columns
        ],
        "where": None if index.where is None else canonical_sql(index.where),
    }


def _unparen(text: str) -> str:
    text = text.strip()
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    return text


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


# -- dependencies ------------------------------------------------------------------------------


def view_references(schema: Schema, view: ViewDef) -> list[Ref]:
    return view_refs(view.sql, schema.columns_of)


def trigger_references(schema: Schema, trigger: TriggerDef) -> list[Ref]:
    return trigger_refs(trigger.sql, schema.columns_of)


def index_references(index: IndexDef) -> list[Ref]:
    refs: list[Ref] = []
    for term in index.columns:
        if term.column is not None:
            refs.append(Ref(index.table, term.column, 0, 0))
        else:
            assert term.expr is not None
            refs += expression_refs(term.expr, index.table)
    if index.where is not None:
        refs += expression_refs(index.where, index.table)
    return refs


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
            if uses(index_references(index)):
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
            if _check_columns(check, table) - {fold_name(column)} and fold_name(
                column
            ) in _check_columns(check, table):
                found.append(("check", check.name or check.expr))
        for col in own.columns:
            if col.generated and any(
                same_name(r.column or "", column) for r in expression_refs(col.generated, table)
            ):
                found.append(("generated column", col.name))
        for constraint in own.uniques:
            if len(constraint.columns) > 1 and _has(constraint.columns, column):
                found.append(("unique constraint", ", ".join(constraint.columns)))
        for fk in own.foreign_keys:
            if len(fk.columns) > 1 and _has(fk.columns, column):
                found.append(("foreign key", ", ".join(fk.columns)))
    return list(dict.fromkeys(found))


def _check_columns(check: Check, table: str) -> set[str]:
    return {fold_name(r.column) for r in expression_refs(check.expr, table) if r.column}


def _fk_targets_column(schema: Schema, fk: ForeignKey, column: str) -> bool:
    if fk.ref_columns:
        return _has(fk.ref_columns, column)
    target = schema.table(fk.ref_table)
    return bool(target and target.primary_key and _has(target.primary_key.columns, column))


def _has(names: Iterable[str], name: str) -> bool:
    return any(same_name(n, name) for n in names)


# -- apply -------------------------------------------------------------------------------------


def apply(schema: Schema, operation: Operation) -> Schema:
    """Return the schema after ``operation``; raise SchemaError if it does not apply."""
    handler = _HANDLERS.get(type(operation))
    if handler is None:
        raise SchemaError(f"Unknown operation {operation.type}")
    return handler(schema, operation)


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
    """Foreign keys point at existing tables and columns; expressions use own columns."""
    names = {fold_name(c.name) for c in table.columns}
    for fk in table.foreign_keys:
        target = table if same_name(fk.ref_table, table.name) else schema.table(fk.ref_table)
        if target is None:
            raise ObjectNotFoundError("table", fk.ref_table)
        for ref_column in fk.ref_columns:
            if target.column(ref_column) is None:
                raise ObjectNotFoundError("column", ref_column, target.name)
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
                raise ObjectNotFoundError("column", ref.column, table.name)


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
        raise ObjectNotFoundError("column", op.column, table.name)
    if len(table.columns) == 1:
        raise SchemaError(
            f"Cannot drop column '{column.name}': it is the only column of"
            f" table '{table.name}'; drop the table instead"
        )
    if table.primary_key is not None and _has(table.primary_key.columns, column.name):
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
            "uniques": tuple(u for u in table.uniques if not _has(u.columns, column.name)),
            "foreign_keys": tuple(
                fk for fk in table.foreign_keys if not _has(fk.columns, column.name)
            ),
            "checks": tuple(
                c
                for c in table.checks
                if fold_name(column.name) not in _check_columns(c, table.name)
            ),
        }
    )
    return schema.put("table", new)


def _column_renamed(schema: Schema, op: ColumnRenamed) -> Schema:
    table = schema.require_table(op.table)
    column = table.column(op.column)
    if column is None:
        raise ObjectNotFoundError("column", op.column, table.name)
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
        raise ObjectNotFoundError("column", op.column, table.name)
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
    new_column = Column.model_validate({**column.model_dump(), **update})
    new = table.model_copy(
        update={"columns": tuple(new_column if c is column else c for c in table.columns)}
    )
    return schema.put("table", new)


def _index_created(schema: Schema, op: IndexCreated) -> Schema:
    index = op.index
    _ensure_free(schema, "index", index.name)
    table = schema.table(index.table)
    if table is None:
        raise ObjectNotFoundError("table", index.table)
    for ref in index_references(index):
        if ref.column is not None and table.column(ref.column) is None:
            raise ObjectNotFoundError("column", ref.column, table.name)
    return schema.put("index", index)


def _index_dropped(schema: Schema, op: IndexDropped) -> Schema:
    if schema.index(op.index) is None:
        raise ObjectNotFoundError("index", op.index)
    return schema.remove("index", op.index)


def _check_reads(schema: Schema, refs: Iterable[Ref], what: str) -> None:
    """Every table a view or trigger reads exists, and so does every column of it."""
    for ref in refs:
        if ref.column is None:
            if schema.table(ref.table) is None and schema.view(ref.table) is None:
                raise ObjectNotFoundError("table", ref.table)
            continue
        table = schema.table(ref.table)
        if table is not None and table.column(ref.column) is None:
            raise ObjectNotFoundError("column", ref.column, table.name)
    del what


def _view_created(schema: Schema, op: ViewCreated) -> Schema:
    _ensure_free(schema, "view", op.view.name)
    _check_reads(schema, view_references(schema, op.view), "view")
    return schema.put("view", op.view)


def _view_replaced(schema: Schema, op: ViewReplaced) -> Schema:
    if schema.view(op.view.name) is None:
        raise ObjectNotFoundError("view", op.view.name)
    _check_reads(schema, view_references(schema, op.view), "view")
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
        raise ObjectNotFoundError("table", op.trigger.table)
    _check_reads(schema, trigger_references(schema, op.trigger), "trigger")
    return schema.put("trigger", op.trigger)


def _trigger_dropped(schema: Schema, op: TriggerDropped) -> Schema:
    if schema.trigger(op.trigger) is None:
        raise ObjectNotFoundError("trigger", op.trigger)
    return schema.remove("trigger", op.trigger)


_HANDLERS: dict[type[Any], Callable[[Schema, Any], Schema]] = {
    TableCreated: _table_created,
    TableDropped: _table_dropped,
    TableRenamed: _table_renamed,
    ColumnAdded: _column_added,
    ColumnDropped: _column_dropped,
    ColumnRenamed: _column_renamed,
    ColumnAltered: _column_altered,
    IndexCreated: _index_created,
    IndexDropped: _index_dropped,
    ViewCreated: _view_created,
    ViewReplaced: _view_replaced,
    ViewDropped: _view_dropped,
    TriggerCreated: _trigger_created,
    TriggerDropped: _trigger_dropped,
}


# -- fold ----------------------------------------------------------------------------------------


def fold(events: Sequence[Event], base: Schema | None = None) -> Schema:
    """The schema after applying every operation of ``events`` (a first-parent chain) in order."""
    schema = base or Schema()
    for event in events:
        schema = apply_all(schema, operations_of(event.change))
    return schema


class FoldCache:
    """Schemas by event id, computed incrementally along first-parent chains.

    ``load`` returns an event by id (e.g. ``JournalStore.get_event``). Reading the schema at a
    head already seen is a dict lookup; after an append only the new events are applied.
    """

    def __init__(self, load: Callable[[str], Event]) -> None:
        self._load = load
        self._schemas: dict[str, Schema] = {}

    def schema_at(self, event_id: str | None) -> Schema:
        if event_id is None:
            return Schema()
        pending: list[Event] = []
        cursor: str | None = event_id
        while cursor is not None and cursor not in self._schemas:
            event = self._load(cursor)
            pending.append(event)
            cursor = event.parents[0] if event.parents else None
        schema = Schema() if cursor is None else self._schemas[cursor]
        for event in reversed(pending):
            try:
                schema = apply_all(schema, operations_of(event.change))
            except SchemaError as e:
                raise SchemaError(
                    f"Event {event.short_id} ({event.type}) does not apply: {e}"
                ) from e
            self._schemas[event.id] = schema
        return schema

    def remember(self, event_id: str, schema: Schema) -> None:
        """Record a schema already computed (e.g. by the writer that appended the event)."""
        self._schemas[event_id] = schema

    def __len__(self) -> int:
        return len(self._schemas)
