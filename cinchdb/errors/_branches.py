"""Errors of databases, branches, merges and history (reset, revert)."""

from __future__ import annotations

from collections.abc import Sequence

from journal.errors import (
    BranchNotFoundError,
    CinchError,
    DatabaseNotFoundError,
    EventNotFoundError,
    SchemaError,
)


class ProtectedError(CinchError, ValueError):
    """The main branch or tenant, or what a handle is on, cannot be deleted or renamed."""

    def __init__(self, kind: str, name: str, action: str, because: str = "") -> None:
        self.kind = kind
        self.name = name
        self.action = action
        self.because = because
        if because:
            super().__init__(f"{kind.capitalize()} '{name}' cannot be {action}: {because}")
        else:
            super().__init__(f"The {name} {kind} cannot be {action}")


class UnmergedBranchError(CinchError, ValueError):
    """A branch holds schema events that no other branch has: deleting it would lose them
    (``force=True`` / ``--force`` deletes it anyway, like ``git branch -D``)."""

    def __init__(self, branch: str, events: int) -> None:
        self.branch = branch
        self.events = events
        super().__init__(
            f"Branch '{branch}' has {events} event(s) that no other branch has: use --force to"
            " delete it anyway"
        )


class UnknownDatabaseError(DatabaseNotFoundError):
    """A database named where none may be created (the CLI's ``-d``) does not exist; the
    message offers the close names (``did you mean``), else lists them all."""

    def __init__(self, database: str, known: Sequence[str], close: Sequence[str]) -> None:
        self.database = database
        self.known = tuple(known)
        self.close = tuple(close)
        if self.close:
            offer = "; did you mean " + " or ".join(f"'{n}'" for n in self.close) + "?"
        else:
            offer = f" (databases: {', '.join(sorted(self.known))})"
        Exception.__init__(self, f"Database '{database}' does not exist{offer}")


class UnknownBranchRefError(BranchNotFoundError, EventNotFoundError):
    """A ref that can only be a branch name (not hexadecimal, so no event id) names no branch
    of the database: both a :class:`BranchNotFoundError` and the
    :class:`EventNotFoundError` a bad ref raises."""

    def __init__(self, database: str, ref: str) -> None:
        self.database = database
        self.branch = self.ref = ref
        # Both parents build a message; this is the branch's, without the chain calling both.
        Exception.__init__(self, f"Branch '{ref}' does not exist in database '{database}'")


class TooManyHeadsError(CinchError, ValueError):
    """``merge --heads`` joins two heads; git merged three or more lines of one branch's
    history, so there are more. ``heads`` are their ids."""

    def __init__(self, database: str, branch: str, heads: Sequence[str]) -> None:
        self.database = database
        self.branch = branch
        self.heads = tuple(heads)
        shown = ", ".join(head[:12] for head in self.heads)
        super().__init__(
            f"Branch '{branch}' of database '{database}' has {len(self.heads)} heads ({shown});"
            " `cinch merge --heads` joins two: undo one of the git merges (git revert -m 1),"
            " merge the heads, then merge that line again"
        )


class UnknownResolutionError(CinchError, ValueError):
    """A merge resolution names an object that is not in conflict, or a side that is neither
    ``ours`` nor ``theirs``."""

    def __init__(self, what: str, reason: str) -> None:
        self.what = what
        self.reason = reason
        super().__init__(f"Cannot resolve {what}: {reason}")


class RevertLosesDataError(SchemaError):
    """A revert would not bring back what the reverted change lost (rows, column values), or
    would destroy what was written since; given ``force=True`` it runs anyway."""

    def __init__(self, event_id: str, losses: list[str]) -> None:
        self.event_id = event_id
        self.losses = losses
        super().__init__(
            f"Reverting {event_id[:12]} cannot restore everything: {'; '.join(losses)}."
            " Pass force=True to revert anyway"
        )


class ResetRefusedError(CinchError, ValueError):
    """``reset_branch`` would not leave a working branch: the ref is not on the branch's
    first-parent history, or some tenant files of the branch already hold events past it
    (``tenants``). Nothing was changed."""

    def __init__(self, branch: str, ref: str, reason: str, tenants: Sequence[str] = ()) -> None:
        self.branch = branch
        self.ref = ref
        self.reason = reason
        self.tenants = list(tenants)
        super().__init__(f"Cannot reset branch '{branch}' to '{ref}': {reason}")
