"""``cinch branch``: create, list, switch, delete, info, merge, reset."""

from __future__ import annotations

import attrs
import click

import cinchdb
from cinchdb.cli._context import (
    active,
    config,
    confirm,
    json_option,
    save_config,
    target_options,
    with_db,
    yes_option,
)
from cinchdb.cli._render import done, emit_json, progress_bar, table
from cinchdb.cli.commands.history import render_merge


@click.group("branch")
def branch_group() -> None:
    """Schema branches: fork, switch, merge.

    \b
    Example:
      cinch branch create feature && cinch branch merge-into-main feature
    """


@branch_group.command("create")
@click.argument("name")
@click.option("--from", "source", default=None, help="Branch to fork (default: the active one).")
@click.option("--with-data", is_flag=True, help="Copy every materialized tenant's data too.")
@click.option("--switch/--no-switch", default=True, show_default=True,
              help="Make the new branch active, like 'git switch -c'.")  # fmt: skip
@target_options(tenant=False, branch=False)
@json_option
@with_db
def create(
    db: cinchdb.CinchDB,
    name: str,
    source: str | None,
    with_data: bool,
    switch: bool,
    as_json: bool,
) -> None:
    """Create branch NAME at the head of the active branch, or of --from (schema only unless
    --with-data).

    \b
    Example:
      cinch branch create feature/tags --no-switch
      cinch branch create hotfix --from main
    """
    branch = db.create_branch(name, source_branch=source, with_data=with_data)
    if switch:
        save_config(attrs.evolve(config(), active_database=db.database, active_branch=name))
    note = " and switched to it" if switch else ""
    done(f"Created branch '{name}' from '{source or db.branch}'{note}", as_json, branch)


@branch_group.command("list")
@target_options(tenant=False, branch=False)
@json_option
@with_db
def list_(db: cinchdb.CinchDB, as_json: bool) -> None:
    """List branches; the active one (of the project, or $CINCHDB_BRANCH) is marked.

    \b
    Example:
      cinch branch list
    """
    active_database, active_branch = active(None, None)
    rows = [
        {"name": b.name, "active": db.database == active_database and b.name == active_branch,
         "head": (b.head or "")[:12],
         "created_at": b.created_at}
        for b in db.list_branches()
    ]  # fmt: skip
    emit_json(rows) if as_json else table(rows)


@branch_group.command("switch")
@click.argument("name")
@target_options(tenant=False)
@json_option
@with_db
def switch(db: cinchdb.CinchDB, name: str, as_json: bool) -> None:
    """Make NAME the active branch.

    \b
    Example:
      cinch branch switch main
    """
    db.switch_branch(name)
    save_config(attrs.evolve(config(), active_database=db.database, active_branch=name))
    done(f"Switched to branch '{name}'", as_json, {"branch": name})


@branch_group.command("delete")
@click.argument("name")
@click.option("--force", is_flag=True,
              help="Delete even a branch with events no other branch has (git's -D).")  # fmt: skip
@yes_option
@target_options(tenant=False)
@json_option
@with_db
def delete(db: cinchdb.CinchDB, name: str, force: bool, yes: bool, as_json: bool) -> None:
    """Delete branch NAME and its tenant files (never main). A branch whose events no other
    branch has is refused without --force; deleting the active branch switches to main first.

    \b
    Example:
      cinch branch delete feature --yes
    """
    confirm(yes, f"Delete branch '{name}' and its tenant data?")
    switched = name == db.branch and name != "main"
    if switched:
        db.switch_branch("main")
    db.delete_branch(name, force=force)
    current = config()
    if current.active_database == db.database and current.active_branch == name:
        save_config(attrs.evolve(current, active_branch="main"))
    if switched and not as_json:
        click.echo("Switched to branch 'main'")
    done(f"Deleted branch '{name}'", as_json,
         {"deleted": name, "switched_to": "main" if switched else None})  # fmt: skip


@branch_group.command("info")
@click.argument("name", required=False)
@target_options(tenant=False)
@json_option
@with_db
def info(db: cinchdb.CinchDB, name: str | None, as_json: bool) -> None:
    """Show a branch's head and latest events (default: the active branch).

    \b
    Example:
      cinch branch info feature
    """
    name = name or db.branch
    db.switch_branch(name)
    events = db.log(name, limit=5)
    data = {
        "branch": name,
        "head": events[0].id if events else None,
        "tables": [t.name for t in db.list_tables()],
        "recent": [f"{e.short_id} {e.summary}" for e in events],
    }
    if as_json:
        emit_json(data)
    else:
        table([{"": k, "value": "\n".join(v) if isinstance(v, list) else v}
               for k, v in data.items()])  # fmt: skip


def _merge(db: cinchdb.CinchDB, source: str, target: str, dry_run: bool, as_json: bool) -> None:
    report, bar = progress_bar()
    db.progress = report
    try:
        result = db.merge_branches(source, target, dry_run=dry_run)
    finally:
        bar.stop()
    render_merge(result, as_json)


@branch_group.command("merge")
@click.argument("source")
@click.option("--into", "target", default="main", show_default=True, help="Target branch.")
@click.option("--dry-run", is_flag=True, help="Compute the merge, write nothing.")
@target_options(tenant=False)
@json_option
@with_db
def merge(db: cinchdb.CinchDB, source: str, target: str, dry_run: bool, as_json: bool) -> None:
    """Merge branch SOURCE into another branch (exit 3 on conflict).

    \b
    Example:
      cinch branch merge feature --into main
    """
    _merge(db, source, target, dry_run, as_json)


@branch_group.command("merge-into-main")
@click.argument("source")
@click.option("--dry-run", is_flag=True, help="Compute the merge, write nothing.")
@target_options(tenant=False)
@json_option
@with_db
def merge_into_main(db: cinchdb.CinchDB, source: str, dry_run: bool, as_json: bool) -> None:
    """Merge branch SOURCE into main (exit 3 on conflict), then make main the active branch,
    so the next command works on main's tenants.

    \b
    Example:
      cinch branch merge-into-main feature
    """
    _merge(db, source, "main", dry_run, as_json)
    current = config()
    on_main = current.active_database == db.database and current.active_branch == "main"
    if not dry_run and not on_main:
        save_config(attrs.evolve(current, active_database=db.database, active_branch="main"))
        if not as_json:
            click.echo("Switched to branch 'main'")


@branch_group.command("reset")
@click.argument("name", metavar="BRANCH")
@click.argument("ref")
@target_options(tenant=False)
@json_option
@with_db
def reset(db: cinchdb.CinchDB, name: str, ref: str, as_json: bool) -> None:
    """Move BRANCH back to REF, an earlier event of its history (an id or prefix, or
    BRANCH~N), like 'git reset': the way out when 'cinch check' reports a branch that does
    not replay. Refused while a tenant file of the branch holds an event past REF.

    \b
    Example:
      cinch branch reset main main~1
    """
    result = db.reset_branch(name, ref)
    if not result["events_dropped"]:
        message = f"Branch '{name}' is already at {ref}"
    else:
        head = (result["head"] or "the empty history")[:12]
        message = (
            f"Reset branch '{name}' to {head}"
            f" ({result['events_dropped']} events left the branch;"
            f" it was at {(result['previous'] or '')[:12]})"
        )
    done(message, as_json, result)
