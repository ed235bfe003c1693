"""Tenants: one SQLite file per (tenant, branch), kept at the branch's head by replay.

Layout: ``.cinchdb/{database}-{branch}/{sha256(tenant)[:2]}/{tenant}.db``. Every file records,
in its system table ``__cinch_state``, the id of the last event applied to it; the cursor is
written in the same transaction as that event's DDL, so a file is always exactly at some event
and a crash at any point leaves it at the old event or the new one.

Lazy tenants cost a registry row only. The first write *materializes* the file by copying the
branch's template (a schema-only file kept at the head, ``__template.db`` in the branch
directory), from its bytes kept ready at the head when there are some, without opening it;
until then reads go to the template, whose tables are empty. After each schema
event, :meth:`TenantFiles.propagate` brings the template and every materialized tenant of the
branch to the head, one transaction per file; a file left behind by a crash or another process
catches up the next time it is opened.

Hot path. Open files are kept in a bounded LRU cache together with their schema and their
:class:`~cinchdb.data.DataOps`. An entry is trusted while the journal's version token
(:meth:`journal.JournalStore.version`, one pragma) is unchanged since the entry was checked;
only when something was committed to ``metadata.db`` is the registry, head and cursor re-read.
"""

from __future__ import annotations

import os
import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

from cinchdb import _fleet
from cinchdb import _held_files as held_files
from cinchdb._data_step_rows import record_rows
from cinchdb._file_copy import checkpoint
from cinchdb._guard import open_tenant_file, read_cursor
from cinchdb._open_file import OpenFile, file_identity
from cinchdb._replay_plans import ReplayPlans
from cinchdb._system_tables import STATE_TABLE
from cinchdb._tenant_crypto import (
    TEMPLATE_KEY,
    TenantKeys,
    build_encrypted_file,
    copy_sealed_file,
)
from cinchdb._tenant_dir import (
    TEMPLATE_FILE,
    TenantDirectory,
    require_whole,
    scratch_path,
    tenant_path,
)
from cinchdb._tenant_registry import (
    REGISTRY_VERSION,
    TenantRecord,
    TenantRegistry,
    validate_tenant_name,
)
from cinchdb._tenant_rotation import TenantRotation
from cinchdb._tenant_sync import BUSY_ATTEMPTS, CatchUp, Outcome, TenantState, TenantSync
from cinchdb._unset import UNSET, Unset
from cinchdb.crypto import WrongKeyError, verifier
from cinchdb.data import DataOps
from cinchdb.errors import (
    InvalidTenantNameError,
    PreflightError,
    TenantDivergedError,
    TenantError,
    TenantExistsError,
    TenantNotFoundError,
)
from journal import JournalStore

if TYPE_CHECKING:
    from journal import Schema
    from journal.events import Operation

__all__ = [
    "BUSY_ATTEMPTS",
    "REGISTRY_VERSION",
    "STATE_TABLE",
    "TEMPLATE_FILE",
    "CatchUp",
    "InvalidTenantNameError",
    "Outcome",
    "PreflightError",
    "TenantDivergedError",
    "TenantError",
    "TenantExistsError",
    "TenantFiles",
    "TenantNotFoundError",
    "TenantRecord",
    "TenantState",
    "read_cursor",
    "tenant_path",
    "validate_tenant_name",
]

# Cache key of a branch's template; no tenant name can start with '_'.
_TEMPLATE = TEMPLATE_KEY


