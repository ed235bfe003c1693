"""Hypothesis generation of random *valid* operation sequences over every operation type.

Each step draws a candidate operation from the current schema and keeps it only when the fold
accepts it, so sequences exercise renames and drops around dependent indexes, views, triggers,
CHECKs and foreign keys without the generator having to know every rule.
"""

from __future__ import annotations

from hypothesis import strategies as st

from journal import (
    Check,
    ColumnAdded,
    ColumnAltered,
    ColumnDef,
    ColumnDropped,
    ColumnRenamed,
    ForeignKey,
    IndexCreated,
    IndexDef,
    IndexDropped,
    IndexedColumn,
    Operation,
    PrimaryKey,
    Schema,
    SchemaError,
    TableCreated,
    TableDef,
    TableDropped,
    TableRenamed,
    TriggerCreated,
    TriggerDef,
    TriggerDropped,
    Unique,
    ViewCreated,
    ViewDef,
    ViewDropped,
    ViewReplaced,
    apply,
)
from journal.names import quote

TABLE_NAMES = ["users", "orders", "Items", "line item", "audit"]
# "Ä" and "ä" are two columns to SQLite, which folds only ASCII case when it compares names.
COLUMN_NAMES = ["a", "b", "Email", "price", "my col", "order", "qty", "note", "Ä", "ä"]
OBJECT_NAMES = ["o1", "o2", "o3", "Obj4"]
TYPES = ["INTEGER", "TEXT", "REAL", "NUMERIC", "BLOB", "", "VARCHAR(20)", "ANY"]
STRICT_TYPES = {"INTEGER", "TEXT", "REAL", "BLOB", "ANY"}
DEFAULTS = [None, "0", "'x'", "-1.5", "NULL", "(1 + 2)", "CURRENT_TIMESTAMP", "(lower('A'))"]
KINDS = [
    "create_table",
    "create_table",
    "drop_table",
    "rename_table",
    "add_column",
    "add_column",
    "drop_column",
    "rename_column",
    "alter_column",
    "create_index",
    "drop_index",
    "create_view",
    "replace_view",
    "drop_view",
    "create_trigger",
    "drop_trigger",
]


def _q(name: str) -> str:
    return quote(name)


@st.composite
def column(draw: st.DrawFn, name: str) -> ColumnDef:
    default = draw(st.sampled_from(DEFAULTS))
    not_null = draw(st.booleans()) and default not in (None, "NULL")
    return ColumnDef(
        name=name,
        type=draw(st.sampled_from(TYPES)),
        not_null=not_null,
        default=default,
        collate=draw(st.sampled_from([None, None, "NOCASE"])),
    )


def _free_names(schema: Schema, pool: list[str]) -> list[str]:
    return [n for n in pool if schema.kind_of(n) is None and schema.trigger(n) is None]


@st.composite
def create_table(draw: st.DrawFn, schema: Schema) -> Operation:
    name = draw(st.sampled_from(_free_names(schema, TABLE_NAMES) or ["spare"]))
    names = draw(st.lists(st.sampled_from(COLUMN_NAMES), min_size=1, max_size=4, unique=True))
    columns = [draw(column(n)) for n in names]
    pk_size = draw(st.integers(0, min(2, len(names))))
    primary_key = PrimaryKey(columns=tuple(names[:pk_size])) if pk_size else None
    uniques = ()
    if len(names) > pk_size and draw(st.booleans()):
        uniques = (Unique(columns=(names[-1],)),)
    checks = ()
    if draw(st.booleans()):
        checks = (Check(expr=f"length({_q(names[0])}) < 100"),)
    foreign_keys = ()
    parents = [t for t in schema.tables if t.primary_key and len(t.primary_key.columns) == 1]
    if parents and len(names) > pk_size and draw(st.booleans()):
        parent = draw(st.sampled_from(parents))
        foreign_keys = (
            ForeignKey(
                columns=(names[-1],),
                ref_table=parent.name,
                on_delete=draw(st.sampled_from(["NO ACTION", "CASCADE", "SET NULL"])),
            ),
        )
    return TableCreated(
        table=TableDef(
            name=name,
            columns=tuple(columns),
            primary_key=primary_key,
            uniques=uniques,
            checks=checks,
            foreign_keys=foreign_keys,
            strict=all(c.type in STRICT_TYPES for c in columns) and draw(st.booleans()),
            without_rowid=primary_key is not None and draw(st.booleans()),
        )
    )


