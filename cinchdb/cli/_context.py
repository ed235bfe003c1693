"""What a command acts on: the project, database, branch and tenant.

The active database and branch come from the project's config (``cinch db switch`` /
``cinch branch switch``), overridden by ``$CINCHDB_DATABASE`` / ``$CINCHDB_BRANCH``, overridden
by ``--database/-d``, ``--branch/-b``. ``--tenant/-t`` defaults to ``main``.

An encrypted tenant's key comes from, first to last: ``--key-file PATH`` (the file's text, one
trailing newline dropped), ``--key -`` (a hidden prompt on the terminal), ``--key VALUE``
(visible to every user of the machine in ``ps``: for throwaway keys only), and
``$CINCHDB_ENCRYPTION_KEY``. ``cinch tenant rotate-key`` takes the new key the same ways
(``--new-key-file``, ``--new-key -``, ``$CINCHDB_NEW_ENCRYPTION_KEY``) and prompts for a key
it was not given.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

import cinchdb
from cinchdb.crypto import NotEncryptedError
from cinchdb.project import (
    CINCHDB_DIR,
    Config,
    find_project,
    read_config,
    require_database,
    write_config,
)

F = TypeVar("F", bound=Callable[..., Any])

DATABASE_ENV = "CINCHDB_DATABASE"
BRANCH_ENV = "CINCHDB_BRANCH"
KEY_ENV = "CINCHDB_ENCRYPTION_KEY"
NEW_KEY_ENV = "CINCHDB_NEW_ENCRYPTION_KEY"
#: The value of ``--key`` (or ``--new-key``) that asks for the key on the terminal.
PROMPT = "-"


def key_option(name: str = "--key", dest: str = "key", envvar: str = KEY_ENV,
               what: str = "Tenant encryption key") -> Callable[[F], F]:  # fmt: skip
    """``--key`` and ``--key-file`` (under other names for ``--new-key``): see the module
    docstring; :func:`read_key` turns them into the key."""

    def decorate(command: F) -> F:
        command = click.option(
            f"{name}-file", f"{dest}_file", default=None, metavar="PATH",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help=f"{what}: read from this file (keeps it out of argv and ps).",
        )(command)  # fmt: skip
        return click.option(
            name, dest, default=None, envvar=envvar,
            help=f"{what}; '-' prompts for it (or ${envvar}). A value here shows in ps.",
        )(command)  # fmt: skip

    return decorate


def read_key(dest: str, value: str | None, key_file: Path | None, *, flag: str = "--key",
             prompt: str = "", confirm: bool = False) -> str | None:  # fmt: skip
    """The key given through ``--key``/``--key-file`` (named by ``dest``), prompting for it
    on ``--key -`` (or, with ``prompt``, when none was given at all); None when none.
    ``flag`` is the option's name in messages.

    The file wins over the environment variable; ``--key`` and ``--key-file`` both on the
    command line is a usage error. The key never appears in a message.
    """
    source = click.get_current_context().get_parameter_source(dest)
    if key_file is not None:
        if value is not None and source != ParameterSource.ENVIRONMENT:
            raise click.UsageError(f"Give {flag} or {flag}-file, not both")
        key = key_file.read_text().rstrip("\r\n")
        if not key:
            raise click.UsageError(f"{flag}-file {key_file} is empty")
        return key
    if value == PROMPT or (value is None and prompt):
        text = prompt or "Encryption key"
        return str(click.prompt(text, hide_input=True, confirmation_prompt=confirm))
    return value


def target_options(*, tenant: bool = True, branch: bool = True) -> Callable[[F], F]:
    """Add ``-d/--database``, ``-b/--branch`` (and ``-t/--tenant``, ``--key``, ``--key-file``)
    to a command. ``branch=False``: no ``-b``, for a command where it would say something else
    (``branch create`` names its source with ``--from``; ``branch list`` lists them all)."""

    def decorate(command: F) -> F:
        options = [
            click.option("--database", "-d", default=None, help="Database (default: active)."),
        ]
        if branch:
            options.append(
                click.option("--branch", "-b", default=None, help="Branch (default: active).")
            )
        if tenant:
            options += [
                click.option("--tenant", "-t", default="main", show_default=True,
                             help="Tenant whose data to use."),
                key_option(),
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
    if db_name != config().active_database:
        # Named by -d or $CINCHDB_DATABASE: a typo is an error here, where connect() would
        # create a second database under the misspelt name.
        require_database(db_name)
    return cinchdb.connect(db_name, branch=branch_name, tenant=tenant, encryption_key=key)


def with_db(command: F) -> F:
    """Open the handle from the target options, pass it as ``db``, close it afterwards."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        target = (kwargs.pop("database", None), kwargs.pop("branch", None),
                  kwargs.pop("tenant", "main"))  # fmt: skip
        key = read_key("key", kwargs.pop("key", None), kwargs.pop("key_file", None))
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


def parsed_by(parse: Callable[[str], Any]) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback that parses the parameter's value (each value, for ``nargs=-1``) with
    ``parse``: a ``click.BadParameter`` it raises names the parameter as ``--help`` shows it
    (click fills the name in), so no message spells an argument by hand."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, tuple):
            return tuple(parse(item) for item in value)
        return parse(value)

    return callback


#: ``--json``: print one JSON document and nothing else on stdout.
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
#: ``--yes``: skip the confirmation of a destructive command.
yes_option = click.option("--yes", is_flag=True, help="Do not ask for confirmation.")


def confirm(yes: bool, question: str) -> None:
    """Ask before destroying data, unless ``--yes``; "no" aborts the command."""
    if not yes:
        click.confirm(question, abort=True)
