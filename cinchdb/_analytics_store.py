"""The analytics file: where each process's recorded statements land, and the reader that
merges them.

One file per database, ``.cinchdb/analytics/{database}.sqlite``: beside metadata.db but never
metadata.db or a tenant file, so recording never contends with the journal or the data; and
not ``*.db``, so replication leaves these local observations behind. WAL and
``synchronous=NORMAL``: a flush commits without an fsync, and a crash loses at most the last
commits, never the file's consistency.

Each process writes only its own rows (keyed by a random id drawn at process start), upserting
its per-minute aggregates (calls added, sketches merged), so processes never overwrite each
other's counts; the reader sums every process's rows and merges their sketches.

Bounded: at a flush (at most every :data:`PRUNE_INTERVAL_S` per process) rows older than the
retention are deleted, then the oldest minutes beyond :data:`MAX_AGGREGATE_ROWS` aggregate rows
and the oldest statements beyond :data:`MAX_SLOW_ROWS` slow rows, then shapes nothing refers
to. SQLite reuses the freed pages, so the file stops growing once the caps are reached.

:class:`Flusher` is the thread that moves a :class:`~cinchdb.analytics.Recorder`'s batches
into the file, so the statement path never does I/O. A flush that fails logs a warning and
drops its batch: analytics never raises into the caller's statement.
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Protocol

from cinchdb._analytics_batch import Batch
from cinchdb._sketch import Sketch
from cinchdb.results import AnalyticsStats, ShapeStats, SlowStatement, TenantStats
from journal.transactions import transaction

__all__ = [
    "ANALYTICS_DIR",
    "MAX_AGGREGATE_ROWS",
    "MAX_SLOW_ROWS",
    "PRUNE_INTERVAL_S",
    "AnalyticsStore",
    "Flusher",
    "analytics_path",
    "process_id",
    "read_slow",
    "read_stats",
]

log = logging.getLogger("cinchdb.analytics")

ANALYTICS_DIR = "analytics"
#: Aggregate rows kept (one per minute, process, branch, tenant and shape): beyond it the
#: oldest minutes go first. About 200 bytes a row, so the file stays within tens of MB.
MAX_AGGREGATE_ROWS = 100_000
#: Slow statements kept; beyond it the oldest go first.
MAX_SLOW_ROWS = 10_000
#: Seconds between two prunings by one process: counting rows scans an index, which is not
#: worth doing at every one-second flush.
PRUNE_INTERVAL_S = 60.0
#: How long a flush waits for another process's flush to finish before giving up (and
#: dropping its batch, with a warning).
BUSY_TIMEOUT_MS = 5_000
_NS_PER_MS = 1_000_000
_BUCKET_S = 60

_SCHEMA = """
CREATE TABLE IF NOT EXISTS shapes (
    id TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    kind TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS aggregates (
    bucket_start INTEGER NOT NULL,
    process TEXT NOT NULL,
    branch TEXT NOT NULL,
    tenant TEXT NOT NULL,
    shape_id TEXT NOT NULL,
    calls INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    total_ns INTEGER NOT NULL,
    sketch BLOB NOT NULL,
    PRIMARY KEY (bucket_start, process, branch, tenant, shape_id)
);
CREATE TABLE IF NOT EXISTS slow (
    at REAL NOT NULL,
    process TEXT NOT NULL,
    branch TEXT NOT NULL,
    tenant TEXT NOT NULL,
    shape_id TEXT NOT NULL,
    elapsed_ms REAL NOT NULL,
    kind TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS slow_at ON slow (at);
"""

_UPSERT = """
INSERT INTO aggregates
    (bucket_start, process, branch, tenant, shape_id, calls, errors, rows, total_ns, sketch)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (bucket_start, process, branch, tenant, shape_id) DO UPDATE SET
    calls = calls + excluded.calls,
    errors = errors + excluded.errors,
    rows = rows + excluded.rows,
    total_ns = total_ns + excluded.total_ns,
    sketch = merge_sketch(sketch, excluded.sketch)
"""


# What a flusher needs of cinchdb.analytics's Recorder, as a protocol: the recorder's module
# builds flushers and stores, so importing it here (even for types) would be a cycle.
class Recorder(Protocol):
    """What a flusher drains (``cinchdb.analytics.Recorder``)."""

    wakeup: threading.Event
    on_first_observe: Callable[[], None] | None

    def drain(self) -> Batch: ...


_process_id = secrets.token_hex(8)


def _new_process_id() -> None:
    # A forked child is another writer: sharing its parent's id would make both upsert the
    # same rows, each adding counts the other already wrote.
    global _process_id
    _process_id = secrets.token_hex(8)


os.register_at_fork(after_in_child=_new_process_id)


def process_id() -> str:
    """This process's writer id in analytics files (random, drawn at start and after a fork)."""
    return _process_id


def analytics_path(meta_dir: Path, database: str) -> Path:
    """Where a database's analytics live: ``.cinchdb/analytics/{database}.sqlite``."""
    return meta_dir / ANALYTICS_DIR / f"{database}.sqlite"


def _merge_sketch(a: bytes, b: bytes) -> bytes:
    merged = Sketch.from_bytes(a)
    merged.merge(Sketch.from_bytes(b))
    return merged.to_bytes()


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


class AnalyticsStore:
    """One process's writer to a database's analytics file (created on first use).

    Args:
        path: the file (see :func:`analytics_path`).
        retention_days: rows older than this are deleted when pruning.
        max_aggregate_rows, max_slow_rows: the caps (see the module's docstring).
        prune_interval: seconds between two prunings by this writer (0: at every write).
        clock: epoch seconds (tests pass their own).

    Thread-safe: the flusher thread and a caller asking for stats may write at once.
    """

    def __init__(
        self,
        path: Path,
        *,
        retention_days: float = 7.0,
        max_aggregate_rows: int = MAX_AGGREGATE_ROWS,
        max_slow_rows: int = MAX_SLOW_ROWS,
        prune_interval: float = PRUNE_INTERVAL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self._clock = clock
        self.retention_days = retention_days
        self.max_aggregate_rows = max_aggregate_rows
        self.max_slow_rows = max_slow_rows
        self.prune_interval = prune_interval
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._last_prune = float("-inf")

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = _connect(self.path)
            try:
                conn.create_function("merge_sketch", 2, _merge_sketch, deterministic=True)
                conn.executescript(_SCHEMA)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def write(self, batch: Batch, *, now: float | None = None) -> None:
        """Add a batch to the file in one transaction: all of it or, on an error, none.

        Raises:
            sqlite3.Error, OSError: the file could not be written (the flusher logs and drops).
        """
        now = self._clock() if now is None else now
        process = process_id()
        with self._lock:
            conn = self._connection()
            with transaction(conn):
                conn.executemany(
                    "INSERT OR IGNORE INTO shapes (id, text, kind) VALUES (?, ?, ?)",
                    [(s.id, s.text, s.kind) for s in batch.shapes.values()],
                )
                conn.executemany(
                    _UPSERT,
                    [
                        (
                            a.bucket_start,
                            process,
                            a.branch,
                            a.tenant,
                            a.shape_id,
                            a.calls,
                            a.errors,
                            a.rows,
                            a.total_ns,
                            a.sketch,
                        )
                        for a in batch.aggregates
                    ],
                )
                conn.executemany(
                    "INSERT INTO slow (at, process, branch, tenant, shape_id, elapsed_ms, kind)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (s.at, process, s.branch, s.tenant, s.shape_id, s.elapsed_ms, s.kind)
                        for s in batch.slow
                    ],
                )
                if now - self._last_prune >= self.prune_interval:
                    self._prune(conn, now)
                    self._last_prune = now

    def _prune(self, conn: sqlite3.Connection, now: float) -> None:
        cutoff = now - self.retention_days * 86_400
        conn.execute("DELETE FROM aggregates WHERE bucket_start + ? <= ?", (_BUCKET_S, cutoff))
        conn.execute("DELETE FROM slow WHERE at < ?", (cutoff,))
        # The primary key starts with bucket_start: its index finds the oldest minute to keep.
        # Whole minutes go, so the table may end a little under the cap, never over it.
        row = conn.execute(
            "SELECT bucket_start FROM aggregates ORDER BY bucket_start DESC LIMIT 1 OFFSET ?",
            (self.max_aggregate_rows,),
        ).fetchone()
        if row is not None:
            conn.execute("DELETE FROM aggregates WHERE bucket_start <= ?", (row[0],))
        row = conn.execute(
            "SELECT at FROM slow ORDER BY at DESC LIMIT 1 OFFSET ?", (self.max_slow_rows,)
        ).fetchone()
        if row is not None:
            conn.execute("DELETE FROM slow WHERE at <= ?", (row[0],))
        conn.execute(
            "DELETE FROM shapes WHERE id NOT IN (SELECT shape_id FROM aggregates)"
            " AND id NOT IN (SELECT shape_id FROM slow)"
        )

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class Flusher:
    """A daemon thread that drains a recorder into a store every ``interval`` seconds, or
    sooner when the recorder sets its ``wakeup`` event (on holding ``max_pending``
    observations).

    Creating a flusher hooks it to the recorder: the thread starts on the recorder's first
    observation, and :meth:`stop` (also run at interpreter exit) stops it with a last flush.
    A SIGKILL loses what was not flushed yet: at most ``interval`` seconds or the recorder's
    ``max_pending`` observations.
    """

    def __init__(self, recorder: Recorder, store: AnalyticsStore, *, interval: float = 1.0) -> None:
        self.recorder = recorder
        self.store = store
        self.interval = interval
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        # Two flushes at once (the thread's and a caller's) could commit out of order; one at
        # a time keeps "flush() returned" meaning "everything observed before is in the file".
        self._flush_lock = threading.Lock()
        #: Batches dropped because their flush failed (each logged once).
        self.dropped = 0
        #: Slow statements the recorder only counted, past its bound between two flushes.
        self.slow_dropped = 0
        recorder.on_first_observe = self.start

    def start(self) -> None:
        """Start the thread if it is not running (cheap when it is)."""
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is not None or self._stopping.is_set():
                return
            thread = threading.Thread(target=self._run, name="cinchdb-analytics", daemon=True)
            thread.start()
            self._thread = thread
            atexit.register(self.stop)

    def flush(self) -> bool:
        """Drain the recorder and write its batch now. False (and a logged warning) when the
        write failed: that batch is dropped. Never raises."""
        with self._flush_lock:
            try:
                batch = self.recorder.drain()
                self.slow_dropped += batch.slow_dropped
                if batch:
                    self.store.write(batch)
            except Exception as e:
                # Analytics must never break the statements it observes: report and go on.
                self.dropped += 1
                log.warning(
                    "analytics: dropped a batch, could not write %s: %s", self.store.path, e
                )
                return False
            return True

    def _run(self) -> None:
        wakeup = self.recorder.wakeup
        while not self._stopping.is_set():
            wakeup.wait(self.interval)
            if self._stopping.is_set():
                break
            self.flush()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and flush what is left (harmless when already stopped)."""
        self._stopping.set()
        # A process that opens and closes many handles makes many flushers: a stopped one
        # must not stay referenced (with its recorder) until exit.
        atexit.unregister(self.stop)
        self.recorder.wakeup.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self.flush()
        self.store.close()


# -- reading ------------------------------------------------------------------------------


def _since_epoch(since: datetime | timedelta | None, now: float) -> float | None:
    if since is None:
        return None
    if isinstance(since, timedelta):
        return now - since.total_seconds()
    if since.tzinfo is None:
        # A naive datetime is taken as UTC, the time every record is kept in.
        since = since.replace(tzinfo=timezone.utc)
    return since.timestamp()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat()


@contextmanager
def _reading(path: Path) -> Iterator[sqlite3.Connection | None]:
    """A snapshot of the file, or None when nothing was ever recorded (the reader never creates
    the file)."""
    if not path.exists():
        yield None
        return
    with closing(_connect(path)) as conn:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'slow'").fetchone() is None:
            yield None
            return
        with transaction(conn, immediate=False, commit=False):
            yield conn


def read_stats(
    path: Path,
    since: datetime | timedelta | None = None,
    tenant: str | None = None,
    limit: int = 20,
    *,
    now: float | None = None,
) -> AnalyticsStats:
    """Every process's aggregates in the file, merged: the ``limit`` slowest and most frequent
    shapes and the ``limit`` tenants with the most time, from the minute holding ``since`` (a
    time, or a span back from now) on, of one tenant or all."""
    now = time.time() if now is None else now
    start = _since_epoch(since, now)
    stats = AnalyticsStats(
        since=None if start is None else _iso(start),
        until=_iso(now),
        slowest=[],
        most_frequent=[],
        tenants=[],
    )
    # A minute counts when any of it falls after ``since``.
    where, args = _filter(f"bucket_start + {_BUCKET_S}", start, tenant)
    with _reading(path) as conn:
        if conn is None:
            return stats
        shapes: dict[str, tuple[str, str, list[int], Sketch]] = {}
        for shape_id, text, kind, calls, errors, rows, total_ns, sketch in conn.execute(
            "SELECT a.shape_id, s.text, s.kind, a.calls, a.errors, a.rows, a.total_ns, a.sketch"
            f" FROM aggregates a JOIN shapes s ON s.id = a.shape_id{where}",
            args,
        ):
            entry = shapes.get(shape_id)
            if entry is None:
                shapes[shape_id] = (
                    text,
                    kind,
                    [calls, errors, rows, total_ns],
                    Sketch.from_bytes(sketch),
                )
            else:
                sums = entry[2]
                sums[0] += calls
                sums[1] += errors
                sums[2] += rows
                sums[3] += total_ns
                entry[3].merge(Sketch.from_bytes(sketch))
        tenants = conn.execute(
            "SELECT tenant, branch, SUM(calls), SUM(errors), SUM(rows), SUM(total_ns)"
            f" FROM aggregates{where} GROUP BY tenant, branch"
            " ORDER BY SUM(total_ns) DESC, SUM(calls) DESC, tenant, branch LIMIT ?",
            [*args, limit],
        ).fetchall()
    all_shapes = [_shape_stats(shape_id, *entry) for shape_id, entry in shapes.items()]
    stats["slowest"] = sorted(all_shapes, key=lambda s: (-s["mean_ms"], -s["calls"], s["sql"]))[
        :limit
    ]
    stats["most_frequent"] = sorted(
        all_shapes, key=lambda s: (-s["calls"], -s["total_ms"], s["sql"])
    )[:limit]
    stats["tenants"] = [
        TenantStats(
            tenant=t,
            branch=b,
            calls=calls,
            errors=errors,
            rows=rows,
            total_ms=total_ns / _NS_PER_MS,
        )
        for t, b, calls, errors, rows, total_ns in tenants
    ]
    return stats


def _filter(
    time_column: str, start: float | None, tenant: str | None, tenant_column: str = "tenant"
) -> tuple[str, list[object]]:
    clauses: list[str] = []
    args: list[object] = []
    if start is not None:
        clauses.append(f"{time_column} > ?")
        args.append(start)
    if tenant is not None:
        clauses.append(f"{tenant_column} = ?")
        args.append(tenant)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args


def _shape_stats(
    shape_id: str, text: str, kind: str, sums: list[int], sketch: Sketch
) -> ShapeStats:
    calls, errors, rows, total_ns = sums
    total_ms = total_ns / _NS_PER_MS
    return ShapeStats(
        shape_id=shape_id,
        sql=text,
        kind=kind,
        calls=calls,
        errors=errors,
        rows=rows,
        total_ms=total_ms,
        mean_ms=total_ms / calls if calls else 0.0,
        p50_ms=sketch.quantile(0.50) / _NS_PER_MS,
        p95_ms=sketch.quantile(0.95) / _NS_PER_MS,
        p99_ms=sketch.quantile(0.99) / _NS_PER_MS,
    )


def read_slow(
    path: Path,
    since: datetime | timedelta | None = None,
    tenant: str | None = None,
    limit: int = 50,
    *,
    threshold_ms: float | None = None,
    now: float | None = None,
) -> list[SlowStatement]:
    """Every process's slow statements, most recent first: from ``since`` on, of one tenant or
    all, taking at least ``threshold_ms`` (default: every one recorded, i.e. at least the
    ``slow_query_ms`` of the process that recorded it)."""
    now = time.time() if now is None else now
    where, args = _filter("l.at", _since_epoch(since, now), tenant, "l.tenant")
    if threshold_ms is not None:
        where += (" AND " if where else " WHERE ") + "l.elapsed_ms >= ?"
        args.append(threshold_ms)
    with _reading(path) as conn:
        if conn is None:
            return []
        rows = conn.execute(
            "SELECT l.at, l.tenant, l.branch, s.text, l.elapsed_ms, l.kind"
            f" FROM slow l JOIN shapes s ON s.id = l.shape_id{where}"
            " ORDER BY l.at DESC LIMIT ?",
            [*args, limit],
        ).fetchall()
    return [
        SlowStatement(at=_iso(at), tenant=t, branch=b, sql=sql, elapsed_ms=ms, kind=kind)
        for at, t, b, sql, ms, kind in rows
    ]
