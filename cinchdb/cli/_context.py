"""What a command acts on: the project, database, branch and tenant.

The active database and branch come from the project's config (``cinch db switch`` /
``cinch branch switch``), overridden by ``$CINCHDB_DATABASE`` / ``$CINCHDB_BRANCH``, overridden
by ``--database/-d``, ``--branch/-b``. ``--tenant/-t`` defaults to ``main``; ``--key`` to
``$CINCHDB_ENCRYPTION_KEY``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

import click
from click.core import ParameterSource

import cinchdb
from cinchdb.crypto import NotEncryptedError
from cinchdb.project import CINCHDB_DIR, Config, find_project, read_config, write_config

F = TypeVar("F", bound=Callable[..., Any])

DATABASE_ENV = "CINCHDB_DATABASE"
BRANCH_ENV = "CINCHDB_BRANCH"
KEY_ENV = "CINCHDB_ENCRYPTION_KEY"


def target_options(*, tenant: bool = True) -> Callable[[F], F]:
    """Add ``-d/--database``, ``-b/--branch`` (and ``-t/--tenant``, ``--key``) to a command."""

    def decorate(command: F) -> F:
        options = [
            click.option("--database", "-d", default=None, help="Database (default: active)."),
            click.option("--branch", "-b", default=None, help="Branch (default: active)."),
        ]
        if tenant:
            options += [
                click.option("--tenant", "-t", default="main", show_default=True,
                             help="Tenant whose data to use."),
                click.option("--key", default=None, envvar=KEY_ENV,
                             help=f"Tenant encryption key (or ${KEY_ENV})."),
            ]  # fmt: skip
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def config() -> Config:
    return read_config(find_project() / CINCHDB_DIR)


def save_config(new: Config) -> None:
    write_config(find_project() / CINCHDB_DIR, new)


def active(database: str | None, branch: str | None) -> tuple[str, str]:
    current = config()
    return (
        database or os.environ.get(DATABASE_ENV) or current.active_database,
        branch or os.environ.get(BRANCH_ENV) or current.active_branch,
    )


def open_db(
    database: str | None = None,
    branch: str | None = None,
    tenant: str = "main",
    key: str | None = None,
) -> cinchdb.CinchDB:
    db_name, branch_name = active(database, branch)
    return cinchdb.connect(db_name, branch=branch_name, tenant=tenant, encryption_key=key)


def with_db(command: F) -> F:
    """Open the handle from the target options, pass it as ``db``, close it afterwards."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        target = (kwargs.pop("database", None), kwargs.pop("branch", None),
                  kwargs.pop("tenant", "main"))  # fmt: skip
        key = kwargs.pop("key", None)
        from_environment = (
            key is not None
            and click.get_current_context().get_parameter_source("key")
            == ParameterSource.ENVIRONMENT
        )
        try:
            handle = open_db(*target, key)
        except NotEncryptedError:
            # $CINCHDB_ENCRYPTION_KEY is for the encrypted tenants; plain ones take no key.
            if not from_environment:
                raise
            handle = open_db(*target, None)
        with handle:
            return command(*args, db=handle, **kwargs)

    return wrapper  # type: ignore[return-value]


#: ``--json``: print one JSON document and nothing else on stdout.
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
#: ``--yes``: skip the confirmation of a destructive command.
yes_option = click.option("--yes", is_flag=True, help="Do not ask for confirmation.")


def confirm(yes: bool, question: str) -> None:
    """Ask before destroying data, unless ``--yes``; "no" aborts the command."""
    if not yes:
        click.confirm(question, abort=True)
