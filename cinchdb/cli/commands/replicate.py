"""``cinch replicate``: continuous replication of the project with Litestream; status; stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType

import click

from cinchdb._replica_durability import REPLICATING_FILE
from cinchdb.cli._context import json_option
from cinchdb.cli._render import done, emit_json, table
from cinchdb.errors import LitestreamFailedError
from cinchdb.project import CINCHDB_DIR, find_project
from cinchdb.replication.destination import parse_destination
from cinchdb.replication.litestream import last_line
from cinchdb.replication.supervisor import (
    DEFAULT_INTERVAL,
    LOG_FILE,
    PID_FILE,
    Supervisor,
    replication_status,
    stop_replication,
)

#: Seconds ``--detach`` waits for the background replicator to be up.
DETACH_TIMEOUT = 60.0


@click.group("replicate", invoke_without_command=True)
@click.option("--to", "to", metavar="URL",
              help="Where to: a directory, file:///dir, or"
                   " s3://bucket/prefix?endpoint=URL&region=R&force-path-style=true.")  # fmt: skip
@click.option("--detach", is_flag=True,
              help="Run in the background (log: .cinchdb/replicate.log); stop it with"
                   " 'cinch replicate stop'.")  # fmt: skip
@click.option("--pid-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the replicator's pid"
                   " (default: .cinchdb/replicate.pid).")  # fmt: skip
@click.option("--interval", type=click.FloatRange(0.1, 3600), default=DEFAULT_INTERVAL,
              show_default=True, metavar="SECONDS",
              help="How often encrypted tenants are sealed and Litestream checked.")  # fmt: skip
@json_option
@click.pass_context
def replicate_group(ctx: click.Context, to: str | None, detach: bool, pid_file: Path | None,
                    interval: float, as_json: bool) -> None:  # fmt: skip
    """Replicate the project continuously with Litestream (to a directory or S3); status; stop.

    Runs in the foreground with a status line per event until Ctrl-C or SIGTERM, which stop it
    after a last sync. S3 credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY;
    Litestream gets no other variable of your environment.

    \b
    Example:
      cinch replicate --to /mnt/backup/app
      cinch replicate --to 's3://my-bucket/app?region=eu-west-1' --detach
      cinch replicate status
      cinch replicate stop
    """
    if ctx.invoked_subcommand is not None:
        if to is not None or detach:
            raise click.UsageError("--to and --detach go before no subcommand")
        return
    if to is None:
        raise click.UsageError("Missing option '--to' (where to replicate)")
    project = find_project()
    destination = parse_destination(to)
    meta_dir = project / CINCHDB_DIR
    if detach:
        _detach(project, to, pid_file, interval, as_json)
        return

    def status(line: str) -> None:
        stamp = datetime.now(timezone.utc).strftime("%H:%M:%S")
        if as_json:
            emit_json({"time": stamp, "status": line})
        else:
            click.echo(f"{stamp} {line}")

    supervisor = Supervisor(
        project,
        destination,
        interval=interval,
        pid_file=pid_file or meta_dir / PID_FILE,
        on_status=status,
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        supervisor.stop()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        supervisor.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    status("Stopped")


def _detach(project: Path, to: str, pid_file: Path | None, interval: float,
            as_json: bool) -> None:  # fmt: skip
    meta_dir = project / CINCHDB_DIR
    log_path = meta_dir / LOG_FILE
    command = [sys.executable, "-m", "cinchdb.cli", "replicate", "--to", to,
               "--interval", str(interval)]  # fmt: skip
    if pid_file is not None:
        command += ["--pid-file", os.fspath(pid_file.resolve())]
    with open(log_path, "ab") as log:
        child = subprocess.Popen(
            command,
            cwd=project,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + DETACH_TIMEOUT
    marker = meta_dir / REPLICATING_FILE
    while not (marker.exists() and f'"pid": {child.pid},' in _read(marker)):
        if child.poll() is not None:
            raise LitestreamFailedError("start in the background", last_line(_read(log_path)))
        if time.monotonic() > deadline:
            raise LitestreamFailedError(
                "start in the background", f"not up within {DETACH_TIMEOUT:.0f} s; see {log_path}"
            )
        time.sleep(0.05)
    done(
        f"Replicating in the background (pid {child.pid}); log: {log_path};"
        " stop it with 'cinch replicate stop'",
        as_json,
        {"pid": child.pid, "log": os.fspath(log_path)},
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


@replicate_group.command("status")
@json_option
def status_command(as_json: bool) -> None:
    """Show each replicated file: local and replicated transaction, last sync, lag.

    \b
    Example:
      cinch replicate status --json
    """
    marker, files = replication_status(find_project())
    if as_json:
        emit_json({**marker, "files": [f.to_json() for f in files]})
        return
    click.echo(f"Replicating to {marker['destination']} (pid {marker['pid']})")
    table(
        [
            {
                "file": f.path,
                "status": f.status,
                "local txid": f.local_txid or "",
                "replicated txid": f.replicated_txid or "",
                "last sync": f.last_sync or "",
                "lag": "" if f.lag_seconds is None else f"{f.lag_seconds:.1f}s",
            }
            for f in files
        ]
    )


@replicate_group.command("stop")
@json_option
def stop_command(as_json: bool) -> None:
    """Stop the project's replicator after a last sync.

    \b
    Example:
      cinch replicate stop
    """
    pid = stop_replication(find_project())
    done(f"Stopped replication (pid {pid})", as_json, {"pid": pid})
