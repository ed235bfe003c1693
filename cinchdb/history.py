"""Reading and rewinding a branch's history: refs, log with schema blame, diff, time travel
and revert.

A *ref* names an event: a branch name (its head), ``branch~N`` (N first parents back), or an
event id or unique prefix of at least 4 characters. A branch with no events names the empty
schema.

Ranges read as git reads them. ``log A..B`` and ``lint A..B`` (and ``A...B``) take the events
reachable from B and not from A: what B introduces. ``diff A B`` and ``diff A..B`` compare the
two heads; ``diff A...B`` compares the merge base of A and B with B. A diff along history (one
ref on the other's first-parent chain) knows renames from the events on the way; otherwise it
compares the two schemas (see ``journal.diff``).
"""

from __future__ import annotations

import re
import sqlite3

from typing_extensions import assert_never  # typing has it from 3.11; we support 3.10

from cinchdb._drift import schema_differences
from cinchdb._guard import read_cursor
from cinchdb._repair import repair_tenant as _repair_tenant
from cinchdb._revert_check import revert_losses
from cinchdb._system_tables import FOREIGN_TABLES
from cinchdb._tenant_dir import damage
from cinchdb.changes import SchemaChanges
from cinchdb.crypto import EncryptionError, open_encrypted
from cinchdb.errors import (
    ArgumentError,
    ResetRefusedError,
    RevertLosesDataError,
    UnknownBranchRefError,
)
from cinchdb.results import (
    BehindTenant,
    CheckReport,
    DriftedTenant,
    LintFinding,
    RangeInfo,
    RepairResult,
    ResetResult,
    UnreplayableBranch,
)
from journal import Event, Schema, drivers
from journal.diff import diff_schemas, net_renames
from journal.diff import lint as lint_operations
from journal.errors import EventNotFoundError
from journal.events import (
    BranchesMerged,
    ColumnAdded,
    ColumnAltered,
    ColumnDropped,
    ColumnRenamed,
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
)
from journal.introspect import introspect
from journal.inverse import inverse_operations
from journal.merge_check import first_refused
from journal.names import same_name

_ANCESTRY = re.compile(r"^(?P<name>.+?)~(?P<count>\d+)$")
_HEX = re.compile(r"[0-9a-fA-F]+")
_MIN_PREFIX = 4  # the journal's shortest event id prefix


def resolve_ref(changes: SchemaChanges, ref: str) -> str | None:
    """The event id a ref names (None: a branch with no events yet).

    Raises:
        UnknownBranchRefError: no branch of that name, and it cannot be an event id (an
            EventNotFoundError too).
        EventNotFoundError: no event of that id (or prefix, of at least 4 characters), or
            not enough history for ``~N``.
    """
    store, database = changes.store, changes.database
    match = _ANCESTRY.match(ref)
    name, count = (match["name"], int(match["count"])) if match else (ref, 0)
    if store.has_branch(database, name):
        event_id = store.branch_head(database, name)
    elif not _HEX.fullmatch(name):
        # Not hexadecimal: no event id could be called that, so it was meant as a branch.
        raise UnknownBranchRefError(database, name)
    elif len(name) < _MIN_PREFIX:
        raise EventNotFoundError(ref, f"an event id prefix needs at least {_MIN_PREFIX} characters")
    else:
        event_id = store.resolve(database, name)  # its error says unknown or ambiguous
    if count:
        graph = store.graph(database)
        for _ in range(count):
            if event_id is None:
                raise EventNotFoundError(ref, "the history is shorter than that")
            parents = graph.parents(event_id)
            event_id = parents[0] if parents else None
    return event_id


def schema_at(changes: SchemaChanges, ref: str) -> Schema:
    return changes.fold.schema_at(resolve_ref(changes, ref))


def split_range(spec: str) -> tuple[str | None, str, str]:
    """``A..B`` / ``A...B`` / a single ref as (A or None, B, the separator or "")."""
    for separator in ("...", ".."):
        a, found, b = spec.partition(separator)
        if found:
            if not a or not b:
                raise ArgumentError("range", f"expected A{separator}B with both refs, got {spec!r}")
            return a, b, separator
    return None, spec, ""