def _columns(table: TableDef) -> list[str]:
    return [c.name for c in table.columns]


@st.composite
def operation(draw: st.DrawFn, schema: Schema) -> Operation | None:
    kind = draw(st.sampled_from(KINDS))
    if kind == "create_table" or not schema.tables:
        return draw(create_table(schema))
    table = draw(st.sampled_from(schema.tables))
    cols = _columns(table)
    col = draw(st.sampled_from(cols))
    other = draw(st.sampled_from(schema.tables))
    if kind == "drop_table":
        return TableDropped(table=table.name)
    if kind == "rename_table":
        return TableRenamed(
            table=table.name, new_name=draw(st.sampled_from([*TABLE_NAMES, "renamed"]))
        )
    if kind == "add_column":
        name = draw(st.sampled_from([c for c in COLUMN_NAMES if c not in cols] or ["extra"]))
        new = draw(column(name))
        if draw(st.integers(0, 4)) == 0:
            # A generated column over an existing one: VIRTUAL is added in place, STORED needs
            # a rebuild.
            new = ColumnDef(
                name=name,
                type="INTEGER",
                generated=f"length({_q(col)})",
                stored=draw(st.booleans()),
            )
            return ColumnAdded(table=table.name, column=new)
        return ColumnAdded(
            table=table.name,
            column=new,
            unique=draw(st.booleans()) and not new.not_null,
            check=draw(st.sampled_from([None, f"{_q(name)} IS NOT 42"])),
        )
    if kind == "drop_column":
        return ColumnDropped(table=table.name, column=col)
    if kind == "rename_column":
        return ColumnRenamed(
            table=table.name, column=col, new_name=draw(st.sampled_from([*COLUMN_NAMES, "Renamed"]))
        )
    if kind == "alter_column":
        choice = draw(st.sampled_from(["type", "default", "drop_default", "null"]))
        if choice == "type":
            return ColumnAltered(
                table=table.name, column=col, new_type=draw(st.sampled_from(TYPES[:4]))
            )
        if choice == "default":
            return ColumnAltered(
                table=table.name, column=col, default=draw(st.sampled_from(["7", "'y'", "(2 * 3)"]))
            )
        current = table.column(col)
        if choice == "drop_default" and current is not None and not current.not_null:
            return ColumnAltered(table=table.name, column=col, drop_default=True)
        return ColumnAltered(table=table.name, column=col, not_null=False)
    if kind == "create_index":
        name = draw(st.sampled_from(_free_names(schema, OBJECT_NAMES) or ["spare_index"]))
        style = draw(st.sampled_from(["plain", "two", "expr", "partial"]))
        terms = [IndexedColumn(column=col, desc=draw(st.booleans()))]
        if style == "two" and len(cols) > 1:
            terms.append(IndexedColumn(column=draw(st.sampled_from([c for c in cols if c != col]))))
        if style == "expr":
            terms = [IndexedColumn(expr=f"lower({_q(col)})")]
        where = f"{_q(col)} IS NOT NULL" if style == "partial" else None
        return IndexCreated(
            index=IndexDef(
                name=name,
                table=table.name,
                columns=tuple(terms),
                unique=draw(st.booleans()) and style != "partial",
                where=where,
            )
        )
    if kind == "drop_index":
        if not schema.indexes:
            return None
        return IndexDropped(index=draw(st.sampled_from(schema.indexes)).name)
    if kind in ("create_view", "replace_view"):
        if kind == "replace_view":
            if not schema.views:
                return None
            name = draw(st.sampled_from(schema.views)).name
        else:
            name = draw(st.sampled_from(_free_names(schema, OBJECT_NAMES) or ["spare_view"]))
        other_col = draw(st.sampled_from(_columns(other)))
        shape = draw(st.sampled_from(["single", "join", "aliased", "over_view"]))
        t, o, c = _q(table.name), _q(other.name), _q(col)
        if shape == "single":
            body = f"SELECT {c}, {t}.{_q(cols[0])} FROM {t} WHERE {c} IS NOT NULL"
        elif shape == "join" and other.name != table.name:
            oc = _q(other_col)
            body = f"SELECT {t}.{c} AS x, {o}.{oc} AS y FROM {t} JOIN {o} ON {t}.{c} = {o}.{oc}"
        elif shape == "over_view" and schema.views and kind == "create_view":
            base = draw(st.sampled_from(schema.views))
            body = f"SELECT * FROM {_q(base.name)}"
        else:
            body = f"SELECT t1.{_q(col)} AS v FROM {_q(table.name)} AS t1 ORDER BY t1.{_q(col)}"
        sql = f"CREATE VIEW {_q(name)} AS {body}"
        view = ViewDef(name=name, sql=sql)
        return ViewCreated(view=view) if kind == "create_view" else ViewReplaced(view=view)
    if kind == "drop_view":
        if not schema.views:
            return None
        return ViewDropped(view=draw(st.sampled_from(schema.views)).name)
    if kind == "create_trigger":
        name = draw(
            st.sampled_from(
                [n for n in OBJECT_NAMES if schema.trigger(n) is None] or ["spare_trigger"]
            )
        )
        other_col = draw(st.sampled_from(_columns(other)))
        shape = draw(st.sampled_from(["update_other", "insert_other", "when"]))
        if shape == "update_other":
            sql = (
                f"CREATE TRIGGER {_q(name)} AFTER INSERT ON {_q(table.name)} BEGIN"
                f" UPDATE {_q(other.name)} SET {_q(other_col)} = new.{_q(col)}"
                f" WHERE {_q(other_col)} IS NULL; END"
            )
        elif shape == "insert_other":
            sql = (
                f"CREATE TRIGGER {_q(name)} AFTER DELETE ON {_q(table.name)} BEGIN"
                f" INSERT INTO {_q(other.name)} ({_q(other_col)}) VALUES (old.{_q(col)});"
                f" DELETE FROM {_q(other.name)} WHERE {_q(other_col)} = old.{_q(col)} AND 0; END"
            )
        else:
            sql = (
                f"CREATE TRIGGER {_q(name)} BEFORE UPDATE OF {_q(col)} ON {_q(table.name)}"
                f" WHEN new.{_q(col)} IS NOT old.{_q(col)} BEGIN SELECT 1; END"
            )
        return TriggerCreated(trigger=TriggerDef(name=name, table=table.name, sql=sql))
    if not schema.triggers:
        return None
    return TriggerDropped(trigger=draw(st.sampled_from(schema.triggers)).name)


@st.composite
def valid_sequence(
    draw: st.DrawFn, max_size: int = 20, start: Schema | None = None
) -> list[Operation]:
    """A list of operations each of which the fold accepts after the ones before it (starting
    from ``start``, the empty schema by default)."""
    schema = start or Schema()
    out: list[Operation] = []
    target = draw(st.integers(1, max_size))
    attempts = 0
    while len(out) < target and attempts < target * 6:
        attempts += 1
        candidate = draw(operation(schema))
        if candidate is None:
            continue
        try:
            schema = apply(schema, candidate)
        except (SchemaError, ValueError):
            continue
        out.append(candidate)
    return out
