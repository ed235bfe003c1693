"""Typed events: every schema change is one immutable, content-addressed fact.

An :class:`Event` is an envelope (id, parents, database, author, message, created_at, version)
around one *change*. Changes are past-tense facts with a ``type`` discriminator. Primitive
changes are :data:`Operation` s; :class:`BranchesMerged` and :class:`EventReverted` carry the
operations they apply. An event's id is the sha256 of its canonical JSON body, so any edit of a
stored event is detectable and identical content always has the identical id.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    field_validator,
    model_serializer,
    model_validator,
)
from typing_extensions import assert_never

from journal.canonical import canonical_json, content_id
from journal.definitions import ColumnDef, ForeignKey, IndexDef, TableDef, TriggerDef, ViewDef
from journal.errors import CorruptJournalError
from journal.names import validate_database_name, validate_identifier

#: Payload version written by this code. Older stored payloads are upcast on read.
CURRENT_VERSION = 1


class _Change(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _table_name(value: str) -> str:
    return validate_identifier("table", value)


def _column_name(value: str) -> str:
    return validate_identifier("column", value, object_name=False)


class TableCreated(_Change):
    type: Literal["TableCreated"] = "TableCreated"
    table: TableDef


class TableDropped(_Change):
    type: Literal["TableDropped"] = "TableDropped"
    table: str

    _v = field_validator("table")(_table_name)


class TableRenamed(_Change):
    type: Literal["TableRenamed"] = "TableRenamed"
    table: str
    new_name: str

    _v = field_validator("table", "new_name")(_table_name)


class ColumnAdded(_Change):
    """A new column, with the constraints SQLite lets a column carry on its own."""

    type: Literal["ColumnAdded"] = "ColumnAdded"
    table: str
    column: ColumnDef
    unique: bool = False
    references: ForeignKey | None = None
    check: str | None = None

    _v = field_validator("table")(_table_name)

    @model_validator(mode="after")
    def _fk_is_this_column(self) -> ColumnAdded:
        if self.references is not None and self.references.columns != (self.column.name,):
            raise ValueError("the foreign key of an added column must be on that column")
        return self


class ColumnDropped(_Change):
    type: Literal["ColumnDropped"] = "ColumnDropped"
    table: str
    column: str

    _v = field_validator("table")(_table_name)
    _c = field_validator("column")(_column_name)


class ColumnRenamed(_Change):
    type: Literal["ColumnRenamed"] = "ColumnRenamed"
    table: str
    column: str
    new_name: str

    _v = field_validator("table")(_table_name)
    _c = field_validator("column", "new_name")(_column_name)


class ColumnAltered(_Change):
    """Type, nullability or default of a column changed. ``None`` fields are unchanged."""

    type: Literal["ColumnAltered"] = "ColumnAltered"
    table: str
    column: str
    new_type: str | None = None
    not_null: bool | None = None
    default: str | None = None
    drop_default: bool = False

    _v = field_validator("table")(_table_name)
    _c = field_validator("column")(_column_name)

    @model_validator(mode="after")
    def _something(self) -> ColumnAltered:
        if self.default is not None and self.drop_default:
            raise ValueError("set a default or drop it, not both")
        if (
            self.new_type is None
            and self.not_null is None
            and self.default is None
            and not self.drop_default
        ):
            raise ValueError("an alteration must change the type, nullability or default")
        return self


class IndexCreated(_Change):
    type: Literal["IndexCreated"] = "IndexCreated"
    index: IndexDef


class IndexDropped(_Change):
    type: Literal["IndexDropped"] = "IndexDropped"
    index: str

    @field_validator("index")
    @classmethod
    def _name(cls, value: str) -> str:
        return validate_identifier("index", value)


class ViewCreated(_Change):
    type: Literal["ViewCreated"] = "ViewCreated"
    view: ViewDef


class ViewReplaced(_Change):
    type: Literal["ViewReplaced"] = "ViewReplaced"
    view: ViewDef


class ViewDropped(_Change):
    type: Literal["ViewDropped"] = "ViewDropped"
    view: str

    @field_validator("view")
    @classmethod
    def _name(cls, value: str) -> str:
        return validate_identifier("view", value)


class TriggerCreated(_Change):
    type: Literal["TriggerCreated"] = "TriggerCreated"
    trigger: TriggerDef


class TriggerDropped(_Change):
    type: Literal["TriggerDropped"] = "TriggerDropped"
    trigger: str

    @field_validator("trigger")
    @classmethod
    def _name(cls, value: str) -> str:
        return validate_identifier("trigger", value)


class DataMigrated(_Change):
    """A data step: one DML statement (INSERT, UPDATE or DELETE) run on every tenant and on
    the template, exactly once each. The schema does not change. ``down`` holds the statements
    that undo it (``revert`` refuses a data step without them); ``nondeterministic`` records
    that the user allowed functions whose result differs per tenant (``random()``,
    ``datetime('now')``)."""

    type: Literal["DataMigrated"] = "DataMigrated"
    sql: str
    down: tuple[str, ...] = ()
    nondeterministic: bool = False

    @field_validator("sql")
    @classmethod
    def _statement(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("a data step needs a statement")
        return value

    @field_validator("down")
    @classmethod
    def _down(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        down = tuple(statement.strip() for statement in value)
        if not all(down):
            raise ValueError("a down statement cannot be empty")
        return down

    @model_serializer(mode="wrap")
    def _without_defaults(self, handler: SerializerFunctionWrapHandler) -> Any:
        # Optional parts are left out when unused, so the common data step has the smallest
        # canonical body and adding an option later never changes an old step's id.
        data = handler(self)
        if isinstance(data, dict):
            if not self.down:
                data.pop("down", None)
            if not self.nondeterministic:
                data.pop("nondeterministic", None)
        return data


# The primitive operations, as a plain union so that ``Change`` can extend it.
_Operations = (
    TableCreated
    | TableDropped
    | TableRenamed
    | ColumnAdded
    | ColumnDropped
    | ColumnRenamed
    | ColumnAltered
    | IndexCreated
    | IndexDropped
    | ViewCreated
    | ViewReplaced
    | ViewDropped
    | TriggerCreated
    | TriggerDropped
    | DataMigrated
)
Operation = Annotated[_Operations, Field(discriminator="type")]


class Resolution(BaseModel):
    """A conflict a person resolved: the object as the conflict named it, and the side kept."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    object: str
    side: Literal["ours", "theirs"]