def _introduced(changes: SchemaChanges, a: str | None, b: str) -> tuple[RangeInfo, list[str]]:
    """The events reachable from ``b`` and not from ``a``, newest first (``git log a..b``)."""
    store, database = changes.store, changes.database
    from_id = None if a is None else resolve_ref(changes, a)
    to_id = resolve_ref(changes, b)
    ids: list[str] = []
    if to_id is not None:
        graph = store.graph(database)
        ids = graph.log_order(to_id)
        if from_id is not None:
            seen = graph.ancestors(from_id) | {from_id}
            ids = [i for i in ids if i not in seen]
    info: RangeInfo = {
        "range": b if a is None else f"{a}..{b}",
        "kind": "introduced",
        "from_ref": a,
        "to_ref": b,
        "from_id": from_id,
        "to_id": to_id,
        "events": list(reversed(ids)),
    }
    return info, ids


def diff_range(
    changes: SchemaChanges, a: str, b: str | None = None
) -> tuple[RangeInfo, list[Operation]]:
    """What ``diff`` compared and the operations that turn the one schema into the other.

    ``diff_range(c, "A", "B")`` and ``diff_range(c, "A..B")`` compare the two heads;
    ``diff_range(c, "A...B")`` compares the merge base of A and B with B.
    """
    kind = "heads"
    if b is None:
        first, b, separator = split_range(a)
        if first is None:
            raise ArgumentError("diff", f"give two refs or a range A..B / A...B, got {a!r}")
        a = first
        kind = "merge_base" if separator == "..." else "heads"
    from_id, to_id = resolve_ref(changes, a), resolve_ref(changes, b)
    graph = changes.store.graph(changes.database)
    if kind == "merge_base" and from_id is not None and to_id is not None:
        from_id = graph.first_parent_base(from_id, to_id)
    elif kind == "merge_base":
        from_id = None
    info: RangeInfo = {
        "range": f"{a}...{b}" if kind == "merge_base" else f"{a}..{b}",
        "kind": kind,
        "from_ref": a,
        "to_ref": b,
        "from_id": from_id,
        "to_id": to_id,
        "events": [],
    }
    return info, _diff_ids(changes, from_id, to_id)


def _diff_ids(changes: SchemaChanges, a: str | None, b: str | None) -> list[Operation]:
    """Along history when one event is on the other's first-parent chain (the renames on the
    way are known), else by comparing the two schemas."""
    fold = changes.fold
    before, after = fold.schema_at(a), fold.schema_at(b)
    if a == b:
        return []
    graph = changes.store.graph(changes.database)
    if b is not None and (a is None or a in graph.first_parent_chain(b)):
        path = [op for e in changes.store.events(graph.first_parent_chain(b, after=a))
                for op in e.operations]  # fmt: skip
        return diff_schemas(before, after, renames=net_renames(before, path))
    if a is not None and (b is None or b in graph.first_parent_chain(a)):
        path = [op for e in changes.store.events(graph.first_parent_chain(a, after=b))
                for op in e.operations]  # fmt: skip
        # Backwards: the renames from b to a, undone.
        undo, _ = inverse_operations(after, net_renames(after, path))
        renames = [op for op in undo if isinstance(op, TableRenamed | ColumnRenamed)]
        return diff_schemas(before, after, renames=renames)
    return diff_schemas(before, after)


def diff(changes: SchemaChanges, a: str, b: str | None = None) -> list[Operation]:
    return diff_range(changes, a, b)[1]


