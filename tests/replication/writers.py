"""Writer processes for the disaster scenarios, and their acknowledgement logs.

A writer is a real process (``python -m tests.replication.writers ...``) that inserts rows
``(writer, seq)`` into its tenants round-robin and, AFTER each insert returned, appends one JSON
line ``{"w", "t", "s", "at"}`` to its log: the log is what a client could prove it was told
("acknowledged at ``at``"). The log lives outside the project, so it survives the project
directory being deleted; a SIGKILL can lose at most the line of the write in flight, which was
then never acknowledged to anyone. A write that raised is logged as ``{"error": ...}`` and not
retried, so the test can say whether writers were refused while replication ran.

The key of an encrypted tenant comes from the environment (``CINCH_E2E_KEY``), never argv.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import cinchdb
from cinchdb.errors import CinchError

KEY_ENV = "CINCH_E2E_KEY"
TABLE = "events"
ROOT = Path(__file__).resolve().parents[2]


def command(
    project: Path,
    writer: int,
    tenants: Sequence[str],
    log: Path,
    *,
    seconds: float,
    max_writes: int,
    pause: float,
    encrypted: Sequence[str] = (),
) -> list[str]:
    """The argv of one writer process."""
    argv = [
        sys.executable, "-m", "tests.replication.writers", str(project), str(writer),
        ",".join(tenants), str(log), "--seconds", str(seconds), "--max-writes", str(max_writes),
        "--pause", str(pause),
    ]  # fmt: skip
    if encrypted:
        argv += ["--encrypted", ",".join(encrypted)]
    return argv


def environment(key: str | None = None) -> dict[str, str]:
    """The environment of a writer: this checkout first on the path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CINCHDB_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    if key is not None:
        env[KEY_ENV] = key
    return env


def read_log(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The acknowledged writes of one log, and its errors. A last line cut by SIGKILL is the
    write in flight, never acknowledged: it is dropped."""
    acked: list[dict[str, Any]] = []
    errors: list[str] = []
    if not path.exists():
        return acked, errors
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "error" in entry:
            errors.append(entry["error"])
        else:
            acked.append(entry)
    return acked, errors


def read_logs(paths: Sequence[Path]) -> tuple[list[dict[str, Any]], list[str]]:
    """Every acknowledged write and every error of ``paths``."""
    acked: list[dict[str, Any]] = []
    errors: list[str] = []
    for path in paths:
        more, failed = read_log(path)
        acked += more
        errors += failed
    return acked, errors


def by_tenant(acked: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Acknowledged writes grouped by tenant, in log order."""
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for entry in acked:
        grouped.setdefault(entry["t"], []).append(entry)
    return grouped


def _handles(project: Path, tenants: Sequence[str], encrypted: set[str]) -> Iterator[Any]:
    key = os.environ.get(KEY_ENV)
    for tenant in tenants:
        yield cinchdb.connect(
            tenant=tenant,
            project_dir=project,
            encryption_key=key if tenant in encrypted else None,
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="writers")
    parser.add_argument("project", type=Path)
    parser.add_argument("writer", type=int)
    parser.add_argument("tenants")
    parser.add_argument("log", type=Path)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--max-writes", type=int, required=True)
    parser.add_argument("--pause", type=float, default=0.01)
    parser.add_argument("--encrypted", default="")
    args = parser.parse_args(argv)
    tenants = args.tenants.split(",")
    encrypted = set(filter(None, args.encrypted.split(",")))
    handles = list(_handles(args.project, tenants, encrypted))
    deadline = time.monotonic() + args.seconds
    # O_APPEND + one os.write per line: a line is whole in the page cache once write returns,
    # and a SIGKILL of this process does not drop the page cache.
    fd = os.open(args.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for seq in range(args.max_writes):
            if time.monotonic() > deadline:
                break
            index = seq % len(tenants)
            try:
                handles[index].insert(TABLE, {"writer": args.writer, "seq": seq})
            except CinchError as error:
                line = {"error": f"{tenants[index]} seq {seq}: {type(error).__name__}: {error}"}
            else:
                line = {"w": args.writer, "t": tenants[index], "s": seq, "at": time.time()}
            os.write(fd, (json.dumps(line) + "\n").encode())
            time.sleep(args.pause)
    finally:
        os.close(fd)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
