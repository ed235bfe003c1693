from __future__ import annotations

import pytest
from click.testing import CliRunner

from cinchdb.cli import cli


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def project(tmp_path, monkeypatch, runner):
    """A fresh project made by ``cinch init``, as the current directory."""
    for name in ("CINCHDB_PROJECT_DIR", "CINCHDB_DATABASE", "CINCHDB_BRANCH",
                 "CINCHDB_ENCRYPTION_KEY"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli, ["init", "app"])
    assert result.exit_code == 0, result.output
    monkeypatch.chdir(tmp_path / "app")
    return tmp_path / "app"


@pytest.fixture
def cinch(runner, project):
    """Run ``cinch ARGS...`` in the project; returns the click Result."""

    def run(*args: str, input: str | None = None):
        return runner.invoke(cli, list(args), input=input)

    return run
