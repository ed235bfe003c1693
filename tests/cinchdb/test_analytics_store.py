"""The analytics file: what a flush writes, what the reader merges, and what survives several
processes writing at once, a SIGKILL mid-write, a file that cannot be written, retention and
the row cap. Real recorders, real files, real processes."""

from __future__ import annotations

import logging
import random
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest

from cinchdb._analytics_store import AnalyticsStore, Flusher, read_slow, read_stats
from cinchdb._sketch import RELATIVE_ERROR
from cinchdb.analytics import Recorder
from tests.stress import iterations

ROOT = Path(__file__).resolve().parents[2]
MS = 1_000_000


def _flusher(path: Path, recorder: Recorder, **store: float) -> Flusher:
    return Flusher(recorder, AnalyticsStore(path, **store), interval=3600)  # type: ignore[arg-type]


def test_a_flush_lands_in_the_file_and_later_flushes_add_to_the_same_minute(tmp_path: Path) -> None:
    path = tmp_path / "analytics" / "main.sqlite"
    start = time.time() // 60 * 60 - 120  # within the retention, which a write applies
    recorder = Recorder(slow_query_ms=50, clock=lambda: start + 20)
    flusher = _flusher(path, recorder)
    rng = random.Random(1)
    times_ns = [rng.randrange(1 * MS, 200 * MS) for _ in range(400)]
    times = [ns / MS for ns in times_ns]
    for i, ns in enumerate(times_ns[:200]):
        recorder.observe("main", "acme", f"SELECT * FROM t WHERE id = {i}", ns, rows=2)
    assert flusher.flush()
    for i, ns in enumerate(times_ns[200:]):
        recorder.observe("main", "acme", f"select *  from t where id={i}", ns, rows=2)
    recorder.observe("dev", "zeta", "DELETE FROM t WHERE id = 1", 3 * MS, rows=1, error=True)
    assert flusher.flush()

    stats = read_stats(path, limit=5, now=start + 100)
    (select, delete) = stats["slowest"]
    assert select["sql"] == "SELECT * FROM t WHERE id = ?"
    assert (select["calls"], select["rows"], select["errors"]) == (400, 800, 0)
    assert select["total_ms"] == sum(times_ns) / MS
    assert select["mean_ms"] == pytest.approx(sum(times_ns) / MS / 400, rel=1e-12)
    # The two flushes' sketches of one minute were merged in the file: the percentiles are
    # those of all 400 times, within the sketch's documented error.
    exact = sorted(times)
    for q, key in ((0.50, "p50_ms"), (0.95, "p95_ms"), (0.99, "p99_ms")):
        expected = exact[int(q * (len(exact) - 1))]
        assert select[key] == pytest.approx(expected, rel=RELATIVE_ERROR * 1.01)  # type: ignore[literal-required]
    assert (delete["kind"], delete["calls"], delete["errors"]) == ("delete", 1, 1)
    assert [s["sql"] for s in stats["most_frequent"]] == [select["sql"], delete["sql"]]
    assert [(t["tenant"], t["branch"], t["calls"]) for t in stats["tenants"]] == [
        ("acme", "main", 400),
        ("zeta", "dev", 1),
    ]
    slow = read_slow(path, now=start + 100, limit=10_000)
    assert len(slow) == sum(ms >= 50 for ms in times)
    assert {(s["tenant"], s["branch"], s["sql"], s["kind"]) for s in slow} == {
        ("acme", "main", "SELECT * FROM t WHERE id = ?", "select")
    }
    assert all(s["elapsed_ms"] >= 50 for s in slow)
    assert len(read_slow(path, threshold_ms=150, limit=10_000)) == sum(ms >= 150 for ms in times)
    assert read_slow(path, tenant="zeta") == []


