"""Real git in temporary repositories, for the tests of the schema history in git: a git with
a fixed identity and no user or system configuration, and the `cinch` command line run inside a
repository through click's runner."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cinchdb.cli import cli

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo``; its output, failing the test when git fails."""
    done = subprocess.run(
        ["git", *args],
        cwd=repo,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


CinchRun = Callable[..., Result]


def cinch_in_repo(monkeypatch: pytest.MonkeyPatch) -> CinchRun:
    """``run(repo, *args, code=0)``: the command line in ``repo``, asserting its exit code."""
    for name in ("CINCHDB_PROJECT_DIR", "CINCHDB_DATABASE", "CINCHDB_BRANCH"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def run(repo: Path, *args: str, code: int = 0) -> Result:
        monkeypatch.chdir(repo)
        result = runner.invoke(cli, list(args))
        assert result.exit_code == code, result.output
        return result

    return run
