"""docs/cli.md is the commands' --help output, every command's help has an example, and
docs/errors.md is the table of the error classes."""

from __future__ import annotations

from pathlib import Path

import click

from cinchdb.cli import cli
from cinchdb.cli._docs import _walk, render
from cinchdb.cli._error_docs import render as render_errors

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
ERRORS_DOC = DOC.with_name("errors.md")


def test_cli_reference_is_current():
    assert DOC.read_text() == render(), (
        "docs/cli.md is stale: run `python -m cinchdb.cli._docs > docs/cli.md`"
    )


def test_every_command_has_an_example():
    for path, command in _walk(cli, ["cinch"]):
        with click.Context(command, info_name=" ".join(path)) as ctx:
            assert "Example:" in command.get_help(ctx), " ".join(path)


def test_error_table_is_current():
    assert ERRORS_DOC.read_text() == render_errors(), (
        "docs/errors.md is stale: run `python -m cinchdb.cli._error_docs > docs/errors.md`"
    )
