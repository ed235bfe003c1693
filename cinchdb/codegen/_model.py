"""What the generators need to know about a schema, language-neutral: tables and views with
their columns, each column's CinchDB type, nullability and whether an insert may leave it out.
"""

from __future__ import annotations

import keyword
import re
import sqlite3

import attrs

from cinchdb.models import affinity_type
from journal.events import IndexCreated, Operation, TableCreated, TriggerCreated, ViewCreated
from journal.names import fold_name, quote
from journal.replay import apply_operations
from journal.schema import Schema

AUTOMATIC = ("id", "created_at", "updated_at")


@attrs.frozen
class Field:
    name: str  # as in the database
    identifier: str  # a valid identifier in generated code
    type: str  # TEXT, INTEGER, REAL, BLOB, NUMERIC, BOOLEAN, or "" when unknown (views)
    nullable: bool
    optional_on_insert: bool  # a default, NULL allowed, or filled by CinchDB


@attrs.frozen
class Entity:
    name: str
    class_name: str
    attribute: str
    fields: tuple[Field, ...]
    view: bool
    # The columns that name a row (as the SDK's get/update/delete take it): the primary key,
    # else ``id``, else ``rowid``; empty for a view.
    key: tuple[str, ...] = ()


@attrs.frozen
class CodeModel:
    database: str
    branch: str
    schema_hash: str
    entities: tuple[Entity, ...]


def identifier(name: str) -> str:
    """A Python/TypeScript identifier for a database name."""
    text = re.sub(r"\W", "_", name)
    if not text or text[0].isdigit():
        text = f"f_{text}"
    if keyword.iskeyword(text) or text in ("model_config", "model_fields"):
        text += "_"
    return text


def class_name(name: str) -> str:
    parts = [p for p in re.split(r"[^0-9A-Za-z]+", name) if p]
    text = "".join(p[:1].upper() + p[1:] for p in parts) or "Table"
    return f"T{text}" if text[0].isdigit() else text


def _view_columns(schema: Schema) -> dict[str, list[tuple[str, str]]]:
    """Each view's output columns and declared types, as SQLite reports them."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        operations: list[Operation] = [
            *(TableCreated(table=t) for t in schema.tables),
            *(IndexCreated(index=i) for i in schema.indexes),
            *(ViewCreated(view=v) for v in schema.views),
            *(TriggerCreated(trigger=t) for t in schema.triggers),
        ]
        apply_operations(conn, Schema(), operations)
        return {
            view.name: [
                (row[1], row[2] or "")
                for row in conn.execute(f"PRAGMA table_xinfo({quote(view.name)})")
            ]
            for view in schema.views
        }
    finally:
        conn.close()


def build_model(schema: Schema, *, database: str, branch: str) -> CodeModel:
    entities: list[Entity] = []
    for table in schema.tables:
        pk = {fold_name(c) for c in table.primary_key.columns} if table.primary_key else set()
        fields = []
        for column in table.columns:
            automatic = column.name in AUTOMATIC  # always filled by CinchDB
            nullable = not automatic and not column.not_null and fold_name(column.name) not in pk
            optional = (
                automatic or nullable or column.default is not None or column.generated is not None
            )
            fields.append(
                Field(column.name, identifier(column.name), affinity_type(column.type),
                      nullable, optional)
            )  # fmt: skip
        if table.primary_key is not None:
            key = tuple(table.primary_key.columns)
        else:
            key = ("id",) if any(c.name == "id" for c in table.columns) else ("rowid",)
        entities.append(Entity(table.name, class_name(table.name), identifier(table.name),
                               tuple(fields), view=False, key=key))  # fmt: skip
    views = _view_columns(schema) if schema.views else {}
    for view in schema.views:
        fields = [
            Field(name, identifier(name), affinity_type(declared) if declared else "", True, True)
            for name, declared in views[view.name]
        ]
        entities.append(Entity(view.name, class_name(view.name), identifier(view.name),
                               tuple(fields), view=True))  # fmt: skip
    return CodeModel(database, branch, schema.hash(), tuple(entities))
