"""``cinch tenant``: create, list, delete, reset, repair, copy, rename, status, sync,
rotate-key."""

from __future__ import annotations

from pathlib import Path

import click
from click.core import ParameterSource

import cinchdb
from cinchdb.cli._context import (
    KEY_ENV,
    NEW_KEY_ENV,
    confirm,
    json_option,
    key_option,
    read_key,
    target_options,
    with_db,
    yes_option,
)
from cinchdb.cli._render import done, emit_json, progress_bar, table


@click.group("tenant")
def tenant_group() -> None:
    """Tenants: one isolated SQLite file each, sharing the branch's schema.

    \b
    Example:
      cinch tenant create customer_a
    """


@tenant_group.command("create")
@click.argument("name")
@click.option("--lazy/--no-lazy", default=True, show_default=True,
              help="Lazy: no file until the first write.")  # fmt: skip
@click.option("--encrypt", is_flag=True, help="Encrypt the tenant's file with its key.")
@key_option(dest="tenant_key", what="Encryption key")
@target_options(tenant=False)
@json_option
@with_db
def create(db: cinchdb.CinchDB, name: str, lazy: bool, encrypt: bool, tenant_key: str | None,
           tenant_key_file: Path | None, as_json: bool) -> None:  # fmt: skip
    """Create tenant NAME.

    \b
    Example:
      cinch tenant create customer_a --no-lazy
      cinch tenant create vault --encrypt --key-file vault.key
    """
    source = click.get_current_context().get_parameter_source("tenant_key")
    given_here = tenant_key_file is not None or (
        tenant_key is not None and source != ParameterSource.ENVIRONMENT
    )
    if given_here and not encrypt:
        raise click.UsageError("--key encrypts only together with --encrypt")
    tenant_key = (
        read_key("tenant_key", tenant_key, tenant_key_file, confirm=True) if encrypt else None
    )
    if encrypt and tenant_key is None:
        raise click.UsageError(f"--encrypt needs --key (or ${KEY_ENV})")
    created = db.create_tenant(name, lazy=lazy, encrypt=encrypt,
                               encryption_key=tenant_key if encrypt else None)  # fmt: skip
    done(f"Created tenant '{name}'" + (" (lazy)" if lazy else ""), as_json, created)


@tenant_group.command("list")
@target_options(tenant=False)
@json_option
@with_db
def list_(db: cinchdb.CinchDB, as_json: bool) -> None:
    """List tenants (main first).

    \b
    Example:
      cinch tenant list
    """
    rows = [{"name": t.name, "encrypted": t.encrypted, "created_at": t.created_at}
            for t in db.list_tenants()]  # fmt: skip
    emit_json(rows) if as_json else table(rows)


@tenant_group.command("delete")
@click.argument("name")
@yes_option
@target_options(tenant=False)
@json_option
@with_db
def delete(db: cinchdb.CinchDB, name: str, yes: bool, as_json: bool) -> None:
    """Delete tenant NAME and its data in every branch.

    \b
    Example:
      cinch tenant delete customer_a --yes
    """
    confirm(yes, f"Delete tenant '{name}' and all its data?")
    db.delete_tenant(name)
    done(f"Deleted tenant '{name}'", as_json, {"deleted": name})


@tenant_group.command("reset")
@click.argument("name")
@yes_option
@target_options(tenant=False)
@json_option
@with_db
def reset(db: cinchdb.CinchDB, name: str, yes: bool, as_json: bool) -> None:
    """Rebuild tenant NAME's file on the branch at its head: its rows there are lost.

    For a tenant whose file followed another git branch and cannot be brought back to the
    checked-out history without losing data (the error names what).

    \b
    Example:
      git switch main
      cinch tenant reset customer_a --yes
    """
    confirm(yes, f"Rebuild tenant '{name}' on branch '{db.branch}' and lose its rows there?")
    db.reset_tenant(name)
    done(f"Rebuilt tenant '{name}' on branch '{db.branch}' at its head (its rows there are gone)",
         as_json, {"tenant": name, "branch": db.branch, "reset": True})  # fmt: skip


def _key_of(db: cinchdb.CinchDB, name: str, key: str | None, key_file: Path | None) -> str | None:
    """The key given for tenant ``name``: ``$CINCHDB_ENCRYPTION_KEY`` is for encrypted
    tenants, so a plain one ignores it (a key given on the command line is still an error)."""
    key = read_key("tenant_key", key, key_file)
    source = click.get_current_context().get_parameter_source("tenant_key")
    from_environment = key_file is None and source == ParameterSource.ENVIRONMENT
    if key is not None and from_environment:
        return key if any(t.name == name and t.encrypted for t in db.list_tenants()) else None
    return key


@tenant_group.command("repair")
@click.argument("name")
@key_option(dest="tenant_key", what="Encryption key")
@target_options(tenant=False)
@json_option
@with_db
def repair(db: cinchdb.CinchDB, name: str, tenant_key: str | None, tenant_key_file: Path | None,
           as_json: bool) -> None:  # fmt: skip
    """Rebuild tenant NAME's schema on the branch from the journal, keeping its rows.

    For a tenant `cinch check` reports as drifted (its file was changed outside CinchDB).
    Every row of every column the journal has is kept; refused, changing nothing, when a
    table or column only the file has holds data, or the rows break the journal's
    constraints (the error names the table, column and rows).

    \b
    Example:
      cinch check
      cinch tenant repair customer_a
    """
    result = db.repair_tenant(name, encryption_key=_key_of(db, name, tenant_key, tenant_key_file))
    where = f"tenant '{name}' on branch '{result['branch']}'"
    if as_json:
        emit_json(result)
    elif not result["differences"]:
        click.echo(f"{where[0].upper()}{where[1:]} matches the journal: nothing to repair")
    else:
        click.echo(f"Repaired {where} ({result['rows_kept']} rows kept):")
        for difference in result["differences"]:
            click.echo(f"  {difference['object']}")


