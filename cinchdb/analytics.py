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
from collections.abc import Callable
from pathlib import Path

import attrs

from cinchdb._analytics_store import AnalyticsStore, Flusher, analytics_path
from cinchdb._query_shapes import Shape, ShapeKind, operation_shape, shape_of
from cinchdb._sketch import Sketch

__all__ = [
    "DEFAULT_MAX_PENDING",
    "DEFAULT_RETENTION_DAYS",
    "DEFAULT_SLOW_QUERY_MS",
    "SLOW_KEPT",
    "AggregateRow",
    "Batch",
    "Lease",
    "Probe",
    "Recorder",
    "Shape",
    "SlowRow",
    "lease",
    "operation_shape",
    "shape_of",
]

DEFAULT_SLOW_QUERY_MS = 100.0
DEFAULT_RETENTION_DAYS = 7
#: Observations after which the recorder wakes its flusher before the interval is up.
DEFAULT_MAX_PENDING = 1000
#: Slow statements kept between two drains: past it the rest are only counted
#: (``Batch.slow_dropped``), so a storm of slow statements costs bounded memory.
SLOW_KEPT = 1000
_BUCKET_S = 60


@attrs.frozen
class AggregateRow:
    """One minute of one shape's statements on one tenant of one branch."""

    bucket_start: int  # epoch seconds, a multiple of 60
    branch: str
    tenant: str
    shape_id: str
    calls: int
    errors: int
    rows: int
    total_ns: int
    sketch: bytes  # Sketch.to_bytes() of the times in nanoseconds


@attrs.frozen
class SlowRow:
    """One statement slower than ``slow_query_ms``: when, where and which shape; no values."""

    at: float  # epoch seconds
    branch: str
    tenant: str
    shape_id: str
    elapsed_ms: float
    kind: ShapeKind


@attrs.frozen
class Batch:
    """What :meth:`Recorder.drain` took out: the shapes its rows name, and the rows."""

    shapes: dict[str, Shape]
    aggregates: list[AggregateRow]
    slow: list[SlowRow]
    slow_dropped: int = 0

    def __bool__(self) -> bool:
        return bool(self.aggregates or self.slow)


class _Cell:
    """The running totals of one (minute, branch, tenant, shape)."""

    __slots__ = ("calls", "errors", "rows", "sketch", "total_ns")

    def __init__(self) -> None:
        self.calls = 0
        self.errors = 0
        self.rows = 0
        self.total_ns = 0
        self.sketch = Sketch()


_Key = tuple[int, str, str, str]


class Recorder:
    """Statement totals in memory, for one project database in one process (thread-safe).

    Args:
        slow_query_ms: a statement taking at least this long is also kept in the slow list.
        max_pending: after this many observations since the last drain, :attr:`wakeup` is set
            so a flusher writes early (a burst never holds more than about this many
            observations' worth of memory for long).
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
        self._lock = threading.Lock()
        self._cells: dict[_Key, _Cell] = {}
        self._shapes: dict[str, Shape] = {}
        self._slow: list[SlowRow] = []
        self._slow_dropped = 0
        self._pending = 0
        #: Set when ``max_pending`` observations wait; a flusher waits on it with a timeout.
        self.wakeup = threading.Event()
        #: Called once, on the first observation (outside the lock): starts a flusher.
        self.on_first_observe: Callable[[], None] | None = None
        self._observed = False
        # Statements and errors by kind since the recorder was made (never drained): the
        # counters of ``cinch serve``'s GET /metrics.
        self._kinds: dict[str, list[int]] = {}

    def observe(
        self,
        branch: str,
        tenant: str,
        sql_or_shape: str | Shape,
        elapsed_ns: int,
        rows: int = 0,
        error: bool = False,
    ) -> None:
        """Count one statement. Cheap and never raises for a well-typed call; no I/O."""
        shape = sql_or_shape if isinstance(sql_or_shape, Shape) else shape_of(sql_or_shape)
        now = self._clock()
        key = (int(now) // _BUCKET_S * _BUCKET_S, branch, tenant, shape.id)
        with self._lock:
            cell = self._cells.get(key)
            if cell is None:
                cell = self._cells[key] = _Cell()
                self._shapes[shape.id] = shape
            cell.calls += 1
            cell.rows += rows
            cell.total_ns += elapsed_ns
            if error:
                cell.errors += 1
            cell.sketch.add(elapsed_ns)
            tally = self._kinds.get(shape.kind)
            if tally is None:
                tally = self._kinds[shape.kind] = [0, 0]
            tally[0] += 1
            tally[1] += error
            if elapsed_ns >= self._slow_ns:
                if len(self._slow) < SLOW_KEPT:
                    self._slow.append(
                        SlowRow(now, branch, tenant, shape.id, elapsed_ns / 1e6, shape.kind)
                    )
                else:
                    self._slow_dropped += 1
            self._pending += 1
            full = self._pending >= self.max_pending
        if full:
            self.wakeup.set()
        if not self._observed:
            self._first_observation()

    def _first_observation(self) -> None:
        with self._lock:
            if self._observed:
                return
            self._observed = True
            start = self.on_first_observe
        if start is not None:
            start()

    def drain(self) -> Batch:
        """Take everything observed since the last drain (the tables are swapped under the
        lock; the rows are built outside it)."""
        with self._lock:
            cells, self._cells = self._cells, {}
            shapes, self._shapes = self._shapes, {}
            slow, self._slow = self._slow, []
            dropped, self._slow_dropped = self._slow_dropped, 0
            self._pending = 0
            self.wakeup.clear()
        aggregates = [
            AggregateRow(
                bucket_start=bucket,
                branch=branch,
                tenant=tenant,
                shape_id=shape_id,
                calls=cell.calls,
                errors=cell.errors,
                rows=cell.rows,
                total_ns=cell.total_ns,
                sketch=cell.sketch.to_bytes(),
            )
            for (bucket, branch, tenant, shape_id), cell in cells.items()
        ]
        return Batch(shapes=shapes, aggregates=aggregates, slow=slow, slow_dropped=dropped)

    def kind_totals(self) -> dict[str, tuple[int, int]]:
        """Statements and errors by kind (``select``, ``insert``...) since the recorder was
        made; unlike the tables, never drained."""
        with self._lock:
            return {kind: (calls, errors) for kind, (calls, errors) in self._kinds.items()}

    @property
    def pending(self) -> int:
        """Observations since the last drain."""
        return self._pending


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
