"""Replication, backup and restore (issue 18).

1. ``add_column`` on a project with N materialized tenants, with and without ``cinch
   replicate`` running on it (file replica), interleaved: A (no replication) and B (replicating)
   are two projects of the same shape, each change timed in this process through the SDK
   (``connect()`` outside the clock). Before the fix the issue measured 5 ms without and 30 s
   with (the template's TRUNCATE checkpoint waiting out the busy timeout behind Litestream).
2. Replication lag of tenant writes, file replica and S3 (``moto_server`` on 127.0.0.1): a row
   is inserted (its acknowledgement time taken when ``insert`` returns), then the tenant file
   is restored from the replica with the Litestream binary in a loop until the row is there;
   the lag is the start of the first restore that holds it minus the acknowledgement (so its
   resolution is one restore, ~50-150 ms). Writes are spaced by a random 0-1.5 s.
3. ``cinch restore`` of a project with 1,000 materialized tenants (one row each, one
   encrypted), from a file replica and from S3, after a clean stop of ``cinch replicate``.
   Beside it in the same run: ``litestream restore`` of one tenant file as a subprocess.
4. ``cinch backup --to DIR`` of the same project beside a raw ``sqlite3`` backup of the same
   files (``Connection.backup`` for each plain file, a byte copy for the encrypted one) in the
   same run, alternated.

Run: python benchmarks/bench_replication.py [--tenants 100] [--restore-tenants 1000]
[--rounds 5] [--lag-writes 20] [--only add,lag,restore,backup]. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import boto3
from _machine import machine_line

import cinchdb
from cinchdb.models import Column
from tests.replication import probes

ROOT = Path(__file__).resolve().parent.parent
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
KEY = "bench-key"
TIMEOUT = 600.0


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CINCHDB_", "AWS_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env | CREDENTIALS


def cinch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "cinchdb.cli", *args],
        cwd=cwd, env=environment(), capture_output=True, text=True, timeout=TIMEOUT,
        check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"cinch {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def spread(samples: Sequence[float], unit: float = 1.0, fmt: str = "{:.3f}") -> str:
    ordered = sorted(s / unit for s in samples)
    return (
        f"median {fmt.format(statistics.median(ordered))} "
        f"(min {fmt.format(ordered[0])}, max {fmt.format(ordered[-1])}, n={len(ordered)})"
    )


def build(root: Path, tenants: int, encrypted: int = 0) -> list[str]:
    """A project with table ``events`` and ``tenants`` materialized tenants of one row."""
    cinchdb.init(root)
    db = cinchdb.connect(project_dir=root)
    db.create_table("events", [Column(name="writer", type="INTEGER"),
                               Column(name="seq", type="INTEGER")])  # fmt: skip
    names = [f"t{index:04d}" for index in range(tenants)]
    for index, name in enumerate(names):
        key = KEY if index < encrypted else None
        db.create_tenant(name, encrypt=key is not None, encryption_key=key)
        cinchdb.connect(tenant=name, project_dir=root, encryption_key=key).insert(
            "events", {"writer": 0, "seq": 0}
        )
    return names


@contextlib.contextmanager
def replicating(project: Path, to: str) -> Iterator[subprocess.Popen[bytes]]:
    """``cinch replicate --to`` running on ``project``; stopped with SIGTERM (a clean stop,
    after a last sync) on the way out."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "cinchdb.cli", "replicate", "--to", to],
        cwd=project, env=environment(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (project / ".cinchdb" / "replicating.json").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"cinch replicate did not start (exit {proc.poll()})")
            time.sleep(0.05)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@contextlib.contextmanager