@tenant_group.command("copy")
@click.argument("source")
@click.argument("target")
@key_option(dest="tenant_key", what="SOURCE's encryption key")
@target_options(tenant=False)
@json_option
@with_db
def copy(db: cinchdb.CinchDB, source: str, target: str, tenant_key: str | None,
         tenant_key_file: Path | None, as_json: bool) -> None:  # fmt: skip
    """Create tenant TARGET with a copy of SOURCE's data (an encrypted SOURCE: with its key,
    which the copy keeps).

    \b
    Example:
      cinch tenant copy customer_a customer_a_staging
      cinch tenant copy vault vault_staging --key-file vault.key
    """
    copied = db.copy_tenant(source, target, encryption_key=_key_of(db, source, tenant_key,
                                                                   tenant_key_file))  # fmt: skip
    done(f"Copied tenant '{source}' to '{target}'", as_json, copied)


@tenant_group.command("rename")
@click.argument("old")
@click.argument("new")
@key_option(dest="tenant_key", what="OLD's encryption key")
@target_options(tenant=False)
@json_option
@with_db
def rename(db: cinchdb.CinchDB, old: str, new: str, tenant_key: str | None,
           tenant_key_file: Path | None, as_json: bool) -> None:  # fmt: skip
    """Rename tenant OLD to NEW (an encrypted one: with its key, which it keeps).

    \b
    Example:
      cinch tenant rename customer_a acme
      cinch tenant rename vault vault_eu --key-file vault.key
    """
    renamed = db.rename_tenant(old, new, encryption_key=_key_of(db, old, tenant_key,
                                                                 tenant_key_file))  # fmt: skip
    done(f"Renamed tenant '{old}' to '{new}'", as_json, renamed)


@tenant_group.command("status")
@target_options(tenant=False)
@json_option
@with_db
def status(db: cinchdb.CinchDB, as_json: bool) -> None:
    """Show each tenant on the branch: materialized or lazy, and events behind the head.

    \b
    Example:
      cinch tenant status --json
    """
    rows = db.tenant_status()
    if as_json:
        emit_json(rows)
    else:
        table([{**r, "cursor": (r["cursor"] or "")[:12]} for r in rows])


@tenant_group.command("sync")
@target_options(tenant=False)
@json_option
@with_db
def sync(db: cinchdb.CinchDB, as_json: bool) -> None:
    """Bring every materialized tenant of the branch to the head (several files at once, with
    a progress bar from 20 tenants).

    \b
    Example:
      cinch tenant sync
    """
    report, bar = progress_bar()
    try:
        result = db.sync_tenants(progress=report)
    finally:
        bar.stop()
    behind = len(result["left_behind"])
    done(f"Synced {result['tenants']} tenants: {len(result['updated'])} updated,"
         f" {result['events_applied']} events applied"
         + (f", {behind} still behind (locked; run it again)" if behind else ""),
         as_json, result)  # fmt: skip


@tenant_group.command("rotate-key")
@click.argument("name")
@key_option(dest="old_key", what="Current key")
@key_option("--new-key", "new_key", NEW_KEY_ENV, what="New key")
@click.option("--resume", is_flag=True,
              help="Finish an interrupted rotation (either key will do).")  # fmt: skip
@target_options(tenant=False)
@json_option
@with_db
def rotate_key(db: cinchdb.CinchDB, name: str, old_key: str | None, old_key_file: Path | None,
               new_key: str | None, new_key_file: Path | None, resume: bool,
               as_json: bool) -> None:  # fmt: skip
    """Re-encrypt every file of tenant NAME under a new key.

    Keys come from --key-file/--new-key-file, the environment ($CINCHDB_ENCRYPTION_KEY,
    $CINCHDB_NEW_ENCRYPTION_KEY) or a hidden prompt (--key -, or any key not given).
    A rotation that a crash interrupted finishes with --resume or at the next open.

    \b
    Example:
      cinch tenant rotate-key vault --key-file old.key --new-key-file new.key
      cinch tenant rotate-key vault --resume --new-key-file new.key
    """
    old = read_key("old_key", old_key, old_key_file)
    new = read_key("new_key", new_key, new_key_file, flag="--new-key")
    if resume:
        if old is None and new is None:
            new = read_key("new_key", None, None, prompt=f"Key of tenant '{name}' (old or new)")
    else:
        old = old or read_key("old_key", None, None, prompt=f"Current key of tenant '{name}'")
        new = new or read_key(
            "new_key", None, None, prompt=f"New key of tenant '{name}'", confirm=True
        )
    db.rotate_tenant_key(name, old, new, resume=resume)
    done(f"Rotated the key of tenant '{name}'" + (" (resumed)" if resume else ""), as_json,
         {"tenant": name, "rotated": True, "resumed": resume})  # fmt: skip
