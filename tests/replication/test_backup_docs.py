"""The examples of docs/replication.md's "Encrypted tenants" and "Backups without Litestream"
sections run as written, in order, in one fresh project (made by ``cinch init``) as the
current directory: a ```` ```python ```` block runs (one namespace) and the ```` ```output ````
block after it is what it printed; in a ```` ```console ```` block each ``$ cinch ...`` line
runs through the CLI and the lines after it are its output, where ``<dir>`` stands for a path
and ``<n>`` for a number."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

import cinchdb
from cinchdb.cli import cli

DOC = Path(__file__).resolve().parents[2] / "docs" / "replication.md"
SECTIONS = ("Encrypted tenants", "Backups without Litestream: `cinch backup`")
_BLOCK = re.compile(r"^```([^\n]*)\n(.*?)^```$", re.DOTALL | re.MULTILINE)
_PLACEHOLDERS = {"<dir>": r"/\S+", "<n>": r"\d+"}


def blocks() -> list[tuple[str, str]]:
    parts = re.split(r"^## (.+)$", DOC.read_text(), flags=re.MULTILINE)
    found = {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}
    return [(m[1], m[2]) for name in SECTIONS for m in _BLOCK.finditer(found[name])]


def _pattern(expected: str) -> re.Pattern[str]:
    pieces = re.split(r"(<dir>|<n>)", expected)
    return re.compile("".join(_PLACEHOLDERS.get(p, re.escape(p)) for p in pieces))


def test_the_examples_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = cinchdb.init(tmp_path / "app")
    monkeypatch.chdir(root)
    monkeypatch.delenv("CINCHDB_PROJECT_DIR", raising=False)
    namespace: dict[str, object] = {}
    printed: str | None = None
    ran = 0
    for kind, body in blocks():
        if kind == "python":
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(compile(body, str(DOC), "exec"), namespace)
            printed = out.getvalue()
            ran += 1
        elif kind == "output":
            assert printed == body, body
            printed = None
        elif kind == "console":
            lines = body.splitlines()
            commands = [i for i, line in enumerate(lines) if line.startswith("$ ")]
            for n, start in enumerate(commands):
                end = commands[n + 1] if n + 1 < len(commands) else len(lines)
                expected = "\n".join(lines[start + 1 : end])
                result = CliRunner().invoke(cli, shlex.split(lines[start][2:])[1:])
                assert _pattern(expected).fullmatch(result.output.rstrip("\n")), result.output
                assert result.exit_code == (1 if expected.startswith("Error:") else 0)
                ran += 1
    assert ran == 3
    assert os.path.isfile(root.parent / "nightly" / "cinchdb-backup.json")
