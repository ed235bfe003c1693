"""The README's replication block runs as written (a shell script in a fresh directory, with
this checkout's ``cinch``): replicate, back up, lose the project, restore both ways."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.replication.conftest import cinch_environment, run_shell_example

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_block_runs(tmp_path: Path) -> None:
    (script,) = re.findall(
        r"<!-- replication-quickstart -->\n```bash\n(.*?)^```$",
        README.read_text(),
        flags=re.DOTALL | re.MULTILINE,
    )
    stdout, work = run_shell_example(script, tmp_path)
    assert f"into {work / 'shop'}" in stdout
    assert f"into {work / 'shop-copy'}" in stdout
    rows = json.loads(stdout[stdout.rindex("[") :])
    assert [row["item"] for row in rows] == ["tea"]
    with_copy = subprocess.run(
        [
            sys.executable,
            "-m",
            "cinchdb.cli",
            "query",
            "SELECT item FROM orders",
            "-t",
            "acme",
            "--json",
        ],
        cwd=work / "shop-copy",
        env=cinch_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert [row["item"] for row in json.loads(with_copy.stdout)] == ["tea"]
