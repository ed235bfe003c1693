"""What a merge produces and consumes: the steps of a side, the plan, the conflicts."""

from __future__ import annotations

from typing import Any

import attrs

from journal.events import (
    Operation,
)
from journal.schema import Schema

#: Conflict kinds.
BOTH_CHANGED = "both_changed"
DROP_VS_CHANGE = "drop_vs_change"
RENAME_RENAME = "rename_rename"
DEPENDENCY = "dependency"
NAME_COLLISION = "name_collision"
SEMANTIC = "semantic"


@attrs.frozen
class Conflict:
    """One reason a merge cannot be made automatically.

    ``object`` is "table users", "column users.email", "view adults"...; ``base``, ``ours``,
    ``theirs`` describe the object on each side (SQL or a short phrase; None: absent);
    ``events`` are the ids of the events involved.
    """

    kind: str
    object: str
    message: str
    base: str | None = None
    ours: str | None = None
    theirs: str | None = None
    events: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class SideStep:
    """One operation of a side: the event that made it and the schema just before it."""

    event: str
    before: Schema
    operation: Operation


@attrs.frozen
class Translated:
    """An operation of the replayed side as it applies to the other side, with the event it
    came from: carried together so a conflict found later cites the right event."""

    operation: Operation
    event: str


@attrs.frozen
class MergePlan:
    """A clean merge: the operations that take ours' schema to the merged one."""

    operations: tuple[Operation, ...]
    schema: Schema
    resolutions: tuple[str, ...] = ()
    skipped: int = 0  # operations of theirs that ours already had (identical changes)
