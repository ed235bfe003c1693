"""Adopting an SQLite database that already exists: its schema becomes the baseline events of
a new CinchDB database, and its rows become that database's ``main`` tenant.

Three steps, and nothing is written until the last:

1. Inspect the file, read-only (:mod:`cinchdb._adopt_inspect`): every problem CinchDB cannot
   represent is collected and raised together as :class:`~cinchdb.errors.AdoptError`, each
   with a suggestion. The baseline is one event per object: tables in foreign-key order (a
   cycle, which SQLite allows since it does not check a foreign key's target at CREATE time,
   falls back to declaration order), then indexes, views (a view after the views it reads) and
   triggers, exactly as introspected.
2. Build the main tenant's file in the project's scratch directory: replay the tables, copy
   the rows table by table in one transaction (with their rowids, and the AUTOINCREMENT
   counters, so the next id continues where the file left off), then replay indexes, views
   and triggers (after the rows, so no trigger fires on the copy). The file is checked:
   its schema read back equals the source's, and so does every table's row count.
3. Register: the database (refused if the name exists), its ``main`` branch with the baseline
   events, then the tenant file, stamped with the head event as its cursor, linked into place.
   If anything fails after the database's row was written, the database is deleted again.
"""

from __future__ import annotations

import os
import re
import sqlite3
from contextlib import suppress
from pathlib import Path

import attrs

from cinchdb._adopt_inspect import Inspection, inspect_file, read_only_uri
from cinchdb._guard import write_cursor
from cinchdb._system_tables import FOREIGN_TABLES
from cinchdb._system_tables import STATEMENTS as SYSTEM_STATEMENTS
from cinchdb._tenant_dir import scratch_path
from cinchdb.catalog import Catalog
from cinchdb.errors import AdoptError, AdoptProblem, CinchError
from cinchdb.project import MAIN, find_project
from journal.definitions import TableDef
from journal.errors import DatabaseExistsError
from journal.events import Operation, TableCreated, summarize
from journal.introspect import introspect
from journal.names import quote, validate_database_name
from journal.replay import apply_operations
from journal.schema import Schema
from journal.transactions import transaction

__all__ = ["AdoptError", "AdoptProblem", "AdoptResult", "adopt"]

# What an ``ATTACH``ed source is called on the scratch file's connection.
_SOURCE = "adopted"
# The names SQLite gives the rowid, in the order tried: a column may shadow any of them.
_ROWID_NAMES = ("rowid", "_rowid_", "oid")


@attrs.frozen
class AdoptResult:
    """What :func:`adopt` did, or with ``dry_run`` would do.

    Attributes:
        database: The new database's name.
        source: The adopted file.
        events: One line per baseline event, in order (``create table Artist (2 columns)``).
        event_ids: The events' ids (empty for a dry run).
        rows: Rows per table copied (or to copy) into the ``main`` tenant.
        problems: What CinchDB cannot represent (a dry run only: otherwise it is an error).
        dry_run: Whether nothing was written.
    """

    database: str
    source: str
    events: tuple[str, ...]
    event_ids: tuple[str, ...]
    rows: dict[str, int]
    problems: tuple[AdoptProblem, ...]
    dry_run: bool

    def to_dict(self) -> dict[str, object]:
        """Plain data, for JSON."""
        return {
            "database": self.database,
            "source": self.source,
            "dry_run": self.dry_run,
            "events": list(self.events),
            "event_ids": list(self.event_ids),
            "rows": dict(self.rows),
            "problems": [attrs.asdict(p) for p in self.problems],
        }


def default_database_name(path: str | os.PathLike[str]) -> str:
    """The database name adopt uses when none is given: the file's name without its
    extension, with what a database name cannot hold turned into ``_``."""
    stem = re.sub(r"[^A-Za-z0-9_]+", "_", Path(path).stem).strip("_")
    return stem or "adopted"


