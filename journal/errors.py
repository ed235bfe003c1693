"""The journal's exception tree.

Every error the core raises derives from :class:`JournalError`. Each also inherits the builtin
it semantically is (``ValueError`` for bad input, ``LookupError`` for something missing) so
callers that only know the builtins still catch them. Errors carry structured attributes and
build their message in ``__init__``; ``exit_code`` is what the ``cinch`` command line exits
with when the error reaches it. ``docs/errors.md`` lists them all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar, Protocol

from typing_extensions import Self


class CinchError(Exception):
    """Root of every error CinchDB raises, in the core and in the product.

    Defined here, in the core, because the core cannot import the product; ``cinchdb.errors``
    re-exports it and hangs the product's subtrees (tenants, KV, ...) under it.
    """

    #: The ``cinch`` exit status for this error: 1 an error, 3 a merge conflict.
    exit_code: ClassVar[int] = 1

    @classmethod
    def from_wire(cls, message: str, details: Mapping[str, object]) -> Self:
        """Rebuild an error that crossed the wire (``cinch serve``): the same class, message
        and attributes, without calling the subclass's ``__init__`` (whose arguments did not
        travel; the message built from them did)."""
        error = cls.__new__(cls)
        Exception.__init__(error, message)
        for name, value in details.items():
            setattr(error, name, value)
        return error


class JournalError(CinchError):
    """Root of every error raised by the journal core."""


class InvalidNameError(JournalError, ValueError):
    """A name or identifier is empty, too long, or contains characters we refuse."""

    def __init__(self, kind: str, name: object, reason: str) -> None:
        self.kind = kind
        self.name = name
        self.reason = reason
        super().__init__(f"Invalid {kind} name {name!r}: {reason}")


class SQLParseError(JournalError, ValueError):
    """SQL text could not be turned into schema events.

    ``line`` and ``column`` are 1-based positions inside ``sql`` when known.
    """

    def __init__(
        self,
        message: str,
        *,
        sql: str,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.reason = message
        self.sql = sql
        self.line = line
        self.column = column
        where = f" (line {line}, column {column})" if line is not None else ""
        snippet = " ".join(sql.split())
        if len(snippet) > 80:
            snippet = snippet[:77] + "..."
        super().__init__(f"{message}{where} in statement: {snippet}")


class DataStepRefusedError(SQLParseError):
    """A data step (INSERT, UPDATE or DELETE in a migration) is not allowed: it reads or writes
    CinchDB's own tables or an attached database, has RETURNING, or calls a function whose
    result would differ per tenant (``random()``, ``datetime('now')``) without
    ``allow_nondeterministic``. ``reason`` says which; nothing was written."""


class SchemaError(JournalError, ValueError):
    """An event cannot be applied to the schema it targets."""


class ObjectExistsError(SchemaError):
    """A table, column, index, view or trigger of that name already exists."""

    def __init__(self, kind: str, name: str, where: str | None = None) -> None:
        self.kind = kind
        self.name = name
        suffix = f" in table '{where}'" if where else ""
        super().__init__(f"{kind.capitalize()} '{name}' already exists{suffix}")


class ObjectNotFoundError(SchemaError, LookupError):
    """The table, column, index, view or trigger an event names does not exist."""

    def __init__(self, kind: str, name: str, where: str | None = None) -> None:
        self.kind = kind
        self.name = name
        suffix = f" in table '{where}'" if where else ""
        super().__init__(f"{kind.capitalize()} '{name}' does not exist{suffix}")


class TableNotFoundError(ObjectNotFoundError):
    """No table of that name exists (in the schema, or in the tenant's file)."""

    def __init__(self, table: str) -> None:
        self.table = table
        super().__init__("table", table)


class ColumnNotFoundError(ObjectNotFoundError):
    """The table has no column of that name (matched as SQLite matches names)."""

    def __init__(self, table: str, column: str) -> None:
        self.table = table
        self.column = column
        super().__init__("column", column, table)


class DependencyError(SchemaError):
    """Dropping or changing an object would break objects that depend on it.

    ``dependents`` lists ``(kind, name)`` pairs, e.g. ``("view", "active_users")``.
    """

    def __init__(self, action: str, dependents: Sequence[tuple[str, str]]) -> None:
        self.action = action
        self.dependents = tuple(dependents)
        names = ", ".join(f"{kind} '{name}'" for kind, name in self.dependents)
        super().__init__(
            f"Cannot {action}: {names} depend{'s' if len(self.dependents) == 1 else ''} on it."
            " Drop or change the dependent objects first."
        )


class JournalStoreError(JournalError):
    """The journal database cannot be read or written."""


class DatabaseNotFoundError(JournalStoreError, LookupError):
    """The project has no database of that name."""

    def __init__(self, database: str) -> None:
        self.database = database
        super().__init__(f"Database '{database}' does not exist")


class DatabaseExistsError(JournalStoreError, ValueError):
    """A database of that name already exists."""

    def __init__(self, database: str) -> None:
        self.database = database
        super().__init__(f"Database '{database}' already exists")


class BranchNotFoundError(JournalStoreError, LookupError):
    """The database has no branch of that name."""

    def __init__(self, database: str, branch: str) -> None:
        self.database = database
        self.branch = branch
        super().__init__(f"Branch '{branch}' does not exist in database '{database}'")


class BranchExistsError(JournalStoreError, ValueError):
    """A branch of that name already exists in the database."""

    def __init__(self, database: str, branch: str) -> None:
        self.database = database
        self.branch = branch
        super().__init__(f"Branch '{branch}' already exists in database '{database}'")


class EventNotFoundError(JournalStoreError, LookupError):
    """No event (or branch, or ``branch~N``) answers to that reference, or it is ambiguous."""

    def __init__(self, ref: str, reason: str = "no such event") -> None:
        self.ref = ref
        super().__init__(f"Event '{ref}': {reason}")


class ConcurrentChangeError(JournalStoreError):
    """Another writer moved the branch head between our read and our append."""

    def __init__(
        self, database: str, branch: str, expected: str | None, actual: str | None
    ) -> None:
        self.database = database
        self.branch = branch
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"Branch '{branch}' of database '{database}' changed while this change was being"
            f" made (expected head {_short(expected)}, found {_short(actual)});"
            " re-read the branch and try again"
        )


