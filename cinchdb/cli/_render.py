"""Output: rich tables for people, one JSON document for scripts (``--json``)."""

from __future__ import annotations

import base64
import csv
import json
import sys
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import click

from cinchdb._lazy import lazy_module

if TYPE_CHECKING:
    from rich import console as rich_console
    from rich import progress as rich_progress
    from rich import table as rich_table
else:  # rich loads when a table or a bar is drawn, not for a one-line answer (start-up time)
    rich_console = lazy_module("rich.console")
    rich_progress = lazy_module("rich.progress")
    rich_table = lazy_module("rich.table")


def _console() -> rich_console.Console:
    # Built per call on the current stdout, so click's test runner captures it.
    return rich_console.Console(file=sys.stdout, soft_wrap=True, highlight=False)


def to_plain(value: Any) -> Any:
    """Models and events as JSON-ready values; BLOBs as base64 text, as ``cinch data export``
    writes them and ``cinch data import`` reads them."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def emit_json(value: Any) -> None:
    click.echo(json.dumps(to_plain(value), indent=2, default=str))


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None,
          title: str | None = None) -> None:  # fmt: skip
    """A rich table of ``rows`` (dicts); "(none)" when empty.

    Values are shown whole, never cut short with an ellipsis: an id is what ``update`` and
    ``delete`` need, so a table wider than the terminal is drawn at its own width.
    """
    if not rows:
        click.echo("(none)")
        return
    names = list(columns or rows[0].keys())
    out = rich_table.Table(title=title)
    for name in names:
        out.add_column(name, overflow="fold")
    for row in rows:
        out.add_row(*("" if row.get(n) is None else str(row.get(n)) for n in names))
    console = _console()
    # Measured without the terminal's width as a cap: the width the table wants whole.
    needed = console.measure(out, options=console.options.update(max_width=1 << 16)).maximum
    if needed > console.width:
        console = rich_console.Console(
            file=sys.stdout, soft_wrap=True, highlight=False, width=needed
        )
    console.print(out)


def csv_value(value: Any) -> Any:
    """A value as CSV writes it, the way ``--json`` writes it: NULL an empty field, booleans
    ``true``/``false``, BLOBs base64 (as :func:`to_plain`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return to_plain(value)


def csv_rows(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> None:
    """``rows`` as CSV with a header line; ``columns`` names them when there may be no rows
    (then the header is all there is)."""
    names = list(columns) if columns is not None else list(rows[0].keys()) if rows else []
    if not names:
        return
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([csv_value(row.get(name)) for name in names])


def done(message: str, as_json: bool = False, data: Any = None) -> None:
    """A one-line confirmation, or the data as JSON."""
    if as_json:
        emit_json(data if data is not None else {"ok": True, "message": message})
    else:
        click.echo(message)


class _Bar:
    """Draws one progress bar on stderr, only on a terminal and once work over ``minimum``
    items or more starts (by default fleet-wide work: a change reaching a branch's tenants, a
    merge, ``tenant sync``), with the items done per second; silent otherwise."""

    def __init__(self, label: str, unit: str, minimum: int) -> None:
        self._label = label
        self._unit = unit
        self._minimum = minimum
        self._progress: Any = None
        self._task: Any = None
        self._started = 0.0

    def report(self, done_count: int, total: int) -> None:
        if total < self._minimum or not sys.stderr.isatty():
            return
        if self._progress is None:
            self._progress = rich_progress.Progress(
                rich_progress.TextColumn("{task.description}"),
                rich_progress.BarColumn(),
                rich_progress.MofNCompleteColumn(),
                rich_progress.TextColumn("{task.fields[rate]}"),
                rich_progress.TimeRemainingColumn(),
                console=rich_console.Console(file=sys.stderr),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self._label, total=total, rate="")
            self._started = time.monotonic()
        elapsed = time.monotonic() - self._started
        rate = f"{done_count / elapsed:,.0f} {self._unit}/s" if elapsed > 0 else ""
        self._progress.update(self._task, completed=done_count, rate=rate)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def progress_bar(
    label: str = "Updating tenants", unit: str = "tenants", minimum: int = 20
) -> tuple[Any, _Bar]:
    """A progress callback (``report(done, total)``) and the bar to stop afterwards; by
    default for tenant propagation."""
    bar = _Bar(label, unit, minimum)
    return bar.report, bar
