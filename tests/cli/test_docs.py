"""docs/cli.md is the commands' --help output, and every command's help has an example."""

from __future__ import annotations

from pathlib import Path

import click

from cinchdb.cli import cli
from cinchdb.cli._docs import _walk, render

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_cli_reference_is_current():
    assert DOC.read_text() == render(), (
        "docs/cli.md is stale: run `python -m cinchdb.cli._docs > docs/cli.md`"
    )


def test_every_command_has_an_example():
    for path, command in _walk(cli, ["cinch"]):
        with click.Context(command, info_name=" ".join(path)) as ctx:
            assert "Example:" in command.get_help(ctx), " ".join(path)
