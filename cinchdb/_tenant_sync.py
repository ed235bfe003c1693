"""Keeping tenant files at their branch head: catch-up of one open file (with the way back
for a file that followed another git branch), the fleet-wide preflight and propagation of a
schema change, and each tenant's standing. :class:`TenantSync` is owned by
:class:`cinchdb.tenants.TenantFiles`, which delegates to it; the files come from its cache.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import attrs

from cinchdb import _fleet
from cinchdb._file_copy import checkpoint
from cinchdb._guard import (
    CursorMovedError,
    expect_cursor,
    internal,
    read_cursor,
    read_cursor_of_file,
    write_cursor,
)
from cinchdb._open_file import OpenFile
from cinchdb._replay_plans import ReplayPlans
from cinchdb._tenant_crypto import TEMPLATE_KEY
from cinchdb._tenant_dir import TenantDirectory
from cinchdb._unset import UNSET, Unset
from cinchdb.errors import (
    PreflightError,
    TenantAheadOfJournalError,
    TenantCheckoutLosesDataError,
    TenantDivergedError,
    TenantError,
)
from journal import EventNotFoundError, JournalStore, ReplayError, drivers
from journal._lazy import lazy_module

if TYPE_CHECKING:
    from cinchdb import _follow
    from journal import Schema, replay
    from journal.events import Event, Operation
    from journal.replay import Step
else:  # the DDL planner, the fold and the event models: only a file behind the head needs them
    replay = lazy_module("journal.replay")
    # The way back for a file that followed another git branch: only after a git checkout.
    _follow = lazy_module("cinchdb._follow")

__all__ = ["BUSY_ATTEMPTS", "CatchUp", "Outcome", "TenantState", "TenantSync"]

# Cache key of a branch's template; no tenant name can start with '_'.
_TEMPLATE = TEMPLATE_KEY
#: Tries at one file during propagation before it is reported ``behind`` (each try already
#: waits out SQLite's busy timeout for a lock another process holds).
BUSY_ATTEMPTS = 3
_BUSY_PAUSE_S = 0.05
# Times a catch-up re-reads the branch head because another process moved the file past it;
# each re-read means another change was committed meanwhile, so this bounds a livelock only.
_MAX_HEAD_READS = 100
# What one file can raise while propagation catches it up (reported, never raised).
_FILE_ERRORS: tuple[type[Exception], ...] = (*drivers.Error, TenantError)


#: What propagation did to one file of a committed change's branch:
#: ``applied`` (events applied, now at the head), ``current`` (it already was at the head),
#: ``ahead`` (another process had already moved it past the head this process read, which
#: includes this change), ``deleted`` (the tenant was deleted meanwhile: nothing to do) and
#: ``behind`` (it could not be updated now, e.g. locked past every retry; it catches up the
#: next time it is opened, and ``error`` says why).
Outcome = Literal["applied", "current", "ahead", "deleted", "behind"]


@attrs.frozen
class CatchUp:
    """What bringing one file to the head did."""

    path: Path
    applied: int
    cursor: str | None
    outcome: Outcome = "applied"
    error: str | None = None

    @property
    def tenant(self) -> str:
        return self.path.stem


@attrs.frozen
class TenantState:
    """Where one tenant's file of a branch stands against the branch head."""

    name: str
    materialized: bool
    cursor: str | None
    behind: int | None  # None: unknown, the file is encrypted and its key is not at hand
    needs_key: bool = False


class _Files(Protocol):
    """What :class:`TenantSync` uses of the :class:`~cinchdb.tenants.TenantFiles` owning it."""

    store: JournalStore
    database: str
    directory: TenantDirectory
    workers: int

    @property
    def keys(self) -> dict[str, bytes]: ...
    def exists(self, name: str) -> bool: ...
    def names(self) -> list[str]: ...
    def encrypted_names(self) -> set[str]: ...
    def path(self, branch: str, tenant: str) -> Path: ...
    def reachable(self, branch: str) -> list[str]: ...
    def _entry(self, branch: str, name: str) -> OpenFile: ...
    def _fresh(self, branch: str, name: str) -> OpenFile: ...
    def _close(self, branch: str, name: str) -> bool: ...


