"""The recorder and the hook: every statement the SDK runs is counted, by tenant and shape;
analytics off holds no recorder at all (cinchdb.analytics)."""

from __future__ import annotations

import gc
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cinchdb
from cinchdb import analytics
from cinchdb._analytics_store import analytics_path
from cinchdb._query_shapes import shape_of
from cinchdb._sketch import Sketch
from cinchdb.analytics import SLOW_KEPT, Recorder
from cinchdb.kv import KVStore, ObservedKVStore
from cinchdb.models import Column
from cinchdb.project import CINCHDB_DIR, read_config, write_config

pytestmark = pytest.mark.filterwarnings("error")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_recorder_aggregates_by_minute_branch_tenant_and_shape() -> None:
    clock = Clock(1_000_000_030.5)
    recorder = Recorder(slow_query_ms=5, clock=clock)
    recorder.observe("main", "a", "SELECT * FROM t WHERE id = 1", 1_000_000, rows=1)
    recorder.observe("main", "a", "select * from t where id = 2", 3_000_000, rows=1)
    recorder.observe("main", "b", "SELECT * FROM t WHERE id = 3", 6_000_000, error=True)
    clock.now += 60  # the next minute
    recorder.observe("dev", "a", shape_of("DELETE FROM t WHERE id = 4"), 2_000_000, rows=1)
    batch = recorder.drain()
    rows = {(a.bucket_start, a.branch, a.tenant, a.shape_id): a for a in batch.aggregates}
    select = shape_of("SELECT * FROM t WHERE id = ?")
    delete = shape_of("DELETE FROM t WHERE id = ?")
    assert set(rows) == {
        (1_000_000_020, "main", "a", select.id),
        (1_000_000_020, "main", "b", select.id),
        (1_000_000_080, "dev", "a", delete.id),
    }
    a = rows[(1_000_000_020, "main", "a", select.id)]
    assert (a.calls, a.errors, a.rows, a.total_ns) == (2, 0, 2, 4_000_000)
    assert Sketch.from_bytes(a.sketch).count == 2
    b = rows[(1_000_000_020, "main", "b", select.id)]
    assert (b.calls, b.errors, b.rows) == (1, 1, 0)
    assert batch.shapes == {select.id: select, delete.id: delete}
    # Only the statement at or above slow_query_ms, with its shape and never its values.
    assert [(s.tenant, s.shape_id, s.elapsed_ms, s.kind) for s in batch.slow] == [
        ("b", select.id, 6.0, "select")
    ]
    # A drain takes everything: the next one is empty.
    assert not recorder.drain()
    assert recorder.pending == 0


def test_one_shape_over_two_minutes_in_one_drain_is_two_rows() -> None:
    clock = Clock(1_000_000_050.0)
    recorder = Recorder(clock=clock)
    recorder.observe("main", "a", "SELECT 1", 10)
    clock.now += 30  # into the next minute
    recorder.observe("main", "a", "SELECT 2", 20)
    recorder.observe("main", "a", "SELECT 3", 30)
    rows = sorted((a.bucket_start, a.calls, a.total_ns) for a in recorder.drain().aggregates)
    assert rows == [(1_000_000_020, 1, 10), (1_000_000_080, 2, 50)]


def test_the_hot_path_hook_counts_calls_errors_and_rows() -> None:
    recorder = Recorder(slow_query_ms=0)
    shape = shape_of("SELECT * FROM t WHERE id = ?")
    start = time.perf_counter_ns()
    recorder.done("main", "a", shape, start, 1)
    recorder.failed("main", "a", shape, start)
    assert recorder.run("main", "a", shape, analytics.ROWS_LEN, list, "abc") == ["a", "b", "c"]
    assert recorder.run("main", "a", shape, analytics.ROWS_COUNT, int, "7") == 7
    with pytest.raises(ValueError):
        recorder.run("main", "a", shape, 1, int, "x")
    batch = recorder.drain()
    [row] = batch.aggregates
    assert (row.calls, row.errors, row.rows) == (5, 2, 1 + 3 + 7)
    # The minute comes from perf_counter_ns and the wall-clock offset: this minute (or the
    # one before, if it just turned).
    assert 0 <= int(time.time()) // 60 * 60 - row.bucket_start <= 60
    assert len(batch.slow) == 5
    assert batch.shapes == {shape.id: shape}


