"""``cinch key``: API keys for ``cinch serve``: create, list, revoke."""

from __future__ import annotations

import re
from datetime import timedelta

import click

from cinchdb.cli._context import json_option, parsed_by
from cinchdb.cli._render import done, emit_json, table
from cinchdb.keys import SCOPES, ApiKeys, KeyInfo

_DURATION = re.compile(r"([0-9]+)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
#: Of any unit: 999999 days is some 2,700 years, well inside the dates Python can hold.
_MAX_COUNT = 999_999


def _duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``45s``: a whole number, then its unit."""
    match = _DURATION.fullmatch(text)
    if match is None or int(match[1]) == 0:
        raise click.BadParameter(
            f"'{text}' is not a duration: use a whole number and a unit (s, m, h or d),"
            " e.g. 30d, 12h, 90m"
        )
    if int(match[1]) > _MAX_COUNT:
        raise click.BadParameter(f"'{text}' is too long: at most {_MAX_COUNT} of a unit")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


@click.group("key")
def key_group() -> None:
    """API keys for 'cinch serve': create, list, revoke.

    \b
    Example:
      cinch key create --scope data:read --tenant acme --expires 30d --name reports
    """


@key_group.command("create")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(SCOPES),
              help="What the key may do (repeat it); default: every scope.")  # fmt: skip
@click.option("--database", "databases", multiple=True, metavar="NAME",
              help="A database the key may reach (repeat it); default: any.")  # fmt: skip
@click.option("--branch", "branches", multiple=True, metavar="PATTERN",
              help="Branches the key may reach, as a pattern: 'feature/*' (repeat it);"
                   " default: any.")  # fmt: skip
@click.option("--tenant", "tenants", multiple=True, metavar="NAME",
              help="A tenant the key may reach (repeat it); default: any.")  # fmt: skip
@click.option("--expires", "expires_in", default=None, metavar="DURATION",
              callback=parsed_by(_duration),
              help="Valid for this long: 30d, 12h, 90m, 45s; default: no expiry.")  # fmt: skip
@click.option("--name", default=None, help="A label for 'cinch key list'.")
@json_option
def create(scopes: tuple[str, ...], databases: tuple[str, ...], branches: tuple[str, ...],
           tenants: tuple[str, ...], expires_in: timedelta | None, name: str | None,
           as_json: bool) -> None:  # fmt: skip
    """Create an API key and print it: it is shown this once, CinchDB keeps only its hash.

    \b
    Example:
      cinch key create --scope data:read --scope kv:read --tenant acme --expires 30d
      cinch key create --branch 'feature/*' --name ci
    """
    with ApiKeys() as keys:
        created = keys.create(
            scopes=scopes or None,
            databases=databases,
            branches=branches,
            tenants=tenants,
            expires_in=expires_in,
            name=name,
        )
    if as_json:
        emit_json({**created.info.as_dict(), "token": created.token})
    else:
        click.echo(created.token)
    click.echo(
        f"Created API key {created.info.id}. It is shown only once: store it now"
        " (CinchDB keeps only its hash)",
        err=True,
    )


def _row(info: KeyInfo) -> dict[str, object]:
    plain = info.as_dict()
    every = "any"
    return {
        "id": info.id,
        "name": info.name or "",
        "scopes": "all" if info.scopes == SCOPES else " ".join(info.scopes),
        "databases": " ".join(info.databases) or every,
        "branches": " ".join(info.branches) or every,
        "tenants": " ".join(info.tenants) or every,
        "created": plain["created_at"],
        "expires": plain["expires_at"] or "never",
        "status": plain["status"],
    }


@key_group.command("list")
@json_option
def list_(as_json: bool) -> None:
    """List the project's API keys (never their secrets), oldest first.

    \b
    Example:
      cinch key list --json
    """
    with ApiKeys() as keys:
        found = keys.list()
    if as_json:
        emit_json([info.as_dict() for info in found])
    else:
        table([_row(info) for info in found])


@key_group.command("revoke")
@click.argument("key_id", metavar="ID")
@json_option
def revoke(key_id: str, as_json: bool) -> None:
    """Revoke the API key ID: refused from the next request on, by every server process.

    \b
    Example:
      cinch key revoke 3mfqv7x2kd5hzq4a
    """
    with ApiKeys() as keys:
        info = keys.revoke(key_id)
    done(f"Revoked API key {info.id}", as_json, info.as_dict())
