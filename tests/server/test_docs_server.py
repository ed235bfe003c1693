"""docs/server.md: its generated tables are fresh and its examples run against a live server."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from cinchdb.server._docs import refreshed
from tests.server.conftest import LiveServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "server.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_the_generated_tables_are_fresh() -> None:
    text = DOC.read_text()
    assert refreshed(text) == text, "run: python -m cinchdb.server._docs --write docs/server.md"


def test_the_examples_run(live_server: LiveServer, capsys) -> None:
    (commands,) = blocks("bash")
    create, serve = commands.strip().splitlines()
    assert serve == "cinch serve --port 8000"  # the live server is that, on a free port
    made = subprocess.run(
        [sys.executable, "-m", "cinchdb.cli", *create.split()[1:]],
        cwd=live_server.project,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    key = made.stdout.strip()
    # The example's key may only read and write data: give it the schema change it makes.
    full = subprocess.run(
        [sys.executable, "-m", "cinchdb.cli", "key", "create", "--name", "docs"],
        cwd=live_server.project,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert key.startswith("ck_") and full.startswith("ck_")
    (example,) = blocks("python")
    exec(compile(example, str(DOC), "exec"), {"URL": live_server.url, "KEY": full})
    out = capsys.readouterr().out
    assert out == "[{'body': 'hi'}]\n412 concurrent_change\n"
