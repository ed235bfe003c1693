"""``cinch replicate``: Litestream as a child process, watched, and stopped cleanly.

One replicator per project: it holds an exclusive lock on ``.cinchdb/replicate.lock`` for its
whole life (the kernel drops it when the process dies, so a killed replicator never blocks the
next). Once Litestream answers on its control socket it writes ``.cinchdb/replicating.json``
(see :mod:`cinchdb._replica_durability`, which every schema change reads) and the pid file.
Every ``interval`` it seals changed encrypted tenants (their envelopes are plain SQLite files
under ``.cinchdb/_sealed/`` that Litestream replicates like any other). On :meth:`stop` (the
CLI calls it on SIGTERM / SIGINT) it seals once more, asks Litestream to ship every database and
wait, stops Litestream, and removes the marker and the pid file.

The library never prints: status lines go to the ``on_status`` callback.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import attrs

from cinchdb._replica_durability import (
    METADATA_FILE,
    REPLICATING_FILE,
    ControlSocketError,
    pid_alive,
    read_marker,
)
from cinchdb.errors import (
    LitestreamFailedError,
    ReplicationNotRunningError,
    ReplicationRunningError,
    SealError,
)
from cinchdb.project import CINCHDB_DIR
from cinchdb.replication.control import ControlClient, socket_path_for
from cinchdb.replication.destination import Destination
from cinchdb.replication.litestream import (
    clean_environment,
    find_binary,
    last_line,
    replicate_config,
    write_config,
)
from cinchdb.replication.sealed import Sealer

__all__ = [
    "DEFAULT_INTERVAL",
    "FileStatus",
    "Supervisor",
    "replication_status",
    "stop_replication",
]

LOCK_FILE = "replicate.lock"
PID_FILE = "replicate.pid"
LOG_FILE = "replicate.log"
CONFIG_FILE = "litestream.json"
LITESTREAM_LOG = "litestream.log"
#: Seconds between sealed-copy passes and health checks.
DEFAULT_INTERVAL = 1.0
#: Seconds Litestream has to answer on its control socket after starting.
START_TIMEOUT = 30.0
#: Seconds the last sync of each database may take when stopping.
FINAL_SYNC_TIMEOUT = 10.0
#: Seconds Litestream has to exit after SIGTERM before it is killed.
EXIT_TIMEOUT = 15.0

SealPass = Callable[[], Sequence[object]]
StatusCallback = Callable[[str], None]


class Supervisor:
    """Runs Litestream over one project until :meth:`stop`."""

    def __init__(
        self,
        project_dir: Path,
        destination: Destination,
        *,
        interval: float = DEFAULT_INTERVAL,
        pid_file: Path | None = None,
        sealer: SealPass | None = None,
        on_status: StatusCallback | None = None,
    ) -> None:
        self.project_dir = Path(project_dir).resolve()
        self.meta_dir = self.project_dir / CINCHDB_DIR
        self.destination = destination
        self.interval = interval
        self.pid_file = pid_file if pid_file is not None else self.meta_dir / PID_FILE
        # Encrypted tenants reach the replica as envelopes (plain SQLite files under
        # .cinchdb/_sealed/, which Litestream replicates like any other): see sealed.py.
        self.sealer = sealer if sealer is not None else Sealer(self.meta_dir).sync
        self.on_status = on_status or (lambda line: None)
        self.socket_path = socket_path_for(self.meta_dir)
        self.control = ControlClient(self.socket_path)
        self._stop = threading.Event()
        self._lock: IO[bytes] | None = None
        self._litestream: subprocess.Popen[bytes] | None = None
        self._replicated: set[str] = set()

    # -- lifecycle -----------------------------------------------------------------------------

    def run(self) -> None:
        """Start, replicate until :meth:`stop` is called (from a signal handler or another
        thread), then stop cleanly.

        Raises:
            ReplicationRunningError: another replicator runs for this project.
            LitestreamNotFoundError: no binary.
            LitestreamFailedError: Litestream did not start, or died.
        """
        self._acquire_lock()
        try:
            self._start_litestream()
            try:
                self._loop()
            finally:
                self._shutdown()
        finally:
            self._release_lock()

    def stop(self) -> None:
        """Ask :meth:`run` to stop after a last sync (safe from a signal handler)."""
        self._stop.set()

    def _acquire_lock(self) -> None:
        lock = open(self.meta_dir / LOCK_FILE, "a+b")  # noqa: SIM115 - held for run()'s life
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            marker = read_marker(self.meta_dir)
            raise ReplicationRunningError(
                str(self.project_dir), marker.pid if marker else _read_pid(self.pid_file)
            ) from None
        self._lock = lock

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _start_litestream(self) -> None:
        binary = find_binary()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)  # left by a killed Litestream: it refuses to bind
        config = write_config(
            replicate_config(self.meta_dir, self.destination, socket_path=self.socket_path),
            self.meta_dir / CONFIG_FILE,
        )
        self._sealed_pass()  # envelopes exist before Litestream first scans the directory
        log = open(self.meta_dir / LITESTREAM_LOG, "wb")  # noqa: SIM115 - the child's stderr
        with log:
            self._litestream = subprocess.Popen(
                [binary, "replicate", "-config", os.fspath(config)],
                env=clean_environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group: a Ctrl-C in the terminal reaches the replicator only,
                # which then stops Litestream after a last sync.
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self._litestream.poll() is not None:
                raise LitestreamFailedError("start", self._litestream_said())
            try:
                self.control.info()
                break
            except ControlSocketError:
                if time.monotonic() > deadline:
                    self._terminate_litestream()
                    raise LitestreamFailedError(
                        "start", f"no answer on its control socket within {START_TIMEOUT:.0f} s"
                    ) from None
                time.sleep(0.05)
        self._write_marker()
        self.on_status(
            f"Replicating {self.meta_dir} to {self.destination.describe()}"
            f" (pid {os.getpid()}, litestream pid {self._litestream.pid})"
        )

    def _write_marker(self) -> None:
        assert self._litestream is not None
        marker = {
            "pid": os.getpid(),
            "litestream_pid": self._litestream.pid,
            "socket": self.socket_path,
            "destination": self.destination.describe(),
            "started_at": _now(),
        }
        _write_atomic(self.meta_dir / REPLICATING_FILE, json.dumps(marker, indent=2) + "\n")
        _write_atomic(self.pid_file, f"{os.getpid()}\n")

    def _loop(self) -> None:
        assert self._litestream is not None
        while not self._stop.wait(self.interval):
            if self._litestream.poll() is not None:
                raise LitestreamFailedError("replicate", self._litestream_said())
            self._sealed_pass()
            self._report_new_files()

    def _sealed_pass(self) -> None:
        try:
            sealed = self.sealer()
        except SealError as e:
            # Writers held the tenant's WAL through every attempt: the next pass tries again.
            self.on_status(f"Not sealed this time: {e}")
            return
        if sealed:
            self.on_status(f"Sealed {len(sealed)} encrypted tenant(s)")

    def _report_new_files(self) -> None:
        try:
            listed = self.control.databases()
        except ControlSocketError:
            return  # a busy Litestream; the next pass asks again
        paths = {str(row.get("path", "")) for row in listed}
        new = paths - self._replicated
        if new:
            self._replicated |= new
            self.on_status(f"Replicating {len(self._replicated)} file(s) ({len(new)} new)")

    def _shutdown(self) -> None:
        try:
            if self._litestream is not None and self._litestream.poll() is None:
                self._sealed_pass()
                self._final_sync()
        finally:
            self._terminate_litestream()
            for path in (self.meta_dir / REPLICATING_FILE, self.pid_file):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.socket_path)

    def _final_sync(self) -> None:
        try:
            paths = [str(row["path"]) for row in self.control.databases() if row.get("path")]
        except ControlSocketError:
            paths = [os.fspath(self.meta_dir / METADATA_FILE)]
        failed = 0
        for path in paths:
            try:
                self.control.sync(Path(path), timeout=FINAL_SYNC_TIMEOUT)
            except ControlSocketError:
                failed += 1
        note = f" ({failed} did not confirm)" if failed else ""
        self.on_status(f"Last sync of {len(paths)} file(s) done{note}; stopping")

    def _terminate_litestream(self) -> None:
        proc = self._litestream
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _litestream_said(self) -> str:
        try:
            text = (self.meta_dir / LITESTREAM_LOG).read_text(errors="replace")
        except OSError:
            text = ""
        code = self._litestream.returncode if self._litestream is not None else None
        return f"{last_line(text)} (exit status {code})"


# -- status and stop, from another process ------------------------------------------------------


@attrs.frozen
class FileStatus:
    """One replicated file: its path relative to ``.cinchdb/``, Litestream's local and
    replicated transaction ids, when it last synced and how far the replica is behind."""

    path: str
    status: str
    local_txid: str | None
    replicated_txid: str | None
    last_sync: str | None
    lag_seconds: float | None

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


def replication_status(project_dir: Path) -> tuple[dict[str, Any], list[FileStatus]]:
    """The running replicator's marker and each replicated file's status.

    Raises:
        ReplicationNotRunningError: no replicator runs for this project.
    """
    meta_dir = Path(project_dir).resolve() / CINCHDB_DIR
    marker = read_marker(meta_dir)
    if marker is None:
        raise ReplicationNotRunningError(str(Path(project_dir).resolve()))
    control = ControlClient(marker.socket)
    try:
        listed = control.databases()
        detail = {str(row.get("path")): row for row in control.sync_status()}
    except ControlSocketError as e:
        raise LitestreamFailedError("answer on its control socket", str(e)) from e
    now = datetime.now(timezone.utc)
    files = []
    for row in listed:
        path = str(row.get("path", ""))
        try:
            positions = control.positions(Path(path))
        except ControlSocketError:
            positions = {}  # a file Litestream is still opening: its status says so
        info = {**detail.get(path, {}), **positions, **row}
        local = _txid(info, "txid", "local_txid", "pos_txid")
        replicated = _txid(info, "replicated_txid", "replica_txid", "remote_txid")
        last = info.get("last_sync_at") or None
        lag: float | None = None
        if local is not None and local == replicated:
            lag = 0.0
        elif isinstance(last, str):
            with contextlib.suppress(ValueError):
                lag = max(0.0, (now - _parse_time(last)).total_seconds())
        rel = os.path.relpath(path, meta_dir) if path.startswith(os.fspath(meta_dir)) else path
        files.append(
            FileStatus(
                path=rel,
                status=str(info.get("status", "")),
                local_txid=local,
                replicated_txid=replicated,
                last_sync=last if isinstance(last, str) else None,
                lag_seconds=lag,
            )
        )
    files.sort(key=lambda f: f.path)
    return marker.to_json(), files


def stop_replication(project_dir: Path, *, timeout: float = 60.0) -> int:
    """SIGTERM the project's replicator and wait until it exits (after its last sync); its pid.

    Raises:
        ReplicationNotRunningError: no replicator runs for this project.
    """
    meta_dir = Path(project_dir).resolve() / CINCHDB_DIR
    marker = read_marker(meta_dir)
    pid = marker.pid if marker is not None else _read_pid(meta_dir / PID_FILE)
    if pid <= 0 or not pid_alive(pid):
        raise ReplicationNotRunningError(str(Path(project_dir).resolve()))
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        # A detached replicator is not our child: nothing to reap, so poll its marker's end.
        if not (meta_dir / REPLICATING_FILE).exists() and not _held(meta_dir / LOCK_FILE):
            break
        time.sleep(0.05)
    return pid


def _held(lock_path: Path) -> bool:
    try:
        with open(lock_path, "a+b") as lock:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
            return False
    except OSError:
        return False


def _read_pid(path: Path) -> int:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return 0


def _txid(info: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = info.get(key)
        if value not in (None, ""):
            return str(value)
    return None


def _parse_time(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _write_atomic(path: Path, text: str) -> None:
    scratch = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    scratch.write_text(text)
    os.replace(scratch, path)


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: Linux sends it SIGTERM when the replicator dies (a
    replicator killed with SIGKILL must not leave Litestream running, holding the socket)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
