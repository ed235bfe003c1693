"""Schemas by event id: :class:`FoldCache`, the one cache of "the schema after this event".

Kept apart from the fold itself (``journal.fold``) because every handle makes one when it
opens, while most handles never fold anything: a process that reads a tenant already at its
branch head needs no schema, and the fold's modules (the definition and event models, with
pydantic) cost a command's start-up more than its work. So the fold, the events and the
``Schema`` load on the first schema asked for (``journal._lazy.lazy_module``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from journal._lazy import lazy_module
from journal.errors import SchemaError

if TYPE_CHECKING:
    import journal.fold as _fold  # the module: ``from journal import fold`` is the function
    from journal import events as _events
    from journal import schema as _schema
    from journal.events import Event
    from journal.schema import Schema
else:  # loaded by the first schema computed, not by making the cache
    _events = lazy_module("journal.events")
    _fold = lazy_module("journal.fold")
    _schema = lazy_module("journal.schema")

__all__ = ["WALK_STEP_MAX", "Chain", "ChainLink", "FoldCache"]


#: The most events :meth:`FoldCache.schema_at` asks its chain for in one walk step.
WALK_STEP_MAX = 1024


class ChainLink(Protocol):
    """One event of a first-parent walk (``journal.store.ChainLink``)."""

    @property
    def event_id(self) -> str: ...

    @property
    def parent(self) -> str | None: ...

    @property
    def snapshot(self) -> str | None: ...


class Chain(Protocol):
    """Where a :class:`FoldCache` finds stored snapshots (``journal.store.JournalStore``)."""

    def first_parents(self, event_id: str, limit: int) -> Sequence[ChainLink]: ...

    def events(self, event_ids: Sequence[str]) -> list[Event]: ...


class FoldCache:
    """Schemas by event id, computed incrementally along first-parent chains.

    ``load`` returns an event by id (e.g. ``JournalStore.get_event``). Reading the schema at a
    head already seen is a dict lookup; after an append only the new events are applied.

    With ``chain`` (the store), a schema not in memory is folded from the nearest stored
    snapshot on the first-parent chain (see ``JournalStore.append``), reading only the ids
    back to it and the bodies of the events after it. The walk reaches a snapshot only
    through the chain being folded, the store drops a snapshot whose hash does not match its
    event and body, and a body that does not parse into a schema of this version is passed
    over: any of these only makes the fold start further back, down to the root.
    """

    def __init__(self, load: Callable[[str], Event], *, chain: Chain | None = None) -> None:
        self._load = load
        self._chain = chain
        self._schemas: dict[str, Schema] = {}

    def schema_at(self, event_id: str | None) -> Schema:
        if event_id is None:
            return _schema.Schema()
        cached = self._schemas.get(event_id)
        if cached is not None:
            return cached
        if self._chain is not None:
            start = self._start(self._chain, event_id)
            if start is not None:
                base_id, base, pending_ids = start
                events = self._chain.events(pending_ids)
                # The walk followed parent rows; the bodies (checked against their ids) must
                # name the same parents, or the walk is not trusted.
                parent = base_id
                for event in events:
                    if (event.parents[0] if event.parents else None) != parent:
                        return self._walk(event_id)
                    parent = event.id
                return self._apply(base, events)
        return self._walk(event_id)

    def _start(self, chain: Chain, event_id: str) -> tuple[str | None, Schema, list[str]] | None:
        """Where to start folding toward ``event_id``: the nearest event on its first-parent
        chain whose schema is in memory or in a usable snapshot (None and the empty schema at
        the root), and the ids after it, oldest first. None if the walk is inconsistent."""
        pending: list[str] = []
        seen: set[str] = set()
        cursor = event_id
        # Small steps first: a warm cache usually holds the parent a few events back (a file
        # catching up, the events of one append), and SQL cannot see this dict.
        limit = 4
        while True:
            links = chain.first_parents(cursor, limit)
            limit = min(limit * 4, WALK_STEP_MAX)
            if not links or links[0].event_id != cursor:
                return None
            for link in links:
                if link.event_id in seen:
                    return None  # a cycle in the parent rows: never in a sound journal
                seen.add(link.event_id)
                known = self._schemas.get(link.event_id)
                if known is None and link.snapshot is not None:
                    known = _schema.Schema.from_snapshot_text(link.snapshot)
                    if known is not None:
                        self._schemas[link.event_id] = known
                if known is not None:
                    pending.reverse()
                    return link.event_id, known, pending
                pending.append(link.event_id)
                if link.parent is None:
                    pending.reverse()
                    return None, _schema.Schema(), pending
            next_cursor = links[-1].parent
            assert next_cursor is not None  # the loop returned at the root
            cursor = next_cursor

    def _walk(self, event_id: str) -> Schema:
        """Fold by following the events' own parents back to a schema in memory."""
        pending: list[Event] = []
        cursor: str | None = event_id
        while cursor is not None and cursor not in self._schemas:
            event = self._load(cursor)
            pending.append(event)
            cursor = event.parents[0] if event.parents else None
        pending.reverse()
        return self._apply(_schema.Schema() if cursor is None else self._schemas[cursor], pending)

    def _apply(self, schema: Schema, events: Sequence[Event]) -> Schema:
        for event in events:
            try:
                schema = _fold.apply_all(schema, _events.operations_of(event.change))
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
