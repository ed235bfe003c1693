"""Running one measurement of a benchmark in a fresh child process (cold caches, its own
imports), and reading back the JSON line it prints last."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def in_child(script: str, name: str, work: Path, timeout: float) -> dict[str, float]:
    """Run ``script --child NAME WORK`` with this checkout first on the path; its last line."""
    out = subprocess.run(
        [sys.executable, script, "--child", name, str(work)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if out.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{out.stderr}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result