class TenantFiles:
    """Tenant files of one database: materialization, catch-up, propagation, and the changes
    that touch rows and files together (create, delete, copy, rename, re-key).

    Composed of three parts it owns: :attr:`registry` (the rows), :attr:`directory` (the
    files on disk) and :attr:`encryption` (the keys at hand), and two that work over them:
    catch-up and propagation (:mod:`cinchdb._tenant_sync`) and key rotation
    (:mod:`cinchdb._tenant_rotation`). Connections are kept open in a bounded LRU cache;
    opening a file is never done per call.
    """

    def __init__(
        self,
        store: JournalStore,
        meta_dir: Path,
        database: str,
        *,
        plans: ReplayPlans,
        max_open: int = 256,
        workers: int = _fleet.WORKERS,
    ) -> None:
        self.store = store
        self.meta_dir = meta_dir
        self.database = database
        self.registry = TenantRegistry(store, database)
        self.directory = TenantDirectory(meta_dir, database)
        self.encryption = TenantKeys(self.registry)
        # The schema-change service's: schemas come from its fold cache, statements from here.
        self._plans = plans
        self._max_open = max_open
        # Threads for fleet-wide work (cinchdb._fleet); 0: every file the one-file way.
        self.workers = workers
        self._open: OrderedDict[tuple[str, str], OpenFile] = OrderedDict()
        self._branch_names: tuple[int, list[str]] | None = None
        self._sync = TenantSync(self, plans, self._open)
        self._rotation = TenantRotation(self)

    # -- the registry, with the files that go with its rows -----------------------------------
    @property
    def keys(self) -> dict[str, bytes]:
        """Raw keys of encrypted tenants unlocked in this process (memory only)."""
        return self.encryption.keys

    def exists(self, name: str) -> bool:
        return self.registry.exists(name)

    def names(self) -> list[str]:
        return self.registry.names()

    def records(self) -> list[TenantRecord]:
        return self.registry.records()

    def encrypted_names(self) -> set[str]:
        return self.registry.encrypted_names()

    def unlock(self, name: str, passphrase: str) -> None:
        """Check and keep an encrypted tenant's key, finishing an unfinished rotation of it
        (see :meth:`~cinchdb._tenant_rotation.TenantRotation.unlock`)."""
        self._rotation.unlock(name, passphrase)

    def create(
        self, name: str, *, encrypted: bool = False, raw_key: bytes | None = None,
        salt: bytes | None = None,
    ) -> TenantRecord:  # fmt: skip
        """Register a tenant: one row, no file (it is materialized on first write)."""
        validate_tenant_name(name)
        if encrypted != (raw_key is not None and salt is not None):
            raise ValueError("An encrypted tenant needs its raw key and salt, a plain one none")
        branches = self._branches()  # read before the transaction: the store reads in its own
        record = self.registry.add(
            name,
            salt=salt,
            check=None if raw_key is None else verifier(raw_key),
            # The row is ours (the insert holds the write lock), so any file under this name
            # is a leftover of an interrupted delete, copy or rename and must not come back
            # to life as the new tenant's data.
            while_locked=lambda: self._remove_files(name, branches),
        )
        if raw_key is not None:
            self.keys[name] = raw_key
        return record

    def delete(self, name: str) -> None:
        """Delete a tenant's files in every branch, then its registry row.

        Files go first: a crash in between leaves a registered tenant with no data (what the
        caller asked for), never a deleted tenant whose rows could come back.
        """
        if not self.exists(name):
            raise TenantNotFoundError(self.database, name)
        self._remove_files(name)
        self.registry.remove(name)

    def reset(self, branch: str, name: str) -> None:
        """Rebuild a tenant's file of ``branch`` at the head: the file is deleted (its rows
        are lost) and made again from the template. The way out for a file refused by
        :class:`TenantCheckoutLosesDataError`; the tenant's files of other branches stay.

        Raises:
            TenantNotFoundError: no such tenant.
            TenantError: an encrypted tenant whose key is not at hand (its new file needs it).
        """
        if not self.exists(name):
            raise TenantNotFoundError(self.database, name)
        if name in self.encrypted_names() and name not in self.keys:
            raise TenantError(f"Tenant '{name}' is encrypted: give its key to reset it")
        # Under the journal's write lock, as every materializer of the file takes it: none
        # can link a new file and open a WAL while the old one goes.
        with self.store.transaction():
            self.directory.remove(branch, name, was_open=self._close(branch, name))
        self._writable(branch, name)

    def copy(self, source: str, target: str, *, remove_source: bool = False) -> TenantRecord:
        """Copy ``source``'s files of every branch to a new tenant ``target``.

        The copies are made first and registered after (a crash in between leaves unregistered
        files, which :meth:`create` clears). With ``remove_source`` (a rename), the source's row
        goes in the same transaction that adds the target's and its files after it.
        """
        validate_tenant_name(target)
        if not self.exists(source):
            raise TenantNotFoundError(self.database, source)
        if self.exists(target):
            raise TenantExistsError(self.database, target)
        self._remove_files(target)
        for branch in self._branches():
            if self.path(branch, source).exists():
                entry = self._entry(branch, source)
                self.directory.copy(entry.conn, self.path(branch, target), source_path=entry.path)
        # An encrypted copy keeps the source's key: the same salt and verifier.
        salt, check = self.registry.crypto(source) or (None, None)
        record = self.registry.add(
            target, salt=salt, check=check, replacing=source if remove_source else None
        )
        if source in self.keys:
            self.keys[target] = self.keys[source]
        if remove_source:
            self._remove_files(source)
        return record

    def rotate_key(
        self,
        name: str,
        old_passphrase: str | None,
        new_passphrase: str | None,
        *,
        resume: bool = False,
    ) -> None:
        """Re-key every file of an encrypted tenant, in steps a crash can interrupt anywhere
        without losing a file (see :meth:`~cinchdb._tenant_rotation.TenantRotation.rotate`).

        Raises:
            WrongKeyError; KeyRotationError: metadata.db stayed locked (the message says
                whether anything changed), or an unfinished rotation blocks a new one.
        """
        self._rotation.rotate(name, old_passphrase, new_passphrase, resume=resume)

    # -- files ---------------------------------------------------------------------------------
    def branch_dir(self, branch: str) -> Path:
        return self.directory.branch_dir(branch)

    def path(self, branch: str, tenant: str) -> Path:
        return self.directory.path(branch, tenant)

    def is_materialized(self, branch: str, tenant: str) -> bool:
        return os.path.exists(self.path(branch, tenant))

    def materialized(self, branch: str) -> Iterator[tuple[str, Path]]:
        """(tenant, file) for every registered tenant of the branch that has a file, by name."""
        for name in self.directory.with_files(branch, set(self.names())):
            yield name, self.path(branch, name)

    def connection(self, branch: str, tenant: str) -> sqlite3.Connection:
        """An open, caught-up connection to a tenant's file, materializing it if needed."""
        return self._writable(branch, tenant).conn

    def data(self, branch: str, tenant: str) -> DataOps:
        """Data operations on a tenant's file at the head, materializing it if needed."""
        return self._writable(branch, tenant).data

    def reader(self, branch: str, tenant: str) -> DataOps:
        """Data operations for reading: the tenant's file, or, while the tenant is lazy, the
        branch template (the same tables, empty). Never creates a tenant file."""
        entry = self._open.get((branch, tenant))
        if entry is not None and entry.checked == self.store.version():
            self._open.move_to_end((branch, tenant))
            return entry.data
        self._drop_if_replaced(branch, tenant)
        if not self.exists(tenant):
            raise TenantNotFoundError(self.database, tenant)
        if self.path(branch, tenant).exists():
            return self._writable(branch, tenant).data
        return self._fresh(branch, _TEMPLATE).data

    def kv_connection(self, branch: str, tenant: str, write: bool) -> sqlite3.Connection | None:
        """The tenant's connection for its key-value store: None for reads while the tenant
        has no file (its store is empty); a write materializes the file."""
        entry = self._open.get((branch, tenant))
        if entry is not None and entry.checked == self.store.version():
            return entry.conn
        self._drop_if_replaced(branch, tenant)
        if not write:
            if not self.exists(tenant):
                raise TenantNotFoundError(self.database, tenant)
            if not os.path.exists(self.path(branch, tenant)):
                return None
        return self._writable(branch, tenant).conn

    def template(self, branch: str) -> sqlite3.Connection:
        """The branch's schema-only template, at the head."""
        return self._fresh(branch, _TEMPLATE).conn

    def _writable(self, branch: str, tenant: str) -> OpenFile:
        entry = self._open.get((branch, tenant))
        if entry is not None and entry.checked == self.store.version():
            self._open.move_to_end((branch, tenant))
            return entry
        if entry is not None and self._drop_if_replaced(branch, tenant):
            entry = None
        if not self.exists(tenant):
            raise TenantNotFoundError(self.database, tenant)
        if tenant in self.keys:
            self._rotation.check_key(tenant)
            entry = self._open.get((branch, tenant))
        path = self.path(branch, tenant)
        if entry is None and not path.exists():
            self._clear_stale(path)
            raw_key = self.encryption.raw_key(tenant)
            if raw_key is None:
                self._materialize(branch, path)
            else:
                self._materialize_encrypted(branch, path, tenant, raw_key)
        return self._fresh(branch, tenant)

    def _drop_if_replaced(self, branch: str, name: str) -> bool:
        """Close the cached connection of a file that is no longer the one at its path
        (deleted, or deleted and made anew, by another handle or process); whether it was.
        Run with the freshness check, when the journal's version token moved, which every
        delete or re-create of a tenant does: one stat, only then."""
        entry = self._open.get((branch, name))
        if entry is None or entry.identity == file_identity(entry.path):
            return False
        self._close(branch, name)
        return True

    def _clear_stale(self, path: Path) -> None:
        """Remove side files left where a new file is about to be made (see
        :meth:`TenantDirectory.stale_side_files`). Rare, so the check is two stats and the
        removal runs under the journal's write lock, which every materializer of the file
        that sees them takes too: none can link its new file and open a WAL in between."""
        if self.directory.stale_side_files(path):
            with self.store.transaction():
                self.directory.clear_side_files(path)

    def _fresh(self, branch: str, name: str) -> OpenFile:
        """The cached entry of a file, caught up to the head unless nothing changed since."""
        version = self.store.version()
        cached = self._open.get((branch, name))
        if cached is not None and cached.checked != version:
            self._drop_if_replaced(branch, name)
        entry = self._entry(branch, name)
        if entry.checked != version:
            try:
                caught_up = self._catch_up(branch, entry)
            except TenantDivergedError:
                if name != _TEMPLATE:
                    raise
                # The branch moved off the template's event (a git checkout of the schema
                # history): a template holds no rows, so it is built afresh at the head.
                self.rebuild_template(branch)
                return self._fresh(branch, name)
            if caught_up.applied and name == _TEMPLATE:
                checkpoint(entry.conn)
            if caught_up.rows:
                record_rows(self.store, self.database, branch, [(name, c) for c in caught_up.rows])
            entry.checked = version
        return entry

    def _entry(self, branch: str, name: str) -> OpenFile:
        key = (branch, name)
        entry = self._open.get(key)
        if entry is not None:
            self._open.move_to_end(key)
            return entry
        if name == _TEMPLATE:
            path = self.directory.template_path(branch)
            path.parent.mkdir(parents=True, exist_ok=True)
        else:
            path = self.path(branch, name)
        raw_key = self.encryption.raw_key(name)
        if name != _TEMPLATE:
            require_whole(path, name, encrypted=raw_key is not None)
        while True:
            before = file_identity(path)
            # Registered before SQLite takes its locks, so no raw read of this process closes
            # a descriptor of the file while it is open (see cinchdb._held_files).
            held_files.opened(before)
            try:
                conn = open_tenant_file(path, raw_key, name)
            except BaseException:
                held_files.closed(before)
                raise
            identity = file_identity(path)
            if identity == before:
                break
            conn.close()  # replaced while we opened it: open the one there now
            held_files.closed(before)
        if before is None:  # made by this open (a new template)
            held_files.opened(identity)
        entry = OpenFile(path, conn, identity, fold=self._plans.fold)
        entry.cursor = read_cursor(entry.conn)
        self._open[key] = entry
        while len(self._open) > self._max_open:
            _, oldest = self._open.popitem(last=False)
            oldest.shut()
        return entry

    def _materialize(self, branch: str, path: Path) -> None:
        """Copy the template into place: the file appears whole or not at all, and a file
        another process materialized first is kept (it may already hold rows).

        The copy comes from the template's ready bytes at the branch head when there are
        some (one metadata read and a file copy; opening the template costs more than the
        rest of the first write), else from the template, which then leaves its bytes ready
        for the next tenant (see :meth:`TenantDirectory.make_ready`). A copy from older
        bytes would still be caught up when opened, but is never made."""
        ready = self.directory.ready(branch, self.store.branch_head(self.database, branch))
        if ready is not None and self.directory.copy_ready(ready, path):
            return
        template = self._fresh(branch, _TEMPLATE)
        ready = self.directory.make_ready(template.conn, template.path, branch)
        if ready is not None and self.directory.copy_ready(ready, path):
            return
        self.directory.copy(template.conn, path, exist_ok=True, source_path=template.path)

    def _materialize_encrypted(self, branch: str, path: Path, tenant: str, raw_key: bytes) -> None:
        """Replay the branch into a new encrypted file (see :func:`build_encrypted_file`)."""
        head = self.store.branch_head(self.database, branch)
        steps = self._plans.steps_of(self.store.chain(self.database, head))
        build_encrypted_file(
            path, tenant, raw_key, steps, head, scratch=scratch_path(self.meta_dir)
        )

    def forget(self, branch: str, name: str) -> None:
        """Close a file's cached connection, if open: work on the file as it is, not caught
        up (a repair), reopens it afresh afterwards."""
        self._close(branch, name)

    def fold_at(self, cursor: str | None) -> Schema:
        """The journal's schema at event ``cursor`` (from the schema-change service's cache)."""
        return self._plans.fold.schema_at(cursor)

    def _close(self, branch: str, name: str) -> bool:
        """Close a file's cached connection; whether it was open."""
        entry = self._open.pop((branch, name), None)
        if entry is None:
            return False
        entry.shut()
        return True

    def _remove_files(self, name: str, branches: list[str] | None = None) -> None:
        """Close and delete a tenant's files in every branch."""
        for branch in self._branches() if branches is None else branches:
            self.directory.remove(branch, name, was_open=self._close(branch, name))

    def rebuild_template(self, branch: str) -> None:
        """Replace the branch's template with one built afresh at the head, after a reset
        moved the head back past it (a file never goes back an event: it is replaced)."""
        self._close(branch, _TEMPLATE)
        self.directory.remove_template(branch)
        self.template(branch)

    def remove_branch(self, branch: str) -> None:
        """Close and delete every file of a branch (after the branch left the journal)."""
        for key in [key for key in self._open if key[0] == branch]:
            self._open.pop(key).shut()
        self.directory.remove_branch(branch)

    def copy_branch(self, source: str, target: str, *, into: Path | None = None) -> int:
        """Copy every materialized tenant file of ``source`` to the new branch ``target``
        (an encrypted one whose key is not at hand as its bytes, still under its key), or
        with ``into`` to a staging directory laid out like a branch's, renamed into place by
        the caller."""
        copied = 0
        reachable = set(self.reachable(source))
        for tenant, path in self.materialized(source):
            destination = self.path(target, tenant) if into is None else tenant_path(into, tenant)
            if tenant not in reachable:
                copy_sealed_file(path, destination, scratch=scratch_path(self.meta_dir))
                copied += 1
                continue
            entry = self._entry(source, tenant)
            self.directory.copy(entry.conn, destination, source_path=entry.path)
            copied += 1
        return copied

    def _branches(self) -> list[str]:
        """The database's branch names, re-read when another connection committed to the
        journal (``data_version``) or this process changed branches (:meth:`forget_branches`).
        """
        data_version = self.store.version()[0]
        if self._branch_names is None or self._branch_names[0] != data_version:
            names = [record.name for record in self.store.list_branches(self.database)]
            self._branch_names = (data_version, names)
        return self._branch_names[1]

    def forget_branches(self) -> None:
        """Called after this process created or deleted a branch."""
        self._branch_names = None

    # -- keeping files at the head (cinchdb._tenant_sync) -------------------------------------
    def catch_up(self, branch: str, conn: sqlite3.Connection, path: Path) -> CatchUp:
        """Bring one open file to the branch head (see :meth:`TenantSync.catch_up_entry`)."""
        return self._sync.catch_up(branch, conn, path)

    def _catch_up(self, branch: str, entry: OpenFile, head: str | Unset | None = UNSET) -> CatchUp:
        return self._sync.catch_up_entry(branch, entry, head)

    def preflight(self, branch: str, operations: Sequence[Operation]) -> None:
        """Run ``operations`` on every materialized tenant of ``branch`` and roll back (see
        :meth:`TenantSync.preflight`).

        Raises:
            PreflightError: naming each tenant whose rows the change would violate, and why.
        """
        self._sync.preflight(branch, operations)

    def propagate(
        self, branch: str, progress: Callable[[int, int], None] | None = None
    ) -> list[CatchUp]:
        """Bring the template and every materialized tenant of ``branch`` to its head; one
        :class:`CatchUp` per tenant, never raising for one file (see
        :meth:`TenantSync.propagate`)."""
        return self._sync.propagate(branch, progress)

    def _propagate_one(self, branch: str, name: str, head: str | None) -> CatchUp:
        return self._sync.propagate_one(branch, name, head)

    def reachable(self, branch: str) -> list[str]:
        """Materialized tenants of ``branch`` this process can open: encrypted tenants whose
        key is not at hand are left at their cursor and catch up when opened with it."""
        for name in list(self.keys):
            # Re-keyed elsewhere: locked here from now on, and left at its cursor.
            with suppress(WrongKeyError):
                self._rotation.check_key(name)
        locked = self.encryption.locked()
        return [tenant for tenant, _ in self.materialized(branch) if tenant not in locked]

    def status(self, branch: str) -> list[TenantState]:
        """Every tenant's standing on ``branch``, read without catching anything up (see
        :meth:`TenantSync.status`)."""
        return self._sync.status(branch)

    def close(self) -> None:
        while self._open:
            _, entry = self._open.popitem()
            entry.shut()
