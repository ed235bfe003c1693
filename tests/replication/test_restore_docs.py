"""The example of docs/replication.md's "Restoring" section runs as written (a shell script, in
a fresh directory, with this checkout's ``cinch``), and does what it says."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.replication.conftest import cinch_environment

DOC = Path(__file__).resolve().parents[2] / "docs" / "replication.md"
SECTION = "Restoring: `cinch restore`"


def section() -> str:
    parts = re.split(r"^## (.+)$", DOC.read_text(), flags=re.MULTILINE)
    found = {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}
    return found[SECTION]


def test_the_example_runs(tmp_path: Path) -> None:
    (script,) = re.findall(r"^```sh\n(.*?)^```$", section(), flags=re.DOTALL | re.MULTILINE)
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
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Restored the journal and 1 tenant file(s) into {work / 'app'}" in done.stdout
    rows = json.loads(done.stdout[done.stdout.rindex("[") :])
    assert [row["name"] for row in rows] == ["ann"]
