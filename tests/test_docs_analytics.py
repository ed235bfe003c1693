"""docs/analytics.md's examples run as written.

- Every ```` ```python ```` block runs in a fresh namespace, in a fresh directory; a following
  ```` ```output ```` block is what it printed, where ``<ms>`` stands for a time in milliseconds.
- ```` ```console ```` blocks run in order in one fresh project (made by ``cinch init``) as the
  current directory: each ``$ cinch ...`` line (a ``# comment`` after it dropped) runs through
  the CLI; the lines after it, up to the next ``$``, are its output, exactly; an output starting
  with ``Error:`` or ``Usage:`` means a non-zero exit, and no output lines means: exit 0.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from cinchdb._analytics_store import MAX_AGGREGATE_ROWS, MAX_SLOW_ROWS
from cinchdb._sketch import RELATIVE_ERROR
from cinchdb.analytics import DEFAULT_MAX_PENDING
from cinchdb.cli import cli

DOC = Path(__file__).resolve().parent.parent / "docs" / "analytics.md"
_BLOCK = re.compile(r"^```([^\n]*)\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def blocks() -> list[tuple[str, str]]:
    return [(kind.strip(), body) for kind, body in _BLOCK.findall(DOC.read_text())]


def test_the_doc_has_its_sections():
    headings = re.findall(r"^## (.+)$", DOC.read_text(), flags=re.MULTILINE)
    for needed in ("Turning it on", "What is recorded, and what never is", "Query shapes",
                   "Percentiles and the sketch's error", "The file and retention",
                   "`cinch stats`", "`db.get_analytics_stats`", "Under cinch serve"):  # fmt: skip
        assert needed in headings, needed


def test_the_doc_states_the_code_s_figures():
    text = " ".join(DOC.read_text().split())
    assert f"sooner after {DEFAULT_MAX_PENDING:,} observations" in text
    assert f"beyond {MAX_AGGREGATE_ROWS:,} aggregate rows" in text
    assert f"beyond {MAX_SLOW_ROWS:,} slow ones" in text
    assert f"within {RELATIVE_ERROR:.0%} (relative)" in text


def test_python_examples_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    found = blocks()
    ran = 0
    for index, (kind, body) in enumerate(found):
        if kind != "python":
            continue
        capsys.readouterr()
        exec(compile(body, str(DOC), "exec"), {"__name__": "analytics_doc"})
        ran += 1
        printed = capsys.readouterr().out
        following = found[index + 1] if index + 1 < len(found) else ("", "")
        if following[0] == "output":
            pattern = re.escape(following[1]).replace(re.escape("<ms>"), r"[0-9]+\.[0-9]+")
            assert re.fullmatch(pattern, printed), printed
    assert ran >= 2


def test_console_examples_run(tmp_path, monkeypatch):
    for name in ("CINCHDB_PROJECT_DIR", "CINCHDB_DATABASE", "CINCHDB_BRANCH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(cli, ["init", "app"]).exit_code == 0
    monkeypatch.chdir(tmp_path / "app")
    commands: list[tuple[str, list[str]]] = []
    for kind, body in blocks():
        if kind != "console":
            continue
        for line in body.splitlines():
            if line.startswith("$ "):
                commands.append((line[2:].split(" #", 1)[0].strip(), []))
            else:
                commands[-1][1].append(line)
    assert len(commands) >= 5
    for command, expected in commands:
        words = shlex.split(command)
        assert words[0] == "cinch", command
        result = runner.invoke(cli, words[1:], prog_name="cinch")
        failing = bool(expected) and expected[0].startswith(("Error:", "Usage:"))
        assert (result.exit_code != 0) == failing, f"$ {command}: {result.output}"
        if expected:
            assert result.output.rstrip("\n") == "\n".join(expected), f"$ {command}"