class BranchHeadsError(JournalStoreError, ValueError):
    """A branch has several heads (git merged two lines of its history) and a change was made
    on it that does not join them; ``heads`` are the heads' ids."""

    def __init__(self, database: str, branch: str, heads: Sequence[str]) -> None:
        self.database = database
        self.branch = branch
        self.heads = tuple(heads)
        shown = ", ".join(head[:12] for head in self.heads)
        super().__init__(
            f"Branch '{branch}' of database '{database}' has {len(self.heads)} heads ({shown}):"
            " git merged two lines of its history. Merge them first with"
            f" `cinch merge --heads {branch}`, then make the change"
        )


class CorruptJournalError(JournalStoreError):
    """An event's stored content does not match its id, or the DAG is malformed."""


class SQLiteRefusedError(SchemaError):
    """SQLite refuses a schema change that the journal's own checks let through (a CHECK with a
    subquery, a non-deterministic index, a view that cannot be selected, a trigger that does
    not compile...); the change was not written anywhere.

    ``what`` names the operation or object, ``statement`` the SQL SQLite refused, ``reason``
    SQLite's own words.
    """

    def __init__(self, what: str, statement: str, reason: str) -> None:
        self.what = what
        self.statement = statement
        self.reason = reason
        snippet = " ".join(statement.split())
        if len(snippet) > 160:
            snippet = snippet[:157] + "..."
        super().__init__(f"SQLite refuses {what}: {reason}, in statement: {snippet}")


class _Typed(Protocol):
    # An operation, seen only through its type: the events module imports this one.
    @property
    def type(self) -> str: ...


class ReplayError(JournalError, ValueError):
    """A statement failed on this database (typically: existing rows violate the change)."""

    def __init__(self, operation: _Typed, statement: str, reason: str) -> None:
        self.operation = operation
        self.statement = statement
        self.reason = reason
        super().__init__(f"{operation.type} failed: {reason}")


class DataStepNotReversibleError(JournalError, ValueError):
    """``revert`` of a data step recorded without down SQL: the journal cannot know how to undo
    an UPDATE, INSERT or DELETE. Give the undo with ``migrate(sql, down=...)`` (``cinch migrate
    --down FILE``); nothing was written."""

    def __init__(self, event_id: str, statement: str) -> None:
        self.event_id = event_id
        self.statement = statement
        snippet = " ".join(statement.split())
        if len(snippet) > 60:
            snippet = snippet[:57] + "..."
        step = f"data step {event_id[:12]}" if event_id else "data step"
        super().__init__(
            f"{step} ({snippet}) has no down SQL; give one with migrate(sql, down=...)"
        )


def _short(event_id: str | None) -> str:
    return "<empty>" if event_id is None else event_id[:12]


class MergeConflictError(JournalError, ValueError):
    """A merge would produce a broken or ambiguous schema; nothing was written.

    ``conflicts`` lists :class:`journal.merge.Conflict` values: kind, object, the base / ours /
    theirs definitions, the events involved and a sentence that explains each.
    """

    exit_code: ClassVar[int] = 3

    def __init__(self, conflicts: Sequence[object], *, source: str = "", target: str = "") -> None:
        self.conflicts = list(conflicts)
        self.source = source
        self.target = target
        into = f" merging '{source}' into '{target}'" if source and target else ""
        first = getattr(self.conflicts[0], "message", str(self.conflicts[0])) if conflicts else ""
        more = f" (and {len(self.conflicts) - 1} more)" if len(self.conflicts) > 1 else ""
        super().__init__(f"{len(self.conflicts)} conflict(s){into}: {first}{more}")
