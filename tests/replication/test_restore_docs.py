"""The example of docs/replication.md's "Restoring" section runs as written (a shell script, in
a fresh directory, with this checkout's ``cinch``), and does what it says."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.replication.conftest import run_shell_example

DOC = Path(__file__).resolve().parents[2] / "docs" / "replication.md"
SECTION = "Restoring: `cinch restore`"


def section() -> str:
    parts = re.split(r"^## (.+)$", DOC.read_text(), flags=re.MULTILINE)
    found = {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}
    return found[SECTION]


def test_the_example_runs(tmp_path: Path) -> None:
    (script,) = re.findall(r"^```sh\n(.*?)^```$", section(), flags=re.DOTALL | re.MULTILINE)
    stdout, work = run_shell_example(script, tmp_path)
    assert f"Restored the journal and 1 tenant file(s) into {work / 'app'}" in stdout
    rows = json.loads(stdout[stdout.rindex("[") :])
    assert [row["name"] for row in rows] == ["ann"]
