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
from collections.abc import Callable, Iterable, Sequence, Sized
from itertools import repeat
from operator import invert, itemgetter
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


#: What one observation puts in the recorder's queue, as WIDTH consecutive items: branch,
#: tenant, shape id, stamp, nanoseconds, rows, shape. The stamp is the end of the statement on
#: the ``perf_counter_ns`` time line; the recorder's offset turns it into wall-clock time when
#: the batch is drained. A statement that raised has ``~rows`` (negative) for its rows: one
#: item fewer to pop for every statement, for a rare case. The shape is the caller's own
#: object (cached, long-lived): holding it allocates nothing.
#:
#: Items, not a tuple per observation: a tuple waiting for the drain is a new object for the
#: garbage collector (about one collection of the young generation per 700 statements, each
#: one scanning them, and promoting them), where ``deque.extend`` of a temporary tuple frees
#: that tuple at once. One ``extend`` call is atomic under the GIL, and every reader takes
#: whole multiples of WIDTH, so an observation is never split.
WIDTH = 7
#: branch, tenant, shape id: what an aggregate row is kept by (with the minute).
_Key = tuple[str, str, str]

#: Observations a recorder holds at most while no flusher drains it (a flusher that is stuck,
#: or none at all): past it the oldest are dropped, so memory stays bounded.
MAX_HELD = 200_000
#: A drift between ``perf_counter_ns`` and the wall clock past this re-anchors the offset
#: (NTP steps, a machine resumed from sleep).
_REANCHOR_NS = 1_000_000_000
_NEGATIVE = (0).__gt__


@attrs.define
class _Group:
    """One (branch, tenant, shape)'s observations of a drain, by column."""

    shape: Shape
    #: Where each observation stood in the drain (the order they were recorded in).
    positions: Sequence[int]
    stamps: list[int]
    times: list[int]
    #: Rows of each observation; ``~rows`` (negative) for one that raised.
    rows: list[int]

    def rows_and_errors(self) -> tuple[int, int]:
        """Rows returned or changed, and statements that raised (in C passes)."""
        rows = self.rows
        if not rows or min(rows) >= 0:
            return sum(rows), 0
        failed = list(filter(_NEGATIVE, rows))
        return sum(rows) - sum(failed) + sum(map(invert, failed)), len(failed)