class BranchesMerged(_Change):
    """A merge commit: the operations that bring the first parent's schema to the result, and
    the conflicts a person resolved to make it."""

    type: Literal["BranchesMerged"] = "BranchesMerged"
    source: str
    target: str
    operations: tuple[Operation, ...] = ()
    resolutions: tuple[Resolution, ...] = ()

    @model_serializer(mode="wrap")
    def _without_empty_resolutions(self, handler: SerializerFunctionWrapHandler) -> Any:
        # Merges written before resolutions existed keep their canonical body (and so their id).
        data = handler(self)
        if isinstance(data, dict) and not self.resolutions:
            data.pop("resolutions", None)
        return data


class EventReverted(_Change):
    """An undo: the inverse operations of ``reverted``, appended as a new fact."""

    type: Literal["EventReverted"] = "EventReverted"
    reverted: str
    operations: tuple[Operation, ...] = ()


Change = Annotated[_Operations | BranchesMerged | EventReverted, Field(discriminator="type")]

OPERATION_ADAPTER: TypeAdapter[Operation] = TypeAdapter(Operation)
CHANGE_ADAPTER: TypeAdapter[Change] = TypeAdapter(Change)


def operations_of(change: Change) -> tuple[Operation, ...]:
    """The primitive operations a change applies, in order."""
    match change:
        case BranchesMerged() | EventReverted():
            return change.operations
        case _:
            return (change,)


def summarize(change: Change) -> str:
    """One line describing a change."""
    match change:
        case BranchesMerged():
            resolved = "".join(f"; resolved {r.object}={r.side}" for r in change.resolutions)
            return (
                f"merge {change.source} into {change.target}"
                f" ({len(change.operations)} operations{resolved})"
            )
        case EventReverted():
            return f"revert {change.reverted[:12]} ({len(change.operations)} operations)"
        case TableCreated():
            return f"create table {change.table.name} ({len(change.table.columns)} columns)"
        case TableDropped():
            return f"drop table {change.table}"
        case TableRenamed():
            return f"rename table {change.table} to {change.new_name}"
        case ColumnAdded():
            return f"add column {change.table}.{change.column.name} {change.column.type}".rstrip()
        case ColumnDropped():
            return f"drop column {change.table}.{change.column}"
        case ColumnRenamed():
            return f"rename column {change.table}.{change.column} to {change.new_name}"
        case ColumnAltered():
            parts = [f"type {change.new_type}"] if change.new_type else []
            if change.not_null is not None:
                parts.append("not null" if change.not_null else "nullable")
            if change.default is not None:
                parts.append(f"default {change.default}")
            if change.drop_default:
                parts.append("no default")
            return f"alter column {change.table}.{change.column}: {', '.join(parts)}"
        case IndexCreated():
            unique = "unique " if change.index.unique else ""
            return f"create {unique}index {change.index.name} on {change.index.table}"
        case IndexDropped():
            return f"drop index {change.index}"
        case ViewCreated():
            return f"create view {change.view.name}"
        case ViewReplaced():
            return f"replace view {change.view.name}"
        case ViewDropped():
            return f"drop view {change.view}"
        case TriggerCreated():
            return f"create trigger {change.trigger.name} on {change.trigger.table}"
        case TriggerDropped():
            return f"drop trigger {change.trigger}"
        case DataMigrated():
            return f"data: {data_step_text(change)}"
        case _:
            assert_never(change)


