"""What a merge produces and consumes: the steps of a side, the plan, the conflicts."""

from __future__ import annotations

from typing import Any

import attrs

from journal.events import (
    Operation,
)
from journal.names import fold_name
from journal.schema import Schema

#: Conflict kinds.
BOTH_CHANGED = "both_changed"
DROP_VS_CHANGE = "drop_vs_change"
RENAME_RENAME = "rename_rename"
DEPENDENCY = "dependency"
NAME_COLLISION = "name_collision"
SEMANTIC = "semantic"
DATA_DEPENDENCY = "data_dependency"  # a data step against a change to what it names


@attrs.frozen
class Conflict:
    """One reason a merge cannot be made automatically.

    ``object`` is "table users", "column users.email", "view adults"...; ``base``, ``ours``,
    ``theirs`` describe the object on each side (SQL or a short phrase; None: absent);
    ``events`` are the ids of the events involved; ``sides`` the resolutions that apply to it
    ("ours", "theirs"; empty: none, the schema itself is broken).
    """

    kind: str
    object: str
    message: str
    base: str | None = None
    ours: str | None = None
    theirs: str | None = None
    events: tuple[str, ...] = ()
    sides: tuple[str, ...] = ()

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
    resolved: tuple[tuple[str, str], ...] = ()  # (object, side) a person chose
    in_conflict: tuple[str, ...] = ()  # every object found in conflict, resolved or not


OURS = "ours"
THEIRS = "theirs"
SIDES = (OURS, THEIRS)


def object_key(text: str) -> str:
    """``text`` ("view V", "column Users.Email") as SQLite compares names: kind, folded name."""
    kind, _, name = text.strip().partition(" ")
    return f"{kind.lower()} {fold_name(name.strip())}"


@attrs.define
class Resolver:
    """The sides a person chose, by object (``resolve``) or for every conflict (``strategy``).
    Records which objects it was asked about and which resolutions it gave."""

    resolve: dict[str, str] = attrs.field(factory=dict)
    strategy: str | None = None
    asked: list[str] = attrs.field(factory=list)
    given: list[tuple[str, str]] = attrs.field(factory=list)

    @classmethod
    def of(cls, resolve: dict[str, str] | None, strategy: str | None) -> Resolver:
        return cls({object_key(k): v for k, v in (resolve or {}).items()}, strategy)

    def side(self, what: str) -> str | None:
        """The side chosen for object ``what`` (None: it stays a conflict)."""
        if what not in self.asked:
            self.asked.append(what)
        return self.resolve.get(object_key(what)) or self.strategy

    def record(self, what: str, side: str) -> None:
        if (what, side) not in self.given:
            self.given.append((what, side))
