"""The example of docs/replication.md's "Replicating continuously" section runs as written (a
shell script, in a fresh directory, with this checkout's ``cinch``), and does what it says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from .conftest import cinch_environment

DOC = Path(__file__).resolve().parents[2] / "docs" / "replication.md"
SECTION = "Replicating continuously: `cinch replicate`"


def section() -> str:
    parts = re.split(r"^## (.+)$", DOC.read_text(), flags=re.MULTILINE)
    found = {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}
    return found[SECTION]


def test_the_example_runs(tmp_path):
    (script,) = re.findall(r"^```sh\n(.*?)^```$", section(), flags=re.DOTALL | re.MULTILINE)
    # `cinch` is this checkout's, run by this interpreter.
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
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "metadata.db" in done.stdout
    assert "Stopped replication" in done.stdout
    assert (work / "replica" / "metadata.db").is_dir()
    assert list((work / "replica").rglob("acme.db"))
    assert not (work / "app" / ".cinchdb" / "replicating.json").exists()