def moto() -> Iterator[str]:
    """A moto S3 server on a free loopback port; its endpoint."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(30)


def s3_url(endpoint: str, bucket: str, prefix: str) -> str:
    boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    ).create_bucket(Bucket=bucket)  # fmt: skip
    return f"s3://{bucket}/{prefix}?endpoint={endpoint}&region=us-east-1&force-path-style=true"


# -- 1. add_column with and without replication -------------------------------------------------
def bench_add_column(tmp: Path, tenants: int, rounds: int) -> None:
    plain, replicated = tmp / "plain", tmp / "replicated"
    build(plain, tenants)
    build(replicated, tenants)
    times: dict[str, list[float]] = {"off": [], "on": []}
    with replicating(replicated, os.fspath(tmp / "replica-add")):
        time.sleep(3)  # past Litestream's first sync of every file
        handles = {
            "off": cinchdb.connect(project_dir=plain),
            "on": cinchdb.connect(project_dir=replicated),
        }
        for index in range(rounds):
            for kind in ("off", "on") if index % 2 == 0 else ("on", "off"):
                start = time.perf_counter()
                handles[kind].add_column("events", Column(name=f"c{index}", type="TEXT"))
                times[kind].append(time.perf_counter() - start)
    ratio = statistics.median(times["on"]) / statistics.median(times["off"])
    print(f"add_column, {tenants} materialized tenants, {rounds} changes each, alternated:")
    print(f"  without replication: {spread(times['off'], 1e-3, '{:.1f}')} ms")
    print(f"  cinch replicate running (file replica): {spread(times['on'], 1e-3, '{:.1f}')} ms")
    print(f"  ratio of medians: {ratio:.2f}x")


# -- 2. replication lag -------------------------------------------------------------------------
def lag_samples(project: Path, destination: str, writes: int, work: Path) -> list[float]:
    tenant = cinchdb.connect(tenant="t0000", project_dir=project)
    lags: list[float] = []
    rng = random.Random(18)
    for seq in range(1, writes + 1):
        time.sleep(rng.uniform(0, 1.5))
        tenant.insert("events", {"writer": 1, "seq": seq})
        acked = time.time()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            started = time.time()
            out = work / f"lag-{seq}-{time.monotonic_ns()}.db"
            done = probes.restore_file(destination, probes.tenant_rel("t0000"), out, CREDENTIALS)
            holds = done.returncode == 0 and probes.max_seqs(out).get(1, -1) >= seq
            for leftover in work.glob(f"{out.name}*"):
                leftover.unlink()
            if holds:
                lags.append(max(0.0, started - acked))
                break
        else:
            raise SystemExit(f"write {seq} not in the replica after 60 s")
    return lags


def bench_lag(tmp: Path, writes: int) -> None:
    work = tmp / "lag-work"
    work.mkdir()
    print(f"replication lag of a tenant write ({writes} writes, spaced 0-1.5 s):")
    with moto() as endpoint:
        for label, destination in (
            ("file replica", os.fspath(tmp / "replica-lag")),
            ("S3 (moto, 127.0.0.1)", s3_url(endpoint, "bench-lag", "lag")),
        ):
            project = tmp / f"lag-{label.split()[0]}"
            build(project, 3)
            with replicating(project, destination):
                time.sleep(3)
                lags = lag_samples(project, destination, writes, work)
            ordered = sorted(lags)
            p50 = statistics.median(ordered)
            p90 = ordered[int(0.9 * (len(ordered) - 1))]
            print(f"  {label}: p50 {p50:.2f} s, p90 {p90:.2f} s, max {ordered[-1]:.2f} s")


# -- 3. restore of 1,000 tenants, 4. backup -----------------------------------------------------
def raw_backup(project: Path, target: Path) -> None:
    meta = project / ".cinchdb"
    for path in meta.rglob("*.db"):
        out = target / path.relative_to(meta)
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "rb") as head:
            plain = head.read(16) == b"SQLite format 3\x00"
        if not plain:
            shutil.copyfile(path, out)
            wal = path.with_name(path.name + "-wal")
            if wal.exists():
                shutil.copyfile(wal, out.with_name(out.name + "-wal"))
            continue
        source, dest = sqlite3.connect(path), sqlite3.connect(out)
        try:
            source.backup(dest)
        finally:
            source.close()
            dest.close()


def fleet(tmp: Path, tenants: int) -> Path:
    """The project of parts 3 and 4 (built once)."""
    project = tmp / "fleet"
    if project.exists():
        return project
    start = time.perf_counter()
    build(project, tenants, encrypted=1)
    print(f"a project of {tenants} materialized tenants (one encrypted), one row each"
          f" (built in {time.perf_counter() - start:.1f} s):")  # fmt: skip
    return project


def bench_restore(tmp: Path, tenants: int, runs: int) -> None:
    project = fleet(tmp, tenants)
    work = tmp / "restore-work"
    work.mkdir()
    with moto() as endpoint:
        for label, destination in (
            ("file replica", os.fspath(tmp / "replica-fleet")),
            ("S3 (moto, 127.0.0.1)", s3_url(endpoint, "bench-fleet", "fleet")),
        ):
            start = time.perf_counter()
            with replicating(project, destination):
                time.sleep(2)
            shipped = time.perf_counter() - start
            one = []
            for i in range(1, 6):
                rel, out = probes.tenant_rel(f"t{i:04d}"), work / f"one-{i}.db"
                start = time.perf_counter()
                probes.restore_file(destination, rel, out, CREDENTIALS)
                one.append(time.perf_counter() - start)
            took = []
            for attempt in range(runs):
                target = tmp / f"restored-{label.split()[0]}-{attempt}"
                start = time.perf_counter()
                cinch("restore", "--from", destination, "--to", os.fspath(target), "--json",
                      cwd=tmp)  # fmt: skip
                took.append(time.perf_counter() - start)
                shutil.rmtree(target)
            print(
                f"  {label}: replicate start + clean stop {shipped:.1f} s; cinch restore"
                f" {', '.join(f'{t:.1f}' for t in took)} s"
                f" ({1000 * min(took) / tenants:.1f} ms per tenant at best);"
                f" litestream restore of one file {spread(one, 1e-3, '{:.0f}')} ms"
            )


def bench_backup(tmp: Path, tenants: int, rounds: int) -> None:
    project = fleet(tmp, tenants)
    backup_times, raw_times = [], []
    for index in range(rounds):
        order = ("backup", "raw") if index % 2 == 0 else ("raw", "backup")
        for kind in order:
            target = tmp / f"{kind}-{index}"
            if kind == "backup":
                start = time.perf_counter()
                cinch("backup", "--to", os.fspath(target), "--json", cwd=project)
                backup_times.append(time.perf_counter() - start)
            else:
                start = time.perf_counter()
                raw_backup(project, target)
                raw_times.append(time.perf_counter() - start)
            shutil.rmtree(target)
    print(f"  cinch backup (a process, CLI start-up included): {spread(backup_times)} s")
    print(f"  raw sqlite3 backup of the same files (in this process): {spread(raw_times)} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--restore-tenants", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lag-writes", type=int, default=20)
    parser.add_argument("--restore-runs", type=int, default=2)
    parser.add_argument("--only", default="add,lag,restore,backup", help="comma-separated parts")
    args = parser.parse_args()
    print(machine_line())
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="bench-replication-", dir="/tmp") as tmp:
        base = Path(tmp)
        parts = args.only.split(",")
        if "add" in parts:
            bench_add_column(base, args.tenants, args.rounds)
        if "lag" in parts:
            bench_lag(base, args.lag_writes)
        if "backup" in parts:
            bench_backup(base, args.restore_tenants, args.rounds)
        if "restore" in parts:
            bench_restore(base, args.restore_tenants, args.restore_runs)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
