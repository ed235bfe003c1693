"""The root group, its error mapping and exit codes.

Exit codes: 0 ok; 1 an error, or differences found with ``--exit-code`` / ``lint`` / ``check``;
2 usage (click's own); 3 a merge conflict.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from cinchdb.errors import CinchError, MergeConflictError, ProjectNotFoundError
from journal import drivers

EXIT_ERROR = 1
# What becomes one `Error:` line: CinchDB's errors, bad input, files, and SQLite's own.
_HANDLED: tuple[type[Exception], ...] = (
    CinchError,
    ValueError,
    LookupError,
    OSError,
    *drivers.Error,
)
EXIT_USAGE = 2
EXIT_CONFLICT = 3

_HINTS: list[tuple[type[BaseException], str]] = [
    (ProjectNotFoundError, "create a project with 'cinch init', or pass its directory in"
     " CINCHDB_PROJECT_DIR"),
]  # fmt: skip


class CinchGroup(click.Group):
    """A group that turns CinchDB's errors into one ``Error:`` line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except MergeConflictError as error:
            if _traceback_wanted(ctx):
                raise
            click.echo(f"Error: {error}", err=True)
            for conflict in error.conflicts:
                kind = getattr(conflict, "kind", "conflict")
                click.echo(f"  {kind}: {getattr(conflict, 'message', conflict)}", err=True)
            ctx.exit(EXIT_CONFLICT)
        except _HANDLED as error:
            if _traceback_wanted(ctx):
                raise
            click.echo(f"Error: {_one_line(error)}", err=True)
            for kind, hint in _HINTS:
                if isinstance(error, kind):
                    click.echo(f"Hint: {hint}", err=True)
            ctx.exit(EXIT_ERROR)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _traceback_wanted(ctx: click.Context) -> bool:
    root = ctx.find_root()
    return bool(root.params.get("traceback"))


@click.group(cls=CinchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--traceback", is_flag=True, help="Show the full traceback of an error.")
@click.version_option(package_name="cinchdb", prog_name="cinch")
def cli(traceback: bool) -> None:
    """Git-like management of SQLite databases: branches, merges and a file per tenant.

    \b
    Example:
      cinch init my_app && cd my_app
      cinch branch create feature
      cinch table create users name:TEXT email:TEXT:unique
      cinch branch merge-into-main feature
    """


def main(argv: list[str] | None = None) -> None:
    """The ``cinch`` entry point."""
    from cinchdb.cli import commands  # noqa: F401 - registers the commands

    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="cinch")
