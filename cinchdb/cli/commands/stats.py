"""``cinch stats``: query analytics of a database, as tables or JSON (docs/analytics.md)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import click

from cinchdb.cli._context import config, json_option, open_db, parsed_by
from cinchdb.cli._render import emit_json, table
from cinchdb.results import AnalyticsStats, ShapeStats, SlowStatement, TenantStats

_DURATION = re.compile(r"([0-9]+)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
#: Of any unit: 999999 days is some 2,700 years, well inside the dates Python can hold.
_MAX_COUNT = 999_999
#: How many statements ``--slow`` lists unless told (the SDK's default too).
_SLOW_LIMIT = 50
_STATS_LIMIT = 20


def _since(text: str) -> timedelta | datetime:
    """``30m``, ``1h``, ``2d`` (that long ago), or an ISO time (UTC unless it names its
    offset)."""
    match = _DURATION.fullmatch(text)
    if match is not None and int(match[1]) <= _MAX_COUNT:
        return timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"'{text}' is neither a duration (a whole number and s, m, h or d: 30m, 1h, 2d)"
            " nor an ISO time (2026-01-31T09:00)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _ms(value: float) -> str:
    return f"{value:.2f}"


def _when(at: str) -> str:
    """An ISO time in UTC to the millisecond, as a person reads it: ``...T05:20:18.143Z``."""
    moment = datetime.fromisoformat(at).astimezone(timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _shape_row(shape: ShapeStats) -> dict[str, object]:
    return {
        "sql": shape["sql"],
        "kind": shape["kind"],
        "calls": shape["calls"],
        "mean ms": _ms(shape["mean_ms"]),
        "p50 ms": _ms(shape["p50_ms"]),
        "p95 ms": _ms(shape["p95_ms"]),
        "p99 ms": _ms(shape["p99_ms"]),
        "total ms": _ms(shape["total_ms"]),
        "rows": shape["rows"],
        "errors": shape["errors"],
    }


def _tenant_row(tenant: TenantStats) -> dict[str, object]:
    return {
        "tenant": tenant["tenant"],
        "branch": tenant["branch"],
        "calls": tenant["calls"],
        "rows": tenant["rows"],
        "errors": tenant["errors"],
        "total ms": _ms(tenant["total_ms"]),
    }


def _slow_row(statement: SlowStatement) -> dict[str, object]:
    return {
        "at": _when(statement["at"]),
        "tenant": statement["tenant"],
        "branch": statement["branch"],
        "ms": _ms(statement["elapsed_ms"]),
        "kind": statement["kind"],
        "sql": statement["sql"],
    }


def _render_stats(stats: AnalyticsStats) -> None:
    for heading, rows in (
        ("Slowest query shapes", [_shape_row(s) for s in stats["slowest"]]),
        ("Most frequent query shapes", [_shape_row(s) for s in stats["most_frequent"]]),
        ("Tenants", [_tenant_row(t) for t in stats["tenants"]]),
    ):
        click.echo(heading)
        table(rows)


def _off_hint(empty: bool) -> None:
    """Nothing recorded with analytics off: say how to turn it on (stderr, so --json output
    stays one document)."""
    if empty and not config().analytics:
        click.echo(
            "Analytics is off for this project: turn it on with 'cinch config set analytics on'",
            err=True,
        )


@click.command("stats")
@click.option("--database", "-d", default=None, help="Database (default: active).")
@click.option("--tenant", "-t", default=None, help="Only this tenant's statements.")
@click.option("--since", default=None, metavar="WHEN", callback=parsed_by(_since),
              help="Only statements since then: 30m, 1h, 2d, or an ISO time (UTC unless it"
                   " names an offset); default: everything kept.")  # fmt: skip
@click.option(
    "--limit",
    "-n",
    default=None,
    type=click.IntRange(min=1),
    help=f"Rows per table (default {_STATS_LIMIT}; with --slow, {_SLOW_LIMIT}).",
)
@click.option(
    "--slow", is_flag=True, help="List individual statements at or above the threshold instead."
)
@click.option("--threshold", default=None, metavar="MS", type=click.FloatRange(min=0),
              help="With --slow: at least this many milliseconds (default: slow_query_ms;"
                   " statements faster than slow_query_ms are never kept).")  # fmt: skip
@json_option
def stats(database: str | None, tenant: str | None, since: timedelta | datetime | None,
          limit: int | None, slow: bool, threshold: float | None,
          as_json: bool) -> None:  # fmt: skip
    """Query analytics: the slowest and most frequent query shapes and per-tenant totals;
    --slow lists slow statements.

    A shape is a statement's SQL with its values replaced by '?': values are never recorded.
    Turn analytics on with 'cinch config set analytics on'.

    \b
    Example:
      cinch stats --since 1h
      cinch stats --tenant acme --json
      cinch stats --slow --threshold 250
    """
    if threshold is not None and not slow:
        raise click.UsageError("--threshold goes with --slow")
    with open_db(database) as db:
        if slow:
            statements = db.get_slow_queries(
                since=since, tenant=tenant, limit=limit or _SLOW_LIMIT, threshold_ms=threshold
            )
            if as_json:
                emit_json(statements)
            else:
                table([_slow_row(s) for s in statements])
            _off_hint(not statements)
            return
        result = db.get_analytics_stats(since=since, tenant=tenant, limit=limit or _STATS_LIMIT)
    if as_json:
        emit_json(result)
    else:
        _render_stats(result)
    _off_hint(not result["tenants"])