def log(
    changes: SchemaChanges, branch: str, limit: int | None = None, path: str | None = None
) -> list[Event]:
    """Events newest first: every event reachable from the branch head (``branch`` may be a
    range ``A..B``: the events reachable from B and not from A), or with ``path`` ("table" or
    "table.column") only those that touched that object, followed back through renames along
    the branch's first-parent history."""
    if limit is not None and (type(limit) is not int or limit < 0):
        raise ArgumentError("log", f"limit must be 0 or more, got {limit!r}")
    store, database = changes.store, changes.database
    start, end, _ = split_range(branch)
    info, ids = _introduced(changes, start, end)
    head = info["to_id"]
    if head is None:
        return []
    if path is None:
        ids = ids if limit is None else ids[:limit]
        return store.events(ids)
    wanted = set(ids)
    table, _, column = path.partition(".")
    found: list[Event] = []
    if limit == 0:
        return found
    for event in reversed(store.chain(database, head)):
        touched = False
        for op in reversed(event.operations):
            hit, table, column_after = _touches(op, table, column or None)
            column = column_after or ""
            touched = touched or hit
        if touched and event.id in wanted:
            found.append(event)
            if limit is not None and len(found) >= limit:
                break
    return found


def log_range(changes: SchemaChanges, spec: str) -> RangeInfo:
    """Which events ``log``/``lint`` judge for ``spec`` (a ref, ``A..B`` or ``A...B``)."""
    start, end, separator = split_range(spec)
    info, _ = _introduced(changes, start, end)
    if separator:
        info["range"] = spec
    return info


def _touches(op: Operation, table: str, column: str | None) -> tuple[bool, str, str | None]:
    """Whether ``op`` touched ``table[.column]`` (names as they were right after ``op``), and
    the names the object had just before it, walking history backwards."""
    match op:
        case TableRenamed():
            if same_name(op.new_name, table):
                return True, op.table, column
            return False, table, column
        case ColumnRenamed():
            if not same_name(op.table, table):
                return False, table, column
            if column is not None and same_name(op.new_name, column):
                return True, table, op.column
            return column is None, table, column
        case TableCreated():
            hit = same_name(op.table.name, table) and (
                column is None or op.table.column(column) is not None
            )
            return hit, table, column
        case TableDropped():
            return same_name(op.table, table), table, column
        case ColumnAdded():
            name = op.column.name
            hit = same_name(op.table, table) and (column is None or same_name(name, column))
            return hit, table, column
        case ColumnDropped() | ColumnAltered():
            hit = same_name(op.table, table) and (column is None or same_name(op.column, column))
            return hit, table, column
        case IndexCreated():
            hit = same_name(op.index.table, table) and (
                column is None
                or any(c.column and same_name(c.column, column) for c in op.index.columns)
            )
            return hit, table, column
        case TriggerCreated():
            return same_name(op.trigger.table, table) and column is None, table, column
        case IndexDropped() | ViewCreated() | ViewReplaced() | ViewDropped() | TriggerDropped():
            # An index or trigger drop names no table; a view's SQL is not followed.
            return False, table, column
        case _:
            assert_never(op)


def revert(
    changes: SchemaChanges, branch: str, ref: str, *, force: bool = False
) -> tuple[Event, list[str]]:
    """Append an ``EventReverted`` with the inverse of event ``ref``'s operations.

    Raises:
        RevertLosesDataError: the inverse cannot restore what was lost (listed), unless
            ``force``; nothing was written. Undoing an ``add_column`` whose column holds only
            its default (NULL without one) in every materialized tenant loses nothing.
        SchemaError: the inverse does not apply to the branch's current schema (a later change
            depends on what the event did); nothing was written.
    """
    event_id = resolve_ref(changes, ref)
    if event_id is None:
        raise EventNotFoundError(ref, "the branch has no events to revert")
    event = changes.store.get_event(event_id)
    before = changes.fold.schema_at(event.parents[0] if event.parents else None)
    inverse, losses = inverse_operations(before, event.operations)
    if losses and not force:
        # An added column that holds only its default everywhere loses nothing: asked of
        # the tenants' rows, only when the schema alone says something would be lost.
        losses = revert_losses(changes, branch, before, event.operations)
        if losses:
            raise RevertLosesDataError(event_id, losses)
    change = EventReverted(reverted=event_id, operations=tuple(inverse))
    events, _, _ = changes.commit(
        branch, [change], message=f"Revert {event.short_id}: {event.summary}"
    )
    return events[-1], losses


