"""Fleet-wide work on tenant files: many files in flight at once, each in its own transaction.

A change reaches every materialized tenant of a branch. Per file the work is a few statements
and a commit: most of its time is SQLite's I/O (reading the schema, writing and syncing the
WAL), during which ``sqlite3`` releases the GIL. A few worker threads therefore keep several
files in flight at once; measured against a process pool (benchmarks/README.md, "Fleet"),
threads win here: no start-up, no pickling, and the Python part per file is small.

The files are opened with :func:`~cinchdb._guard.open_for_fleet` (no authorizer: only
CinchDB's planned DDL runs on them; no checkpoint on close) and closed when their transaction
is done: they never enter a handle's bounded cache, so no eviction closes a file for them and
the cost per file does not grow with the fleet.

A file whose state is not the common one (an encrypted tenant, a file open in the handle's
cache, a cursor outside the window of recent events, a lock or any error) is handed back to
the caller, which takes it through its one-file path with its retries and outcomes.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

from cinchdb._data_step_rows import StepCount, count_rows, data_positions
from cinchdb._guard import (
    CursorMovedError,
    expect_cursor,
    open_for_fleet,
    read_cursor,
    write_cursor,
)
from cinchdb._replay_plans import ReplayPlans
from cinchdb._tenant_dir import damage
from journal import JournalStore, ReplayError
from journal._lazy import lazy_module

if TYPE_CHECKING:
    from journal import replay
    from journal.events import Event
    from journal.replay import Step
else:  # the event models load with the first replay, not with the query path
    replay = lazy_module("journal.replay")

#: Worker threads for fleet-wide work (benchmarks/README.md, "Fleet": 4 and 8 measure alike
#: on 2 cores; more only adds switching).
WORKERS = 4
#: Events a file may be behind the head and still be caught up by the pool; a file further
#: behind goes the one-file way (it walks the chain itself).
WINDOW = 1_000
# Retries after a moved cursor inside one worker before the file is handed back.
_MOVES = 10

#: What the pool did to one file: caught up (``applied`` with the number of events and the
#: rows each data step among them changed), ``current`` (already at the head), ``deleted``
#: (its file is gone), or None: hand it back.
Done = tuple[Literal["applied", "current", "deleted"], int, tuple[StepCount, ...]] | None

#: What takes a file at some cursor to the window's head: the number of events, their steps,
#: and where the data steps among them are: (position among the steps, event id, operation
#: index).
Pending = tuple[int, list["Step"], list[tuple[int, str, int]]]

_T = TypeVar("_T")
_R = TypeVar("_R")


class Window:
    """The steps from any of the last :data:`WINDOW` events of a branch's first-parent chain
    to its head, read lazily and shared by the workers (under a lock: the journal store and
    the fold cache are the handle's, used by one thread at a time)."""

    def __init__(self, store: JournalStore, plans: ReplayPlans, head: str | None) -> None:
        self.head = head
        self._store = store
        self._plans = plans
        self._lock = threading.Lock()
        # Newest first: the head, its first parent, ...; _steps[i] are the steps of _events[i].
        self._ids: list[str | None] = [head]
        self._events: list[Event] = []
        self._steps: list[tuple[Step, ...]] = []
        self._pending: dict[str | None, Pending] = {head: (0, [], [])}

    def pending(self, cursor: str | None) -> Pending | None:
        """(events, steps, data step marks) that take a file at ``cursor`` to the head (the
        marks as :func:`cinchdb._data_step_rows.data_positions` makes them); None when
        ``cursor`` is not among the last :data:`WINDOW` events of the chain (ahead, diverged,
        far)."""
        with self._lock:
            hit = self._pending.get(cursor)
            if hit is not None:
                return hit
            while cursor not in self._ids:
                oldest = self._ids[-1]
                if oldest is None or len(self._ids) > WINDOW:
                    return None
                event = self._store.get_event(oldest)
                self._events.append(event)
                self._steps.append(self._plans.steps(event))
                self._ids.append(event.parents[0] if event.parents else None)
            at = self._ids.index(cursor)
            steps = [step for event_steps in reversed(self._steps[:at]) for step in event_steps]
            marks = data_positions(
                [(self._events[i], len(self._steps[i])) for i in reversed(range(at))]
            )
            self._pending[cursor] = (at, steps, marks)
            return at, steps, marks


def catch_up(path: Path, window: Window) -> Done:
    """Bring one closed tenant file to the window's head in one transaction with its cursor,
    as :meth:`cinchdb._tenant_sync.TenantSync.catch_up_entry` does for an open one."""
    if not os.path.exists(path):
        return ("deleted", 0, ())
    if damage(path) is not None:
        return None
    conn = open_for_fleet(path)
    try:
        cursor = read_cursor(conn)
        for _ in range(_MOVES):
            pending = window.pending(cursor)
            if pending is None:
                return None
            count, steps, marks = pending
            if not count:
                return ("current", 0, ())
            try:
                rows = replay.apply_steps(
                    conn,
                    steps,
                    after_begin=expect_cursor(cursor),
                    before_commit=write_cursor(str(window.head)),
                )
            except CursorMovedError:
                cursor = read_cursor(conn)
                continue
            return ("applied", count, count_rows(rows, marks))
        return None
    finally:
        conn.close()


def preflight(path: Path, head: str | None, steps: tuple[Step, ...]) -> str | Literal[False] | None:
    """Run ``steps`` on a closed tenant file at ``head`` and roll back: the reason the rows
    refuse them, None when they pass, False to hand the file back (not at the head, or any
    error other than the change's own)."""
    if not os.path.exists(path) or damage(path) is not None:
        return False
    conn = open_for_fleet(path)
    try:
        if read_cursor(conn) != head:
            return False
        try:
            replay.apply_steps(conn, steps, dry_run=True)
        except ReplayError as e:
            return e.reason
        return None
    finally:
        conn.close()


def run(
    items: Iterable[_T],
    work: Callable[[_T], _R],
    on_done: Callable[[_T, _R | BaseException], None],
    workers: int = WORKERS,
) -> None:
    """``work(item)`` for every item on up to ``workers`` threads; ``on_done(item, result or
    the exception it raised)`` runs in the calling thread, in completion order. Returns when
    every item is done; the threads are joined even if ``on_done`` raises."""
    listed = list(items)
    if not listed:
        return
    todo: Iterator[_T] = iter(listed)
    take = threading.Lock()
    results: queue.SimpleQueue[tuple[_T, _R | BaseException] | None] = queue.SimpleQueue()

    def worker() -> None:
        try:
            while True:
                with take:
                    item = next(todo, _STOP)
                if item is _STOP:
                    return
                try:
                    result: _R | BaseException = work(item)  # type: ignore[arg-type]
                except Exception as e:  # handed to on_done: the caller decides
                    result = e
                results.put((item, result))  # type: ignore[arg-type]
        finally:
            results.put(None)

    threads = [
        threading.Thread(target=worker, daemon=True)
        for _ in range(max(1, min(workers, len(listed))))
    ]
    for thread in threads:
        thread.start()
    running = len(threads)
    try:
        while running:
            got = results.get()
            if got is None:
                running -= 1
                continue
            on_done(*got)
    finally:
        with take:
            todo = iter(())
        for thread in threads:
            thread.join()


_STOP = object()
