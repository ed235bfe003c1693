"""The event-sourced schema core of CinchDB.

Events (``journal.events``) are appended to a journal (``journal.store``) whose DAG
(``journal.graph``) gives branches and merge bases; the schema at any event is the pure fold of
its first-parent chain (``journal.schema``); ``journal.ddl`` and ``journal.replay`` make a SQLite
file match it, and ``journal.introspect`` reads one back. This package knows nothing about
tenants, file layout, the KV store or the command line.
"""

from __future__ import annotations

from journal.ddl import render_operation, render_script, statements
from journal.definitions import (
    Check,
    ColumnDef,
    ForeignKey,
    IndexDef,
    IndexedColumn,
    PrimaryKey,
    TableDef,
    TriggerDef,
    Unique,
    ViewDef,
)
from journal.dependencies import dependents_of
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
    MergeConflictError,
    ObjectExistsError,
    ObjectNotFoundError,
    SchemaError,
    SQLParseError,
)
from journal.events import (
    BranchesMerged,
    Change,
    ColumnAdded,
    ColumnAltered,
    ColumnDropped,
    ColumnRenamed,
    Event,
    EventReverted,
    IndexCreated,
    IndexDropped,
    Operation,
    TableCreated,
    TableDropped,
    TableRenamed,
    TriggerCreated,
    TriggerDropped,
    ViewCreated,
    ViewDropped,
    ViewReplaced,
    operations_of,
)
from journal.fold import FoldCache, apply, apply_all, fold
from journal.graph import Graph
from journal.introspect import introspect
from journal.parse import parse, parse_statement, split_statements
from journal.replay import ReplayError, apply_operations
from journal.schema import Schema
from journal.sqlrefs import canonical_sql, references
from journal.store import BranchRecord, JournalStore

__all__ = [
    "BranchExistsError",
    "BranchNotFoundError",
    "BranchRecord",
    "BranchesMerged",
    "Change",
    "Check",
    "CinchError",
    "ColumnAdded",
    "ColumnAltered",
    "ColumnDef",
    "ColumnDropped",
    "ColumnRenamed",
    "ConcurrentChangeError",
    "CorruptJournalError",
    "DatabaseExistsError",
    "DatabaseNotFoundError",
    "DependencyError",
    "Event",
    "EventNotFoundError",
    "EventReverted",
    "FoldCache",
    "ForeignKey",
    "Graph",
    "IndexCreated",
    "IndexDef",
    "IndexDropped",
    "IndexedColumn",
    "InvalidNameError",
    "JournalError",
    "JournalStore",
    "JournalStoreError",
    "MergeConflictError",
    "ObjectExistsError",
    "ObjectNotFoundError",
    "Operation",
    "PrimaryKey",
    "ReplayError",
    "SQLParseError",
    "Schema",
    "SchemaError",
    "TableCreated",
    "TableDef",
    "TableDropped",
    "TableRenamed",
    "TriggerCreated",
    "TriggerDef",
    "TriggerDropped",
    "Unique",
    "ViewCreated",
    "ViewDef",
    "ViewDropped",
    "ViewReplaced",
    "apply",
    "apply_all",
    "apply_operations",
    "canonical_sql",
    "dependents_of",
    "fold",
    "introspect",
    "operations_of",
    "parse",
    "parse_statement",
    "references",
    "render_operation",
    "render_script",
    "split_statements",
    "statements",
]
