"""The event-sourced schema core of CinchDB.

Events (``journal.events``) are appended to a journal (``journal.store``) whose DAG
(``journal.graph``) gives branches and merge bases; the schema at any event is the pure fold of
its first-parent chain (``journal.schema``); ``journal.ddl`` and ``journal.replay`` make a SQLite
file match it, and ``journal.introspect`` reads one back. This package knows nothing about
tenants, file layout, the KV store or the command line.

Importing the package costs nothing: a public name is imported from its module when first
used (:func:`journal._lazy.package_exports`), so a process that only reads a branch head does
not load sqlglot or pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from journal._lazy import package_exports

if TYPE_CHECKING:
    from journal._fold_cache import FoldCache
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
        BranchHeadsError,
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
        ReplayError,
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
    from journal.fold import apply, apply_all, fold
    from journal.graph import Graph
    from journal.introspect import introspect
    from journal.parse import parse, parse_statement, split_statements
    from journal.replay import apply_operations
    from journal.schema import Schema
    from journal.sqlrefs import canonical_sql, references
    from journal.store import BranchRecord, JournalStore

#: Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    "BranchExistsError": "journal.errors",
    "BranchNotFoundError": "journal.errors",
    "BranchRecord": "journal.store",
    "BranchesMerged": "journal.events",
    "Change": "journal.events",
    "Check": "journal.definitions",
    "CinchError": "journal.errors",
    "ColumnAdded": "journal.events",
    "ColumnAltered": "journal.events",
    "ColumnDef": "journal.definitions",
    "ColumnDropped": "journal.events",
    "ColumnRenamed": "journal.events",
    "ConcurrentChangeError": "journal.errors",
    "BranchHeadsError": "journal.errors",
    "CorruptJournalError": "journal.errors",
    "DatabaseExistsError": "journal.errors",
    "DatabaseNotFoundError": "journal.errors",
    "DependencyError": "journal.errors",
    "Event": "journal.events",
    "EventNotFoundError": "journal.errors",
    "EventReverted": "journal.events",
    "FoldCache": "journal._fold_cache",
    "ForeignKey": "journal.definitions",
    "Graph": "journal.graph",
    "IndexCreated": "journal.events",
    "IndexDef": "journal.definitions",
    "IndexDropped": "journal.events",
    "IndexedColumn": "journal.definitions",
    "InvalidNameError": "journal.errors",
    "JournalError": "journal.errors",
    "JournalStore": "journal.store",
    "JournalStoreError": "journal.errors",
    "MergeConflictError": "journal.errors",
    "ObjectExistsError": "journal.errors",
    "ObjectNotFoundError": "journal.errors",
    "Operation": "journal.events",
    "PrimaryKey": "journal.definitions",
    "ReplayError": "journal.errors",
    "SQLParseError": "journal.errors",
    "Schema": "journal.schema",
    "SchemaError": "journal.errors",
    "TableCreated": "journal.events",
    "TableDef": "journal.definitions",
    "TableDropped": "journal.events",
    "TableRenamed": "journal.events",
    "TriggerCreated": "journal.events",
    "TriggerDef": "journal.definitions",
    "TriggerDropped": "journal.events",
    "Unique": "journal.definitions",
    "ViewCreated": "journal.events",
    "ViewDef": "journal.definitions",
    "ViewDropped": "journal.events",
    "ViewReplaced": "journal.events",
    "apply": "journal.fold",
    "apply_all": "journal.fold",
    "apply_operations": "journal.replay",
    "canonical_sql": "journal.sqlrefs",
    "dependents_of": "journal.dependencies",
    "fold": "journal.fold",
    "introspect": "journal.introspect",
    "operations_of": "journal.events",
    "parse": "journal.parse",
    "parse_statement": "journal.parse",
    "references": "journal.sqlrefs",
    "render_operation": "journal.ddl",
    "render_script": "journal.ddl",
    "split_statements": "journal.parse",
    "statements": "journal.ddl",
}

__getattr__ = package_exports(__name__, _EXPORTS)

__all__ = [
    "BranchExistsError",
    "BranchHeadsError",
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
