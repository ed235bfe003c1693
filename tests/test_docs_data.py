"""The examples of docs/data.md run as written, section by section.

Each section named in SECTIONS runs in a fresh project (made by ``cinch init``), as the
current directory, its fenced blocks in order:

- ```` ```LANG file=NAME ````: the block's text is written to the file NAME;
- ```` ```console ````: each ``$ cinch ...`` line runs through the CLI (a trailing
  ``< FILE`` is its standard input); the lines after it, up to the next ``$``, are its output
  exactly (stdout and stderr as a terminal shows them), and an output starting with
  ``Error:`` means a non-zero exit;
- ```` ```python ````: run, with one namespace per section; a following ```` ```output ````
  block is what the section's Python has printed since the previous one.

To cover a new section (adopting a database), add its heading to SECTIONS.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from cinchdb.cli import cli

DOC = Path(__file__).resolve().parent.parent / "docs" / "data.md"
SECTIONS = ["Import", "Export"]
# Sections that run on from the one before them (the same project), in this order.
CONTINUES = {"Export": "Import"}

_BLOCK = re.compile(r"^```([^\n]*)\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def sections() -> dict[str, str]:
    """Level-2 heading -> its text."""
    parts = re.split(r"^## (.+)$", DOC.read_text(), flags=re.MULTILINE)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def blocks(text: str) -> list[tuple[str, str]]:
    return [(info.strip(), body) for info, body in _BLOCK.findall(text)]


def run_console(runner: CliRunner, body: str) -> None:
    commands: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            commands.append((line[2:], []))
        else:
            commands[-1][1].append(line)
    for command, expected in commands:
        words = shlex.split(command)
        assert words[0] == "cinch", command
        stdin = None
        if len(words) > 2 and words[-2] == "<":
            stdin = Path(words[-1]).read_text()
            words = words[:-2]
        result = runner.invoke(cli, words[1:], input=stdin)
        assert result.output.splitlines() == expected, f"$ {command}\n{result.output}"
        failing = bool(expected) and expected[0].startswith("Error:")
        assert (result.exit_code != 0) == failing, f"$ {command}: exit {result.exit_code}"


def run_section(name: str, runner: CliRunner, namespace: dict[str, object], capsys) -> None:
    for info, body in blocks(sections()[name]):
        words = info.split()
        lang = words[0] if words else ""
        files = [w.removeprefix("file=") for w in words[1:] if w.startswith("file=")]
        if files:
            Path(files[0]).write_text(body)
        elif lang == "console":
            run_console(runner, body)
        elif lang == "python":
            capsys.readouterr()
            exec(compile(body, f"{DOC}:{name}", "exec"), namespace)
        elif lang == "output":
            assert capsys.readouterr().out == body, f"output of the python block in '{name}'"


@pytest.fixture
def project(tmp_path, monkeypatch):
    for variable in ("CINCHDB_PROJECT_DIR", "CINCHDB_DATABASE", "CINCHDB_BRANCH",
                     "CINCHDB_ENCRYPTION_KEY"):  # fmt: skip
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(cli, ["init", "app"]).exit_code == 0
    monkeypatch.chdir(tmp_path / "app")
    return runner


def test_the_sections_are_there():
    found = sections()
    assert all(name in found for name in SECTIONS)
    assert all(blocks(found[name]) for name in SECTIONS)


@pytest.mark.parametrize("name", [n for n in SECTIONS if n not in CONTINUES.values()])
def test_doc_examples_run(name, project, capsys):
    chain = [name]
    while chain[0] in CONTINUES:
        chain.insert(0, CONTINUES[chain[0]])
    namespace: dict[str, object] = {"__name__": "docs_data"}
    for section in chain:
        run_section(section, project, namespace, capsys)
