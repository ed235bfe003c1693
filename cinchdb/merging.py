"""Merging one branch into another, as the SDK does it.

1. Up to date: the source's head is already in the target's history. Nothing to do.
2. Fast-forward: the target's head is on the source's first-parent chain, so the target's
   tenants can replay the source's events in order. Those events are run in SQLite first, on
   the target's schema (``check_change``): a journal may hold an event SQLite refuses (written
   before that check existed, or around the SDK), and moving the target onto it would break
   the target. Then the head moves; tenants catch up.
3. Otherwise a three-way merge (``journal.merge``) against the base: the newest event on both
   first-parent chains (``Graph.first_parent_base``). The source's events since the base are
   run in SQLite on the base's schema first, for the same reason. A clean merge appends one
   ``BranchesMerged`` event (parents: target head, source head) carrying the operations,
   preflighted on the target's tenants like any change, which each tenant then applies in one
   transaction. Any conflict raises ``MergeConflictError`` before anything is written.

``merge_heads`` is step 3 for the two heads a git merge left on one branch (see
``journal.textlog``): ours is the head the branch reads (its tenants follow it), theirs the
other, and the merge event's parents are both, so it joins them.

The base is taken on first-parent chains because a tenant file is exactly the fold of its
branch's first-parent chain; merges carry their operations, so a side that already merged some
of the other side's work shows it again as identical changes, which are applied once.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence

import attrs

from cinchdb.changes import Progress, SchemaChanges, can_fail_on_data
from cinchdb.errors import TooManyHeadsError, UnknownResolutionError
from cinchdb.results import ConflictInfo, MergeResult, MergeStatus
from journal import Event, Schema
from journal.errors import MergeConflictError
from journal.events import BranchesMerged, Resolution
from journal.fold import apply
from journal.merge import SIDES, THEIRS, Conflict, Resolver, SideStep, object_key, plan_merge
from journal.merge_check import semantic_check


def _steps(changes: SchemaChanges, events: list[Event]) -> list[SideStep]:
    steps = []
    fold = changes.fold
    for event in events:
        schema = fold.schema_at(event.parents[0] if event.parents else None)
        operations = event.operations
        for number, operation in enumerate(operations):
            steps.append(SideStep(event.id, schema, operation))
            if number < len(operations) - 1:  # the fold cache has each event's own result
                schema = apply(schema, operation)
    return steps


def _conflict_info(conflict: Conflict) -> ConflictInfo:
    return {
        "kind": conflict.kind,
        "object": conflict.object,
        "message": conflict.message,
        "base": conflict.base,
        "ours": conflict.ours,
        "theirs": conflict.theirs,
        "events": conflict.events,
        "sides": conflict.sides,
    }


def _resolver(resolve: Mapping[str, str] | None, strategy: str | None) -> Resolver:
    """The sides asked for, checked: each is "ours" or "theirs"."""
    if strategy is not None and strategy not in SIDES:
        raise UnknownResolutionError(
            f"with strategy {strategy!r}", "the side must be 'ours' or 'theirs'"
        )
    for what, side in (resolve or {}).items():
        if side not in SIDES:
            raise UnknownResolutionError(f"{what!r}={side}", "the side must be 'ours' or 'theirs'")
    return Resolver.of(dict(resolve or {}), strategy)


def _require_known(resolve: Mapping[str, str] | None, in_conflict: Sequence[str]) -> None:
    """Every object named in ``resolve`` was in conflict: a typo must not pass silently."""
    known = {object_key(o) for o in in_conflict}
    for what in resolve or {}:
        if object_key(what) not in known:
            listed = ", ".join(repr(o) for o in in_conflict) or "none"
            raise UnknownResolutionError(repr(what), f"the objects in conflict are {listed}")


def _with_command(conflict: Conflict, merge_command: str) -> Conflict:
    """``conflict`` with its message ending in the command that resolves it."""
    if not conflict.sides:
        return conflict
    side = THEIRS if THEIRS in conflict.sides else conflict.sides[0]
    command = f"{merge_command} --resolve {shlex.quote(conflict.object)}={side}"
    message = conflict.message.rstrip(".")
    return attrs.evolve(conflict, message=f"{message}. To resolve: {command}")


def _result(
    source: str,
    target: str,
    *,
    status: MergeStatus,
    changes_applied: int = 0,
    conflicts: list[Conflict] | None = None,
    fast_forward: bool = False,
    event_id: str | None = None,
    base: str | None = None,
    resolutions: tuple[str, ...] = (),
    resolved: tuple[tuple[str, str], ...] = (),
    dry_run: bool = False,
) -> MergeResult:
    return {
        "status": status,
        "source": source,
        "target": target,
        "changes_applied": changes_applied,
        "conflicts": [_conflict_info(c) for c in conflicts or []],
        "fast_forward": fast_forward,
        "event_id": event_id,
        "base": base,
        "resolutions": list(resolutions),
        "resolved": [{"object": what, "side": side} for what, side in resolved],
        "dry_run": dry_run,
        "can_merge": not conflicts,
    }


def merge(
    changes: SchemaChanges,
    source: str,
    target: str,
    *,
    dry_run: bool = False,
    raise_on_conflict: bool = True,
    progress: Progress | None = None,
    resolve: Mapping[str, str] | None = None,
    strategy: str | None = None,
) -> MergeResult:
    """Merge ``source`` into ``target`` (see the module docstring); the result as a dict.

    ``resolve`` maps conflicting objects, named as the conflicts name them ("view v",
    "column users.email"), to the side to keep, "ours" (the target's) or "theirs" (the
    source's); ``strategy`` is that side for every conflict not named. A resolution that
    leaves a broken schema stays a conflict.

    Raises:
        UnknownResolutionError: a side is neither "ours" nor "theirs", or ``resolve`` names
            an object that is not in conflict.
    """
    store, database = changes.store, changes.database
    resolver = _resolver(resolve, strategy)
    # A branch merged into itself, like one already merged, is up to date (git says so too).
    theirs_head = store.branch_head(database, source)
    ours_head = store.branch_head(database, target)
    if theirs_head is None or theirs_head == ours_head:
        _require_known(resolve, ())
        return _result(source, target, status="up_to_date", dry_run=dry_run)
    graph = store.graph(database)
    if ours_head is not None and graph.is_ancestor(theirs_head, ours_head):
        _require_known(resolve, ())
        return _result(source, target, status="up_to_date", dry_run=dry_run, base=theirs_head)
    # The base is taken on first-parent chains (see the module docstring).
    base = None if ours_head is None else graph.first_parent_base(ours_head, theirs_head)
    if ours_head is None or base == ours_head:  # ours is on theirs' chain: fast-forward
        _require_known(resolve, ())  # nothing on ours to conflict with
        theirs_events = store.events(graph.first_parent_chain(theirs_head, after=ours_head))
        operations = [op for event in theirs_events for op in event.operations]
        changes.images.check(ours_head, changes.fold.schema_at(ours_head), operations)[1].close()
        if not dry_run:
            if any(can_fail_on_data(op) for op in operations):
                changes.files.preflight(target, operations)
            store.move_branch(database, target, theirs_head, expected_head=ours_head)
            changes.files.propagate(target, progress)
        return _result(
            source,
            target,
            status="success",
            changes_applied=len(operations),
            fast_forward=True,
            event_id=theirs_head,
            base=ours_head,
            dry_run=dry_run,
        )
    return _three_way(
        changes,
        _Sides(source, target, ours_head, theirs_head, base),
        resolver,
        resolve,
        dry_run=dry_run,
        raise_on_conflict=raise_on_conflict,
        progress=progress,
    )


def merge_heads(
    changes: SchemaChanges,
    branch: str,
    *,
    dry_run: bool = False,
    raise_on_conflict: bool = True,
    progress: Progress | None = None,
    resolve: Mapping[str, str] | None = None,
    strategy: str | None = None,
) -> MergeResult:
    """Join the two heads a git merge left on ``branch`` with one merge event.

    *Ours* is the head the branch reads (``branch_head``: the newest line's), which its tenant
    files follow; *theirs* is the other. The base is their newest event on both first-parent
    chains, and the merge is :func:`merge`'s three-way merge: clean, or the same conflicts,
    resolved the same way (``resolve``, ``strategy``). The event's parents are both heads, so
    it joins them; tenants then catch up by its operations. ``source`` and ``target`` of the
    result are both ``branch``. A branch with one head is up to date.

    Raises:
        TooManyHeadsError: the branch has more than two heads (git merged three lines).
        UnknownResolutionError, MergeConflictError, PreflightError: as :func:`merge`.
    """
    store, database = changes.store, changes.database
    resolver = _resolver(resolve, strategy)
    heads = store.branch_heads(database, branch)
    ours_head = store.branch_head(database, branch)
    others = [head for head in heads if head != ours_head]
    if ours_head is None or not others:
        _require_known(resolve, ())
        return _result(branch, branch, status="up_to_date", dry_run=dry_run)
    if len(others) > 1:
        raise TooManyHeadsError(database, branch, heads)
    theirs_head = others[0]
    base = store.graph(database).first_parent_base(ours_head, theirs_head)
    return _three_way(
        changes,
        _Sides(branch, branch, ours_head, theirs_head, base, heads=True),
        resolver,
        resolve,
        dry_run=dry_run,
        raise_on_conflict=raise_on_conflict,
        progress=progress,
    )


@attrs.frozen
class _Sides:
    """What a three-way merge joins: ``theirs_head`` into ``ours_head`` (``target``'s),
    from ``base``; ``heads`` when both are heads of one branch (``merge --heads``)."""

    source: str
    target: str
    ours_head: str
    theirs_head: str
    base: str | None
    heads: bool = False

    def command(self) -> str:
        """The command that redoes this merge, for the conflicts' messages."""
        if self.heads:
            return f"cinch merge --heads {shlex.quote(self.target)}"
        return f"cinch merge {shlex.quote(self.source)} --into {shlex.quote(self.target)}"

    def message(self) -> str:
        if self.heads:
            return f"Merge the heads of branch '{self.target}'"
        return f"Merge branch '{self.source}' into '{self.target}'"


def _three_way(
    changes: SchemaChanges,
    sides: _Sides,
    resolver: Resolver,
    resolve: Mapping[str, str] | None,
    *,
    dry_run: bool,
    raise_on_conflict: bool,
    progress: Progress | None,
) -> MergeResult:
    """Step 3 of the module docstring: plan, check and (unless ``dry_run``) commit."""
    store, fold = changes.store, changes.fold
    source, target, base = sides.source, sides.target, sides.base
    ours_head, theirs_head = sides.ours_head, sides.theirs_head
    graph = store.graph(changes.database)
    base_schema: Schema = fold.schema_at(base)
    theirs_events = store.events(graph.first_parent_chain(theirs_head, after=base))
    brought = [op for event in theirs_events for op in event.operations]
    changes.images.check(base, base_schema, brought)[1].close()
    plan, conflicts = plan_merge(
        base_schema,
        _steps(changes, store.events(graph.first_parent_chain(ours_head, after=base))),
        _steps(changes, theirs_events),
        fold.schema_at(ours_head),
        fold.schema_at(theirs_head),
        check=semantic_check,
        resolver=resolver,
    )
    _require_known(resolve, plan.in_conflict)
    conflicts = [_with_command(c, sides.command()) for c in conflicts]
    if conflicts:
        if raise_on_conflict:
            # "merging 'main' into 'main'" would mislead: each message names the command.
            if sides.heads:
                raise MergeConflictError(conflicts)
            raise MergeConflictError(conflicts, source=source, target=target)
        return _result(
            source, target, status="conflict", conflicts=conflicts, base=base, dry_run=dry_run
        )
    event_id = None
    if not dry_run:
        merged = BranchesMerged(
            source=source,
            target=target,
            operations=plan.operations,
            resolutions=tuple(
                Resolution.model_validate({"object": o, "side": s}) for o, s in plan.resolved
            ),
        )
        events, _, _ = changes.commit(
            target,
            [merged],
            message=sides.message(),
            progress=progress,
            expected_head=ours_head,
            merge_parent=theirs_head,
        )
        event_id = events[-1].id
    return _result(
        source,
        target,
        status="success",
        changes_applied=len(plan.operations),
        event_id=event_id,
        base=base,
        resolutions=plan.resolutions,
        resolved=plan.resolved,
        dry_run=dry_run,
    )