def adopt(
    path: str | os.PathLike[str],
    database: str | None = None,
    project_dir: str | os.PathLike[str] | None = None,
    *,
    dry_run: bool = False,
) -> AdoptResult:
    """Turn the SQLite database at ``path`` into database ``database`` of the project: its
    schema becomes the ``main`` branch's baseline events, its rows the ``main`` tenant. The
    file itself is only read.

    Args:
        path: The SQLite file.
        database: The new database's name; default: the file's name without its extension.
        project_dir: The project, found as :func:`cinchdb.connect` finds it when None.
        dry_run: Only report the events that would be made and the problems; write nothing.

    Raises:
        AdoptError: something in the file cannot be represented (``problems`` lists each, with
            a suggestion), or the file is missing or not SQLite. Nothing was written.
        DatabaseExistsError: the project already has a database of that name.
        InvalidNameError: ``database`` is not a valid database name.
        ProjectNotFoundError: no project.
    """
    name = validate_database_name(database or default_database_name(path))
    root = find_project(project_dir)
    inspection = inspect_file(path)
    events = tuple(summarize(op) for op in inspection.operations)
    if dry_run:
        _refuse_existing(root, name)
        return AdoptResult(
            name, str(path), events, (), inspection.rows, inspection.problems, dry_run=True
        )
    if inspection.problems:
        raise AdoptError(inspection.path, inspection.problems)
    catalog = Catalog.open(root)
    try:
        if catalog.store.has_database(name):
            raise DatabaseExistsError(name)
        scratch = scratch_path(catalog.meta_dir)
        try:
            _build_tenant(scratch, inspection)
            ids = _register(catalog, name, inspection, scratch)
        finally:
            for leftover in (scratch, *_side_files(scratch)):
                leftover.unlink(missing_ok=True)
    finally:
        catalog.close()
    return AdoptResult(name, str(path), events, ids, inspection.rows, (), dry_run=False)


def _refuse_existing(root: Path, name: str) -> None:
    catalog = Catalog.open(root)
    try:
        if catalog.store.has_database(name):
            raise DatabaseExistsError(name)
    finally:
        catalog.close()


def _side_files(path: Path) -> list[Path]:
    return [Path(f"{path}{suffix}") for suffix in ("-wal", "-shm", "-journal")]


# -- step 2: the main tenant's file, in scratch -------------------------------------------------


def _build_tenant(scratch: Path, inspection: Inspection) -> None:
    """The tenant file at ``scratch``: schema, rows, AUTOINCREMENT counters; no cursor yet."""
    tables = [op for op in inspection.operations if isinstance(op, TableCreated)]
    rest = [op for op in inspection.operations if not isinstance(op, TableCreated)]
    conn = sqlite3.connect(scratch, isolation_level=None, uri=True)
    try:
        # A scratch file is thrown away on any failure: no need for a durable rollback journal
        # while it is built; it is made durable (and WAL, like every tenant file) at the end.
        conn.execute("PRAGMA journal_mode = MEMORY")
        conn.execute("PRAGMA synchronous = OFF")
        for statement in SYSTEM_STATEMENTS:
            conn.execute(statement)
        after_tables = apply_operations(conn, Schema(), tables)
        _copy_rows(conn, inspection, [op.table for op in tables])
        apply_operations(conn, after_tables, rest)
        _verify(conn, inspection)
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA journal_mode = WAL")
    finally:
        conn.close()


def _copy_rows(conn: sqlite3.Connection, inspection: Inspection, tables: list[TableDef]) -> None:
    conn.execute(f"ATTACH DATABASE ? AS {_SOURCE}", (read_only_uri(inspection.path),))
    try:
        with transaction(conn):
            for table in tables:
                columns = _stored_columns(conn, table.name)
                rowid = _rowid_name(table, columns)
                names = ([rowid] if rowid else []) + columns
                listed = ", ".join(quote(c) for c in names)
                conn.execute(
                    f"INSERT INTO main.{quote(table.name)} ({listed})"
                    f" SELECT {listed} FROM {_SOURCE}.{quote(table.name)}"
                )
            if _has_sequence(conn, _SOURCE):
                # The copy set each counter to the highest id copied; the file's own counter
                # may be higher (rows deleted at the end), and the next id must continue it.
                conn.execute("DELETE FROM main.sqlite_sequence")
                conn.execute(
                    "INSERT INTO main.sqlite_sequence (name, seq)"
                    f" SELECT name, seq FROM {_SOURCE}.sqlite_sequence"
                )
    finally:
        conn.execute(f"DETACH DATABASE {_SOURCE}")


