"""Generate ``docs/cli.md`` from the commands' ``--help`` output.

Run ``python -m cinchdb.cli._docs > docs/cli.md``; a test fails when the file is stale.
"""

from __future__ import annotations

import click

from cinchdb.cli import cli


def _walk(command: click.Command, path: list[str]) -> list[tuple[list[str], click.Command]]:
    """Every command under ``command``, found as click finds them (so lazily loaded ones too)."""
    found = [(path, command)]
    if isinstance(command, click.Group):
        with click.Context(command, info_name=path[-1]) as ctx:
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None:
                    found += _walk(sub, [*path, name])
    return found


def render() -> str:
    """The whole reference, one section per command, in a stable order."""
    lines = [
        "# The `cinch` command line",
        "",
        "Generated from `--help` by `python -m cinchdb.cli._docs > docs/cli.md`; a test fails",
        "when this file is stale. Exit codes: 0 ok; 1 error, or differences found with",
        "`--exit-code`, `lint` or `check`; 2 usage; 3 merge conflict. Errors print one",
        "`Error: <message>` line on stderr (add `--traceback` for the traceback); the error",
        "classes and their exit codes are in `docs/errors.md`.",
        "",
    ]
    for path, command in _walk(cli, ["cinch"]):
        name = " ".join(path)
        with click.Context(
            command, info_name=name, terminal_width=100, help_option_names=["-h", "--help"]
        ) as ctx:
            text = command.get_help(ctx)
        lines += [f"## `{name}`", "", "```text", text.rstrip(), "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
