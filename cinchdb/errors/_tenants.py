"""The ``TenantError`` subtree: a tenant's name, existence, file or data refused an action."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from journal.errors import CinchError


class TenantError(CinchError):
    """Root of tenant errors: a tenant's name, existence, file or data refused an action."""


class InvalidTenantNameError(TenantError, ValueError):
    """A tenant name that is empty, too long, or has characters we refuse."""

    def __init__(self, name: object, reason: str) -> None:
        self.name = name
        super().__init__(f"Invalid tenant name {name!r}: {reason}")


class TenantNotFoundError(TenantError, ValueError, LookupError):
    """No tenant of that name in the database."""

    def __init__(self, database: str, name: str) -> None:
        self.database = database
        self.name = name
        super().__init__(f"Tenant '{name}' does not exist in database '{database}'")


class TenantExistsError(TenantError, ValueError):
    """A tenant of that name already exists in the database."""

    def __init__(self, database: str, name: str) -> None:
        self.database = database
        self.name = name
        super().__init__(f"Tenant '{name}' already exists in database '{database}'")


class TenantDivergedError(TenantError):
    """A file's cursor is not on its branch's history (the branch was moved under it)."""

    def __init__(self, path: Path, cursor: str) -> None:
        self.path = path
        self.cursor = cursor
        super().__init__(
            f"{path} is at event {cursor[:12]}, which is not in the history of its branch"
        )


class TenantCheckoutLosesDataError(TenantDivergedError):
    """A tenant's file is at an event the checked-out history lacks (it followed another git
    branch), and bringing it back to the branch head would lose data (``losses``), or could
    not be done (``reason``). Nothing was changed: switch back to that git branch, or rebuild
    the tenant at the head with ``cinch tenant reset NAME`` (SDK ``reset_tenant``), which
    loses its rows."""

    def __init__(
        self,
        tenant: str,
        branch: str,
        path: Path,
        cursor: str,
        losses: Sequence[str],
        reason: str | None = None,
    ) -> None:
        self.tenant = tenant
        self.branch = branch
        self.losses = list(losses)
        self.reason = reason
        problem = (
            f"bringing it to the head would lose: {'; '.join(self.losses)}"
            if self.losses
            else f"SQLite refuses to bring it to the head: {reason}"
        )
        TenantError.__init__(
            self,
            f"Tenant '{tenant}' on branch '{branch}' is at event {cursor[:12]}, which the"
            f" checked-out history lacks (it followed another git branch); {problem}."
            " Switch back to that git branch, or rebuild the tenant at the head with"
            f" `cinch tenant reset {tenant}` (its rows are lost)",
        )
        self.path = path
        self.cursor = cursor


class TenantAheadOfJournalError(TenantDivergedError):
    """A tenant's file holds an event this project's journal does not have at all: the
    journal is older than the file (restored from a point before a schema change the file
    already holds). Only that tenant is refused; the others open as usual. Restore the
    journal from a later point, or move the file aside and reset the tenant."""

    def __init__(self, tenant: str, branch: str, path: Path, cursor: str) -> None:
        self.tenant = tenant
        self.branch = branch
        TenantError.__init__(
            self,
            f"Tenant '{tenant}' on branch '{branch}' holds event {cursor[:12]}, which this"
            " project's journal does not have (the journal is older than the file: restored"
            " from an earlier point?). Restore the journal from a point after that event, or"
            f" move the file aside and `cinch tenant reset {tenant}` (the tenant starts empty"
            " at the head)",
        )
        self.path = path
        self.cursor = cursor


class TenantFileError(TenantError, OSError):
    """A tenant's file is damaged (empty or shorter than SQLite's header says): it is never
    reset or replaced; restore the file, or delete the tenant."""

    def __init__(self, tenant: str, path: Path, problem: str) -> None:
        self.tenant = tenant
        self.path = path
        self.problem = problem
        super().__init__(
            f"Tenant '{tenant}': its file {path} is {problem}; CinchDB will not reset it."
            " Restore the file from a backup, or delete the tenant"
        )


class RepairRefusedError(TenantError, ValueError):
    """Rebuilding a tenant's schema from the journal (``cinch tenant repair``, SDK
    ``repair_tenant``) would lose data or break a constraint of the journal's schema:
    ``problems`` names each table, column and row count. Nothing was changed."""

    def __init__(self, tenant: str, branch: str, problems: Sequence[str]) -> None:
        self.tenant = tenant
        self.branch = branch
        self.problems = list(problems)
        super().__init__(
            f"Tenant '{tenant}' on branch '{branch}' was not repaired: {'; '.join(self.problems)}."
            " Nothing was changed; copy those rows or values out of the file (or remove them)"
            " and repair again"
        )


class PreflightError(TenantError, ValueError):
    """A schema change would fail on the data of some tenants; it was not applied anywhere."""

    #: The name a failure on the branch template is listed under (no tenant's name can be).
    TEMPLATE = "__template"

    def __init__(self, failures: Sequence[tuple[str, str]]) -> None:
        self.failures = tuple(failures)
        listed = "; ".join(f"{self._where(t)}: {reason}" for t, reason in self.failures[:5])
        more = f" (and {len(self.failures) - 5} more)" if len(self.failures) > 5 else ""
        super().__init__(f"The change would fail on existing data: {listed}{more}")

    @classmethod
    def _where(cls, tenant: str) -> str:
        # The template holds the rows data steps inserted; every lazy tenant reads them.
        if tenant == cls.TEMPLATE:
            return "the branch template (every lazy tenant)"
        return f"tenant '{tenant}'"
