"""``cinch data import`` and ``cinch data export``, registered into the ``data`` group by
``query.py`` (a helper module: the COMMANDS table lists top-level commands only)."""

from __future__ import annotations

import io
import os
import sys
from typing import Any

import click

import cinchdb
from cinchdb.cli._context import json_option, target_options, with_db
from cinchdb.cli._render import done
from cinchdb.errors import ReadOnlyQueryError
from cinchdb.transfer import FORMATS, format_of

# A file smaller than this imports in well under a second: no bar.
_BAR_BYTES = 8 << 20


class _ByteBar:
    """A progress bar of bytes read, on stderr, drawn only on a terminal and for a large
    file (click's own bar: nothing more to import for a small file)."""

    def __init__(self, total: int) -> None:
        self._bar: Any = None
        self._done = 0
        if total >= _BAR_BYTES and sys.stderr.isatty():
            self._bar = click.progressbar(length=total, label="Importing", file=sys.stderr)
            self._bar.__enter__()

    def report(self, done_bytes: int, total: int) -> None:
        if self._bar is not None and done_bytes > self._done:
            self._bar.update(done_bytes - self._done)
            self._done = done_bytes

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


@click.command("import")
@click.argument("table_name", metavar="TABLE")
@click.argument("file", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="Format of FILE (default: its extension; stdin: '[' starts a JSON array,"
                   " '{' NDJSON, else CSV).")  # fmt: skip
@target_options()
@json_option
@with_db
def import_(db: cinchdb.CinchDB, table_name: str, file: str, fmt: str | None,
            as_json: bool) -> None:  # fmt: skip
    """Import rows into TABLE from a CSV, JSON array or NDJSON file (- for stdin), all or none.

    CSV fields are converted by their column's type; an empty field is NULL. See docs/data.md.

    \b
    Example:
      cinch data import users users.csv --tenant customer_a
      cat users.ndjson | cinch data import users - --format ndjson
    """
    if file == "-":
        stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig",
                                 newline="")  # fmt: skip
        try:
            count = db.import_rows(table_name, stdin, fmt)
        finally:
            stdin.detach()
    else:
        if not os.path.exists(file):
            raise click.BadParameter(f"file '{file}' does not exist", param_hint="FILE")
        fmt = fmt or format_of(file)
        if fmt is None:
            raise click.UsageError(
                f"Cannot tell the format of '{file}' from its extension; give --format"
                f" {'|'.join(FORMATS)}"
            )
        bar = _ByteBar(os.path.getsize(file))
        try:
            count = db.import_rows(table_name, file, fmt, progress=bar.report)
        finally:
            bar.stop()
    done(f"Imported {count} row(s) into '{table_name}'", as_json,
         {"imported": count, "table": table_name})  # fmt: skip


@click.command("export")
@click.argument("table_name", metavar="TABLE", required=False)
@click.option("--query", "sql", default=None, metavar="SQL",
              help="Export the rows of this read-only query instead of a table.")  # fmt: skip
@click.option("--param", "params", multiple=True, help="A ? parameter of --query (repeatable).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="Output format (default: --output's extension, else csv).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--output", "-o", default=None, metavar="FILE",
              type=click.Path(dir_okay=False, allow_dash=True),
              help="Write to FILE (whole or not at all) instead of stdout.")  # fmt: skip
@target_options()
@with_db
def export(db: cinchdb.CinchDB, table_name: str | None, sql: str | None, params: tuple[str, ...],
           fmt: str | None, as_json: bool, output: str | None) -> None:  # fmt: skip
    """Export the rows of TABLE (or --query SQL) as CSV, JSON or NDJSON, streamed.

    BOOLEAN values are true/false, BLOBs base64, NULL an empty CSV field (null in JSON):
    what 'cinch data import' reads back. See docs/data.md.

    \b
    Example:
      cinch data export users --output users.csv --tenant customer_a
      cinch data export --query "SELECT name FROM users WHERE age > ?" --param 30 --format ndjson
    """
    if (table_name is None) == (sql is None):
        raise click.UsageError("Give TABLE or --query SQL (one of them)")
    if as_json:
        if fmt not in (None, "json"):
            raise click.UsageError(f"--json means --format json, not --format {fmt}")
        fmt = "json"
    if params and sql is None:
        raise click.UsageError("--param goes with --query")
    table = table_name if sql is None else None
    query_params = list(params) if sql is not None else None
    if output is not None and output != "-" and not os.path.isdir(os.path.dirname(output) or "."):
        raise click.BadParameter(
            f"directory '{os.path.dirname(output)}' does not exist", param_hint="'--output'"
        )
    try:
        if output is not None and output != "-":
            count = db.export_rows(table, output, fmt, query=sql, params=query_params)
            click.echo(f"Exported {count} row(s) to {output}", err=True)
            return
        out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
        try:
            db.export_rows(table, out, fmt or "csv", query=sql, params=query_params)
        finally:
            out.flush()
            out.detach()
    except ReadOnlyQueryError as error:
        # In CLI words: the SDK's message names SDK methods.
        raise click.ClickException(
            f"--query only runs reads (SELECT, WITH ... SELECT, EXPLAIN, VALUES); refused"
            f" {error.action or 'a write'}"
        ) from None