def reset_branch(changes: SchemaChanges, branch: str, ref: str) -> ResetResult:
    """Move ``branch`` back to the event ``ref`` names, as ``git reset`` does: the recovery for
    a branch whose head holds an event SQLite refuses (see ``check()["unreplayable"]``).

    The later events stay in the journal (reachable by id) but leave the branch. Refused,
    changing nothing, when ``ref`` is not on the branch's first-parent history, when the
    history up to ``ref`` does not replay in SQLite itself, or when a tenant file of the
    branch already holds an event past ``ref`` (a file never goes back an event), naming the
    tenants. The head moves with a compare-and-swap; the template is then rebuilt at it.

    Raises:
        ResetRefusedError: see above; nothing was changed.
        EventNotFoundError: ``ref`` names no event.
        ConcurrentChangeError: the branch moved while the reset was being made.
    """
    store, database = changes.store, changes.database
    target = resolve_ref(changes, ref)
    head = store.branch_head(database, branch)
    chain = [] if head is None else store.graph(database).first_parent_chain(head)
    if target is not None and target not in chain:
        raise ResetRefusedError(
            branch, ref, f"event {target[:12]} is not on the branch's first-parent history"
        )
    keep = 0 if target is None else chain.index(target) + 1
    result: ResetResult = {
        "branch": branch,
        "head": target,
        "previous": head,
        "events_dropped": len(chain) - keep,
    }
    if keep == len(chain):
        return result
    refused = first_refused(store.events(chain[:keep]))
    if refused is not None:
        raise ResetRefusedError(
            branch, ref, f"its own history does not replay in SQLite: {refused[1]}"
        )
    dropped, on_chain = set(chain[keep:]), set(chain)
    _refuse_tenants_past(changes, branch, ref, dropped, on_chain)
    store.reset_branch(database, branch, target, expected_head=head)
    try:
        # A tenant another process caught up between the check and the move: put the head
        # back rather than leave that file ahead of its branch.
        _refuse_tenants_past(changes, branch, ref, dropped, on_chain)
    except ResetRefusedError:
        store.move_branch(database, branch, head, expected_head=target)
        raise
    changes.files.rebuild_template(branch)
    return result


def _refuse_tenants_past(
    changes: SchemaChanges, branch: str, ref: str, dropped: set[str], chain: set[str]
) -> None:
    past, locked = [], []
    for state in changes.files.status(branch):
        if not state.materialized:
            continue
        if state.needs_key:
            locked.append(state.name)
        elif state.cursor in dropped or (state.cursor is not None and state.cursor not in chain):
            past.append(state.name)
    if past or locked:
        reasons = []
        if past:
            reasons.append(f"tenant files of the branch hold events past it: {', '.join(past)}")
        if locked:
            reasons.append(f"encrypted tenants whose key is not at hand: {', '.join(locked)}")
        raise ResetRefusedError(branch, ref, "; ".join(reasons), sorted(past + locked))


def lint(changes: SchemaChanges, a: str, b: str | None = None) -> list[LintFinding]:
    """Destructive or data-dependent operations that B introduces over A (see
    ``journal.diff.lint``): ``lint(c, "A..B")`` (or ``"A...B"``, or ``lint(c, "A", "B")``)
    judges the events reachable from B and not from A. A merge event counts only when it brings
    in events A does not have (merging A itself into B introduces nothing)."""
    spec = a if b is None else f"{a}..{b}"
    start, end, _ = split_range(spec)
    if start is None:
        raise ArgumentError("lint", f"expected a range A..B, got {spec!r}")
    info, ids = _introduced(changes, start, end)
    graph = changes.store.graph(changes.database)
    from_id = info["from_id"]
    operations: list[Operation] = []
    for event in changes.store.events(list(reversed(ids))):
        # A merge that only brings A's own changes in introduces nothing of its own.
        if (
            isinstance(event.change, BranchesMerged)
            and from_id is not None
            and all(graph.is_ancestor(parent, from_id) for parent in event.parents[1:])
        ):
            continue
        operations += event.operations
    return [
        {"kind": f.kind, "object": f.object, "message": f.message}
        for f in lint_operations(operations)
    ]


