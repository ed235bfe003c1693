"""A project's catalog: its databases and branches, and the files that belong to them.

The journal (``journal.store``) keeps databases and branches as rows; this module adds what the
product keeps beside them: every database has a ``main`` branch and a ``main`` tenant, a
branch's tenant files live in its own directory, and deleting a database or branch removes
those files.
"""

from __future__ import annotations

import os
import shutil
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from cinchdb._tenant_dir import clear_scratch, scratch_path
from cinchdb._tenant_registry import prepare_registry
from cinchdb.changes import SchemaChanges
from cinchdb.errors import ProtectedError, UnmergedBranchError
from cinchdb.project import (
    CINCHDB_DIR,
    MAIN,
    METADATA_FILE,
    branch_directory,
    ensure_gitignore,
    find_project,
    history,
    require_journal,
)
from cinchdb.tenants import TenantExistsError, TenantFiles
from journal._lazy import lazy_module
from journal.errors import (
    BranchExistsError,
    BranchNotFoundError,
    DatabaseExistsError,
    DatabaseNotFoundError,
)
from journal.names import validate_branch_name, validate_database_name
from journal.store import JournalStore

if TYPE_CHECKING:
    from cinchdb import models
    from cinchdb.models import Branch
else:  # the public models are pydantic: only the calls that return them load them
    models = lazy_module("cinchdb.models")


@attrs.define
class Catalog:
    """The open journal of one project, with the product's rules for databases and branches."""

    root: Path
    store: JournalStore

    @property
    def meta_dir(self) -> Path:
        return self.root / CINCHDB_DIR

    @classmethod
    def open(cls, project_dir: str | os.PathLike[str] | None = None) -> Catalog:
        root = find_project(project_dir)
        meta_dir = root / CINCHDB_DIR
        require_journal(meta_dir)
        store = JournalStore(meta_dir / METADATA_FILE, history=history(meta_dir))
        try:
            prepare_registry(store)  # projects made before the registry was versioned
            # What git brought (a clone, pull, merge or checkout) reaches metadata.db before
            # anything reads it: the checked-out history decides what each branch is.
            store.sync_history()
            ensure_gitignore(meta_dir)
        except BaseException:
            store.close()
            raise
        clear_scratch(meta_dir)
        return cls(root, store)

    def close(self) -> None:
        self.store.close()

    def ensure_database(self, name: str, branch: str = MAIN) -> SchemaChanges:
        """The schema-change service of ``name`` (with its tenant files), creating the database
        (with its ``main`` branch and ``main`` tenant) if it does not exist. Safe against
        another process doing the same.

        Raises:
            BranchNotFoundError: ``branch`` (checked here, with the one read of its row that
                opening a handle makes) does not exist.
        """
        validate_database_name(name)
        if not self.store.has_database(name):
            # Another process may be creating it at the same moment.
            with suppress(DatabaseExistsError):
                self.store.create_database(name)
            with suppress(BranchExistsError):
                self.store.create_branch(name, MAIN, head=None)
            found = branch == MAIN
        else:
            found = self.store.has_branch(name, branch)
            if not found and branch == MAIN:
                # A crash interrupted the database's creation; another process may be
                # finishing it at the same moment.
                with suppress(BranchExistsError):
                    self.store.create_branch(name, MAIN, head=None)
                found = True
        changes = SchemaChanges(self.store, self.meta_dir, name)
        if not changes.files.exists(MAIN):
            # Another process may be creating it at the same moment.
            with suppress(TenantExistsError):
                changes.files.create(MAIN)
        if not found:
            changes.close()
            raise BranchNotFoundError(name, branch)
        return changes

    def create_database(self, name: str) -> None:
        validate_database_name(name)
        if self.store.has_database(name):
            raise DatabaseExistsError(name)
        self.ensure_database(name).close()

    def delete_database(self, name: str) -> None:
        """Files first, then rows: a crash in between leaves an empty database, never rows
        pointing at files that are gone or files that a new database of that name would
        inherit."""
        validate_database_name(name)
        if not self.store.has_database(name):
            raise DatabaseNotFoundError(name)
        for branch in self.store.list_branches(name):
            shutil.rmtree(branch_directory(self.meta_dir, name, branch.name), ignore_errors=True)
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM cinch_tenants WHERE database = ?", (name,))
        self.store.delete_database(name)

    def create_branch(
        self, files: TenantFiles, name: str, source: str, *, with_data: bool = False
    ) -> Branch:
        """A branch at ``source``'s head: one row. ``with_data`` also copies the source's
        materialized tenant files (the new branch's tenants start with its rows).

        All or nothing: with data, every file is copied into a staging directory first, which
        is renamed into place as the branch's directory, and only then is the branch's row
        written. A crash before the row leaves no branch (the staging directory is scratch,
        cleared by the next process; a renamed directory is cleared by the next creation of
        that name); after it, the branch has every file.
        """
        validate_branch_name(name)
        database = files.database
        if not self.store.has_branch(database, source):
            raise BranchNotFoundError(database, source)
        if self.store.has_branch(database, name):
            raise BranchExistsError(database, name)
        staging = scratch_path(self.meta_dir, suffix=".branch") if with_data else None
        try:
            if staging is not None:
                files.copy_branch(source, name, into=staging)
            # Read after the copy: every copied file is at or behind this head (a branch only
            # moves forward), so the new branch's files catch up, never diverge.
            head = self.store.branch_head(database, source)
            # Files of an earlier branch of this name that a crash left behind must not leak in.
            shutil.rmtree(files.branch_dir(name), ignore_errors=True)
            if staging is not None and staging.exists():
                os.rename(staging, files.branch_dir(name))
            self.store.create_branch(database, name, head=head)
        finally:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
        files.forget_branches()
        return self.branch(database, name)

    def branch(self, database: str, name: str) -> Branch:
        for branch in self.list_branches(database):
            if branch.name == name:
                return branch
        raise BranchNotFoundError(database, name)

    def _require_merged(self, database: str, name: str) -> None:
        head = self.store.branch_head(database, name)
        if head is None:
            if not self.store.has_branch(database, name):
                raise BranchNotFoundError(database, name)
            return  # an empty branch has nothing to lose
        others = [b.head for b in self.store.list_branches(database) if b.name != name and b.head]
        graph = self.store.graph(database)
        if any(graph.is_ancestor(head, other) for other in others):
            return
        unmerged = graph.ancestors(head) | {head}
        for other in others:
            unmerged -= graph.ancestors(other) | {other}
        raise UnmergedBranchError(name, len(unmerged))

    def list_branches(self, database: str) -> list[Branch]:
        return [
            models.Branch(name=record.name, head=record.head, created_at=record.created_at)
            for record in self.store.list_branches(database)
        ]

    def delete_branch(self, files: TenantFiles, name: str, *, force: bool = False) -> None:
        """The row first: once it is gone nothing opens the files, which go next.

        Without ``force``, a branch whose head no other branch has in its history is refused
        (``git branch -d``): its events would belong to no branch any more.
        """
        if name == MAIN:
            raise ProtectedError("branch", MAIN, "deleted")
        if not force:
            self._require_merged(files.database, name)
        self.store.delete_branch(files.database, name)
        files.forget_branches()
        files.remove_branch(name)
