"""Errors of the project directory, of handles, and of call arguments."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from journal.errors import CinchError


class ProjectError(CinchError):
    """The project directory (``.cinchdb/``) is missing, already there, or unreadable."""


class ProjectNotFoundError(ProjectError, LookupError):
    """No ``.cinchdb/`` in the directory given or any parent of it."""

    def __init__(self, start: str) -> None:
        self.start = start
        super().__init__(
            f"No CinchDB project found in {start} or any parent directory;"
            " run 'cinch init' to create one"
        )


class ProjectExistsError(ProjectError, ValueError):
    """``init`` was asked to create a project where one already is."""

    def __init__(self, root: str) -> None:
        self.root = root
        super().__init__(f"A CinchDB project already exists in {root}")


class ProjectDirectoryError(ProjectError, OSError):
    """The project's directory cannot be created or written (missing parent, a file, no
    permission)."""

    def __init__(self, root: str, reason: str) -> None:
        self.root = root
        self.reason = reason
        super().__init__(f"Cannot create a CinchDB project in {root}: {reason}")


class JournalMissingError(ProjectError, OSError):
    """``metadata.db`` is missing or empty while tenant files exist: opening would start an
    empty journal over them, so nothing is opened until it is restored."""

    def __init__(self, path: Path, state: str, tenant_files: int) -> None:
        self.path = path
        self.state = state
        self.tenant_files = tenant_files
        super().__init__(
            f"The journal {path} is {state}, but {tenant_files} tenant file(s) exist beside it:"
            " the schema history, branches and tenant registry they belong to are gone, and"
            " CinchDB will not start an empty journal over them. Restore metadata.db (with its"
            " -wal file, if the backup has one) from a backup into that directory, then"
            " connect again; nothing was changed"
        )


class HandleClosedError(CinchError, ValueError):
    """The handle was closed; open a new one (a ``ValueError`` like a closed file's)."""

    def __init__(self, database: str, branch: str, tenant: str) -> None:
        self.database = database
        self.branch = branch
        self.tenant = tenant
        super().__init__(
            f"This handle on database '{database}', branch '{branch}', tenant '{tenant}'"
            " is closed; connect again"
        )


class ArgumentError(CinchError, ValueError):
    """A call's arguments do not fit together (no rows, no data, no id); nothing was done."""

    def __init__(self, call: str, problem: str) -> None:
        self.call = call
        self.problem = problem
        super().__init__(f"{call}() {problem}")


class InvalidFieldError(CinchError, ValueError):
    """A model's field or a call's argument has a value it cannot take (``Column(type="WHAT")``,
    ``drop_table(5)``): named with the reason; nothing was done.

    ``problems`` lists (field, reason) pairs; ``owner`` is the model (``Column``) or the call
    (``drop_table()``), ``kind`` says "field" or "argument".
    """

    def __init__(
        self, owner: str, kind: str, problems: Sequence[tuple[str, str]], *, said: bool = False
    ) -> None:
        self.owner = owner
        self.kind = kind
        self.problems = tuple(problems)
        listed = "; ".join(
            f"{kind} '{field}': {reason}" if field else reason for field, reason in self.problems
        )
        # ``said``: one problem whose reason is already a sentence naming the field, written
        # by CinchDB's own check ("Unknown column type 'MONEY'; use one of ...").
        super().__init__(self.problems[0][1] if said else f"{owner} {listed}")
