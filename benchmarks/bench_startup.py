"""Start-up: CLI commands as new processes beside ``python -c "import sqlite3"``.

Each command runs as a new process, the way a user or a deploy script runs it, 10 times
(``--runs``), interleaved round by round with the baseline so that load on the shared machine
falls on every command alike. Reports the median wall time of each and its ratio to the
median of the baseline in the same run. Targets (issue 14): ``cinch query "SELECT 1"`` <= 6x
the baseline, ``cinch --help`` <= 3x.

The CLI runs as ``python -m cinchdb.cli`` with this checkout first on ``PYTHONPATH``, so the
figures are the checkout's (the console script does the same import and nothing more); the
baseline runs on the same interpreter, with the same ``site`` start-up.

The project is made once by ``cinch init`` in a temporary directory, with a table ``users``
for ``cinch data insert`` and one key for ``cinch kv get``.

Bytecode: an installed CinchDB has its ``.pyc`` files (pip compiles them at install), so the
children run without ``PYTHONDONTWRITEBYTECODE`` and the warm-up run writes them. With
``--no-bytecode`` the environment's setting is kept: with it set, every run compiles the
project's modules from source (about 60 ms on this machine for the query path).

Run: python benchmarks/bench_startup.py [--runs N] [--no-bytecode]. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine_line

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "python -c 'import sqlite3'"
COMMANDS: dict[str, list[str]] = {
    BASELINE: [sys.executable, "-c", "import sqlite3"],
    "cinch --help": ["--help"],
    "cinch --version": ["--version"],
    'cinch query "SELECT 1"': ["query", "SELECT 1"],
    "cinch query ... FROM users --json": ["query", "SELECT * FROM users LIMIT 5", "--json"],
    "cinch data insert users ...": ["data", "insert", "users", '{"name": "bench"}'],
    "cinch kv get greeting": ["kv", "get", "greeting"],
}
TARGETS = {"cinch --help": 3.0, 'cinch query "SELECT 1"': 6.0}


def _environment(bytecode: bool) -> dict[str, str]:
    env = dict(os.environ)
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _argv(args: list[str]) -> list[str]:
    if args and args[0] == sys.executable:
        return args
    return [sys.executable, "-m", "cinchdb.cli", *args]


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(_argv(args), cwd=cwd, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{args} failed ({done.returncode}): {done.stderr.decode()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-bytecode", action="store_true", help="keep PYTHONDONTWRITEBYTECODE")
    arguments = parser.parse_args()
    runs = arguments.runs
    bytecode = not arguments.no_bytecode
    print(machine_line())
    pyc = "written and used" if bytecode else "as the environment says"
    print(f"checkout: {ROOT}; .pyc files: {pyc}")
    env = _environment(bytecode)
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "proj"
        for setup in (
            ["init", str(project)],
            ["table", "create", "users", "name:TEXT"],
            ["kv", "set", "greeting", "hello"],
        ):
            _run(setup, project if project.exists() else Path(tmp), env)
        samples: dict[str, list[float]] = {name: [] for name in COMMANDS}
        for args in COMMANDS.values():  # warm the page cache and .pyc files once
            _run(args, project, env)
        for _ in range(runs):
            for name, args in COMMANDS.items():
                samples[name].append(_run(args, project, env))
    base = statistics.median(samples[BASELINE])
    print(f"{runs} runs each, interleaved; median (min-max) wall time of a new process")
    print(f"{'command':<38} {'median':>9} {'min-max':>17} {'ratio':>7}  target")
    for name, times in samples.items():
        median = statistics.median(times)
        ratio = median / base
        target = TARGETS.get(name)
        verdict = ""
        if target is not None:
            verdict = f"<= {target:g}x: {'met' if ratio <= target else 'NOT met'}"
        spread = f"{min(times) * 1e3:.0f}-{max(times) * 1e3:.0f} ms"
        print(f"{name:<38} {median * 1e3:>6.0f} ms {spread:>17} {ratio:>6.1f}x  {verdict}")


if __name__ == "__main__":
    main()