def _stored_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    """The columns that hold values: generated columns (``hidden`` 2 and 3) are computed."""
    return [
        r[1]
        for r in conn.execute("SELECT * FROM main.pragma_table_xinfo(?)", (table,)).fetchall()
        if r[6] not in (2, 3)
    ]


def _rowid_name(table: TableDef, columns: list[str]) -> str | None:
    """A name for the rowid of a rowid table whose rowid is not one of its columns (no
    INTEGER PRIMARY KEY), so the copy keeps it; None when there is none to keep."""
    if table.without_rowid:
        return None
    pk = table.primary_key
    if pk is not None and len(pk.columns) == 1:
        column = table.column(pk.columns[0])
        if column is not None and column.type.upper() == "INTEGER":
            return None  # the key is the rowid, and is copied as a column
    taken = {c.lower() for c in columns}
    return next((n for n in _ROWID_NAMES if n not in taken), None)


def _has_sequence(conn: sqlite3.Connection, schema: str) -> bool:
    return bool(
        conn.execute(
            f"SELECT count(*) FROM {schema}.sqlite_schema WHERE name = 'sqlite_sequence'"
        ).fetchone()[0]
    )


def _verify(conn: sqlite3.Connection, inspection: Inspection) -> None:
    """The built file has the source's schema and every row."""
    built = introspect(conn, ignore=FOREIGN_TABLES)
    problems = []
    if built.canonical() != inspection.schema.canonical():
        problems.append(
            AdoptProblem(
                "schema", inspection.path.name, "was rebuilt differently", "report this as a bug"
            )
        )
    for table, count in inspection.rows.items():
        copied = conn.execute(f"SELECT count(*) FROM {quote(table)}").fetchone()[0]
        if copied != count:
            problems.append(
                AdoptProblem(
                    "table",
                    table,
                    f"has {copied} rows in the copy but had {count} when it was inspected",
                    "make sure nothing writes to the file while it is adopted, then adopt again",
                )
            )
    if problems:
        raise AdoptError(inspection.path, problems)


# -- step 3: register ---------------------------------------------------------------------------


def _register(
    catalog: Catalog, name: str, inspection: Inspection, scratch: Path
) -> tuple[str, ...]:
    """The database, its baseline events and its main tenant's file; all or nothing."""
    # Atomic: a database another process created meanwhile under this name is refused here.
    catalog.store.create_database(name)
    try:
        changes = catalog.ensure_database(name)
        try:
            operations: list[Operation] = list(inspection.operations)
            events, _, _ = changes.commit(
                MAIN,
                operations,
                message=f"adopt {inspection.path.name}",
                expected_head=None,
            )
            head = events[-1].id if events else None
            if head is not None:
                _stamp(scratch, head)
            target = changes.files.path(MAIN, MAIN)
            target.parent.mkdir(parents=True, exist_ok=True)
            # A link, not a rename over: a file another process materialized meanwhile is
            # never replaced (the link fails instead).
            os.link(scratch, target)
            _sync_directory(target.parent)
        finally:
            changes.close()
    except BaseException:
        with suppress(CinchError, OSError, sqlite3.Error):
            catalog.delete_database(name)
        raise
    return tuple(e.id for e in events)


def _stamp(path: Path, head: str) -> None:
    """Record ``head`` as the file's cursor: it holds every baseline event."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        with transaction(conn):
            write_cursor(head)(conn)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        conn.close()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
