"""Fixtures for replication: a real S3 server (moto) on 127.0.0.1, and ``cinch replicate`` as a
real subprocess.

- ``moto_s3``: a ``moto_server`` process on a free loopback port, stopped after the session;
  ``.endpoint``, ``.bucket(name)`` (creates it, returns the name), ``.url(prefix)`` (the
  ``s3://`` destination), ``.credentials`` (the environment Litestream needs; any key works).
- ``replicator``: ``start(project_dir, to, env=None)`` runs ``cinch replicate --to`` in a child
  process and waits until Litestream is up (``replicating.json`` written); every child is
  stopped and reaped at teardown.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
_buckets = itertools.count()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class MotoS3:
    """A running moto S3 server."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.credentials = dict(CREDENTIALS)
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def bucket(self, name: str | None = None) -> str:
        """Create bucket ``name`` (default: a fresh one) and return its name."""
        name = name or f"cinch-test-{next(_buckets)}-{os.getpid()}"
        self.client.create_bucket(Bucket=name)
        return name

    def url(self, prefix: str = "replica", bucket: str | None = None) -> str:
        """The ``s3://`` destination for ``prefix`` in ``bucket`` (default: a fresh bucket)."""
        bucket = bucket or self.bucket()
        return (
            f"s3://{bucket}/{prefix}?endpoint={self.endpoint}&region=us-east-1"
            "&force-path-style=true"
        )

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every object key under ``prefix`` in ``bucket``."""
        found: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix
        ):
            found += [item["Key"] for item in page.get("Contents", [])]
        return found


def _moto_command(port: int) -> list[str]:
    return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    port = free_port()
    proc = subprocess.Popen(
        _moto_command(port),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start on {endpoint}") from None
                time.sleep(0.05)
        yield MotoS3(endpoint)
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[Any], timeout: float = STOP_TIMEOUT) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout)


def cinch_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a ``cinch`` child: this worktree first on the path, no project
    variables inherited, the S3 credentials, then ``extra``."""
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("CINCHDB_", "AWS_"))
    }
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.update(CREDENTIALS)
    env.update(extra or {})
    return env


def run_shell_example(script: str, tmp_path: Path, *, timeout: float = 180) -> tuple[str, Path]:
    """Run a documented shell example as written (``bash -e``) in a fresh directory, with this
    checkout's ``cinch`` (run by this interpreter) first on the path; its stdout and the
    directory it ran in. Fails the test, with the output, when the script fails."""
    shim = tmp_path / "bin" / "cinch"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m cinchdb.cli "$@"\n')
    shim.chmod(0o755)
    env = cinch_environment()
    env["PATH"] = f"{shim.parent}:{env['PATH']}"
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout, work


class Replicator:
    """A ``cinch replicate`` child process."""

    def __init__(self, proc: subprocess.Popen[str], project: Path, log: Path) -> None:
        self.proc = proc
        self.project = project
        self.log = log
        self.litestream: int | None = None

    @property
    def meta_dir(self) -> Path:
        return self.project / ".cinchdb"

    def marker(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.meta_dir / "replicating.json").read_text())
        return data

    @property
    def litestream_pid(self) -> int:
        return int(self.marker()["litestream_pid"])

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not (self.meta_dir / "replicating.json").exists():
            if self.proc.poll() is not None:
                code = self.proc.returncode
                raise RuntimeError(f"cinch replicate exited {code}:\n{self.output()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"cinch replicate not ready in {timeout} s:\n{self.output()}")
            time.sleep(0.05)
        self.litestream = self.litestream_pid

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM (a clean stop after a last sync); its exit status."""
        _stop(self.proc, timeout)
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL the replicator and Litestream (the machine dies)."""
        self.kill_litestream()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(STOP_TIMEOUT)

    def kill_litestream(self) -> None:
        """SIGKILL Litestream only (it runs in its own process group)."""
        if self.litestream is None:
            return
        # Only the Litestream this replicator started: its pid may have been reused since.
        with contextlib.suppress(OSError):
            if b"litestream" in Path(f"/proc/{self.litestream}/cmdline").read_bytes():
                os.kill(self.litestream, signal.SIGKILL)


class Replicators:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.started: list[Replicator] = []

    def start(
        self,
        project: Path,
        to: str,
        env: Mapping[str, str] | None = None,
        *args: str,
        wait: bool = True,
    ) -> Replicator:
        log = self.tmp / f"replicate-{len(self.started)}.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "cinchdb.cli", "replicate", "--to", to, *args],
                cwd=project,
                env=cinch_environment(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                # Its own group, so a kill reaches Litestream too.
                start_new_session=True,
            )
        replicator = Replicator(proc, project, log)
        self.started.append(replicator)
        if wait:
            replicator.wait_ready()
        return replicator

    def close(self) -> None:
        for replicator in self.started:
            if replicator.proc.poll() is None:
                replicator.stop()
            # A Litestream orphaned by a SIGKILLed replicator.
            replicator.kill_litestream()


@pytest.fixture
def replicator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicators]:
    replicators = Replicators(tmp_path_factory.mktemp("replicate-logs"))
    try:
        yield replicators
    finally:
        replicators.close()
