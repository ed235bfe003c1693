"""Committing a schema change: check it, preflight it, append it, propagate it.

One change is a list of operations made by one SDK call. It goes through four steps:

0. every name it gives anew (a created table, column, index, view or trigger, a rename's new
   name) follows ``journal.names.NAME_RULE``. Only here, where a change enters from the user
   (the SDK's schema methods and ``migrate``): the events of an existing journal, a merge's or
   a revert's operations bring back names that are not new, and keep working;
1. fold it onto the branch head's schema (a pure check: names, dependencies, types) and run
   it in SQLite on an in-memory database at that schema, selecting every view and compiling
   every trigger (``journal.merge_check.check_change``): nothing SQLite refuses is appended;
2. preflight it on every materialized tenant when it can fail on existing rows (a rolled-back
   transaction per tenant); any failure rejects it, naming the tenants;
3. append it to the journal with a compare-and-swap on the branch head; if another process
   moved the head meanwhile, start again from step 1 against the new head (the change is
   re-checked, so it lands only if it still applies);
4. propagate it to the branch template and every materialized tenant, one transaction each.

After step 3 the change is committed and the caller is told so: step 4 reports per tenant
(``applied``, ``current``, ``ahead`` when another process got there first, ``deleted`` when
the tenant went meanwhile, ``behind`` when its file stayed locked) and never raises; a file
it could not update, like one a crash left behind, catches up when next opened.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING

from typing_extensions import assert_never

from cinchdb._replay_plans import ReplayPlans
from cinchdb._replica_durability import wait_until_journal_replicated
from cinchdb._unset import UNSET, Unset
from cinchdb.tenants import CatchUp, TenantFiles
from journal import ConcurrentChangeError, FoldCache, JournalStore
from journal._check_images import CheckImages
from journal._lazy import lazy_module
from journal.names import validate_new_name

if TYPE_CHECKING:
    from journal import events as _events
    from journal.events import Change, Event, Operation
    from journal.schema import Schema
else:  # the event models (pydantic): a handle that changes no schema never loads them
    _events = lazy_module("journal.events")

#: Attempts at step 3 before a ConcurrentChangeError reaches the caller.
MAX_ATTEMPTS = 5
AUTHOR_ENV = "CINCHDB_AUTHOR"
_log = logging.getLogger("cinchdb")

Progress = Callable[[int, int], None]

#: The conditions the next user commit of this thread (context) runs under; see
#: :func:`commit_conditions`. A context variable, not a handle attribute: a handle shared by
#: threads (``cinch serve``'s) must not carry one request's conditions into another's call.
_CONDITIONS: ContextVar[tuple[str | Unset | None, bool]] = ContextVar(
    "cinchdb_commit_conditions", default=(UNSET, False)
)


@contextlib.contextmanager
def commit_conditions(
    *, expected_head: str | Unset | None = UNSET, dry_run: bool = False
) -> Iterator[None]:
    """Schema changes made inside the block are compare-and-swap and/or checks only.

    With ``expected_head`` a change is made only if the branch head is still that event
    (None: a branch with no events); otherwise ConcurrentChangeError, nothing written, no
    retry. With ``dry_run`` a change runs steps 0-2 (names, the check, the preflight) and
    stops: nothing is appended or propagated, and the call returns as if it had been made
    (no events). ``cinch serve`` maps ``If-Match`` and ``?dry_run=true`` onto this.
    """
    token = _CONDITIONS.set((expected_head, dry_run))
    try:
        yield
    finally:
        _CONDITIONS.reset(token)


def default_author() -> str:
    """Who the journal says made a change: ``$CINCHDB_AUTHOR``, else the OS user."""
    explicit = os.environ.get(AUTHOR_ENV)
    if explicit:
        return explicit
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "unknown"


def can_fail_on_data(operation: Operation) -> bool:
    """Whether existing rows can make ``operation`` fail, so tenants need a preflight."""
    match operation:
        case _events.IndexCreated():
            return operation.index.unique
        case _events.ColumnAdded():
            column = operation.column
            return bool(
                column.not_null
                or column.generated
                or operation.unique
                or operation.references
                or operation.check
            )
        case _events.ColumnAltered() | _events.ColumnDropped() | _events.TableDropped():
            # They may rebuild the table or run an implicit DELETE that a foreign key or
            # CHECK refuses.
            return True
        case (
            _events.TableCreated()
            | _events.TableRenamed()
            | _events.ColumnRenamed()
            | _events.IndexDropped()
            | _events.ViewCreated()
            | _events.ViewReplaced()
            | _events.ViewDropped()
            | _events.TriggerCreated()
            | _events.TriggerDropped()
        ):
            return False
        case _:
            assert_never(operation)


def new_names(operation: Operation) -> list[tuple[str, str]]:
    """(kind, name) of every name ``operation`` gives anew."""
    match operation:
        case _events.TableCreated():
            table = operation.table
            return [("table", table.name), *(("column", c.name) for c in table.columns)]
        case _events.TableRenamed():
            return [("table", operation.new_name)]
        case _events.ColumnAdded():
            return [("column", operation.column.name)]
        case _events.ColumnRenamed():
            return [("column", operation.new_name)]
        case _events.IndexCreated():
            return [("index", operation.index.name)]
        case _events.ViewCreated():
            return [("view", operation.view.name)]
        case _events.TriggerCreated():
            return [("trigger", operation.trigger.name)]
        case (
            _events.TableDropped()
            | _events.ColumnDropped()
            | _events.ColumnAltered()
            | _events.IndexDropped()
            | _events.ViewReplaced()  # the view keeps the name it has
            | _events.ViewDropped()
            | _events.TriggerDropped()
        ):
            return []
        case _:
            assert_never(operation)


def check_new_names(changes: Sequence[Change]) -> None:
    """Step 0: the names the user's operations give anew follow the names rule; a merge's
    or a revert's operations are not the user's new names (see the module docstring).

    Raises:
        InvalidNameError: naming the kind, the name and ``journal.names.NAME_RULE``.
    """
    for change in changes:
        if isinstance(change, _events.BranchesMerged | _events.EventReverted):
            continue
        for kind, name in new_names(change):
            validate_new_name(kind, name)


class SchemaChanges:
    """Commits changes to the branches of one database (see the module docstring).

    Owns the one cache of "the schema after this event" (:attr:`fold`) and the statements of
    each event (:attr:`plans`, built on it), and hands them to the tenant files it keeps at
    the head (:attr:`files`).
    """

    def __init__(
        self, store: JournalStore, meta_dir: Path, database: str, author: str | None = None
    ) -> None:
        self.store = store
        self.database = database
        self.author = author or default_author()
        # Folds start from the journal's stored snapshots: a new process reads no events
        # before the nearest one (see journal.store.JournalStore.append).
        self.fold = FoldCache(store.get_event, chain=store)
        self.plans = ReplayPlans(self.fold)
        # Step 1's in-memory databases, so the next change starts from the head's image.
        self.images = CheckImages()
        self.files = TenantFiles(store, meta_dir, database, plans=self.plans)
        self.meta_dir = meta_dir

    def close(self) -> None:
        """Close the tenant files it opened."""
        self.files.close()
        self.images.close()

    def schema(self, branch: str) -> Schema:
        return self.fold.schema_at(self.store.branch_head(self.database, branch))

    def commit(
        self,
        branch: str,
        changes: Sequence[Change],
        *,
        message: str = "",
        progress: Progress | None = None,
        expected_head: str | Unset | None = UNSET,
        merge_parent: str | None = None,
    ) -> tuple[list[Event], Schema, list[CatchUp]]:
        """Steps 1-4; returns the events appended, the schema after and what propagation did.

        ``changes`` are operations, or one ``BranchesMerged`` / ``EventReverted`` carrying
        several. With ``expected_head`` (a merge, whose plan was made against that head) a
        moved head is not retried: ConcurrentChangeError reaches the caller.

        Raises:
            InvalidNameError: a name the change gives anew is outside the names rule.
            SchemaError (and its subclasses): the change does not apply to the schema;
                SQLiteRefusedError: SQLite refuses it. Nothing was written.
            PreflightError: it would fail on some tenants' rows; nothing was written.
            ConcurrentChangeError: the head kept moving under it for every attempt.
        """
        check_new_names(changes)
        operations = [op for change in changes for op in _events.operations_of(change)]
        dry_run = False
        if isinstance(expected_head, Unset) and merge_parent is None:
            # A user's change (a merge passes its own expected head): the caller's conditions.
            expected_head, dry_run = _CONDITIONS.get()
            if not isinstance(expected_head, Unset):
                actual = self.store.branch_head(self.database, branch)
                if actual != expected_head:
                    raise ConcurrentChangeError(self.database, branch, expected_head, actual)
        attempts = 1 if not isinstance(expected_head, Unset) else MAX_ATTEMPTS
        for attempt in range(attempts):
            head = (
                expected_head
                if not isinstance(expected_head, Unset)
                else self.store.branch_head(self.database, branch)
            )
            after, image = self.images.check(head, self.fold.schema_at(head), operations)
            try:
                if any(can_fail_on_data(operation) for operation in operations):
                    self.files.preflight(branch, operations)
                if dry_run:
                    image.close()
                    return [], after, []
                events = self.store.append(
                    self.database,
                    branch,
                    changes,
                    expected_head=head,
                    author=self.author,
                    message=message,
                    merge_parent=merge_parent,
                    snapshot=after.snapshot_text(),
                )
            except ConcurrentChangeError:
                image.close()
                if attempt == attempts - 1:
                    raise
                continue
            except BaseException:
                image.close()
                raise
            if events:
                self.fold.remember(events[-1].id, after)
                self.images.remember(events[-1].id, image)
            else:
                image.close()
            # Committed: from here on nothing reaches the caller as an error. With replication
            # on, the replica holds the journal before any tenant holds the change, so a
            # restored tenant is never ahead of its restored journal (bounded; never raises).
            if events:
                wait_until_journal_replicated(self.meta_dir)
            # Propagation reports per tenant; a file it could not update catches up when next
            # opened.
            done = self.files.propagate(branch, progress)
            for step in done:
                if step.outcome == "behind":
                    _log.warning(
                        "tenant %s of branch %s left behind after a commit: %s",
                        step.tenant,
                        branch,
                        step.error,
                    )
            return events, after, done
        raise AssertionError("unreachable")  # pragma: no cover
