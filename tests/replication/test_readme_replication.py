"""The README's replication block runs as written (a shell script in a fresh directory, with
this checkout's ``cinch``): replicate, back up, lose the project, restore both ways."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.replication.conftest import cinch_environment

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_block_runs(tmp_path: Path) -> None:
    (script,) = re.findall(
        r"<!-- replication-quickstart -->\n```bash\n(.*?)^```$",
        README.read_text(),
        flags=re.DOTALL | re.MULTILINE,
    )
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
    assert f"into {work / 'shop'}" in done.stdout
    assert f"into {work / 'shop-copy'}" in done.stdout
    rows = json.loads(done.stdout[done.stdout.rindex("[") :])
    assert [row["item"] for row in rows] == ["tea"]
    with_copy = subprocess.run(
        ["cinch", "query", "SELECT item FROM orders", "--tenant", "acme", "--json"],
        cwd=work / "shop-copy",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert [row["item"] for row in json.loads(with_copy.stdout)] == ["tea"]
