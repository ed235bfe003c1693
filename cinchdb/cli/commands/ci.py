"""``cinch ci``: one check of a pull request's schema change against a git revision."""

from __future__ import annotations

import sys

import click

import cinchdb
from cinchdb.cli._context import json_option
from cinchdb.cli._render import emit_json
from cinchdb.results import CIBranch


def _describe(entry: CIBranch) -> str:
    status = entry["status"]
    count = len(entry["introduced"])
    what = {
        "new": f"new branch, {count} event(s)",
        "unchanged": "unchanged",
        "behind": "behind the base (the change adds nothing to it)",
        "fast_forward": f"{count} event(s) on top of the base, merges cleanly",
        "two_heads": f"{count} event(s); the base moved on too: after git merges this, the"
        f" branch has two heads that merge cleanly (cinch merge --heads {entry['branch']})",
        "conflict": f"{count} event(s); the base moved on too, and merging the two heads conflicts",
        "deleted": "deleted by the change",
    }[status]
    return f"{entry['database']}/{entry['branch']}: {what}"


@click.command("ci")
@click.option(
    "--base", required=True, metavar="REV",
    help="The git revision the change goes into, e.g. origin/main (must be fetched).",
)  # fmt: skip
@json_option
def ci(base: str, as_json: bool) -> None:
    """CI: check the working tree's schema change against git revision REV (exit 1 on a
    problem or lint finding, 3 on a merge conflict).

    Reports journal integrity, what the change introduces on each CinchDB branch (log
    REV..working tree), whether it merges into REV's history cleanly, and lint findings on
    what it introduces. Reads git; writes nothing in the project.

    \b
    Example:
      cinch ci --base origin/main --json
    """
    report = cinchdb.ci_report(None, base)
    if as_json:
        emit_json(report)
    else:
        click.echo(f"# the working tree against {base} ({report['base_commit'][:12]})")
        if report["integrity"]:
            click.echo("Journal integrity: problems")
            for problem in report["integrity"]:
                click.echo(f"  {problem}")
        else:
            click.echo("Journal integrity: ok")
        for entry in report["branches"]:
            click.echo(_describe(entry))
            for line in entry["summaries"]:
                click.echo(f"  + {line}")
            for finding in entry["findings"]:
                click.echo(f"  lint: {finding['kind']} {finding['object']}: {finding['message']}")
            for conflict in entry["conflicts"]:
                events = ", ".join(e[:12] for e in conflict["events"])
                click.echo(f"  conflict on {conflict['object']} (events {events}):"
                           f" {conflict['message']}")  # fmt: skip
        click.echo("ok" if report["ok"] else "failed")
    if report["exit_code"]:
        sys.exit(report["exit_code"])
