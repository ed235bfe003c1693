"""The examples of docs/server.md's "Keys and scopes" section run as written, in order, in one
fresh project (made by ``cinch init``) as the current directory.

- ```` ```console ````: each ``$ cinch ...`` line runs through the CLI; the lines after it, up
  to the next ``$``, are its output (stdout and stderr as a terminal shows them), where
  ``<id>``, ``<secret>`` and ``<time>`` stand for a key's id, its secret and a UTC time. The
  same ``<id>`` stands for the same key throughout, and a command may use it. An output
  starting with ``Error:`` or ``Usage:`` means a non-zero exit.
- ```` ```python ````: run, one namespace for the section; a following ```` ```output ```` block
  is what it printed.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from cinchdb.cli import cli

DOC = Path(__file__).resolve().parent.parent / "docs" / "server.md"
SECTION = "Keys and scopes"
_BLOCK = re.compile(r"^```([^\n]*)\n(.*?)^```$", re.DOTALL | re.MULTILINE)
_PLACEHOLDERS = {
    "<id>": r"(?P<id>[a-z2-7]{16})",
    "<secret>": r"[a-z2-7]{56}",
    "<time>": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z",
}


def section() -> str:
    parts = re.split(r"^## (.+)$", DOC.read_text(), flags=re.MULTILINE)
    found = {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}
    return found[SECTION]


def _pattern(expected: str, key_id: str | None) -> re.Pattern[str]:
    pieces = re.split(r"(<id>|<secret>|<time>)", expected)
    out = []
    for piece in pieces:
        if piece == "<id>" and key_id is not None:
            out.append(re.escape(key_id))
        elif piece in _PLACEHOLDERS:
            # A repeated <id> on one line refers back to the first.
            named = _PLACEHOLDERS[piece]
            out.append("(?P=id)" if piece == "<id>" and "(?P<id>" in "".join(out) else named)
        else:
            out.append(re.escape(piece))
    return re.compile("".join(out))


def run_console(runner: CliRunner, body: str, state: dict[str, str]) -> None:
    commands: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            commands.append((line[2:], []))
        else:
            commands[-1][1].append(line)
    for command, expected in commands:
        words = shlex.split(command.replace("<id>", state.get("id", "<id>")))
        assert words[0] == "cinch", command
        result = runner.invoke(cli, words[1:], prog_name="cinch")
        text = "\n".join(expected)
        match = _pattern(text, state.get("id")).fullmatch(result.output.rstrip("\n"))
        assert match is not None, f"$ {command}\n{result.output}"
        if "id" not in state and "(?P<id>" in match.re.pattern:
            state["id"] = match["id"]
        failing = bool(expected) and expected[0].startswith(("Error:", "Usage:"))
        assert (result.exit_code != 0) == failing, f"$ {command}: exit {result.exit_code}"


def test_the_keys_section_runs_as_written(tmp_path, monkeypatch, capsys):
    for name in ("CINCHDB_PROJECT_DIR", "CINCHDB_DATABASE", "CINCHDB_BRANCH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(cli, ["init", "app"]).exit_code == 0
    monkeypatch.chdir(tmp_path / "app")
    state: dict[str, str] = {}
    namespace: dict[str, object] = {}
    blocks = [(info.strip(), body) for info, body in _BLOCK.findall(section())]
    assert [info for info, _ in blocks].count("python") >= 1
    for info, body in blocks:
        if info == "console":
            run_console(runner, body, state)
        elif info == "python":
            capsys.readouterr()
            exec(compile(body, f"{DOC}:{SECTION}", "exec"), namespace)
        elif info == "output":
            assert capsys.readouterr().out == body
        else:
            pytest.fail(f"unknown block kind {info!r} in {SECTION}")