def test_the_reader_filters_by_time_and_tenant_and_limits(tmp_path: Path) -> None:
    path = tmp_path / "main.sqlite"
    now = [time.time() - 7200]
    recorder = Recorder(slow_query_ms=0, clock=lambda: now[0])
    flusher = _flusher(path, recorder)
    recorder.observe("main", "old", "SELECT 1", MS)
    now[0] += 3600
    for n in range(1, 6):
        for _ in range(n):
            recorder.observe("main", f"t{n}", f"SELECT c{n} FROM t", n * MS)
    assert flusher.flush()

    everything = read_stats(path, now=now[0])
    assert sum(t["calls"] for t in everything["tenants"]) == 16
    recent = read_stats(path, since=timedelta(minutes=30), now=now[0])
    assert "old" not in {t["tenant"] for t in recent["tenants"]}
    assert sum(t["calls"] for t in recent["tenants"]) == 15
    top = read_stats(path, limit=2, now=now[0])
    assert [s["sql"] for s in top["slowest"]] == ["SELECT c5 FROM t", "SELECT c4 FROM t"]
    assert [s["sql"] for s in top["most_frequent"]] == ["SELECT c5 FROM t", "SELECT c4 FROM t"]
    assert [t["tenant"] for t in top["tenants"]] == ["t5", "t4"]
    one = read_stats(path, tenant="t3", now=now[0])
    assert [(s["sql"], s["calls"]) for s in one["slowest"]] == [("SELECT c3 FROM t", 3)]
    assert len(read_slow(path, tenant="t2")) == 2
    assert read_stats(tmp_path / "never-written.sqlite")["slowest"] == []
    assert not (tmp_path / "never-written.sqlite").exists()


def test_retention_removes_old_minutes_and_slow_statements(tmp_path: Path) -> None:
    path = tmp_path / "main.sqlite"
    now = time.time()
    clock = [now - 10 * 86_400]
    recorder = Recorder(slow_query_ms=0, clock=lambda: clock[0])
    store = AnalyticsStore(path, retention_days=7, prune_interval=0, clock=lambda: clock[0])
    flusher = Flusher(recorder, store, interval=3600)
    recorder.observe("main", "ancient", "SELECT 'gone' FROM t", MS)
    assert flusher.flush()
    assert read_stats(path, tenant="ancient")["tenants"]
    clock[0] = now
    recorder.observe("main", "fresh", "SELECT 1 FROM kept", MS)
    assert flusher.flush()

    tenants = {t["tenant"] for t in read_stats(path)["tenants"]}
    assert tenants == {"fresh"}
    assert {s["tenant"] for s in read_slow(path)} == {"fresh"}
    with sqlite3.connect(path) as conn:
        # The old minute's shape went with it: nothing refers to it any more.
        assert conn.execute("SELECT text FROM shapes").fetchall() == [("SELECT ? FROM kept",)]


