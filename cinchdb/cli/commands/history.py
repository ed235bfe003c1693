"""``cinch merge``, ``log``, ``diff``, ``migrate``, ``revert``, and the CI checks ``lint`` and
``check``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

import cinchdb
from cinchdb.cli._app import EXIT_CONFLICT, EXIT_ERROR
from cinchdb.cli._context import json_option, target_options, with_db
from cinchdb.cli._render import done, emit_json, progress_bar, table, to_plain
from cinchdb.operations import data_step_summary, operation_sql, operation_summary
from cinchdb.results import DataStepRows, MergeResult, RangeInfo, SchemaDifference


def render_merge(result: MergeResult, as_json: bool, *, heads: bool = False) -> None:
    """A merge result; exits 3 when it has conflicts (previews and --check). ``heads``: the
    result of ``merge --heads``, whose source and target are one branch."""
    what = (
        f"the 2 heads of '{result['target']}'"
        if heads
        else f"'{result['source']}' into '{result['target']}'"
    )
    if as_json:
        emit_json(result)
    elif result["status"] == "conflict":
        click.echo(f"Conflicts merging {what}:", err=True)
        for conflict in result["conflicts"]:
            click.echo(f"  {conflict['kind']}: {conflict['message']}", err=True)
    elif result["status"] == "up_to_date":
        click.echo("Already up to date.")
    else:
        how = "fast-forward" if result["fast_forward"] else "merge"
        verb = "Would merge" if result["dry_run"] else "Merged"
        click.echo(f"{verb} {what} ({how}, {result['changes_applied']} changes)")
        for resolution in result["resolutions"]:
            click.echo(f"  resolved: {resolution}")
        for chosen in result["resolved"]:
            click.echo(f"  resolved {chosen['object']}={chosen['side']}")
    if result["status"] == "conflict":
        sys.exit(EXIT_CONFLICT)


def _resolution(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    resolve: dict[str, str] = {}
    for value in values:
        what, sep, side = value.rpartition("=")
        if not sep or not what.strip() or side not in ("ours", "theirs"):
            raise click.BadParameter(f"expected OBJECT=ours|theirs, got {value!r}")
        resolve[what.strip()] = side
    return resolve


@click.command("merge")
@click.argument("source", required=False)
@click.option("--into", "target", default="main", show_default=True, help="Target branch.")
@click.option("--heads", "heads_of", metavar="BRANCH", default=None,
              help="Join the two heads git left on BRANCH (two lines of its history merged in"
                   " git) with one merge event, instead of merging SOURCE.")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Compute the merge, write nothing.")
@click.option(
    "--check",
    is_flag=True,
    help="CI: report conflicts against the target's head, write nothing, exit 3.",
)
@click.option("--resolve", "resolve", multiple=True, metavar="OBJECT=ours|theirs",
              callback=_resolution,
              help="Resolve the conflict over OBJECT, named as the conflict names it ('view v',"
                   " 'column users.email'): keep the target's version (ours) or take the"
                   " source's (theirs). Repeatable.")  # fmt: skip
@click.option("--strategy", type=click.Choice(["ours", "theirs"]), default=None,
              help="Resolve every conflict not named by --resolve this way.")  # fmt: skip
@target_options(tenant=False)
@json_option
@with_db
def merge(db: cinchdb.CinchDB, source: str | None, target: str, heads_of: str | None,
          dry_run: bool, check: bool, resolve: dict[str, str], strategy: str | None,
          as_json: bool) -> None:  # fmt: skip
    """Merge branch SOURCE into --into (main). Exit 3 on conflict, writing nothing; each
    conflict ends with the --resolve option that settles it.

    With --heads BRANCH, join the two heads a git merge left on BRANCH: ours is the head the
    branch reads (`cinch status` lists both), theirs the other.

    \b
    Example:
      cinch merge feature --into main --check
      cinch merge feature --into main --resolve 'view v=theirs'
      cinch merge --heads main
    """
    if (source is None) == (heads_of is None):
        raise click.UsageError("give a SOURCE branch or --heads BRANCH (one of them)")
    if heads_of is not None:
        if check and not resolve and strategy is None:
            render_merge(db.merge_heads_preview(heads_of), as_json, heads=True)
            return
        report, bar = progress_bar()
        db.progress = report
        try:
            result = db.merge_heads(
                heads_of, dry_run=dry_run or check, resolve=resolve, strategy=strategy
            )
        finally:
            bar.stop()
        render_merge(result, as_json, heads=True)
        return
    assert source is not None  # checked above
    if check and not resolve and strategy is None:
        render_merge(db.merge_preview(source, target), as_json)
        return
    report, bar = progress_bar()
    db.progress = report
    try:
        result = db.merge_branches(
            source, target, dry_run=dry_run or check, resolve=resolve, strategy=strategy
        )
    finally:
        bar.stop()
    render_merge(result, as_json)


@click.command("log")
@click.argument("path", metavar="[BRANCH|RANGE|PATH]", required=False)
@click.option("-n", "limit", type=click.IntRange(min=0), default=None,
              help="Show at most N events.")  # fmt: skip
@click.option("--graph", is_flag=True, help="Draw the merge graph beside the events.")
@target_options(tenant=False)
@json_option
@with_db
def log(db: cinchdb.CinchDB, path: str | None, limit: int | None, graph: bool,
        as_json: bool) -> None:  # fmt: skip
    """Show the branch's events, newest first; PATH (table or table.column) limits them to
    what touched that object, across renames.

    BRANCH shows that branch's events (as git log BRANCH). RANGE A..B shows what B introduces:
    the events reachable from B and not from A, as git log A..B. A name that is no branch,
    table or column is an error. A data step shows as "data: UPDATE ..." with the rows it
    changed in the branch's tenant files, summarized ("3 rows in 2 tenants (most: 2 in
    'acme')"); --json gives them per event under data_steps.

    \b
    Example:
      cinch log users.email -n 10
      cinch log main..feature
    """
    spec = db.branch
    if path is not None and (".." in path or path in {b.name for b in db.list_branches()}):
        spec, path = path, None  # a range, or a branch as in `git log feature`
    judged = db.log_range(spec)
    events = db.log(spec, limit=limit, path=path)
    if path is not None and not events and db.schema().table(path.partition(".")[0]) is None:
        branches = ", ".join(b.name for b in db.list_branches())
        raise click.ClickException(
            f"No branch, table or column is called '{path}' (branches: {branches})"
        )
    # Row counts are kept per branch's files: the logged branch's, or every branch's when the
    # range ends at an event id.
    end = spec.rpartition("..")[2].lstrip(".")
    counted = end if end in {b.name for b in db.list_branches()} else None
    steps = {
        e.id: db.data_step_rows(e.id, counted)
        for e in events
        if any(op.type == "DataMigrated" for op in e.operations)
    }
    if as_json:
        emit_json([
            {"id": e.id, "short_id": e.short_id, "type": e.type, "summary": e.summary,
             "author": e.author, "message": e.message, "created_at": e.created_at,
             "parents": list(e.parents),
             "data_steps": [_step_json(rows) for rows in steps.get(e.id, [])]}
            for e in events
        ])  # fmt: skip
        return
    if judged["from_ref"] is not None:
        click.echo(f"# {_introduced(judged)}")
    if not events:
        click.echo("(no events)")
        return
    lanes: list[str] = []
    for event in events:
        prefix = ""
        if graph:
            if event.id not in lanes:
                lanes.append(event.id)
            column = lanes.index(event.id)
            prefix = " ".join("*" if i == column else "|" for i in range(len(lanes))) + " "
            lanes[column : column + 1] = list(event.parents[:1])
            lanes += [p for p in event.parents[1:] if p not in lanes]
            if len(event.parents) > 1:
                prefix = prefix.rstrip() + "\\ "
        when = event.created_at.strftime("%Y-%m-%d %H:%M")
        rows = "".join(f"  [{_rows_text(r)}]" for r in steps.get(event.id, []))
        click.echo(f"{prefix}{event.short_id}  {when}  {event.author:<10}  {event.summary}{rows}")


def _step_json(rows: DataStepRows) -> dict[str, object]:
    """A data step in ``log --json``: its statement and the summary of the rows it changed
    (the per-tenant counts are left out: a fleet has thousands; ``data_step_rows`` has them)."""
    return {k: v for k, v in rows.items() if k not in ("event_id", "per_tenant")}


def _rows_text(rows: DataStepRows) -> str:
    """``12 rows in 3 tenants (most: 5 in 'acme')``, or why there is no count."""
    if rows["tenants"] == 0 and rows["template"] is None:
        return "rows: not applied to any file here yet"
    return data_step_summary(rows)


@click.command("diff")
@click.argument("a")
@click.argument("b", required=False)
@click.option("--format", "fmt", type=click.Choice(["text", "sql", "json"]), default="text",
              show_default=True, help="How to print the operations.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--exit-code", is_flag=True, help="CI: exit 1 when there are differences.")
@target_options(tenant=False)
@with_db
def diff(db: cinchdb.CinchDB, a: str, b: str | None, fmt: str, as_json: bool,
         exit_code: bool) -> None:  # fmt: skip
    """Show the schema operations that turn ref A into ref B (default: the active branch).

    Renames show as renames. A B and A..B compare the two heads; A...B compares the merge base
    of A and B with B (what B changed since they parted, as git diff A...B). Refs are branch
    names, event ids or prefixes, or branch~N. Schemas only: data steps (INSERT, UPDATE,
    DELETE run by migrate) are no difference; a line says how many lie between the refs.

    \b
    Example:
      cinch diff main feature --exit-code
      cinch diff main...feature
    """
    if b is None and ".." not in a:
        b = db.branch
    judged, operations = db.diff_range(a, b)
    what = _compared(judged)
    steps = judged.get("data_steps", 0)
    if fmt == "json" or as_json:
        emit_json({**to_plain(judged), "compared": what,
                   "operations": [to_plain(op) for op in operations]})  # fmt: skip
    elif fmt == "sql":
        click.echo(f"-- {what}")
        if steps:
            click.echo(f"-- {_data_steps_line(judged, steps)}")
        for op in operations:
            click.echo(f"{operation_sql(op)};")
    else:
        click.echo(f"# {what}")
        if steps:
            click.echo(f"# {_data_steps_line(judged, steps)}")
        if not operations:
            click.echo("No differences")
        for op in operations:
            click.echo(operation_summary(op))
    if exit_code and operations:
        sys.exit(EXIT_ERROR)


def _short(event_id: str | None) -> str:
    return "the empty schema" if event_id is None else event_id[:12]


def _compared(judged: RangeInfo) -> str:
    """One line saying what a diff compared."""
    if judged["kind"] == "merge_base":
        return (
            f"{judged['range']}: from the merge base of {judged['from_ref']} and"
            f" {judged['to_ref']} ({_short(judged['from_id'])}) to {judged['to_ref']}"
            f" ({_short(judged['to_id'])})"
        )
    return (
        f"{judged['range']}: {judged['from_ref']} ({_short(judged['from_id'])}) to"
        f" {judged['to_ref']} ({_short(judged['to_id'])})"
    )


def _data_steps_line(judged: RangeInfo, count: int) -> str:
    """``2 data steps lie between main and feature ...``: what a schema diff leaves out."""
    start = (
        f"the merge base of {judged['from_ref']} and {judged['to_ref']}"
        if judged["kind"] == "merge_base"
        else judged["from_ref"]
    )
    steps = "1 data step lies" if count == 1 else f"{count} data steps lie"
    return (
        f"{steps} between {start} and {judged['to_ref']} (not shown: diff compares schemas;"
        f" cinch log shows them)"
    )


def _introduced(judged: RangeInfo) -> str:
    """One line saying which events a log or lint range judged."""
    count = len(judged["events"])
    return (
        f"{judged['range']}: {count} event{'s' if count != 1 else ''} reachable from"
        f" {judged['to_ref']} and not from {judged['from_ref']}"
    )


@click.command("migrate")
@click.argument("sql", required=False)
@click.option("-f", "--file", "path", type=click.Path(exists=True, dir_okay=False),
              help="Read the migration from a file.")  # fmt: skip
@click.option("-m", "--message", default="", help="A message for the journal.")
@click.option("--down", "down_path", type=click.Path(exists=True, dir_okay=False),
              help="A file of INSERT/UPDATE/DELETE that undoes the script's one data step"
                   " (what revert runs).")  # fmt: skip
@click.option("--allow-nondeterministic", is_flag=True,
              help="Let data steps call random(), datetime('now') and the like (recorded in"
                   " the journal).")  # fmt: skip
@target_options(tenant=False)
@json_option
@with_db
def migrate(db: cinchdb.CinchDB, sql: str | None, path: str | None, message: str,
            down_path: str | None, allow_nondeterministic: bool,
            as_json: bool) -> None:  # fmt: skip
    """Apply a migration (DDL and data steps) as journal events, all or nothing.

    Each INSERT, UPDATE or DELETE is a data step: run on the branch template and on every
    tenant, exactly once each, after a preflight on every materialized tenant. The rows each
    one changed are printed under it.

    \b
    Example:
      cinch migrate "CREATE INDEX idx_users_email ON users (email)"
      cinch migrate -f schema.sql
      cinch migrate "UPDATE users SET full_name = first || ' ' || last" --down undo.sql
    """
    if sql is not None and path is not None:
        raise click.UsageError("give the SQL as an argument or with -f FILE, not both")
    text = sql if path is None else _read_sql(path)
    if text is None or not text.strip():
        # Nothing to apply is a mistake (an unset shell variable, an empty file), not a no-op.
        what = f"{path} is empty" if path is not None else "pass DDL as SQL or with -f FILE"
        raise click.UsageError(f"no SQL given: {what}")
    down = None if down_path is None else _read_sql(down_path, "'--down'")
    if down is not None and not down.strip():
        raise click.UsageError(f"no down SQL given: {down_path} is empty")
    report, bar = progress_bar()
    db.progress = report
    try:
        events = db.migrate(
            text, message=message, down=down, allow_nondeterministic=allow_nondeterministic
        )
    finally:
        bar.stop()
    rows = {step["event_id"]: step for step in events.data_steps}
    data: list[dict[str, object]] = []
    for e in events:
        entry: dict[str, object] = {"id": e.id, "summary": e.summary}
        if e.id in rows:
            entry["rows"] = rows[e.id]
        data.append(entry)
    if as_json:
        emit_json(data)
    else:
        for event in events:
            click.echo(f"{event.short_id}  {event.summary}")
            if event.id in rows:
                click.echo(f"{'':12}  {data_step_summary(rows[event.id])}")


def _read_sql(path: str, option: str = "'-f' / '--file'") -> str:
    # A file click let through (it exists) can still be unreadable or not text: a usage error.
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise click.BadParameter(f"cannot read {path}: {error}", param_hint=option) from error


@click.command("revert")
@click.argument("event")
@click.option("--force", is_flag=True, help="Revert even what cannot be restored.")
@target_options(tenant=False)
@json_option
@with_db
def revert(db: cinchdb.CinchDB, event: str, force: bool, as_json: bool) -> None:
    """Append the inverse of EVENT (an id or prefix) as a new event.

    \b
    Example:
      cinch revert 3f2a9c1b
    """
    reverted = db.revert(event, force=force)
    done(f"{reverted.short_id}  {reverted.summary}", as_json,
         {"id": reverted.id, "summary": reverted.summary})  # fmt: skip


@click.command("lint")
@click.argument("range_", metavar="RANGE")
@target_options(tenant=False)
@json_option
@with_db
def lint(db: cinchdb.CinchDB, range_: str, as_json: bool) -> None:
    """CI: flag destructive or data-dependent changes between two refs, A..B (exit 1 if any).

    Only what B introduces is judged: the events reachable from B and not from A, as
    git log A..B (A...B means the same; A.. means A..active branch). Every data step
    (INSERT, UPDATE, DELETE run by migrate) is flagged for review (data_step), and an UPDATE
    or DELETE without WHERE besides (no_where).

    \b
    Example:
      cinch lint main..feature
    """
    separator = "..." if "..." in range_ else ".."
    a, sep, b = range_.partition(separator)
    if not sep or not a:
        raise click.BadParameter("expected A..B, e.g. main..feature", param_hint="RANGE")
    spec = f"{a}{separator}{b or db.branch}"
    judged = db.log_range(spec)
    findings = db.lint(spec)
    if as_json:
        emit_json({**to_plain(judged), "judged": _introduced(judged), "findings": findings})
    else:
        click.echo(f"# {_introduced(judged)}")
        if findings:
            table(findings)
        else:
            click.echo("No destructive or data-dependent changes")
    if findings:
        sys.exit(EXIT_ERROR)


def _difference(difference: SchemaDifference) -> str:
    """``column users.email: journal has TEXT NOT NULL, file has no such column``."""
    # A whole object a side lacks is "no such column"; a part of a table it lacks, "none".
    whole = difference["object"].count(" ") == 1
    missing = f"no such {difference['kind']}" if whole else "none"
    journal = difference["journal"] or missing
    file = difference["file"] or missing
    return f"{difference['object']}: journal has {journal}, file has {file}"


@click.command("check")
@target_options(tenant=False)
@json_option
@with_db
def check(db: cinchdb.CinchDB, as_json: bool) -> None:
    """CI: verify the journal, that every branch replays in SQLite, and every materialized
    tenant (exit 1 on a problem).

    \b
    Example:
      cinch check --json
    """
    result = db.check()
    if as_json:
        click.echo(json.dumps(to_plain(result), indent=2))
    else:
        for event_id in result["corrupt_events"]:
            click.echo(f"corrupt event: {event_id}")
        for bad in result["unreplayable"]:
            click.echo(
                f"does not replay: branch '{bad['branch']}' at event {bad['event'][:12]}:"
                f" {bad['problem']} (recover with 'cinch branch reset')"
            )
        for item in result["drift"]:
            click.echo(f"drift: tenant '{item['tenant']}' on '{item['branch']}': {item['problem']}")
            for difference in item["differences"]:
                click.echo(f"  {_difference(difference)}")
            if item["differences"]:
                click.echo(f"  repair it with: cinch tenant repair {item['tenant']}"
                           f" -b {item['branch']}")  # fmt: skip
        for lag in result["behind"]:
            where = f"tenant '{lag['tenant']}' on '{lag['branch']}'"
            if lag.get("needs_key"):
                click.echo(f"skipped: {where} is encrypted and its key is not at hand")
            else:
                click.echo(f"behind: {where} by {lag['events']} events (catches up when opened)")
        if result["ok"]:
            click.echo("OK: journal intact, every tenant matches the journal")
    if not result["ok"]:
        sys.exit(EXIT_ERROR)