def data_step_text(step: DataMigrated, width: int = 60) -> str:
    """The first ``width`` characters of a data step's statement on one line, for logs and
    messages."""
    text = " ".join(step.sql.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _utc_text(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("created_at must be timezone-aware")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Event(BaseModel):
    """One immutable journal entry. Build new ones with :meth:`create`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    parents: tuple[str, ...]
    database: str
    author: str
    message: str
    created_at: datetime
    version: int
    change: Change
    _body_text: str | None = PrivateAttr(default=None)

    @field_validator("created_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("created_at must be timezone-aware")
        return value.astimezone(timezone.utc)

    @field_validator("database")
    @classmethod
    def _database(cls, value: str) -> str:
        return validate_database_name(value)

    @field_validator("parents")
    @classmethod
    def _parents(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(value) > 2:
            raise ValueError("an event has at most two parents")
        if len(set(value)) != len(value):
            raise ValueError("an event cannot list the same parent twice")
        return value

    @property
    def type(self) -> str:
        return self.change.type

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def operations(self) -> tuple[Operation, ...]:
        return operations_of(self.change)

    @property
    def summary(self) -> str:
        """One line a person reads in a log: "add column users.age INTEGER"."""
        return summarize(self.change)

    def body(self) -> dict[str, Any]:
        """Everything but the id, as plain JSON values. The id is the hash of this."""
        return {
            "parents": list(self.parents),
            "database": self.database,
            "author": self.author,
            "message": self.message,
            "created_at": _utc_text(self.created_at),
            "version": self.version,
            "type": self.change.type,
            "payload": self.change.model_dump(mode="json", exclude={"type"}),
        }

    def canonical_body(self) -> str:
        """The canonical JSON the id hashes. Computed once per event: the store writes it
        right after ``create`` hashed it."""
        if self._body_text is None:
            object.__setattr__(self, "_body_text", canonical_json(self.body()))
        assert self._body_text is not None
        return self._body_text

    @classmethod
    def create(
        cls,
        change: Change,
        *,
        parents: tuple[str, ...] | list[str],
        database: str,
        author: str = "",
        message: str = "",
        created_at: datetime | None = None,
    ) -> Event:
        draft = cls(
            id="",
            parents=tuple(parents),
            database=database,
            author=author,
            message=message,
            created_at=created_at or datetime.now(timezone.utc),
            version=CURRENT_VERSION,
            change=change,
        )
        body = draft.canonical_body()
        event = draft.model_copy(update={"id": content_id(body)})
        object.__setattr__(event, "_body_text", body)
        return event

    @classmethod
    def from_body(cls, event_id: str, body_text: str, *, verify: bool = True) -> Event:
        """Rebuild a stored event, checking its id against its content and upcasting it."""
        if verify and content_id(body_text) != event_id:
            raise CorruptJournalError(f"Event {event_id[:12]} does not match its content")
        body = json.loads(body_text)
        body = upcast(body)
        payload = dict(body["payload"], type=body["type"])
        return cls(
            id=event_id,
            parents=tuple(body["parents"]),
            database=body["database"],
            author=body["author"],
            message=body["message"],
            created_at=datetime.fromisoformat(body["created_at"].replace("Z", "+00:00")),
            version=body["version"],
            change=CHANGE_ADAPTER.validate_python(payload),
        )


#: Upgraders of stored bodies, keyed by (change type, version they upgrade *from*). Each takes
#: a body dict of that version and returns one of the next version. The id is always checked
#: against the stored text before upcasting, so upcasting never breaks tamper evidence.
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcast(body: dict[str, Any]) -> dict[str, Any]:
    while body["version"] < CURRENT_VERSION:
        step = UPCASTERS.get((body["type"], body["version"]))
        # A version bump with no upcaster means the payload shape did not change.
        body = dict(body, version=body["version"] + 1) if step is None else step(body)
    if body["version"] > CURRENT_VERSION:
        raise CorruptJournalError(
            f"Event version {body['version']} is newer than this CinchDB understands"
            f" ({CURRENT_VERSION}); upgrade CinchDB"
        )
    return body