class Recorder:
    """Statement observations in memory, for one project database in one process
    (thread-safe).

    :attr:`done` (the data layer's hot path) and :meth:`observe` extend a
    ``collections.deque`` by one observation's :data:`WIDTH` items (one C call, atomic under
    the GIL, so no lock is taken; no object is left for the garbage collector) and compare its
    length with a threshold; nothing else: the hot path reads no clock but ``perf_counter_ns``
    and does not even look at whether the statement was slow. :meth:`drain`, on the flusher's
    thread, does the rest with C-level passes (slices, ``map``, ``sum``, ``sorted``), so its
    Python work is proportional to the distinct (branch, tenant, shape) groups, not to the
    calls: it cuts what it takes out into columns, splits them by group, then per group sums,
    sketches, splits by minute only when the group spans two, tallies kinds, and picks the
    slow statements only from a group whose slowest one reaches ``slow_query_ms``.

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
        self._queue: deque[Any] = deque(maxlen=MAX_HELD * WIDTH)
        self._lock = threading.Lock()  # drains and the first observation, never observe
        # The queue length at which an observation takes the slow path: 1 until the first
        # observation has started the flusher, then max_pending observations' items.
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
        extend = self._queue.extend
        queue = self._queue
        check_at = self._check_at
        filling = self._filling
        clock = perf_counter_ns

        def done(branch: str, tenant: str, shape: Shape, start: int, rows: int) -> None:
            end = clock()
            extend((branch, tenant, shape.id, end, end - start, rows, shape))
            if len(queue) >= check_at[0]:
                filling(queue)

        def failed(branch: str, tenant: str, shape: Shape, start: int) -> None:
            end = clock()
            extend((branch, tenant, shape.id, end, end - start, -1, shape))
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
        """Count one statement that ended now (by ``clock``). Cheap (one extend), never
        blocks, never does I/O. ``rows`` below 0 count as 0."""
        shape = sql_or_shape if isinstance(sql_or_shape, Shape) else shape_of(sql_or_shape)
        stamp = int(self._clock() * 1e9) - self._offset
        # A negative count would read as an error in the queue (see WIDTH).
        rows = max(rows, 0)
        queue = self._queue
        queue.extend((branch, tenant, shape.id, stamp, elapsed_ns, ~rows if error else rows, shape))
        if len(queue) >= self._check_at[0]:
            self._filling(queue)

    def _filling(self, queue: deque[Any]) -> None:
        if not self._observed:
            with self._lock:
                start = None if self._observed else self.on_first_observe
                self._observed = True
                self._check_at[0] = self.max_pending * WIDTH
            if start is not None:
                start()
            if len(queue) < self.max_pending * WIDTH:
                return
        # Past MAX_HELD the deque's maxlen drops the oldest observations (whole ones: WIDTH
        # items leave for each WIDTH that come).
        self.wakeup.set()

    def _wall_offset(self) -> int:
        return int(self._clock() * 1e9) - perf_counter_ns()

    def drain(self) -> Batch:
        """Take everything observed since the last drain, aggregated by (minute, branch,
        tenant, shape)."""
        with self._lock:
            # Pop (not swap): an observation racing with the drain lands either in this batch
            # or in the next one, never in a list nobody reads. map() pops in C, in one call:
            # no observation is half taken.
            queue = self._queue
            taken = list(map(deque.popleft, repeat(queue, len(queue))))
            self.wakeup.clear()
            # The stamps taken were made with this offset; the next ones get a fresh one if
            # perf_counter and the wall clock have drifted apart.
            offset = self._offset
            fresh = self._wall_offset()
            if abs(fresh - offset) > _REANCHOR_NS:
                self._offset = fresh
            groups = _grouped(taken)
            # Under the lock, with the pop: kind_totals() counts each observation once.
            _count_kinds(self._kinds, groups)
        del taken  # the groups hold the observations now
        slow_ns = self._slow_ns
        shapes: dict[str, Shape] = {}
        aggregates = []
        slow: list[tuple[int, int, int, _Key, ShapeKind]] = []
        for key, group in groups.items():
            branch, tenant, shape_id = key
            shapes[shape_id] = group.shape
            for minute, part in _by_minute(group, offset):
                times = part.times
                rows, errors = part.rows_and_errors()
                sketch = Sketch()
                sketch.add_many(times)
                if sketch.max >= slow_ns:
                    slow.extend(
                        (position, stamp, ns, key, group.shape.kind)
                        for position, stamp, ns in zip(
                            part.positions, part.stamps, times, strict=True
                        )
                        if ns >= slow_ns
                    )
                aggregates.append(
                    AggregateRow(
                        bucket_start=minute * _BUCKET_S,
                        branch=branch,
                        tenant=tenant,
                        shape_id=shape_id,
                        calls=len(times),
                        errors=errors,
                        rows=rows,
                        total_ns=sum(times),
                        sketch=sketch.to_bytes(),
                    )
                )
        # The first SLOW_KEPT slow statements recorded; the rest are only counted.
        slow.sort(key=itemgetter(0))
        return Batch(
            shapes=shapes,
            aggregates=aggregates,
            slow=[
                SlowRow((stamp + offset) / 1e9, branch, tenant, shape_id, ns / 1e6, kind)
                for _, stamp, ns, (branch, tenant, shape_id), kind in slow[:SLOW_KEPT]
            ],
            slow_dropped=max(0, len(slow) - SLOW_KEPT),
        )

    def kind_totals(self) -> dict[str, tuple[int, int]]:
        """Statements and errors by kind (``select``, ``insert``...) since the recorder was
        made, those not yet drained included; never reset (only counts observe() dropped
        when no flusher kept up are missing)."""
        with self._lock:  # no drain meanwhile; observe() may extend (copying is atomic)
            pending = list(self._queue)
            totals = {kind: list(tally) for kind, tally in self._kinds.items()}
        _count_kinds(totals, _grouped(pending))
        return {kind: (calls, errors) for kind, (calls, errors) in totals.items()}

    @property
    def pending(self) -> int:
        """Observations since the last drain."""
        return len(self._queue) // WIDTH


def _grouped(items: list[Any]) -> dict[_Key, _Group]:
    """Observations (:data:`WIDTH` items each) by (branch, tenant, shape id), in their order,
    as columns, with no Python work per observation: strided slices; then, unless every
    observation has one key, row numbers grouped in a ``defaultdict`` fed by ``map`` (by
    shape id alone, a string with its hash cached, when every observation ran on one tenant
    of one branch) and each group's columns picked with ``itemgetter``."""
    if not items:
        return {}
    branches, tenants, ids = items[0::WIDTH], items[1::WIDTH], items[2::WIDTH]
    columns = (items[3::WIDTH], items[4::WIDTH], items[5::WIDTH])
    n = len(ids)
    # list.count compares by identity first: the same strings are counted in C, fast.
    one_place = branches.count(branches[0]) == tenants.count(tenants[0]) == n
    if one_place and ids.count(ids[0]) == n:
        return {(branches[0], tenants[0], ids[0]): _Group(items[6], range(n), *columns)}
    numbers: defaultdict[Any, list[int]] = defaultdict(list)
    keys: Iterable[Any] = ids if one_place else zip(branches, tenants, ids, strict=True)
    deque(map(list.append, map(numbers.__getitem__, keys), range(n)), 0)
    groups: dict[_Key, _Group] = {}
    for numbered in numbers.values():
        first = numbered[0]
        pick = _picker(numbered)
        groups[(branches[first], tenants[first], ids[first])] = _Group(
            items[first * WIDTH + 6], numbered, *map(pick, columns)
        )
    return groups


def _picker(numbers: Sequence[int]) -> Callable[[Sequence[Any]], list[Any]]:
    """Takes the items at ``numbers`` from a column, in C."""
    if len(numbers) == 1:
        number = numbers[0]
        return lambda column: [column[number]]
    get = itemgetter(*numbers)
    return lambda column: list(get(column))


def _count_kinds(totals: dict[str, list[int]], groups: dict[_Key, _Group]) -> None:
    for group in groups.values():
        kind = group.shape.kind
        tally = totals.get(kind)
        if tally is None:
            tally = totals[kind] = [0, 0]
        tally[0] += len(group.times)
        tally[1] += group.rows_and_errors()[1]


def _by_minute(group: _Group, offset: int) -> list[tuple[int, _Group]]:
    """A group's observations by wall-clock minute: one part, unless it spans minutes."""
    stamps = group.stamps
    first = (min(stamps) + offset) // _MINUTE_NS
    if (max(stamps) + offset) // _MINUTE_NS == first:
        return [(first, group)]
    rows: dict[int, list[int]] = {}
    for row, stamp in enumerate(stamps):
        rows.setdefault((stamp + offset) // _MINUTE_NS, []).append(row)
    return [
        (
            minute,
            _Group(
                group.shape,
                [group.positions[i] for i in picked],
                [stamps[i] for i in picked],
                [group.times[i] for i in picked],
                [group.rows[i] for i in picked],
            ),
        )
        for minute, picked in sorted(rows.items())
    ]


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
