"""CinchDB's errors: one root, :class:`CinchError`, with subtrees per concern.

The journal core's errors (schema, parse, store, branch) are re-exported here so a user needs
one import. Each error also inherits the builtin it semantically is, so the reference's
documented ``ValueError`` cases hold: ``except ValueError`` catches a missing table or record.
"""

from __future__ import annotations

from journal.errors import (
    BranchExistsError,
    BranchNotFoundError,
    CinchError,
    ConcurrentChangeError,
    CorruptJournalError,
    DatabaseExistsError,
    DatabaseNotFoundError,
    DependencyError,
    EventNotFoundError,
    InvalidNameError,
    JournalError,
    JournalStoreError,
    ObjectExistsError,
    ObjectNotFoundError,
    SchemaError,
    SQLParseError,
)

__all__ = [
    "BranchExistsError",
    "BranchNotFoundError",
    "CinchError",
    "ConcurrentChangeError",
    "CorruptJournalError",
    "DatabaseExistsError",
    "DatabaseNotFoundError",
    "DependencyError",
    "EventNotFoundError",
    "InvalidNameError",
    "JournalError",
    "JournalStoreError",
    "ObjectExistsError",
    "ObjectNotFoundError",
    "ProjectError",
    "ProjectExistsError",
    "ProjectNotFoundError",
    "SQLParseError",
    "SchemaError",
]


class ProjectError(CinchError):
    """The project directory (``.cinchdb/``) is missing, already there, or unreadable."""


class ProjectNotFoundError(ProjectError, LookupError):
    def __init__(self, start: str) -> None:
        self.start = start
        super().__init__(
            f"No CinchDB project found in {start} or any parent directory;"
            " run 'cinch init' to create one"
        )


class ProjectExistsError(ProjectError, ValueError):
    def __init__(self, root: str) -> None:
        self.root = root
        super().__init__(f"A CinchDB project already exists in {root}")
