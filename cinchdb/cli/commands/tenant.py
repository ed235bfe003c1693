"""``cinch tenant``: create, list, delete, copy, rename, status, sync."""

from __future__ import annotations

import click
from click.core import ParameterSource

import cinchdb
from cinchdb.cli._context import KEY_ENV, confirm, json_option, target_options, with_db, yes_option
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
@click.option("--encrypt", is_flag=True, help="Encrypt the tenant's file with --key.")
@click.option("--key", "tenant_key", default=None, envvar=KEY_ENV,
              help=f"Encryption key (or ${KEY_ENV}).")  # fmt: skip
@target_options(tenant=False)
@json_option
@with_db
def create(db: cinchdb.CinchDB, name: str, lazy: bool, encrypt: bool, tenant_key: str | None,
           as_json: bool) -> None:  # fmt: skip
    """Create tenant NAME.

    \b
    Example:
      cinch tenant create customer_a --no-lazy
    """
    source = click.get_current_context().get_parameter_source("tenant_key")
    if tenant_key is not None and not encrypt and source != ParameterSource.ENVIRONMENT:
        raise click.UsageError("--key encrypts only together with --encrypt")
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
@with_db
def delete(db: cinchdb.CinchDB, name: str, yes: bool) -> None:
    """Delete tenant NAME and its data in every branch.

    \b
    Example:
      cinch tenant delete customer_a --yes
    """
    confirm(yes, f"Delete tenant '{name}' and all its data?")
    db.delete_tenant(name)
    done(f"Deleted tenant '{name}'")


@tenant_group.command("copy")
@click.argument("source")
@click.argument("target")
@target_options(tenant=False)
@with_db
def copy(db: cinchdb.CinchDB, source: str, target: str) -> None:
    """Create tenant TARGET with a copy of SOURCE's data.

    \b
    Example:
      cinch tenant copy customer_a customer_a_staging
    """
    db.copy_tenant(source, target)
    done(f"Copied tenant '{source}' to '{target}'")


@tenant_group.command("rename")
@click.argument("old")
@click.argument("new")
@target_options(tenant=False)
@with_db
def rename(db: cinchdb.CinchDB, old: str, new: str) -> None:
    """Rename tenant OLD to NEW.

    \b
    Example:
      cinch tenant rename customer_a acme
    """
    db.rename_tenant(old, new)
    done(f"Renamed tenant '{old}' to '{new}'")


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
    """Bring every materialized tenant of the branch to the head.

    \b
    Example:
      cinch tenant sync
    """
    report, bar = progress_bar()
    try:
        result = db.sync_tenants(progress=report)
    finally:
        bar.stop()
    done(f"Synced {result['tenants']} tenants: {len(result['updated'])} updated,"
         f" {result['events_applied']} events applied", as_json, result)  # fmt: skip