def check(changes: SchemaChanges) -> CheckReport:
    """Journal integrity and tenant drift for every branch of the database.

    ``corrupt_events``: events whose stored content no longer matches their id.
    ``unreplayable``: branches whose first-parent history SQLite does not replay (each
    replayed into memory, every view and trigger at the head compiled). ``drift``:
    materialized files whose cursor is not on their branch's history, or whose actual schema
    differs from the journal's schema at their cursor. ``behind``: files that
    are merely behind their head (they catch up when next opened; not an error).
    """
    store, files = changes.store, changes.files
    drift: list[DriftedTenant] = []
    behind: list[BehindTenant] = []
    unreplayable: list[UnreplayableBranch] = []
    replayed: dict[str | None, tuple[str, str] | None] = {}  # by head: branches may share one
    for record in store.list_branches(changes.database):
        head = record.head
        chain = store.chain(changes.database, head)
        if head not in replayed:
            refused = first_refused(chain)
            replayed[head] = None if refused is None else (refused[0].id, str(refused[1]))
        failure = replayed[head]
        if failure is not None:
            unreplayable.append({"branch": record.name, "event": failure[0],
                                 "problem": failure[1]})  # fmt: skip
        chain_ids = [e.id for e in chain]
        position = {event_id: i for i, event_id in enumerate(chain_ids)}
        encrypted = files.encrypted_names()
        locked = encrypted - set(files.keys)
        for tenant, path in files.materialized(record.name):
            damaged = damage(path, encrypted=tenant in encrypted)
            if damaged is not None:  # opening it would fail, or make it a new empty database
                problem = f"file {path} is {damaged}"
                drift.append({"branch": record.name, "tenant": tenant, "problem": problem,
                              "differences": []})  # fmt: skip
                continue
            if tenant in locked:
                behind.append({"branch": record.name, "tenant": tenant, "events": None,
                               "needs_key": True})  # fmt: skip
                continue
            if tenant in files.keys:
                assert drivers.sqlcipher is not None
                try:
                    conn = open_encrypted(
                        path, files.keys[tenant], drivers.sqlcipher.Connection, tenant
                    )
                except EncryptionError:  # rotated since this handle was given the key
                    behind.append({"branch": record.name, "tenant": tenant, "events": None,
                                   "needs_key": True})  # fmt: skip
                    continue
            else:
                conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
            try:
                cursor = read_cursor(conn)
                branch = record.name
                if cursor is not None and cursor not in position:
                    problem = f"cursor {cursor[:12]} is not on the branch"
                    drift.append({"branch": branch, "tenant": tenant, "problem": problem,
                                  "differences": []})  # fmt: skip
                    continue
                expected = changes.fold.schema_at(cursor)
                actual = introspect(conn, ignore=FOREIGN_TABLES)
                if actual.canonical() != expected.canonical():
                    drift.append({"branch": branch, "tenant": tenant,
                                  "problem": "schema differs from the journal",
                                  "differences": schema_differences(expected, actual)})  # fmt: skip
                at = -1 if cursor is None else position[cursor]
                if at < len(chain_ids) - 1:
                    lag = len(chain_ids) - 1 - at
                    behind.append({"branch": branch, "tenant": tenant, "events": lag})
            finally:
                conn.close()
    corrupt = store.verify(changes.database)
    return {
        "corrupt_events": corrupt,
        "unreplayable": unreplayable,
        "drift": drift,
        "behind": behind,
        "ok": not drift and not corrupt and not unreplayable,
    }


def repair_tenant(changes: SchemaChanges, branch: str, name: str) -> RepairResult:
    """The way out of the drift ``check`` reports: tenant ``name``'s file of ``branch``
    rebuilt to the journal's schema at its cursor, its rows kept (see ``cinchdb._repair``)."""
    return _repair_tenant(changes.files, branch, name)
