"""``cinch kv``: a tenant's key-value store."""

from __future__ import annotations

import json
from typing import Any

import click

import cinchdb
from cinchdb.cli._app import EXIT_ERROR
from cinchdb.cli._context import json_option, parsed_by, target_options, with_db
from cinchdb.cli._render import done, emit_json, to_plain


@click.group("kv")
def kv_group() -> None:
    """A tenant's key-value store (Redis-like; not part of the schema or merges).

    \b
    Example:
      cinch kv set session:abc '{"user_id": 123}' --ttl 3600 --tenant customer_a
    """


def _parse(text: str, raw: bool) -> Any:
    if raw:
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text  # not JSON: a plain string


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise click.BadParameter(f"'{text}' is not a number") from None


@kv_group.command("set")
@click.argument("name", metavar="KEY")
@click.argument("value")
@click.option("--ttl", type=float, default=None, help="Expire after this many seconds.")
@click.option("--raw", is_flag=True, help="Store VALUE as a string even if it is JSON.")
@target_options()
@with_db
def set_(db: cinchdb.CinchDB, name: str, value: str, ttl: float | None, raw: bool) -> None:
    """Set KEY to VALUE (JSON: numbers, true/false, null, lists, objects; else a string).

    \b
    Example:
      cinch kv set config:timeout 30
    """
    db.kv.set(name, _parse(value, raw), ttl=ttl)
    done(f"Set '{name}'")


@kv_group.command("get")
@click.argument("name", metavar="KEY")
@target_options()
@json_option
@with_db
def get(db: cinchdb.CinchDB, name: str, as_json: bool) -> None:
    """Print KEY's value as JSON (exit 1 if missing or expired).

    \b
    Example:
      cinch kv get config:timeout
    """
    if not db.kv.exists(name):
        click.echo(f"Error: Key '{name}' not found", err=True)
        raise SystemExit(EXIT_ERROR)
    emit_json(to_plain(db.kv.get(name)))


@kv_group.command("delete")
@click.argument("keys", nargs=-1, required=True)
@target_options()
@json_option
@with_db
def delete(db: cinchdb.CinchDB, keys: tuple[str, ...], as_json: bool) -> None:
    """Delete keys; print how many existed.

    \b
    Example:
      cinch kv delete user:1 user:2
    """
    count = db.kv.delete(*keys)
    done(f"Deleted {count} key(s)", as_json, {"deleted": count})


@kv_group.command("keys")
@click.argument("pattern", default="*")
@target_options()
@json_option
@with_db
def keys(db: cinchdb.CinchDB, pattern: str, as_json: bool) -> None:
    """List keys matching a Redis glob pattern, sorted.

    \b
    Example:
      cinch kv keys 'user:*'
    """
    found = db.kv.keys(pattern)
    if as_json:
        emit_json(found)
    else:
        for key in found:
            click.echo(key)


@kv_group.command("ttl")
@click.argument("name", metavar="KEY")
@target_options()
@json_option
@with_db
def ttl(db: cinchdb.CinchDB, name: str, as_json: bool) -> None:
    """Print KEY's remaining seconds: a number, "none" (no expiry) or -1 (missing).

    \b
    Example:
      cinch kv ttl session:abc
    """
    left = db.kv.ttl(name)
    done("none" if left is None else str(left), as_json, {"key": name, "ttl": left})


@kv_group.command("incr")
@click.argument("name", metavar="KEY")
@click.argument("amount", default="1", callback=parsed_by(_number))
@target_options()
@json_option
@with_db
def incr(db: cinchdb.CinchDB, name: str, amount: int | float, as_json: bool) -> None:
    """Atomically add AMOUNT (default 1) to KEY; print the new value.

    \b
    Example:
      cinch kv incr page:views
    """
    value = db.kv.increment(name, amount)
    done(str(value), as_json, {"key": name, "value": value})
