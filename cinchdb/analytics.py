"""Query analytics: what each tenant's statements cost, by query shape.

The data layer reports every statement the SDK runs to a :class:`Recorder` through one small
hook (:class:`Probe`): with analytics off a handle holds ``None`` and the cost is one
``is None`` test; with it on, two ``perf_counter_ns()`` calls and :meth:`Recorder.observe`,
which only adds to tables in memory. The hot path never does I/O: a flusher thread
(``cinchdb._analytics_store.Flusher``) calls :meth:`Recorder.drain` and writes the
:class:`Batch` to the database's analytics file.

What is kept per (minute, branch, tenant, shape): calls, errors, rows returned or changed, total
time and a :class:`~cinchdb._sketch.Sketch` of the times (nanoseconds) for p50/p95/p99; and a
bounded list of the statements slower than ``slow_query_ms``. Never a parameter value: a
statement is known by its shape (:func:`~cinchdb._query_shapes.shape_of`).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Sized
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from time import perf_counter_ns
from typing import Any, Protocol, TypeVar

import attrs

from cinchdb._analytics_batch import AggregateRow, Batch, SlowRow
from cinchdb._analytics_store import AnalyticsStore, Flusher, analytics_path
from cinchdb._query_shapes import Shape, ShapeKind, operation_shape, shape_of
from cinchdb._sketch import Sketch

__all__ = [
    "DEFAULT_MAX_PENDING",
    "DEFAULT_RETENTION_DAYS",
    "DEFAULT_SLOW_QUERY_MS",
    "ROWS_COUNT",
    "ROWS_LEN",
    "SLOW_KEPT",
    "AggregateRow",
    "Batch",
    "Lease",
    "Probe",
    "Recorder",
    "Runner",
    "Shape",
    "SlowRow",
    "lease",
    "operation_shape",
    "shape_of",
]

DEFAULT_SLOW_QUERY_MS = 100.0
DEFAULT_RETENTION_DAYS = 7
#: Observations after which the recorder wakes its flusher before the interval is up. A flush
#: has a fixed cost (a transaction, sketches merged in SQL): at 1,000 a busy process (70,000
#: statements a second) flushed 70 times a second and paid 20-30% in CPU for it
#: (benchmarks/bench_analytics.py); at 20,000 (about 2.5 MB of observations) the interval
#: sets the pace and the cost is a few flushes a second.
DEFAULT_MAX_PENDING = 20_000
#: Slow statements kept between two drains: past it the rest are only counted
#: (``Batch.slow_dropped``), so a storm of slow statements costs bounded memory.
SLOW_KEPT = 1000
_BUCKET_S = 60
_MINUTE_NS = _BUCKET_S * 1_000_000_000
#: :attr:`Recorder.run`'s ``rows`` for "the result's length" and "the result is a count".
ROWS_LEN = -1
ROWS_COUNT = -2
_T = TypeVar("_T")


#: branch, tenant, shape id, stamp, nanoseconds, rows, error, shape text, shape kind. The
#: stamp is the end of the statement on the ``perf_counter_ns`` time line; the recorder's
#: offset turns it into wall-clock time when the batch is drained. Only strings, numbers and
#: booleans (not the Shape): the garbage collector untracks such a tuple the first time it
#: sees it, so the observations waiting for a drain are not scanned again by every later
#: collection.
_Observation = tuple[str, str, str, int, int, int, bool, str, ShapeKind]
#: branch, tenant, shape id: what an aggregate row is kept by (with the minute).
_Key = tuple[str, str, str]

#: Observations a recorder holds at most while no flusher drains it (a flusher that is stuck,
#: or none at all): past it the oldest are dropped, so memory stays bounded.
MAX_HELD = 200_000
#: A drift between ``perf_counter_ns`` and the wall clock past this re-anchors the offset
#: (NTP steps, a machine resumed from sleep).
_REANCHOR_NS = 1_000_000_000
_BRANCH = itemgetter(0)
_TENANT = itemgetter(1)
_SHAPE_ID = itemgetter(2)
_KEY = itemgetter(0, 1, 2)
_STAMP = itemgetter(3)
_NS = itemgetter(4)
_ROWS = itemgetter(5)
_ERROR = itemgetter(6)


class Recorder:
    """Statement observations in memory, for one project database in one process
    (thread-safe).

    :attr:`done` (the data layer's hot path) and :meth:`observe` append one tuple to a
    ``collections.deque`` (atomic under the GIL, so no lock is taken) and compare its length
    with a threshold; nothing else: the hot path reads no clock but ``perf_counter_ns`` and
    does not even look at whether the statement was slow. :meth:`drain`, on the flusher's
    thread, does the rest with C-level passes only (``map``, ``sum``, ``Counter``), so its
    Python work is proportional to the distinct (branch, tenant, shape) groups, not to the
    calls: it groups what it takes out with a ``defaultdict`` fed by ``map``, then per group
    sums, sketches, splits by minute only when the group spans two, tallies kinds, and picks
    the slow statements only from a group whose slowest one reaches ``slow_query_ms``.

    Args:
        slow_query_ms: a statement taking at least this long is also kept in the slow list.
        max_pending: after this many observations since the last drain, :attr:`wakeup` is set
            so a flusher writes early (a burst never holds more than about this many
            observations for long).
        clock: epoch seconds (tests pass their own).
    """

    def __init__(
        self,
        slow_query_ms: float = DEFAULT_SLOW_QUERY_MS,
        max_pending: int = DEFAULT_MAX_PENDING,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.slow_query_ms = slow_query_ms
        self.max_pending = max_pending
        self._slow_ns = int(slow_query_ms * 1_000_000)
        self._clock = clock
        self._queue: deque[_Observation] = deque()
        self._lock = threading.Lock()  # drains and the first observation, never observe
        # The queue length at which an observation takes the slow path: 1 until the first
        # observation has started the flusher, then max_pending.
        self._check_at = [1]
        # Wall-clock nanoseconds minus perf_counter_ns(): a stamp plus this is wall time.
        self._offset = self._wall_offset()
        #: Set when ``max_pending`` observations wait; a flusher waits on it with a timeout.
        self.wakeup = threading.Event()
        #: Called once, on the first observation: starts a flusher.
        self.on_first_observe: Callable[[], None] | None = None
        self._observed = False
        # Statements and errors by kind, drained ones since the recorder was made (never
        # reset): the counters of ``cinch serve``'s GET /metrics (see kind_totals).
        self._kinds: dict[str, list[int]] = {}
        #: The hot paths' hook, for a caller that times its call itself: ``start =
        #: perf_counter_ns()``, the call, then ``done(branch, tenant, shape, start, rows)``, or
        #: ``failed(branch, tenant, shape, start)`` when it raised.
        self.done, self.failed = self._finishers()
        #: Time one call and observe it: ``run(branch, tenant, shape, rows, call, *args,
        #: **kwargs)`` returns what ``call(*args, **kwargs)`` returns (or raises what it
        #: raises, counted as an error). ``rows``: the rows it returned or changed, or
        #: :data:`ROWS_LEN` (the result's length) or :data:`ROWS_COUNT` (the result is a count).
        self.run = self._runner()

    def _finishers(self) -> tuple[Done, Failed]:
        # Closures over locals: no attribute look-up on the hot path.
        append = self._queue.append
        queue = self._queue
        check_at = self._check_at
        filling = self._filling
        clock = perf_counter_ns

        def done(branch: str, tenant: str, shape: Shape, start: int, rows: int) -> None:
            end = clock()
            append(
                (branch, tenant, shape.id, end, end - start, rows, False, shape.text, shape.kind)
            )
            if len(queue) >= check_at[0]:
                filling(queue)

        def failed(branch: str, tenant: str, shape: Shape, start: int) -> None:
            end = clock()
            append((branch, tenant, shape.id, end, end - start, 0, True, shape.text, shape.kind))
            if len(queue) >= check_at[0]:
                filling(queue)

        return done, failed

    def _runner(self) -> Runner:
        done = self.done
        failed = self.failed

        def run(
            branch: str,
            tenant: str,
            shape: Shape,
            rows: int,
            call: Callable[..., _T],
            /,
            *args: Any,
            **kwargs: Any,
        ) -> _T:
            # Positional-only: a filter named "branch" or "rows" (update_where's **filters)
            # goes through to the call.
            start = perf_counter_ns()
            try:
                result = call(*args, **kwargs)
            except Exception:
                failed(branch, tenant, shape, start)
                raise
            done(branch, tenant, shape, start, _rows_of(result, rows) if rows < 0 else rows)
            return result

        return run

    def observe(
        self,
        branch: str,
        tenant: str,
        sql_or_shape: str | Shape,
        elapsed_ns: int,
        rows: int = 0,
        error: bool = False,
    ) -> None:
        """Count one statement that ended now (by ``clock``). Cheap (one append), never
        blocks, never does I/O."""
        shape = sql_or_shape if isinstance(sql_or_shape, Shape) else shape_of(sql_or_shape)
        stamp = int(self._clock() * 1e9) - self._offset
        queue = self._queue
        queue.append(
            (branch, tenant, shape.id, stamp, elapsed_ns, rows, error, shape.text, shape.kind)
        )
        if len(queue) >= self._check_at[0]:
            self._filling(queue)

    def _filling(self, queue: deque[_Observation]) -> None:
        if not self._observed:
            with self._lock:
                start = None if self._observed else self.on_first_observe
                self._observed = True
                self._check_at[0] = self.max_pending
            if start is not None:
                start()
            if len(queue) < self.max_pending:
                return
        self.wakeup.set()
        while len(queue) > MAX_HELD:
            try:
                queue.popleft()
            except IndexError:  # a drain took them meanwhile
                break

    def _wall_offset(self) -> int:
        return int(self._clock() * 1e9) - perf_counter_ns()

    def drain(self) -> Batch:
        """Take everything observed since the last drain, aggregated by (minute, branch,
        tenant, shape)."""
        with self._lock:
            # Pop (not swap): an observation racing with the drain lands either in this batch
            # or in the next one, never in a list nobody reads. map() pops in C.
            taken = list(map(deque.popleft, repeat(self._queue, len(self._queue))))
            self.wakeup.clear()
            # The stamps taken were made with this offset; the next ones get a fresh one if
            # perf_counter and the wall clock have drifted apart.
            offset = self._offset
            fresh = self._wall_offset()
            if abs(fresh - offset) > _REANCHOR_NS:
                self._offset = fresh
            groups = _grouped(taken)
            errors = _errors(groups)
            # Under the lock, with the pop: kind_totals() counts each observation once.
            _count_kinds(self._kinds, groups, errors)
        del taken  # the groups hold the observations now
        slow_ns = self._slow_ns
        shapes: dict[str, Shape] = {}
        aggregates = []
        slow: list[_Observation] = []
        for key, items in groups.items():
            branch, tenant, shape_id = key
            first = items[0]
            shapes[shape_id] = Shape(id=shape_id, text=first[7], kind=first[8])
            group_errors = errors[key]
            parts = _by_minute(items, offset)
            for minute, part in parts:
                times = list(map(_NS, part))
                sketch = Sketch()
                sketch.add_many(times)
                if sketch.max >= slow_ns:
                    slow.extend(item for item in part if item[4] >= slow_ns)
                aggregates.append(
                    AggregateRow(
                        bucket_start=minute * _BUCKET_S,
                        branch=branch,
                        tenant=tenant,
                        shape_id=shape_id,
                        calls=len(part),
                        errors=(
                            sum(map(_ERROR, part))
                            if group_errors and len(parts) > 1
                            else group_errors
                        ),
                        rows=sum(map(_ROWS, part)),
                        total_ns=sum(times),
                        sketch=sketch.to_bytes(),
                    )
                )
        # The first SLOW_KEPT slow statements in time; the rest are only counted.
        slow.sort(key=_STAMP)
        return Batch(
            shapes=shapes,
            aggregates=aggregates,
            slow=[
                SlowRow(
                    (stamp + offset) / 1e9,
                    branch,
                    tenant,
                    shape_id,
                    elapsed / 1e6,
                    kind,
                )
                for branch, tenant, shape_id, stamp, elapsed, _, _, _, kind in slow[:SLOW_KEPT]
            ],
            slow_dropped=max(0, len(slow) - SLOW_KEPT),
        )

    def kind_totals(self) -> dict[str, tuple[int, int]]:
        """Statements and errors by kind (``select``, ``insert``...) since the recorder was
        made, those not yet drained included; never reset (only counts observe() dropped
        when no flusher kept up are missing)."""
        with self._lock:  # no drain meanwhile; observe() may append (copying is atomic)
            pending = list(self._queue)
            totals = {kind: list(tally) for kind, tally in self._kinds.items()}
        groups = _grouped(pending)
        _count_kinds(totals, groups, _errors(groups))
        return {kind: (calls, errors) for kind, (calls, errors) in totals.items()}

    @property
    def pending(self) -> int:
        """Observations since the last drain."""
        return len(self._queue)


def _grouped(observations: list[_Observation]) -> dict[_Key, list[_Observation]]:
    """Observations by (branch, tenant, shape id), in their order, with no Python work per
    observation: ``map`` drives a ``defaultdict`` look-up and a ``list.append`` in C. First by
    shape id alone (a string whose hash is cached: no key tuple to build per observation),
    then a shape's group is split by branch and tenant only when it holds more than one."""
    by_shape: defaultdict[str, list[_Observation]] = defaultdict(list)
    _append_each(by_shape, map(_SHAPE_ID, observations), observations)
    groups: dict[_Key, list[_Observation]] = {}
    for shape_id, items in by_shape.items():
        branch, tenant = items[0][:2]
        if len(set(map(_BRANCH, items))) == 1 and len(set(map(_TENANT, items))) == 1:
            groups[(branch, tenant, shape_id)] = items
        else:
            split: defaultdict[_Key, list[_Observation]] = defaultdict(list)
            _append_each(split, map(_KEY, items), items)
            groups.update(split)
    return groups


def _append_each(
    groups: defaultdict[Any, list[_Observation]],
    keys: Iterator[Any],
    observations: list[_Observation],
) -> None:
    # deque(..., 0) consumes the iterator in C, keeping nothing.
    deque(map(list.append, map(groups.__getitem__, keys), observations), 0)


def _errors(groups: dict[_Key, list[_Observation]]) -> dict[_Key, int]:
    return {key: sum(map(_ERROR, items)) for key, items in groups.items()}


def _count_kinds(
    totals: dict[str, list[int]], groups: dict[_Key, list[_Observation]], errors: dict[_Key, int]
) -> None:
    for key, items in groups.items():
        kind = items[0][8]
        tally = totals.get(kind)
        if tally is None:
            tally = totals[kind] = [0, 0]
        tally[0] += len(items)
        tally[1] += errors[key]


def _by_minute(items: list[_Observation], offset: int) -> list[tuple[int, list[_Observation]]]:
    """A group's observations by wall-clock minute: one part, unless it spans minutes."""
    stamps = list(map(_STAMP, items))
    first = (min(stamps) + offset) // _MINUTE_NS
    if (max(stamps) + offset) // _MINUTE_NS == first:
        return [(first, items)]
    parts: dict[int, list[_Observation]] = {}
    for item, stamp in zip(items, stamps, strict=True):
        parts.setdefault((stamp + offset) // _MINUTE_NS, []).append(item)
    return sorted(parts.items())


def _rows_of(result: object, rows: int) -> int:
    if rows == ROWS_LEN:
        return len(result) if isinstance(result, Sized) else 0
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


Done = Callable[[str, str, Shape, int, int], None]
Failed = Callable[[str, str, Shape, int], None]


class Runner(Protocol):
    """:attr:`Recorder.run`'s type."""

    def __call__(
        self,
        branch: str,
        tenant: str,
        shape: Shape,
        rows: int,
        call: Callable[..., _T],
        /,
        *args: Any,
        **kwargs: Any,
    ) -> _T: ...


class Probe:
    """What the data layer holds when analytics is on: the recorder and where the statements
    run (a tenant of a branch). The data layer calls :meth:`observe` once per statement."""

    __slots__ = ("branch", "recorder", "tenant")

    def __init__(self, recorder: Recorder, branch: str, tenant: str) -> None:
        self.recorder = recorder
        self.branch = branch
        self.tenant = tenant

    def observe(
        self, sql_or_shape: str | Shape, elapsed_ns: int, rows: int = 0, error: bool = False
    ) -> None:
        self.recorder.observe(self.branch, self.tenant, sql_or_shape, elapsed_ns, rows, error)


# -- one recorder per process per database ----------------------------------------------------


class Lease:
    """A handle's share of its database's :class:`Recorder` (and of the flusher writing it):
    every handle of a process on one database feeds the same recorder, whose flusher stops,
    with a last flush, when the last lease is released."""

    __slots__ = ("_entry", "recorder")

    def __init__(self, entry: _Shared) -> None:
        self._entry: _Shared | None = entry
        self.recorder = entry.recorder

    def flush(self) -> None:
        """Write what the recorder holds now (logged and dropped on failure; never raises)."""
        entry = self._entry
        if entry is not None:
            entry.flusher.flush()

    def release(self) -> None:
        """Give the share back (twice is harmless): the last one stops the flusher."""
        entry, self._entry = self._entry, None
        if entry is None:
            return
        with _registry_lock:
            entry.users -= 1
            last = entry.users == 0
            if last and _registry.get(entry.key) is entry:
                del _registry[entry.key]
        if last:
            entry.flusher.stop()


@attrs.define
class _Shared:
    key: tuple[Path, str]
    recorder: Recorder
    flusher: Flusher
    users: int = 0


_registry: dict[tuple[Path, str], _Shared] = {}
_registry_lock = threading.Lock()


def lease(
    meta_dir: Path,
    database: str,
    *,
    slow_query_ms: float = DEFAULT_SLOW_QUERY_MS,
    retention_days: int = DEFAULT_RETENTION_DAYS,
    interval: float = 1.0,
) -> Lease:
    """A share of the recorder of ``database`` in the project at ``meta_dir`` (its
    ``.cinchdb/``), made with these settings if this process has none yet. Nothing is opened
    or started here: the flusher thread starts on the first statement observed and opens the
    analytics file at its first flush."""
    key = (meta_dir, database)
    with _registry_lock:
        entry = _registry.get(key)
        if entry is None:
            recorder = Recorder(slow_query_ms=slow_query_ms)
            store = AnalyticsStore(
                analytics_path(meta_dir, database), retention_days=retention_days
            )
            entry = _registry[key] = _Shared(
                key, recorder, Flusher(recorder, store, interval=interval)
            )
        entry.users += 1
        return Lease(entry)