def test_the_row_cap_bounds_the_rows_and_the_file(tmp_path: Path) -> None:
    path = tmp_path / "main.sqlite"
    clock = [time.time() - 86_400]
    recorder = Recorder(slow_query_ms=0, clock=lambda: clock[0])
    store = AnalyticsStore(path, max_aggregate_rows=300, max_slow_rows=200, prune_interval=0)
    flusher = Flusher(recorder, store, interval=3600)
    sizes = []
    for _round in range(12):
        for minute in range(10):
            clock[0] += 60
            for tenant in range(10):
                recorder.observe("main", f"t{tenant}", f"SELECT c{minute} FROM t", MS)
        assert flusher.flush()
        # The WAL is bounded by SQLite's automatic checkpoint (about 4 MB); the file itself
        # by the caps: measured after a checkpoint.
        with closing(sqlite3.connect(path)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        sizes.append(path.stat().st_size)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM aggregates").fetchone()[0] <= 300
        assert conn.execute("SELECT COUNT(*) FROM slow").fetchone()[0] <= 200
        newest = conn.execute("SELECT MAX(bucket_start) FROM aggregates").fetchone()[0]
    assert newest == int(clock[0]) // 60 * 60  # the oldest go, the newest stay
    # 1,200 rows were written; once the caps are reached, freed pages are reused.
    assert sizes[-1] <= sizes[3] * 1.25, sizes


@pytest.mark.parametrize("damage", ["directory in the way", "not a database"])
def test_a_failing_flush_logs_a_warning_drops_its_batch_and_never_raises(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    if damage == "directory in the way":
        (tmp_path / "analytics").write_text("a file where the directory should be")
        path = tmp_path / "analytics" / "main.sqlite"
    else:
        path = tmp_path / "main.sqlite"
        path.write_bytes(b"this is not an SQLite file at all" * 200)
    recorder = Recorder()
    flusher = Flusher(recorder, AnalyticsStore(path), interval=0.01)
    with caplog.at_level(logging.WARNING, logger="cinchdb.analytics"):
        for i in range(50):
            recorder.observe("main", "acme", f"SELECT {i}", MS)  # starts the thread
        assert flusher.flush() is False
        deadline = time.monotonic() + 5
        while flusher.dropped < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        flusher.stop()
    assert flusher.dropped >= 1
    assert recorder.pending == 0  # the batch was dropped, not kept to grow without bound
    assert f"analytics: dropped a batch, could not write {path}" in caplog.text


WRITER = r"""
import sys
from pathlib import Path
from cinchdb._analytics_store import AnalyticsStore, Flusher
from cinchdb.analytics import Recorder

path, tenant, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
recorder = Recorder(slow_query_ms=1.0, max_pending=50)
store = AnalyticsStore(path, max_slow_rows=10**6, prune_interval=0)
flusher = Flusher(recorder, store, interval=0.01)
for i in range(n):
    recorder.observe("main", tenant, f"SELECT * FROM t WHERE id = {i}", 2_000_000, 1, i % 10 == 0)
    recorder.observe("main", tenant, f"INSERT INTO t VALUES ({i}, 'x{i}')", 500_000, 1)
flusher.stop()
print(flusher.dropped, flusher.slow_dropped)
"""


def test_processes_writing_at_once_lose_nothing_flushed_and_never_raise(tmp_path: Path) -> None:
    path = tmp_path / "analytics" / "main.sqlite"
    n = iterations(300, 5_000)
    tenants = [f"p{i}" for i in range(4)]
    children = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), tenant, str(n)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tenant in tenants
    ]
    slow_dropped = 0
    for child in children:
        out, err = child.communicate(timeout=120)
        assert (child.returncode, err) == (0, "")
        dropped, slow = map(int, out.split())
        assert dropped == 0
        slow_dropped += slow
    stats = read_stats(path, limit=100)
    assert {(t["tenant"], t["calls"], t["errors"], t["rows"]) for t in stats["tenants"]} == {
        (tenant, 2 * n, n // 10, 2 * n) for tenant in tenants
    }
    by_sql = {s["sql"]: s for s in stats["most_frequent"]}
    assert by_sql["SELECT * FROM t WHERE id = ?"]["calls"] == 4 * n
    assert by_sql["INSERT INTO t VALUES (?, ?)"]["calls"] == 4 * n
    assert by_sql["SELECT * FROM t WHERE id = ?"]["p50_ms"] == pytest.approx(2.0, rel=0.011)
    # Every slow statement is in the file but those the recorder only counted, past its
    # bound on slow statements held between two flushes.
    assert len(read_slow(path, limit=100_000)) == 4 * n - slow_dropped
    with sqlite3.connect(path) as conn:
        # Each process wrote only its own rows, under its own id.
        assert conn.execute("SELECT COUNT(DISTINCT process) FROM aggregates").fetchone()[0] == 4


KILLED = r"""
import sys
from pathlib import Path
from cinchdb._analytics_store import AnalyticsStore, Flusher
from cinchdb.analytics import Recorder

path, block = Path(sys.argv[1]), int(sys.argv[2])
recorder = Recorder(slow_query_ms=0.5, max_pending=10**9)
flusher = Flusher(recorder, AnalyticsStore(path, prune_interval=0), interval=0.005)
done = 0
while True:
    for i in range(block):
        recorder.observe("main", f"t{i % 25}", f"SELECT c{i % 40} FROM t WHERE x = {i}", 1_000_000)
    done += block
    if flusher.flush():
        print(done, flush=True)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_a_process_killed_mid_flush_loses_at_most_its_unflushed_batch(tmp_path: Path) -> None:
    path = tmp_path / "main.sqlite"
    block = 200
    low = high = 0
    rng = random.Random(20)
    for _kill in range(iterations(4, 40)):
        child = subprocess.Popen(
            [sys.executable, "-c", KILLED, str(path), str(block)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None
            lines = [child.stdout.readline() for _ in range(rng.randint(1, 6))]
            time.sleep(rng.uniform(0, 0.01))
            child.send_signal(signal.SIGKILL)
            lines += child.stdout.read().split()
        finally:
            child.kill()
            child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL
        # Every printed count was committed before it was printed; after the last one the
        # process had observed at most one more block, which the thread may have flushed.
        reported = int(lines[-1])
        low += reported
        high += reported + block
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        calls = sum(t["calls"] for t in read_stats(path, limit=1_000)["tenants"])
        assert low <= calls <= high, (low, calls, high)