def test_recorder_wakes_its_flusher_starts_it_once_and_bounds_the_slow_list() -> None:
    recorder = Recorder(slow_query_ms=0, max_pending=10)
    started: list[int] = []
    recorder.on_first_observe = lambda: started.append(1)
    for _ in range(9):
        recorder.observe("main", "main", "SELECT 1", 10)
    assert not recorder.wakeup.is_set()
    assert started == [1]
    recorder.observe("main", "main", "SELECT 1", 10)
    assert recorder.wakeup.is_set()
    for _ in range(SLOW_KEPT + 5):
        recorder.observe("main", "main", "SELECT 2", 10)
    batch = recorder.drain()
    assert len(batch.slow) == SLOW_KEPT
    assert batch.slow_dropped == 15
    assert not recorder.wakeup.is_set()
    assert started == [1]


def test_threads_observing_at_once_lose_nothing() -> None:
    recorder = Recorder()
    drained: list[analytics.Batch] = []
    stop = threading.Event()

    def drain_while_running() -> None:
        while not stop.is_set():
            drained.append(recorder.drain())

    def work(tenant: str) -> None:
        for i in range(2_000):
            recorder.observe("main", tenant, f"SELECT * FROM t WHERE id = {i}", 1_000, rows=1)

    drainer = threading.Thread(target=drain_while_running)
    drainer.start()
    workers = [threading.Thread(target=work, args=(f"t{n}",)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    stop.set()
    drainer.join(60)
    drained.append(recorder.drain())
    calls: dict[str, int] = {}
    for batch in drained:
        for row in batch.aggregates:
            calls[row.tenant] = calls.get(row.tenant, 0) + row.calls
    assert calls == {f"t{n}": 2_000 for n in range(4)}


def _tenant_totals(db: cinchdb.CinchDB) -> dict[str, tuple[int, int, int]]:
    stats = db.get_analytics_stats(limit=1000)
    return {t["tenant"]: (t["calls"], t["errors"], t["rows"]) for t in stats["tenants"]}


def _kind_calls(db: cinchdb.CinchDB, tenant: str) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for shape in db.get_analytics_stats(tenant=tenant, limit=1000)["most_frequent"]:
        kinds[shape["kind"]] = kinds.get(shape["kind"], 0) + shape["calls"]
    return kinds


def test_per_tenant_totals_add_up_to_the_statements_run(project: Path) -> None:
    db = cinchdb.connect(project_dir=project, analytics=True)
    db.create_table("posts", [Column(name="title", type="TEXT")])  # schema: 1
    db.create_tenant("acme")
    acme = cinchdb.connect(project_dir=project, tenant="acme", analytics=True)
    ids = [db.insert("posts", {"title": f"p{i}"})["id"] for i in range(10)]  # insert: 10
    db.insert("posts", [{"title": "x"}, {"title": "y"}])  # insert: 1 statement, 2 rows
    for i in ids:
        db.get("posts", i)  # select: 10
    db.query("SELECT * FROM posts WHERE title = ?", ["p1"])  # select: 1, 1 row
    db.update("posts", ids[0], {"title": "new"})  # update: 1
    db.update_where("posts", {"title": "z"}, title="p2")  # update: 1, 1 row
    db.delete("posts", ids[1], ids[2])  # delete: 1, 2 rows
    db.delete_where("posts", title="p3")  # delete: 1, 1 row
    db.kv.set("k", 1)  # kv: 3
    db.kv.get("k")
    db.kv.mset({"a": 1, "b": 2})
    with pytest.raises(cinchdb.CinchError):
        db.get("posts", 999_999)  # an error: select
    with pytest.raises(cinchdb.CinchError):
        db.query("SELECT * FROM missing_table")  # an error: select
    db.add_column("posts", Column(name="body", type="TEXT"))  # schema: 2
    for i in range(5):
        acme.insert("posts", {"title": f"a{i}"})  # insert: 5 (acme)
    acme.kv.increment("n")  # kv: 1 (acme)
    assert _tenant_totals(db) == {
        # 1 + 11 + 11 + 2 + 2 + 3 + 2 errors + 1 = 33 statements
        "main": (33, 2, 10 + 2 + 10 + 1 + 1 + 1 + 2 + 1 + 1 + 1 + 2),
        "acme": (6, 0, 6),
    }
    assert _kind_calls(db, "main") == {
        "schema": 2,
        "insert": 11,
        "select": 13,
        "update": 2,
        "delete": 2,
        "kv": 3,
    }
    assert _kind_calls(db, "acme") == {"insert": 5, "kv": 1}
    acme.close()
    db.close()


def test_filters_named_like_the_hooks_arguments_reach_the_call(project: Path) -> None:
    db = cinchdb.connect(project_dir=project, analytics=True)
    columns = [Column(name=n, type="TEXT") for n in ("branch", "tenant", "shape", "rows", "call")]
    db.create_table("odd", columns)
    db.insert("odd", {"branch": "b", "tenant": "t", "shape": "s", "rows": "r", "call": "c"})
    assert db.update_where("odd", {"call": "d"}, branch="b", tenant="t", rows="r") == 1
    assert db.delete_where("odd", shape="s", call="d") == 1
    db.close()


def test_analytics_off_adds_no_recorder_and_writes_nothing(project: Path) -> None:
    registered = dict(analytics._registry)
    db = cinchdb.connect(project_dir=project)
    assert db._recorder is None and db._analytics is None
    assert type(db.kv) is KVStore
    db.create_table("posts", [Column(name="title", type="TEXT")])
    db.insert("posts", {"title": "a"})
    db.kv.set("k", "v")
    db.query("SELECT * FROM posts")
    assert analytics._registry == registered
    db.close()
    assert not analytics_path(project / CINCHDB_DIR, "main").exists()
    assert not (project / CINCHDB_DIR / "analytics").exists()


def test_the_project_setting_turns_it_on_and_a_handle_may_say_otherwise(project: Path) -> None:
    meta = project / CINCHDB_DIR
    config = read_config(meta)
    write_config(
        meta,
        type(config)(config.active_database, config.active_branch, analytics=True, slow_query_ms=0),
    )
    on = cinchdb.connect(project_dir=project)
    assert type(on.kv) is ObservedKVStore
    assert on._recorder is not None and on._recorder.slow_query_ms == 0
    off = cinchdb.connect(project_dir=project, analytics=False)
    assert off._recorder is None
    # Handles of one process on one database share one recorder.
    again = cinchdb.connect(project_dir=project, analytics=True)
    assert again._recorder is on._recorder
    on.kv.set("k", 1)
    for handle in (on, off, again):
        handle.close()
    # The last close flushed: the statement is in the file, and its slow row (threshold 0).
    reader = cinchdb.connect(project_dir=project, analytics=False)
    assert [s["sql"] for s in reader.get_slow_queries()] == ["KV SET"]
    reader.close()


def test_parameter_values_never_reach_the_analytics_file(project: Path) -> None:
    db = cinchdb.connect(project_dir=project, analytics=True)
    db.create_table("people", [Column(name="email", type="TEXT")])
    secrets = [f"secret-{n}@example.org" for n in range(20)]
    for secret in secrets:
        row = db.insert("people", {"email": secret})
        db.query("SELECT * FROM people WHERE email = ?", [secret])
        db.query(f"SELECT * FROM people WHERE email = '{secret}'")  # a literal, not a param
        db.update_where("people", {"email": secret.upper()}, id=row["id"])
        db.kv.set(f"user:{row['id']}", secret)
    db.close()
    path = analytics_path(project / CINCHDB_DIR, "main")
    data = b"".join(p.read_bytes() for p in path.parent.iterdir())
    assert b"SELECT * FROM people WHERE email = ?" in data
    for secret in secrets:
        assert secret.encode() not in data
        assert secret.upper().encode() not in data
    assert b"user:" not in data


def test_connect_refuses_analytics_for_a_remote_handle() -> None:
    with pytest.raises(cinchdb.CinchError, match="analytics= only for a local project"):
        cinchdb.connect(url="http://127.0.0.1:9", api_key="k", analytics=True)  # type: ignore[call-overload]


def test_pending_observations_leave_nothing_for_the_garbage_collector() -> None:
    # What waits for a drain is no new object the collector tracks: with analytics off a
    # statement allocates none that outlives it, and analytics must not make a busy process
    # run a collection every few hundred statements (its count of tracked allocations is
    # what starts one).
    recorder = Recorder()
    recorder.on_first_observe = lambda: None
    shape = shape_of("SELECT * FROM t WHERE id = ?")
    recorder.done("main", "a", shape, time.perf_counter_ns(), 1)
    gc.collect()
    gc.disable()
    try:
        before = gc.get_count()[0]
        for _ in range(1_000):
            recorder.done("main", "a", shape, time.perf_counter_ns(), 1)
        recorder.failed("main", "a", shape, time.perf_counter_ns())
        recorder.observe("main", "a", "SELECT 1", 10)
        grown = gc.get_count()[0] - before
    finally:
        gc.enable()
    assert grown < 50
    [row] = [r for r in recorder.drain().aggregates if r.shape_id == shape.id]
    assert (row.calls, row.errors, row.rows) == (1_002, 1, 1_001)


_SQL = ["SELECT * FROM t WHERE id = 1", "DELETE FROM t WHERE id = 2", "UPDATE t SET a = 3"]
_observations = st.lists(
    st.tuples(
        st.sampled_from(["main", "dev"]),  # branch
        st.sampled_from(["a", "b", "c"]),  # tenant
        st.sampled_from(_SQL),
        st.integers(min_value=0, max_value=300_000_000),  # nanoseconds
        st.integers(min_value=0, max_value=50),  # rows
        st.booleans(),  # error
        st.sampled_from([0.0, 0.0, 0.0, 7.0, 45.0]),  # seconds the clock moves first
    ),
    max_size=120,
)


@settings(max_examples=150, deadline=None)
@given(_observations)
def test_a_drain_aggregates_as_a_plain_count_of_the_observations_would(
    observations: list[tuple[str, str, str, int, int, bool, float]],
) -> None:
    # The drain's columns, groups and minute splits against the obvious loop over the same
    # observations: the same rows, sums, sketches, slow statements and kind totals.
    clock = Clock(1_000_000_000.0)
    recorder = Recorder(slow_query_ms=100, clock=clock)
    expected: dict[tuple[int, str, str, str], list[tuple[int, int, bool]]] = {}
    slow = []
    for branch, tenant, sql, ns, rows, error, step in observations:
        clock.now += step
        recorder.observe(branch, tenant, sql, ns, rows=rows, error=error)
        shape = shape_of(sql)
        minute = int(clock.now // 60 * 60)
        expected.setdefault((minute, branch, tenant, shape.id), []).append((ns, rows, error))
        if ns >= 100_000_000:
            slow.append((branch, tenant, shape.id, ns / 1e6, shape.kind))
    kinds = recorder.kind_totals()
    batch = recorder.drain()
    got = {(a.bucket_start, a.branch, a.tenant, a.shape_id): a for a in batch.aggregates}
    assert set(got) == set(expected)
    for key, items in expected.items():
        row = got[key]
        assert (row.calls, row.errors, row.rows, row.total_ns) == (
            len(items),
            sum(error for _, _, error in items),
            sum(rows for _, rows, _ in items),
            sum(ns for ns, _, _ in items),
        )
        sketch = Sketch()
        for ns, _, _ in items:
            sketch.add(ns)
        assert Sketch.from_bytes(row.sketch) == sketch
    assert batch.shapes == {shape_of(o[2]).id: shape_of(o[2]) for o in observations}
    assert [(s.branch, s.tenant, s.shape_id, s.elapsed_ms, s.kind) for s in batch.slow] == slow
    by_kind: dict[str, tuple[int, int]] = {}
    for _, _, sql, _, _, error, _ in observations:
        calls, errors = by_kind.get(shape_of(sql).kind, (0, 0))
        by_kind[shape_of(sql).kind] = (calls + 1, errors + error)
    assert kinds == by_kind == recorder.kind_totals()
    assert recorder.pending == 0


def test_past_max_held_the_oldest_observations_go_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analytics, "MAX_HELD", 50)
    recorder = Recorder(max_pending=1_000)
    recorder.on_first_observe = lambda: None
    for n in range(60):
        recorder.observe("main", f"t{n}", "SELECT 1", 1_000 + n, rows=n)
    assert recorder.pending == 50
    rows = sorted((a.tenant, a.calls, a.rows, a.total_ns) for a in recorder.drain().aggregates)
    assert rows == sorted((f"t{n}", 1, n, 1_000 + n) for n in range(10, 60))


def test_slow_statements_come_in_the_order_they_were_recorded() -> None:
    clock = Clock(1_000_000_000.0)
    recorder = Recorder(slow_query_ms=100, clock=clock)
    recorder.observe("main", "a", "SELECT 1", 10)  # tenant a's group comes first...
    recorder.observe("main", "b", "SELECT 1", 200_000_000)  # ...but b's slow one does
    recorder.observe("main", "a", "SELECT 1", 300_000_000)
    assert [(s.tenant, s.elapsed_ms) for s in recorder.drain().slow] == [("b", 200), ("a", 300)]
