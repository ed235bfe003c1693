"""What a restored project is checked for before anyone opens it.

Litestream (and a backup) restores every file on its own: the journal and each tenant can come
from slightly different moments. A tenant BEHIND its journal is normal (it catches up when
opened). A tenant AHEAD of it (its cursor names an event the restored journal does not have:
the journal was restored to a point before a schema change the file already holds) cannot be
brought to the head, so its file is moved aside to ``.cinchdb/_restore_ahead/`` (never deleted)
and reported by name with what to do; every other tenant opens as usual. An encrypted tenant
cannot be read without its key: it is reported as not checked (opening it with its key raises
:class:`~cinchdb.errors.TenantAheadOfJournalError` if it is ahead). Then the checks of
``cinch check`` run over every database.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import attrs

from cinchdb import history
from cinchdb._guard import read_cursor_of_file
from cinchdb.catalog import Catalog
from cinchdb.errors import EventNotFoundError
from cinchdb.results import CheckReport

__all__ = ["AHEAD_DIR", "RestoreReport", "TenantFinding", "verify_restored"]

#: Where tenant files ahead of the restored journal are moved, under ``.cinchdb/``.
AHEAD_DIR = "_restore_ahead"

# SQLite's side files of a database in WAL mode move with it, or the moved file loses its
# last transactions and the next file made at the old path would read a stale WAL.
_SIDE_SUFFIXES = ("-wal", "-shm")

Finding = Literal["ahead", "not_checked"]


@attrs.frozen
class TenantFinding:
    """One tenant file a restore could not simply hand back.

    Attributes:
        database, branch, tenant: which file.
        finding: ``"ahead"`` (its cursor is not in the restored journal; the file was moved
            to ``moved_to``) or ``"not_checked"`` (encrypted: its cursor needs its key).
        cursor: the event the file holds, when it could be read.
        moved_to: where the file is now (``"ahead"`` only), relative to the project root.
        message: one line saying what happened and what to do.
    """

    database: str
    branch: str
    tenant: str
    finding: Finding
    cursor: str | None
    moved_to: str | None
    message: str

    def as_dict(self) -> dict[str, str | None]:
        return {
            "database": self.database,
            "branch": self.branch,
            "tenant": self.tenant,
            "finding": self.finding,
            "cursor": self.cursor,
            "moved_to": self.moved_to,
            "message": self.message,
        }


@attrs.frozen
class RestoreReport:
    """What a restore wrote and what the restored project looks like.

    Attributes:
        root: the project's directory.
        restored: files written, relative to the project root, in the order written.
        tenants: the tenants reported (ahead of the journal and moved aside, or not checked).
        checks: ``cinch check``'s report per database.
    """

    root: Path
    restored: tuple[str, ...] = ()
    tenants: tuple[TenantFinding, ...] = ()
    checks: dict[str, CheckReport] = attrs.field(factory=dict)

    @property
    def ok(self) -> bool:
        """Every database's check is clean and no tenant was moved aside."""
        return all(report["ok"] for report in self.checks.values()) and not any(
            finding.finding == "ahead" for finding in self.tenants
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "root": str(self.root),
            "restored": list(self.restored),
            "tenants": [finding.as_dict() for finding in self.tenants],
            "checks": dict(self.checks),
            "ok": self.ok,
        }


def verify_restored(meta_dir: Path, restored: tuple[str, ...] = ()) -> RestoreReport:
    """Check a just-restored project (its ``.cinchdb/`` is ``meta_dir``) before it is used:
    move aside every plain tenant file whose cursor is not in the restored journal, report
    encrypted tenants as not checked, then run ``cinch check``'s checks on every database.
    ``restored`` (the files the caller wrote) is carried into the report."""
    meta_dir = Path(meta_dir)
    root = meta_dir.parent
    catalog = Catalog.open(root)
    findings: list[TenantFinding] = []
    checks: dict[str, CheckReport] = {}
    try:
        for database in catalog.store.list_databases():
            changes = catalog.ensure_database(database)
            try:
                files = changes.files
                encrypted = files.encrypted_names()
                for record in catalog.store.list_branches(database):
                    for tenant, path in list(files.materialized(record.name)):
                        if tenant in encrypted:
                            findings.append(_not_checked(database, record.name, tenant))
                            continue
                        cursor = read_cursor_of_file(path)
                        if cursor is None or _in_journal(catalog, cursor):
                            continue
                        moved = _move_aside(meta_dir, path)
                        findings.append(
                            _ahead(database, record.name, tenant, cursor, moved.relative_to(root))
                        )
                checks[database] = history.check(changes)
            finally:
                changes.close()
    finally:
        catalog.close()
    return RestoreReport(root, restored, tuple(findings), checks)


def _in_journal(catalog: Catalog, event_id: str) -> bool:
    try:
        catalog.store.get_event(event_id)
    except EventNotFoundError:
        return False
    return True


def _move_aside(meta_dir: Path, path: Path) -> Path:
    """Move a tenant file (and its side files) under ``.cinchdb/_restore_ahead/`` at the same
    relative path; a name already taken there gets a numbered suffix, so nothing is lost."""
    relative = path.relative_to(meta_dir)
    target = _free_name(meta_dir / AHEAD_DIR / relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    # The side files first: a crash in between leaves the main file where it was, which the
    # next verify moves again (a WAL without its database is never left behind alone).
    for suffix in _SIDE_SUFFIXES:
        side = Path(f"{path}{suffix}")
        if side.exists():
            os.replace(side, f"{target}{suffix}")
    os.replace(path, target)
    return target


def _free_name(target: Path) -> Path:
    candidates: Iterator[Path] = (
        target.with_name(f"{target.stem}.{n}{target.suffix}") for n in range(1, 10_000)
    )
    if not target.exists():
        return target
    return next(candidate for candidate in candidates if not candidate.exists())


def _ahead(database: str, branch: str, tenant: str, cursor: str, moved_to: Path) -> TenantFinding:
    message = (
        f"Tenant '{tenant}' (database '{database}', branch '{branch}') holds event"
        f" {cursor[:12]}, which the restored journal does not have (the journal was restored"
        f" to a point before it); its file was moved to {moved_to}"
        " and the tenant now opens empty at the journal head. Restore from a later point"
        " (--timestamp) to keep its newest rows, or copy its rows out of the moved file"
    )
    return TenantFinding(database, branch, tenant, "ahead", cursor, str(moved_to), message)


def _not_checked(database: str, branch: str, tenant: str) -> TenantFinding:
    message = (
        f"Tenant '{tenant}' (database '{database}', branch '{branch}') is encrypted and was not"
        " checked without its key; opening it with its key checks it"
    )
    return TenantFinding(database, branch, tenant, "not_checked", None, None, message)
