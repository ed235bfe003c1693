"""CinchDB's errors: one root, :class:`CinchError`, with subtrees per concern.

The journal core's errors (schema, parse, store, branch) are re-exported here so a user needs
one import. Each error also inherits the builtin it semantically is, so the reference's
documented ``ValueError`` cases hold: ``except ValueError`` catches a missing table or record.
Each states its meaning in its docstring, builds its message from its attributes, and carries
the ``cinch`` exit status as ``exit_code``. ``docs/errors.md`` is generated from these classes
(``python -m cinchdb.cli._error_docs > docs/errors.md``).

``DRIVER_ERRORS`` are SQLite's own errors (``sqlite3`` and SQLCipher's), which a raw
``query()`` can still raise for bad SQL, as the reference documents.

The classes are defined in private modules, one per subtree or concern: ``_project`` (the
project, handles, call arguments), ``_branches`` (databases, branches, merges, reset and
revert), ``_data`` (``DataError``), ``_tenants`` (``TenantError``), ``_encryption``
(``EncryptionError``), ``_kv`` (``KVError``), ``_codegen``, ``_adopt``, ``_server`` (API keys,
HTTP requests, the remote handle), ``_replication`` (replication, restore, backups, sealed
copies) and ``_wire`` (error codes and details on the wire). A new error goes into the module of
its subtree and is imported and listed in ``__all__`` here. Every one is presented as
``cinchdb.errors.<Name>`` (its ``__module__``), the one public place, so tracebacks, pickles
and docs name it there, and a move between private modules changes nothing a user sees.
"""

from __future__ import annotations

from cinchdb.errors._adopt import (
    AdoptError,
    AdoptProblem,
)
from cinchdb.errors._branches import (
    ProtectedError,
    ResetRefusedError,
    RevertLosesDataError,
    TooManyHeadsError,
    UnknownBranchRefError,
    UnknownDatabaseError,
    UnknownResolutionError,
    UnmergedBranchError,
)
from cinchdb.errors._codegen import (
    CodegenCompileError,
    CodegenWriteError,
    UnknownLanguageError,
)
from cinchdb.errors._data import (
    ConstraintError,
    DataError,
    DeniedFunctionError,
    DuplicateColumnError,
    FilterError,
    GeneratedColumnError,
    ImportRowError,
    KeyColumnError,
    MissingValueError,
    QueryTimeoutError,
    ReadOnlyQueryError,
    RecordNotFoundError,
    ValueTooLargeError,
    ValueTypeError,
)
from cinchdb.errors._encryption import (
    EncryptionError,
    KeyRequiredError,
    KeyRotationError,
    NotEncryptedError,
    WrongKeyError,
)
from cinchdb.errors._kv import (
    InvalidKeyError,
    InvalidPatternError,
    KeysNotFoundError,
    KVError,
    KVValueError,
)
from cinchdb.errors._project import (
    ArgumentError,
    HandleClosedError,
    InvalidFieldError,
    JournalMissingError,
    ProjectDirectoryError,
    ProjectError,
    ProjectExistsError,
    ProjectNotFoundError,
)
from cinchdb.errors._replication import (
    BackupError,
    BackupTargetError,
    BackupVerifyError,
    DestinationError,
    EnvelopeError,
    LitestreamFailedError,
    LitestreamNotFoundError,
    ReplicaNotFoundError,
    ReplicationError,
    ReplicationNotRunningError,
    ReplicationRunningError,
    ReplicaUnreachableError,
    RestoreTimestampError,
    SealError,
)
from cinchdb.errors._server import (
    ApiKeyError,
    AuthenticationError,
    BodyTooLargeError,
    KeyNotFoundError,
    PermissionDeniedError,
    RemoteConnectionError,
    RemoteUnsupportedError,
    RequestError,
    RouteNotFoundError,
)
from cinchdb.errors._tenants import (
    InvalidTenantNameError,
    PreflightError,
    RepairRefusedError,
    TenantAheadOfJournalError,
    TenantCheckoutLosesDataError,
    TenantDivergedError,
    TenantError,
    TenantExistsError,
    TenantFileError,
    TenantNotFoundError,
)
from cinchdb.errors._wire import (
    error_class,
    error_code,
    error_details,
)
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
    DataStepNotReversibleError,
    DataStepRefusedError,
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
    "DataStepNotReversibleError",
    "DataStepRefusedError",
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


def _present_here() -> None:
    # The private modules are a layout, not an address: what they define is public as
    # cinchdb.errors.<Name> only (journal's errors keep their own module).
    for name in __all__:
        value = globals()[name]
        if getattr(value, "__module__", "").startswith(f"{__name__}._"):
            value.__module__ = __name__


_present_here()
