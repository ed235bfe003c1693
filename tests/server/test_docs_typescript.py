"""docs/server.md "The TypeScript client" runs as written: its ``sh`` block (``cinch codegen``,
``cinch key create``; ``cinch serve`` is the live server fixture), then its TypeScript block
compiled with ``tsc --strict`` and run under node against the live server, printing exactly its
``output`` block."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from cinchdb.cli import cli
from cinchdb.codegen import TSC_ENV
from tests import typescript

DOC = Path(__file__).resolve().parents[2] / "docs" / "server.md"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def section(title: str) -> dict[str, str]:
    """The section's fenced blocks by language (one each)."""
    parts = re.split(r"^## (.+)$", DOC.read_text(), flags=re.MULTILINE)
    text = dict(zip(parts[1::2], parts[2::2], strict=True))[title]
    return {language: body for language, body in _BLOCK.findall(text)}


@pytest.fixture
def tsc() -> str:
    return typescript.tsc_path()


def test_the_typescript_client_section_runs_as_written(
    project, live_server, tsc, tmp_path, monkeypatch
):
    blocks = section("The TypeScript client")
    monkeypatch.chdir(project)
    monkeypatch.setenv(TSC_ENV, tsc)  # codegen checks what it writes with the pinned tsc
    token = None
    for line in blocks["sh"].splitlines():
        args = shlex.split(line)
        if args[:2] == ["cinch", "serve"]:
            continue  # the live_server fixture is this command, on a free port
        result = CliRunner().invoke(cli, args[1:])
        assert result.exit_code == 0, result.output
        if args[1:3] == ["key", "create"]:
            token = re.fullmatch(r"(ck_\S+)\n", result.stdout)[1]  # type: ignore[index]
    assert token is not None
    program = blocks["ts"].replace("http://127.0.0.1:8000", live_server.url)
    (project / "main.ts").write_text(program.replace('"ck_…"', f'"{token}"'))
    typescript.compile_to_js(tsc, project, ["main.ts"], tmp_path / "out")
    result = subprocess.run(
        ["node", str(tmp_path / "out" / "main.js")], capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == blocks["output"]
