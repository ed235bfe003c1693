"""Schema state: an immutable value with a canonical form and a stable hash.

A :class:`Schema` holds the tables, indexes, views and triggers that a first-parent chain of
events produces. Two schemas that differ only in formatting (quoting, case of keywords,
whitespace, column-level versus table-level spelling of a constraint) have the same
:meth:`Schema.canonical` form and :meth:`Schema.hash`. The pure fold that produces schemas is in
``journal.fold``; what depends on what is in ``journal.dependencies``.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import attrs
from pydantic import BaseModel, ConfigDict, ValidationError

from journal.definitions import (
    IndexDef,
    TableDef,
    TriggerDef,
    ViewDef,
)
from journal.errors import (
    TableNotFoundError,
)
from journal.names import fold_name
from journal.render import render_create_index, render_create_table
from journal.sqlrefs import (
    canonical_sql,
)

#: Version of :meth:`Schema.snapshot_text`. Bump it whenever the text changes shape or the
#: fold changes what an event produces: a stored snapshot of another version is not used.
SNAPSHOT_FORMAT = 1


def _keyed(items: Iterable[Any]) -> dict[str, Any]:
    return {fold_name(item.name): item for item in items}


class _Snapshot(BaseModel):
    """The stored form of a schema: every definition in creation order, validated on read
    like the events that carry them (pydantic's core does both directions)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal[1]
    tables: tuple[TableDef, ...]
    indexes: tuple[IndexDef, ...]
    views: tuple[ViewDef, ...]
    triggers: tuple[TriggerDef, ...]


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
            raise TableNotFoundError(name)
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

    def sql(self) -> str:
        """The schema as a SQL script that creates it: tables, indexes, views, triggers."""
        statements = [render_create_table(t) for t in self.tables]
        statements += [render_create_index(i) for i in self.indexes]
        statements += [v.sql for v in self.views]
        statements += [t.sql for t in self.triggers]
        return "".join(f"{statement};\n" for statement in statements)

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

    def snapshot_text(self) -> str:
        """The schema as JSON that :meth:`from_snapshot_text` turns back into an equal value,
        definitions in creation order (unlike :meth:`canonical`, which is lossy on purpose).
        """
        return _Snapshot(
            format=SNAPSHOT_FORMAT,
            tables=self.tables,
            indexes=self.indexes,
            views=self.views,
            triggers=self.triggers,
        ).model_dump_json()

    @classmethod
    def from_snapshot_text(cls, text: str) -> Schema | None:
        """The schema :meth:`snapshot_text` wrote; None for text that is not a valid snapshot
        of this :data:`SNAPSHOT_FORMAT` (the caller folds events instead)."""
        try:
            stored = _Snapshot.model_validate_json(text)
        except ValidationError:
            return None
        return cls.of(stored.tables, stored.indexes, stored.views, stored.triggers)

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
                "default": None if c.default is None else canonical_sql(unparenthesize(c.default)),
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
                "expr": None if c.expr is None else canonical_sql(unparenthesize(c.expr)),
                "collate": None if c.collate is None else c.collate.upper(),
                "desc": c.desc,
            }
            for c in index.columns
        ],
        "where": None if index.where is None else canonical_sql(index.where),
    }


def unparenthesize(text: str) -> str:
    """SQL text without the balanced parentheses wrapped around all of it: ``((1))`` -> ``1``."""
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
