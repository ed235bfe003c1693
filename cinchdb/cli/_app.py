"""The root group: lazy command loading, the error mapping and exit codes.

Exit codes: 0 ok; 1 an error, or differences found with ``--exit-code`` / ``lint`` / ``check``;
2 usage (click's own); 3 a merge conflict. An error's code is its class's ``exit_code``.

Only :class:`~cinchdb.errors.CinchError` and SQLite's own errors
(:data:`~cinchdb.errors.DRIVER_ERRORS`) become one ``Error:`` line: anything else is a bug and
shows its traceback.

Command modules are imported on first lookup (:class:`CinchGroup`), so ``cinch kv get`` does
not pay for importing every other command, and ``cinch --help`` imports none. This is the one
place the CLI imports lazily.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

import click

from cinchdb.errors import (
    DRIVER_ERRORS,
    CinchError,
    MergeConflictError,
    ProjectNotFoundError,
    ReadOnlyQueryError,
    RevertLosesDataError,
)

EXIT_ERROR = CinchError.exit_code
EXIT_USAGE = 2
EXIT_CONFLICT = MergeConflictError.exit_code
# What becomes one `Error:` line: CinchDB's errors and SQLite's own, nothing broader.
_HANDLED: tuple[type[Exception], ...] = (CinchError, *DRIVER_ERRORS)

#: Top-level command name -> (``module:attribute`` under ``cinchdb.cli.commands``, the summary
#: ``cinch --help`` lists). The summary is the command's own first sentence, kept here so that
#: ``cinch --help`` imports no command module (a test checks the two agree).
COMMANDS: dict[str, tuple[str, str]] = {
    "adopt": ("adopt:adopt", "Make the SQLite database at PATH a database of the project."),
    "backup": ("backup:backup", "Back up the whole project into DIR: every tenant and the"
               " journal, while writers write."),
    "branch": ("branch:branch_group", "Schema branches: fork, switch, merge."),
    "check": ("history:check", "CI: verify the journal, that every branch replays in SQLite, and"
              " every materialized tenant (exit 1 on a problem)."),
    "ci": ("ci:ci", "CI: check the working tree's schema change against git revision REV (exit 1"
           " on a problem or lint finding, 3 on a merge conflict)."),
    "codegen": ("codegen:codegen_group", "Typed code generated from the active branch's schema."),
    "column": ("column:column_group", "Columns of a table on the active branch."),
    "data": ("query:data_group", "Rows of a tenant on the active branch."),
    "config": ("config:config_group", "Project settings: query analytics on or off, the"
               " slow-query threshold, retention."),
    "db": ("db:db_group", "Databases of the project (each with its own branches and tenants)."),
    "diff": ("history:diff", "Show the schema operations that turn ref A into ref B (default:"
             " the active branch)."),
    "index": ("index:index_group", "Indexes of the active branch."),
    "init": ("project:init", "Create a project in PATH (created if missing)."),
    "key": ("key:key_group", "API keys for 'cinch serve': create, list, revoke."),
    "kv": ("kv:kv_group", "A tenant's key-value store (Redis-like; not part of the schema or"
           " merges)."),
    "lint": ("history:lint", "CI: flag destructive or data-dependent changes between two refs,"
             " A..B (exit 1 if any)."),
    "log": ("history:log", "Show the branch's events, newest first; PATH (table or"
            " table.column) limits them to what touched that object, across renames."),
    "merge": ("history:merge", "Merge branch SOURCE into --into (main)."),
    "migrate": ("history:migrate", "Apply a migration (DDL and data steps) as journal events,"
                " all or nothing."),
    "query": ("query:query", "Run a read-only SQL query on a tenant of the active branch."),
    "replicate": ("replicate:replicate_group", "Replicate the project continuously with Litestream"
                  " (to a directory or S3); status; stop."),
    "restore": ("restore:restore", "Restore a project from a replica or a backup: the journal,"
                " then every tenant, checked."),
    "revert": ("history:revert", "Append the inverse of EVENT (an id or prefix) as a new event."),
    "serve": ("serve:serve", "Serve the project over HTTP: the API of docs/server.md, keys from"
              " 'cinch key'."),
    "stats": ("stats:stats", "Query analytics: the slowest and most frequent query shapes and"
              " per-tenant totals; --slow lists slow statements."),
    "status": ("project:status", "Show the project, the active database and branch, and their"
               " contents."),
    "table": ("table:table_group", "Tables of the active branch (each change reaches every"
              " tenant)."),
    "tenant": ("tenant:tenant_group", "Tenants: one isolated SQLite file each, sharing the"
               " branch's schema."),
    "view": ("view:view_group", "Views of the active branch."),
}  # fmt: skip

# The CLI's wording of the SDK errors whose message names SDK calls or arguments: built from
# the error's structured fields, so the SDK's message stays in SDK terms and the CLI's in CLI
# terms. This is the one place the two differ.
_QUERY_DATA_COMMANDS = {
    "INSERT": "cinch data insert",
    "REPLACE": "cinch data insert",
    "UPDATE": "cinch data update",
    "DELETE": "cinch data delete",
}


def _read_only_query(error: ReadOnlyQueryError) -> str:
    command = _QUERY_DATA_COMMANDS.get(error.action)
    if command is not None:
        hint = f"use '{command}' to change data"
    elif error.action.startswith(("CREATE", "DROP", "ALTER")) or error.action == "a schema change":
        hint = (
            "use 'cinch migrate' (or 'cinch table', 'cinch column', ...);"
            " schema changes go through the journal"
        )
    else:
        hint = "it is not allowed through 'cinch query'"
    return (
        "'cinch query' only runs reads (SELECT, WITH ... SELECT, EXPLAIN, VALUES);"
        f" refused {error.action or 'a write'}: {hint}"
    )


def _revert_loses_data(error: RevertLosesDataError) -> str:
    return (
        f"Reverting {error.event_id[:12]} cannot restore everything: {'; '.join(error.losses)}."
        " Use --force to revert anyway"
    )


def _merge_conflict(error: MergeConflictError) -> str:
    # The conflicts follow, one a line (see CinchGroup.invoke): the heading does not repeat one.
    if not error.conflicts:
        return _one_line(error)
    into = f" merging '{error.source}' into '{error.target}'" if error.source else ""
    return f"{len(error.conflicts)} conflict(s){into}:"


def _project_not_found(error: ProjectNotFoundError) -> str:
    return (
        f"No CinchDB project found in {error.start} or any parent directory; run 'cinch init'"
        " to create one, or set CINCHDB_PROJECT_DIR to its directory"
    )


def _cli_message(error: BaseException) -> str:
    """The one line the CLI prints for ``error``, in CLI terms."""
    for kind, render in _CLI_MESSAGES:
        if isinstance(error, kind):
            return render(error)
    return _one_line(error)


_CLI_MESSAGES: list[tuple[type[Any], Callable[[Any], str]]] = [
    (ReadOnlyQueryError, _read_only_query),
    (RevertLosesDataError, _revert_loses_data),
    (MergeConflictError, _merge_conflict),
    (ProjectNotFoundError, _project_not_found),
]


class CinchGroup(click.Group):
    """The root group: loads each command's module on first lookup, and turns CinchDB's and
    SQLite's errors into one ``Error:`` line and the error's exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module_name, _, attribute = COMMANDS[cmd_name][0].partition(":")
            module = importlib.import_module(f"cinchdb.cli.commands.{module_name}")
            command = getattr(module, attribute)
            if not isinstance(command, click.Command):  # pragma: no cover - a typo in COMMANDS
                raise TypeError(f"COMMANDS[{cmd_name!r}] is not a click command")
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's listing, from the summaries in COMMANDS for commands not loaded yet."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            command = self.commands.get(name)
            if command is not None:
                if not command.hidden:
                    rows.append((name, command.get_short_help_str(limit)))
            else:
                # A bare command with the summary as its help shortens it the way click
                # shortens a loaded command's (click's own helper for it is deprecated).
                summary = click.Command(name, help=COMMANDS[name][1])
                rows.append((name, summary.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except _HANDLED as error:
            if _traceback_wanted(ctx):
                raise
            click.echo(f"Error: {_cli_message(error)}", err=True)
            if isinstance(error, MergeConflictError):
                for conflict in error.conflicts:
                    kind = getattr(conflict, "kind", "conflict")
                    click.echo(f"  {kind}: {getattr(conflict, 'message', conflict)}", err=True)
            ctx.exit(error.exit_code if isinstance(error, CinchError) else EXIT_ERROR)


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
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="cinch")
