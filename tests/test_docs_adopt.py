"""docs/data.md, "Adopting an existing database": its examples run as written, print what the
doc says they print, and its command-line block runs in real processes."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "data.md"
HEADING = "## Adopting an existing database"


def section() -> str:
    text = DOC.read_text()
    start = text.index(HEADING)
    following = re.search(r"^## ", text[start + len(HEADING) :], flags=re.MULTILINE)
    return text[start : start + len(HEADING) + following.start()] if following else text[start:]


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", section(), flags=re.DOTALL)


def cinch(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CINCHDB_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "cinchdb.cli", *argv],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_section_has_examples():
    assert len(blocks("python")) == 2
    assert len(blocks("text")) == 2
    assert len(blocks("bash")) == 1


def test_python_examples_print_what_the_doc_says(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("CINCHDB_PROJECT_DIR", "CINCHDB_DATABASE", "CINCHDB_BRANCH"):
        monkeypatch.delenv(name, raising=False)
    namespace: dict[str, object] = {"__name__": "docs_adopt"}
    for code, expected in zip(blocks("python"), blocks("text"), strict=True):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, str(DOC), "exec"), namespace)
        assert out.getvalue() == expected


@pytest.fixture
def shop_project(tmp_path, monkeypatch):
    """The state the command-line block starts from: the Python examples, run."""
    test_python_examples_print_what_the_doc_says(tmp_path, monkeypatch)
    return tmp_path


def test_command_line_block_runs(shop_project):
    cwd = shop_project
    results = []
    for line in filter(None, (raw.strip() for raw in blocks("bash")[0].splitlines())):
        argv = shlex.split(line)
        if argv[0] == "cd":
            cwd = cwd / argv[1]
            continue
        assert argv[0] == "cinch"
        result = cinch(argv[1:], cwd)
        assert result.returncode == 0, (line, result.stdout, result.stderr)
        results.append(result)
    assert results[0].stdout.splitlines()[0] == (
        "# adopting ../shop.db as database 'shop_copy' would make"
    )
    assert results[1].stdout == (
        "Adopted ../shop.db as database 'shop_copy': 4 event(s), 5 row(s) in tenant 'main'\n"
    )
