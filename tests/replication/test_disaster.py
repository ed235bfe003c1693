"""The machine is gone: a project replicating while it is written to is restored elsewhere.

The issue's "Tests must show": 50 tenants (one encrypted) replicate with ``cinch replicate`` to
S3 (moto on 127.0.0.1) while four writer processes write and a schema change lands; the lag is
measured while it runs; then every process is SIGKILLed and the project directory deleted, and
``cinch restore`` must bring back every write acknowledged longer than the measured lag before
the end, the encrypted tenant under its key only, every tenant at the journal head and a clean
``cinch check``. A point-in-time restore to just before the schema change gives the old schema
in the journal and in every tenant. A smaller variant does the same with a file replica, and
restores a ``cinch backup`` taken while the writers wrote.

The lag is measured from outside (tests/replication/probes.py): probes restore single tenant
files (the encrypted one through its sealed copy) with the Litestream binary all through the
run, and every written tenant at once just before the kill; ``cinch replicate status``'s
per-file lag counts too. The largest of these is "the measured lag".

CI runs ``iterations(ci, full)`` seconds of writing, and the point-in-time restore from the
file replica only; ``CINCHDB_STRESS=1`` the full size, and from S3 too.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest

import cinchdb
from cinchdb.errors import KeyRequiredError, WrongKeyError
from cinchdb.models import Column
from tests.replication import probes, writers
from tests.stress import FULL, iterations

KEY = "disaster-key-1"
WRONG_KEY = "not-the-key"
SECRET = "vault"
# Tenants created while replication runs (a plain one and an encrypted one).
LATE = ("late", "late_vault")
ENCRYPTED = {SECRET, "late_vault"}
COMMAND_TIMEOUT = 120.0
WRITERS = 4
TENANTS_PER_WRITER = 3
PAUSE_S = 0.02
# Writes per writer: a bound far above what the seconds allow, so time ends the loop.
MAX_WRITES = 100_000
# Writing goes on after the schema change committed for at least SETTLE_S and twice the lag
# measured so far (at most SETTLE_CAP_S). A replica holds what happened longer than its lag
# ago, so "every tenant at the head" follows only once the change is older than the lag (1-3 s
# measured here); with 4 s of writing in all and a change taking ~1 s in the middle, it was
# often younger, and a tenant came back one event behind.
SETTLE_S = 4.0
SETTLE_CAP_S = 30.0


@attrs.define
class Run:
    """What one replicating run left behind for the checks."""

    tenants: list[str]
    writer_tenants: list[list[str]]
    logs: list[Path]
    lags: list[probes.LagSample] = attrs.Factory(list)
    status_lags: list[float] = attrs.Factory(list)
    # The staleness of the replica at the kill: the last probe of every written tenant
    # (started ``end_probe_age`` seconds before the kill) plus that age.
    end_lags: list[probes.LagSample] = attrs.Factory(list)
    end_probe_age: float = 0.0
    schema_started: float = 0.0
    schema_seconds: float = 0.0
    schema_done: float = 0.0
    killed_at: float = 0.0
    backup_started: float = 0.0
    late: list[str] = attrs.Factory(list)
    phases: dict[str, float] = attrs.Factory(dict)
    clock: float = attrs.Factory(time.monotonic)

    def phase(self, name: str) -> None:
        """Seconds since the last phase ended (for the printed summary)."""
        now = time.monotonic()
        self.phases[name] = now - self.clock
        self.clock = now

    def acked(self) -> list[dict[str, Any]]:
        found, _ = writers.read_logs(self.logs)
        return found

    @property
    def lag(self) -> float:
        """The largest lag measured: during the run (probes and ``cinch replicate status``)
        and at the end (what the replica was known to hold when the machine died)."""
        end = [sample.lag + self.end_probe_age for sample in self.end_lags]
        return max([sample.lag for sample in self.lags] + self.status_lags + end + [0.0])


def cinch(
    *args: str, cwd: Path, env: Mapping[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``cinch ARGS`` as a real process (as a user or a script runs it)."""
    done = subprocess.run(
        [sys.executable, "-m", "cinchdb.cli", *args],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    if check:
        assert done.returncode == 0, f"cinch {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done


def build_project(root: Path, count: int) -> list[str]:
    """A project with table ``events`` and ``count`` materialized tenants (the first one
    encrypted), each holding one seed row; their names."""
    cinchdb.init(root)
    db = cinchdb.connect(project_dir=root)
    db.create_table("events", [Column(name="writer", type="INTEGER"),
                               Column(name="seq", type="INTEGER")])  # fmt: skip
    names = [SECRET] + [f"t{index:03d}" for index in range(count - 1)]
    for name in names:
        encrypted = name == SECRET
        db.create_tenant(name, encrypt=encrypted, encryption_key=KEY if encrypted else None)
        tenant = cinchdb.connect(
            tenant=name, project_dir=root, encryption_key=KEY if encrypted else None
        )
        tenant.insert("events", {"writer": -1, "seq": 0})
    return names


@contextlib.contextmanager
def writer_processes(
    project: Path, run: Run, seconds: float
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """The writers, running; every one SIGKILLed (if still alive) and reaped on the way out."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for index, tenants in enumerate(run.writer_tenants):
            procs.append(
                subprocess.Popen(
                    writers.command(
                        project,
                        index,
                        tenants,
                        run.logs[index],
                        seconds=seconds,
                        max_writes=MAX_WRITES,
                        pause=PAUSE_S,
                        encrypted=[SECRET] if SECRET in tenants else [],
                    ),
                    cwd=writers.ROOT,
                    env=writers.environment(KEY),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGKILL)
            proc.wait(30)


class Prober:
    """Lag samples in a background thread, rotating over the written plain tenants."""

    def __init__(
        self, destination: str, tenants: Sequence[str], credentials: Mapping[str, str],
        run: Run, workdir: Path, keys: Mapping[str, bytes],
    ) -> None:  # fmt: skip
        self.destination = destination
        self.tenants = list(tenants)
        self.credentials = dict(credentials)
        self.run = run
        self.workdir = workdir
        self.keys = dict(keys)
        self.error: Exception | None = None
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        # Bounded: stops on request, and never runs past a hard count.
        for index in range(10_000):
            if self.stopping.is_set():
                return
            try:
                self.sample(self.tenants[index % len(self.tenants)])
            except Exception as error:  # a sealed copy that does not unseal, say
                self.error = error
                return

    def sample(self, tenant: str) -> None:
        found = probes.probe(
            self.destination, tenant, self.credentials, self.run.acked, self.workdir, self.keys
        )
        if found is not None:
            self.run.lags.append(found)

    def __enter__(self) -> Prober:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(probes.PROBE_TIMEOUT * 2)
        if self.error is not None:
            raise AssertionError(f"a probe failed: {self.error!r}") from self.error


def status_lags(project: Path, env: Mapping[str, str]) -> list[float]:
    """Per-file lags that ``cinch replicate status --json`` reports (seconds)."""
    done = cinch("replicate", "status", "--json", cwd=project, env=env, check=False)
    if done.returncode != 0:
        return []
    report = json.loads(done.stdout)
    found = []
    for entry in report.get("files", []):
        lag = entry.get("lag_seconds")
        if isinstance(lag, int | float):
            found.append(float(lag))
    return found


def wait_replicated(
    destination: str, tenants: Sequence[str], credentials: Mapping[str, str], workdir: Path,
    timeout: float = 60.0,
) -> None:  # fmt: skip
    """Until the replica holds the seed row of each of ``tenants`` (bounded)."""
    deadline = time.monotonic() + timeout
    pending = list(tenants)
    while pending:
        out = workdir / f"seed-{pending[0]}.db"
        done = probes.restore_file(destination, probes.tenant_rel(pending[0]), out, credentials)
        if done.returncode == 0 and probes.max_seqs(out).get(-1) == 0:
            pending.pop(0)
        else:
            assert time.monotonic() < deadline, f"not replicated in {timeout} s: {pending}"
            time.sleep(0.2)
        for leftover in workdir.glob(f"{out.name}*"):
            leftover.unlink()


def rfc3339(at: float) -> str:
    return (
        datetime.fromtimestamp(at, timezone.utc)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def create_late_tenants(project: Path, run: Run) -> None:
    """Tenants made after replication started, one row each: Litestream must pick up the
    new file, and the replicator seal the new encrypted one."""
    db = cinchdb.connect(project_dir=project)
    for name in LATE:
        key = KEY if name in ENCRYPTED else None
        db.create_tenant(name, lazy=False, encrypt=key is not None, encryption_key=key)
        tenant = cinchdb.connect(tenant=name, project_dir=project, encryption_key=key)
        tenant.insert("events", {"writer": -2, "seq": 0})
        run.late.append(name)


def assert_late_tenants(restored: Path, run: Run) -> None:
    """The tenants made while replicating are back with their row and the new column."""
    for name in run.late:
        key = KEY if name in ENCRYPTED else None
        tenant = cinchdb.connect(tenant=name, project_dir=restored, encryption_key=key)
        (row,) = tenant.query("SELECT * FROM events")
        assert (row["writer"], row["seq"]) == (-2, 0) and "note" in row, (name, row)


def settling(run: Run) -> bool:
    """Whether the schema change is still too young for the replica to be sure to hold it."""
    age = time.time() - run.schema_done
    return age < SETTLE_CAP_S and age < max(SETTLE_S, 2 * run.lag)


def replicate_and_lose(
    project: Path,
    destination: str,
    replicator: Any,
    credentials: Mapping[str, str],
    tmp: Path,
    *,
    tenants: int,
    writer_count: int,
    seconds: float,
    backup: Path | None = None,
) -> Run:
    """Build, replicate, write, change the schema mid-run (and take a ``cinch backup`` into
    ``backup`` after it, writers still writing), measure the lag, then lose the machine:
    SIGKILL everything and delete the project directory."""
    clock = time.monotonic()
    names = build_project(project, tenants)
    built = time.monotonic() - clock
    plain = [name for name in names if name != SECRET]
    writer_tenants = [
        plain[index * TENANTS_PER_WRITER : (index + 1) * TENANTS_PER_WRITER]
        for index in range(writer_count)
    ]
    writer_tenants[0].append(SECRET)
    run = Run(
        tenants=names,
        writer_tenants=writer_tenants,
        logs=[tmp / f"acks-{index}.jsonl" for index in range(writer_count)],
    )
    run.phases["build"] = built
    env = writers.environment() | dict(credentials)
    replicating = replicator.start(project, destination, env)
    workdir = tmp / "probes"
    workdir.mkdir()
    # The first sync of every file is not lag: wait for it, then measure.
    wait_replicated(destination, [plain[0], plain[-1]], credentials, workdir)
    run.phase("replicating")
    # Every written tenant is probed; the encrypted one through its sealed copy.
    written = [tenant for group in writer_tenants for tenant in group]
    keys = {SECRET: probes.raw_key(project, SECRET, KEY)}
    with (
        # The writers' own bound is a backstop: they are SIGKILLed first.
        writer_processes(project, run, seconds + 30) as procs,
        Prober(destination, written, credentials, run, workdir, keys),
    ):
        deadline = time.monotonic() + seconds
        started = time.monotonic()
        create_late_tenants(project, run)
        time.sleep(max(0.0, seconds * 0.5 - (time.monotonic() - started)))
        run.schema_started = time.time()
        cinch("column", "add", "events", "note:TEXT", cwd=project, env=env)
        run.schema_done = time.time()
        run.schema_seconds = run.schema_done - run.schema_started
        if backup is not None:
            run.backup_started = time.time()
            cinch("backup", "--to", os.fspath(backup), "--json", cwd=project, env=env)
        # cinch replicate status at least once, however long the schema change took.
        run.status_lags += status_lags(project, env)
        while time.monotonic() < deadline or settling(run):
            time.sleep(0.3)
            run.status_lags += status_lags(project, env)
        # A probe at the end, all at once, samples the lag where a rotating probe may have
        # just missed a slow sync; the time the probes take counts as lag too. Each file
        # syncs on its own, so every written tenant is probed when that is quick (a few
        # files: a tenant left out once lost a write 0.01 s older than the lag of the ones
        # probed); with many against S3, one tenant of each writer (and the encrypted one).
        written_tenants = {tenant for group in writer_tenants for tenant in group}
        few = len(written_tenants) <= 16
        ends = sorted(
            (written_tenants if few else {group[0] for group in writer_tenants}) | {SECRET}
        )
        run.end_lags = probes.probe_all(destination, ends, credentials, run.acked, workdir, keys)
        # The machine dies mid-write: nothing gets a chance to finish.
        run.killed_at = time.time()
        run.end_probe_age = run.killed_at - min(sample.at for sample in run.end_lags)
        for proc in procs:
            proc.send_signal(signal.SIGKILL)
        replicating.kill()
    shutil.rmtree(project)
    run.phase("written and lost")
    return run


def assert_present(restored: Path, run: Run, before: float) -> int:
    """Every write acknowledged before ``before`` is in the restored tenant; how many."""
    wanted = [entry for entry in run.acked() if entry["at"] < before]
    for tenant, entries in writers.by_tenant(wanted).items():
        handle = cinchdb.connect(
            tenant=tenant, project_dir=restored, encryption_key=KEY if tenant in ENCRYPTED else None
        )
        rows = handle.query("SELECT writer, seq FROM events")
        have = {(row["writer"], row["seq"]) for row in rows}
        lost = [e for e in entries if (e["w"], e["s"]) not in have]
        assert not lost, (
            f"{tenant}: {len(lost)} acknowledged writes lost (measured lag {run.lag:.2f} s),"
            f" ages at the end {[round(run.killed_at - e['at'], 2) for e in lost[:8]]} s,"
            f" first {[(e['w'], e['s']) for e in lost[:5]]}"
        )
    return len(wanted)


def assert_encrypted_opens_with_key_only(restored: Path) -> None:
    with pytest.raises(KeyRequiredError):
        cinchdb.connect(tenant=SECRET, project_dir=restored).query("SELECT * FROM events")
    with pytest.raises(WrongKeyError):
        cinchdb.connect(tenant=SECRET, project_dir=restored, encryption_key=WRONG_KEY).query(
            "SELECT * FROM events"
        )
    rows = cinchdb.connect(tenant=SECRET, project_dir=restored, encryption_key=KEY).query(
        "SELECT * FROM events WHERE writer = -1"
    )
    assert len(rows) == 1


def file_columns(path: Path) -> list[str]:
    """The columns of ``events`` in a plain tenant file, read without CinchDB."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [row[1] for row in conn.execute("PRAGMA table_info(events)")]
    finally:
        conn.close()


def journal_columns(project: Path) -> list[str]:
    """The columns of ``events`` in the journal's schema of branch main."""
    return [
        column.name for column in cinchdb.connect(project_dir=project).get_table("events").columns
    ]


def tenant_file(project: Path, tenant: str) -> Path:
    return project / ".cinchdb" / probes.tenant_rel(tenant)


def assert_all_at_head(restored: Path, run: Run, env: Mapping[str, str]) -> str:
    """Every tenant materialized and at the journal head (read without catching up); the
    encrypted one, opened with its key, has the head's schema."""
    head = cinchdb.connect(project_dir=restored).head()
    assert head is not None
    status = json.loads(cinch("tenant", "status", "--json", cwd=restored, env=env).stdout)
    states = {entry["name"]: entry for entry in status}
    for name in run.tenants + run.late:
        assert states[name]["materialized"], name
        if name in ENCRYPTED:
            assert states[name]["needs_key"], states[name]
            continue
        assert (states[name]["cursor"], states[name]["behind"]) == (head, 0), states[name]
    secret = cinchdb.connect(tenant=SECRET, project_dir=restored, encryption_key=KEY)
    assert next(s for s in secret.tenant_status() if s["name"] == SECRET)["behind"] == 0
    return head


def assert_check_clean(restored: Path, env: Mapping[str, str]) -> None:
    done = cinch("check", "--json", cwd=restored, env=env, check=False)
    report = json.loads(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert report["ok"] and not report["drift"], report
    assert not report["unreplayable"] and not report["corrupt_events"], report
    # Only the encrypted tenant may be unchecked, for want of its key.
    assert all(entry["needs_key"] for entry in report["behind"]), report["behind"]


def restore(
    source: str, target: Path, env: Mapping[str, str], *extra: str
) -> subprocess.CompletedProcess[str]:
    return cinch("restore", "--from", source, "--to", str(target), *extra, cwd=target.parent,
                 env=env)  # fmt: skip


def report(name: str, run: Run, checked: int, started: float) -> None:
    lags = sorted(sample.lag for sample in run.lags)
    end = max((sample.lag for sample in run.end_lags), default=0.0)
    print(
        f"\n{name}: {len(run.tenants)} tenants, {len(run.acked())} acknowledged writes;"
        f" lag: {len(lags)} probes while writing (p50 {lags[len(lags) // 2] if lags else 0:.2f} s,"
        f" max {max(lags, default=0):.2f} s), at the end {end:.2f} + {run.end_probe_age:.2f} s,"
        f" status {len(run.status_lags)} file lags (max {max(run.status_lags, default=0):.2f} s):"
        f" measured {run.lag:.2f} s; schema change {run.schema_seconds:.2f} s;"
        f" {checked} writes checked; {time.monotonic() - started:.1f} s in all"
        f" ({', '.join(f'{k} {v:.1f} s' for k, v in run.phases.items())})"
    )


def scenario(
    tmp_path: Path, destination: str, replicator: Any, credentials: Mapping[str, str], *,
    tenants: int, writer_count: int, seconds: float, point_in_time: bool = True,
    backup: bool = False,
) -> None:  # fmt: skip
    started = time.monotonic()
    project = tmp_path / "machine" / "app"
    project.parent.mkdir()
    run = replicate_and_lose(
        project, destination, replicator, credentials, tmp_path,
        tenants=tenants, writer_count=writer_count, seconds=seconds,
        backup=tmp_path / "backup" if backup else None,
    )  # fmt: skip
    _, errors = writers.read_logs(run.logs)
    assert not errors, errors[:5]
    assert run.lags, "no lag was measured"
    env = writers.environment() | dict(credentials)

    restored = tmp_path / "elsewhere" / "app"
    restored.parent.mkdir()
    restore(destination, restored, env, "--json")
    run.phase("restore")
    # The replica holds what is older than the lag: the change is (settling), so every tenant
    # is at the head. Read before anything opens a tenant (an open catches a tenant up).
    assert run.killed_at - run.schema_done > run.lag, (run.killed_at - run.schema_done, run.lag)
    assert_all_at_head(restored, run, env)
    checked = assert_present(restored, run, run.killed_at - run.lag)
    assert checked > 0
    assert_encrypted_opens_with_key_only(restored)
    assert_check_clean(restored, env)
    assert "note" in journal_columns(restored)
    assert_late_tenants(restored, run)
    run.phase("checks")
    if point_in_time:
        assert_old_schema_at(destination, run, tmp_path / "earlier" / "app", env)
    if backup:
        assert_backup_restores(tmp_path / "backup", run, tmp_path / "from-backup" / "app", env)
    report(destination.split("?")[0], run, checked, started)


def assert_backup_restores(backup: Path, run: Run, target: Path, env: Mapping[str, str]) -> None:
    """The backup taken under write load restores to a consistent project: every write
    acknowledged before it started, every tenant at the head, the new column, a clean check."""
    target.parent.mkdir()
    restore(os.fspath(backup), target, env, "--json")
    run.phase("restore from the backup")
    assert_all_at_head(target, run, env)
    assert_present(target, run, run.backup_started)
    assert_encrypted_opens_with_key_only(target)
    assert_check_clean(target, env)
    assert "note" in journal_columns(target)


def assert_old_schema_at(destination: str, run: Run, earlier: Path, env: Mapping[str, str]) -> None:
    """Restored to just before the schema change: the old schema in the journal and in
    every tenant (none ahead of its journal), every write older than the lag by then."""
    earlier.parent.mkdir()
    restore(destination, earlier, env, "--timestamp", rfc3339(run.schema_started), "--json")
    run.phase("restore at a time")
    columns = journal_columns(earlier)
    assert "note" not in columns and "seq" in columns
    for name in run.tenants:
        if name != SECRET:
            assert "note" not in file_columns(tenant_file(earlier, name)), name
    secret = cinchdb.connect(tenant=SECRET, project_dir=earlier, encryption_key=KEY)
    (seed,) = secret.query("SELECT * FROM events WHERE writer = -1")
    assert "note" not in seed and "seq" in seed
    assert_present(earlier, run, run.schema_started - run.lag)
    assert_check_clean(earlier, env)


def test_s3_replica_survives_the_machine(tmp_path: Path, moto_s3: Any, replicator: Any) -> None:
    scenario(
        tmp_path, moto_s3.url("disaster"), replicator, moto_s3.credentials,
        tenants=50, writer_count=WRITERS, seconds=iterations(6, 60),
        # Point in time from S3 in the full run only (a second restore of 50 tenants costs
        # ~12-17 s here); the file replica below restores to a point in time in CI too.
        point_in_time=FULL,
    )  # fmt: skip


def test_file_replica_survives_the_machine(tmp_path: Path, replicator: Any) -> None:
    scenario(
        tmp_path, os.fspath(tmp_path / "replica"), replicator, {},
        tenants=8, writer_count=2, seconds=iterations(4, 30), backup=True,
    )  # fmt: skip


def test_a_project_restored_to_a_point_in_time_replicates_again_to_the_same_replica(
    tmp_path: Path, replicator: Any
) -> None:
    """After a disaster the project is restored to a point in time and replication resumes
    to the SAME destination (what a user does); the first life's later writes and schema
    change were abandoned. After more writes, a schema change and a clean stop, the second
    machine is lost too: the next restore has the second life, and nothing of the abandoned
    future (no row, no column) comes back."""
    destination = os.fspath(tmp_path / "replica")
    env = writers.environment()
    first = tmp_path / "first" / "app"
    first.parent.mkdir()
    names = build_project(first, 3)

    def write(project: Path, writer: int, seqs: range) -> None:
        for name in names:
            key = KEY if name == SECRET else None
            tenant = cinchdb.connect(tenant=name, project_dir=project, encryption_key=key)
            tenant.insert("events", [{"writer": writer, "seq": seq} for seq in seqs])

    running = replicator.start(first, destination)
    write(first, 1, range(1, 6))
    # Past Litestream's sync interval and the sealing interval (1 s each), then a mark.
    time.sleep(3)
    mark = time.time()
    time.sleep(1.5)
    cinch("column", "add", "events", "abandoned:TEXT", cwd=first, env=env)
    write(first, 1, range(6, 11))
    assert running.stop() == 0, running.output()
    shutil.rmtree(first)

    second = tmp_path / "second" / "app"
    second.parent.mkdir()
    restore(destination, second, env, "--timestamp", rfc3339(mark), "--json")
    running = replicator.start(second, destination)
    cinch("column", "add", "events", "note:TEXT", cwd=second, env=env)
    write(second, 2, range(1, 6))
    assert running.stop() == 0, running.output()
    shutil.rmtree(second)

    third = tmp_path / "third" / "app"
    third.parent.mkdir()
    restore(destination, third, env, "--json")
    columns = journal_columns(third)
    assert "note" in columns and "abandoned" not in columns, columns
    for name in names:
        key = KEY if name == SECRET else None
        rows = cinchdb.connect(tenant=name, project_dir=third, encryption_key=key).query(
            "SELECT * FROM events WHERE writer > 0"
        )
        have = sorted((row["writer"], row["seq"]) for row in rows)
        assert have == [(w, s) for w in (1, 2) for s in range(1, 6)], (name, have)
        assert "note" in rows[0] and "abandoned" not in rows[0], (name, rows[0])
    assert_check_clean(third, env)
