"""The example of docs/replication.md's "Replicating continuously" section runs as written (a
shell script, in a fresh directory, with this checkout's ``cinch``), and does what it says."""

from __future__ import annotations

import re
from pathlib import Path

from tests.replication.conftest import run_shell_example

DOC = Path(__file__).resolve().parents[2] / "docs" / "replication.md"
SECTION = "Replicating continuously: `cinch replicate`"


def section() -> str:
    parts = re.split(r"^## (.+)$", DOC.read_text(), flags=re.MULTILINE)
    found = {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}
    return found[SECTION]


def test_the_example_runs(tmp_path):
    (script,) = re.findall(r"^```sh\n(.*?)^```$", section(), flags=re.DOTALL | re.MULTILINE)
    stdout, work = run_shell_example(script, tmp_path)
    assert "metadata.db" in stdout
    assert "Stopped replication" in stdout
    assert (work / "replica" / "metadata.db").is_dir()
    assert list((work / "replica").rglob("acme.db"))
    assert not (work / "app" / ".cinchdb" / "replicating.json").exists()