class TenantSync:
    """Catch-up, preflight, propagation and status over the files of a
    :class:`~cinchdb.tenants.TenantFiles`, sharing its cache of open files."""

    def __init__(
        self, files: _Files, plans: ReplayPlans, open_files: OrderedDict[tuple[str, str], OpenFile]
    ) -> None:
        self._files = files
        self._plans = plans
        self._open = open_files

    def catch_up(self, branch: str, conn: sqlite3.Connection, path: Path) -> CatchUp:
        """Bring one open file to the branch head (see :meth:`catch_up_entry`)."""
        for entry in self._open.values():
            if entry.conn is conn:
                return self.catch_up_entry(branch, entry)
        raise TenantError(f"{path} is not open here")

    def catch_up_entry(
        self, branch: str, entry: OpenFile, head: str | Unset | None = UNSET
    ) -> CatchUp:
        """Apply the events between the file's cursor and the branch head in one transaction
        together with the cursor that records the last of them. Another process may be
        doing the same: each transaction first checks, under the write lock, that the file is
        still where we think, and on a surprise we start again from the cursor it has now.

        A head read before another process appended and moved the file further is stale, not
        a divergence: the head is read again, and the file is caught up to that (``ahead``
        when it was already past the head we were given)."""
        if isinstance(head, Unset):
            head = self._files.store.branch_head(self._files.database, branch)
        applied = 0
        ahead = False
        cursor = entry.cursor
        for _ in range(_MAX_HEAD_READS):
            try:
                pending = self._pending(head, cursor, entry.path)
            except TenantDivergedError:
                latest = self._files.store.branch_head(self._files.database, branch)
                if latest != head:
                    head, ahead = latest, True
                    continue
                # Not on the branch's history: the file followed another git branch.
                try:
                    applied += self._follow_checkout(branch, entry, cursor, head)
                except CursorMovedError:
                    cursor = read_cursor(entry.conn)
                    continue
                cursor = entry.cursor = head
                return CatchUp(entry.path, applied, head, "applied")
            if pending:
                # All the pending events in one transaction: the file goes from one event
                # straight to the head (a fast-forward of five events is one step per tenant).
                try:
                    with internal(entry.conn):
                        replay.apply_steps(
                            entry.conn,
                            self._plans.steps_of(pending),
                            after_begin=expect_cursor(cursor),
                            before_commit=write_cursor(pending[-1].id),
                        )
                except CursorMovedError:
                    cursor = read_cursor(entry.conn)
                    continue
                applied += len(pending)
                cursor = pending[-1].id
            entry.cursor = cursor
            outcome: Outcome = "applied" if applied else "ahead" if ahead else "current"
            return CatchUp(entry.path, applied, head, outcome)
        raise TenantError(
            f"{entry.path} kept moving while it was caught up ({_MAX_HEAD_READS} attempts)"
        )

    def _follow_checkout(
        self, branch: str, entry: OpenFile, cursor: str | None, head: str | None
    ) -> int:
        """Bring a file at ``cursor``, an event the branch's history lacks (it followed another
        git branch: the events stay in metadata.db), to ``head``: the inverse of its events
        since the common first-parent ancestor, then the branch's events since it, in one
        transaction with the cursor. How many events that undid and applied.

        Raises:
            TenantCheckoutLosesDataError: undoing would drop rows or values the file holds,
                or the way back fails in SQLite; nothing was changed.
            TenantAheadOfJournalError: the journal has no such event at all (it is older
                than the file); the file is left alone.
            TenantDivergedError: the cursor is no event of this database, or the branch is
                empty (the file is left alone).
            CursorMovedError: another process moved the file meanwhile (the caller retries).
        """
        graph = self._files.store.graph(self._files.database)
        if cursor is not None and not self._known(cursor):
            # Not a git checkout: no history has this event. The journal is older than the
            # file (restored to an earlier point); only this tenant is refused, by name.
            raise TenantAheadOfJournalError(entry.path.stem, branch, entry.path, cursor)
        if cursor is None or head is None:
            raise TenantDivergedError(entry.path, cursor or "")
        try:
            base = graph.first_parent_base(cursor, head)
        except EventNotFoundError:
            raise TenantDivergedError(entry.path, cursor) from None
        extra = self._files.store.events(graph.first_parent_chain(cursor, after=base))
        forward = self._files.store.events(graph.first_parent_chain(head, after=base))
        done = [op for event in extra for op in event.operations]
        fold = self._plans.fold
        undo, _ = _follow.inverse_operations(fold.schema_at(base), done)
        back, at_base = replay.plan(fold.schema_at(cursor), undo)
        # Planned from the schema the undo leaves (not the fold at the base): the file's own
        # column order, which a re-added column may have changed.
        onward, _ = replay.plan(at_base, [op for event in forward for op in event.operations])
        stake = _follow.at_stake(done)
        tenant = entry.path.stem

        def check(conn: sqlite3.Connection) -> None:
            expect_cursor(cursor)(conn)
            lost = _follow.losses(conn, stake)
            if lost:
                raise TenantCheckoutLosesDataError(tenant, branch, entry.path, cursor, lost)

        try:
            with internal(entry.conn):
                replay.apply_steps(
                    entry.conn, [*back, *onward], after_begin=check,
                    before_commit=write_cursor(head),
                )  # fmt: skip
        except ReplayError as e:
            raise TenantCheckoutLosesDataError(
                tenant, branch, entry.path, cursor, [], reason=str(e)
            ) from e
        return len(extra) + len(forward)

    def _known(self, event_id: str) -> bool:
        """Whether the journal holds the event (of any database or branch)."""
        try:
            self._files.store.get_event(event_id)
        except EventNotFoundError:
            return False
        return True

    def _pending(self, head: str | None, cursor: str | None, path: Path) -> list[Event]:
        """The events from ``cursor`` (exclusive) to ``head``, walking first parents back from
        the head: as long as the distance, not the whole history (events are cached)."""
        pending: list[Event] = []
        event_id = head
        while event_id != cursor:
            if event_id is None:
                assert cursor is not None
                raise TenantDivergedError(path, cursor)
            event = self._files.store.get_event(event_id)
            pending.append(event)
            event_id = event.parents[0] if event.parents else None
        pending.reverse()
        return pending

    def preflight(self, branch: str, operations: Sequence[Operation]) -> None:
        """Run ``operations`` on every materialized tenant of ``branch`` and roll back.

        Files not open here run on the fleet pool (:mod:`cinchdb._fleet`), each in its own
        rolled-back transaction; the rest, and any the pool hands back, one at a time.

        Raises:
            PreflightError: naming each tenant whose rows the change would violate, and why.
                Called before the change enters the journal, so nothing has been written.
        """
        failures: list[tuple[str, str]] = []
        head = self._files.store.branch_head(self._files.database, branch)
        at_head = self._plans.fold.schema_at(head)
        planned_at_head = replay.plan(at_head, operations)[0]
        # Every file is at the head after _fresh, so one plan (from the fold cache's schema
        # object) serves them all; a file at another schema gets its own.
        planned: tuple[Schema, tuple[Step, ...]] = (at_head, planned_at_head)

        def one_at_a_time(tenant: str) -> None:
            nonlocal planned
            entry = self._files._fresh(branch, tenant)
            if planned[0] is not entry.schema:
                planned = (entry.schema, replay.plan(entry.schema, operations)[0])
            try:
                with internal(entry.conn):
                    replay.apply_steps(entry.conn, planned[1], dry_run=True)
            except ReplayError as e:
                failures.append((tenant, e.reason))

        pooled, serial = self._split(branch, self._files.reachable(branch))
        for tenant in serial:
            one_at_a_time(tenant)
        handed_back: list[str] = []

        def done(tenant: str, result: str | Literal[False] | BaseException | None) -> None:
            if isinstance(result, str):
                failures.append((tenant, result))
            elif result is False or isinstance(result, BaseException):
                handed_back.append(tenant)

        _fleet.run(
            pooled,
            lambda tenant: _fleet.preflight(
                self._files.path(branch, tenant), head, planned_at_head
            ),
            done,
            self._files.workers,
        )
        for tenant in sorted(handed_back):
            one_at_a_time(tenant)
        if failures:
            raise PreflightError(sorted(failures))

    def _split(self, branch: str, tenants: list[str]) -> tuple[list[str], list[str]]:
        """Tenants for the fleet pool (plain files not open here) and for the one-file path
        (open in the cache, whose entry must follow the file, or encrypted)."""
        pooled: list[str] = []
        serial: list[str] = []
        if not self._files.workers:
            return pooled, list(tenants)
        for tenant in tenants:
            if (branch, tenant) in self._open or tenant in self._files.keys:
                serial.append(tenant)
            else:
                pooled.append(tenant)
        return pooled, serial

    def propagate(
        self, branch: str, progress: Callable[[int, int], None] | None = None
    ) -> list[CatchUp]:
        """Bring the template and every materialized tenant of ``branch`` to its head; one
        :class:`CatchUp` per tenant says what was done (the template's is left out), in
        tenant order.

        Called after a change was committed, so it never raises for one file: a file another
        process moved further is ``ahead``, a tenant deleted meanwhile is ``deleted``, a file
        still locked after :data:`BUSY_ATTEMPTS` tries is ``behind`` (it catches up when next
        opened). The caller's change is in the journal whatever this reports.

        Files not open here are caught up on the fleet pool (:mod:`cinchdb._fleet`), several
        in flight at once, without entering the cache; the others, and any the pool hands
        back (locked, ahead, far behind), one at a time as before.
        """
        version = self._files.store.version()
        head = self._files.store.branch_head(self._files.database, branch)
        template = self.propagate_one(branch, _TEMPLATE, head)
        template_entry = self._open.get((branch, _TEMPLATE))
        if template_entry is not None and template.outcome != "behind":
            if template.applied:
                checkpoint(template_entry.conn)
            template_entry.checked = version
        files = self._files.reachable(branch)
        outcomes: dict[str, CatchUp] = {}

        def report() -> None:
            if progress is not None:
                progress(len(outcomes), len(files))

        def one_at_a_time(tenant: str) -> None:
            step = self.propagate_one(branch, tenant, head)
            entry = self._open.get((branch, tenant))
            if entry is not None and step.outcome != "behind":
                entry.checked = version
            outcomes[tenant] = step
            report()

        pooled, serial = self._split(branch, files)
        for tenant in serial:
            one_at_a_time(tenant)
        handed_back: list[str] = []

        def done(tenant: str, result: _fleet.Done | BaseException) -> None:
            if result is None or isinstance(result, BaseException):
                handed_back.append(tenant)
                return
            outcome, applied = result
            outcomes[tenant] = CatchUp(self._files.path(branch, tenant), applied, head, outcome)
            report()

        window = _fleet.Window(self._files.store, self._plans, head)
        _fleet.run(
            pooled,
            lambda tenant: _fleet.catch_up(self._files.path(branch, tenant), window),
            done,
            self._files.workers,
        )
        for tenant in sorted(handed_back):
            one_at_a_time(tenant)
        return [outcomes[tenant] for tenant in files]

    def propagate_one(self, branch: str, name: str, head: str | None) -> CatchUp:
        """One file of :meth:`propagate`: caught up, or told apart from a failure that is not
        one (deleted meanwhile), retried while busy, never raised."""
        path = (
            self._files.directory.template_path(branch)
            if name == _TEMPLATE
            else self._files.path(branch, name)
        )
        error: Exception | None = None
        for attempt in range(BUSY_ATTEMPTS):
            if name != _TEMPLATE and not self._still_there(branch, name):
                return CatchUp(path, 0, head, "deleted")
            try:
                return self.catch_up_entry(branch, self._files._entry(branch, name), head)
            except _FILE_ERRORS as e:
                # The connection may be the one that saw the file go (a deleted WAL gives
                # "disk I/O error"): never reuse it; the next attempt opens the file afresh.
                self._files._close(branch, name)
                error = e
                if name != _TEMPLATE and not self._still_there(branch, name):
                    return CatchUp(path, 0, head, "deleted")
                if attempt < BUSY_ATTEMPTS - 1:
                    time.sleep(_BUSY_PAUSE_S * 2**attempt)
        return CatchUp(path, 0, head, "behind", f"{type(error).__name__}: {error}")

    def _still_there(self, branch: str, tenant: str) -> bool:
        """Whether the tenant is still registered and its file still on disk."""
        return self._files.exists(tenant) and os.path.exists(self._files.path(branch, tenant))

    def status(self, branch: str) -> list[TenantState]:
        """Every tenant's standing on ``branch``, read without catching anything up. An
        encrypted tenant whose key is not at hand shows ``needs_key`` and an unknown lag."""
        chain = self._files.store.chain(
            self._files.database, self._files.store.branch_head(self._files.database, branch)
        )
        position = {event.id: index for index, event in enumerate(chain)}
        encrypted = self._files.encrypted_names()
        states = []
        for name in self._files.names():
            path = self._files.path(branch, name)
            if not path.exists():
                states.append(TenantState(name, False, None, 0))
                continue
            if name in encrypted:
                if name not in self._files.keys:
                    states.append(TenantState(name, True, None, None, needs_key=True))
                    continue
                cursor = read_cursor(self._files._entry(branch, name).conn)
            else:
                cursor = read_cursor_of_file(path)
            at = -1 if cursor is None else position.get(cursor)
            behind = len(chain) - 1 - at if at is not None else len(chain)
            states.append(TenantState(name, True, cursor, behind))
        return states
