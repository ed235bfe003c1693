"""``cinch kv``: a tenant's key-value store."""

from __future__ import annotations

import json
from typing import Any

import click

import cinchdb
from cinchdb.cli._context import json_option, parsed_by, target_options, with_db
from cinchdb.cli._render import done, emit_json, to_plain


@click.group("kv")
def kv_group() -> None:
    """A tenant's key-value store (Redis-like; not part of the schema or merges).

    \b
    Example:
      cinch kv set --json session:abc '{"user_id": 123}' --ttl 3600 --tenant customer_a
    """


def _parse(text: str, as_json: bool, hint: str = "VALUE", what: str = "") -> Any:
    """VALUE as given (a string), or parsed when ``--json`` says it is JSON: never guessed from
    whether the text happens to parse."""
    if not as_json:
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise click.BadParameter(
            f"{what or repr(text)} is not JSON: {e.msg} (line {e.lineno}, column {e.colno})",
            param_hint=hint,
        ) from None


def _text(value: Any) -> str:
    """A value as ``kv get`` prints it: a string raw, anything else as one line of JSON."""
    return value if isinstance(value, str) else json.dumps(to_plain(value))


def _not_found(name: str) -> click.ClickException:
    return click.ClickException(f"Key '{name}' not found")


def _seconds(value: float) -> int | float:
    """``60.0`` from the command line as ``60``, so messages repeat what was typed."""
    return int(value) if value.is_integer() else value


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
@click.option("--json", "as_json", is_flag=True,
              help='VALUE is JSON (a number, true, null, a list, an object, "text").')  # fmt: skip
@click.option("--raw", is_flag=True, hidden=True, help="Kept for old scripts: the default now.")
@target_options()
@with_db
def set_(db: cinchdb.CinchDB, name: str, value: str, ttl: float | None, as_json: bool,
         raw: bool) -> None:  # fmt: skip
    """Set KEY to VALUE, stored as the string given; with --json, VALUE is parsed as JSON.

    \b
    Example:
      cinch kv set greeting 'hello: world'
      cinch kv set --json session:abc '{"user_id": 123}' --ttl 3600
    """
    if raw and as_json:
        raise click.UsageError("give --json or --raw, not both")
    stored = _parse(value, as_json)
    db.kv.set(name, stored, ttl=ttl)
    done(f"Set '{name}'")


@kv_group.command("get")
@click.argument("name", metavar="KEY")
@target_options()
@json_option
@with_db
def get(db: cinchdb.CinchDB, name: str, as_json: bool) -> None:
    """Print KEY's value: a string as it is, anything else as JSON; --json prints a string as
    JSON too (exit 1 if missing or expired).

    \b
    Example:
      cinch kv get config:timeout
    """
    if not db.kv.exists(name):
        raise _not_found(name)
    value = db.kv.get(name)
    click.echo(json.dumps(to_plain(value)) if as_json else _text(value))


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
    """Print KEY's remaining seconds as Redis does: -1 when it has no expiry, -2 when missing.

    \b
    Example:
      cinch kv ttl session:abc
    """
    left = db.kv.ttl(name)
    # The SDK keeps the reference's answers (None: no expiry, -1: missing); the CLI speaks Redis.
    seconds = -1 if left is None else -2 if left == -1 else left
    if as_json:
        emit_json({"key": name, "ttl": seconds})
    else:
        click.echo(str(seconds))


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


@kv_group.command("exists")
@click.argument("names", nargs=-1, required=True, metavar="KEY...")
@target_options()
@json_option
@with_db
def exists(db: cinchdb.CinchDB, names: tuple[str, ...], as_json: bool) -> None:
    """Print how many of the KEYs exist (as Redis counts); --json: each key, true or false.

    \b
    Example:
      cinch kv exists user:1 user:2
    """
    found = {name: db.kv.exists(name) for name in names}
    if as_json:
        emit_json(found)
    else:
        click.echo(str(sum(found[name] for name in names)))


@kv_group.command("expire")
@click.argument("name", metavar="KEY")
@click.argument("seconds", type=float)
@target_options()
@json_option
@with_db
def expire(db: cinchdb.CinchDB, name: str, seconds: float, as_json: bool) -> None:
    """Make KEY expire SECONDS from now, replacing any TTL (exit 1 if KEY is missing).

    \b
    Example:
      cinch kv expire session:abc 3600
    """
    if not db.kv.expire(name, _seconds(seconds)):
        raise _not_found(name)
    done(f"Key '{name}' expires in {_seconds(seconds)} seconds", as_json,
         {"key": name, "ttl": _seconds(seconds)})  # fmt: skip


@kv_group.command("persist")
@click.argument("name", metavar="KEY")
@target_options()
@json_option
@with_db
def persist(db: cinchdb.CinchDB, name: str, as_json: bool) -> None:
    """Remove KEY's expiry (exit 1 if KEY is missing).

    \b
    Example:
      cinch kv persist session:abc
    """
    if not db.kv.exists(name):
        raise _not_found(name)
    removed = db.kv.persist(name)
    message = f"Key '{name}' no longer expires" if removed else f"Key '{name}' has no expiry"
    done(message, as_json, {"key": name, "persisted": removed})


@kv_group.command("mget")
@click.argument("names", nargs=-1, required=True, metavar="KEY...")
@target_options()
@json_option
@with_db
def mget(db: cinchdb.CinchDB, names: tuple[str, ...], as_json: bool) -> None:
    """Print each KEY and its value, tab-separated, as ``kv get`` prints values (exit 1
    naming every missing key).

    \b
    Example:
      cinch kv mget config:debug config:timeout
    """
    values = db.kv.mget(names)
    if as_json:
        emit_json(values)
    else:
        for name, value in values.items():
            click.echo(f"{name}\t{_text(value)}")


@kv_group.command("mset")
@click.argument("pairs", nargs=-1, required=True, metavar="KEY VALUE...")
@click.option("--ttl", type=float, default=None, help="Expire after this many seconds.")
@click.option("--json", "as_json", is_flag=True, help="The VALUEs are JSON.")
@target_options()
@with_db
def mset(db: cinchdb.CinchDB, pairs: tuple[str, ...], ttl: float | None, as_json: bool) -> None:
    """Set several keys at once, all or none (strings, or JSON with --json).

    \b
    Example:
      cinch kv mset config:debug true config:timeout 30 --json
    """
    hint = "KEY VALUE..."
    if len(pairs) % 2:
        raise click.BadParameter(f"give pairs of KEY VALUE ({len(pairs)} arguments)",
                                 param_hint=hint)  # fmt: skip
    items = {
        key: _parse(value, as_json, hint, f"the value of '{key}', {value!r},")
        for key, value in zip(pairs[::2], pairs[1::2], strict=True)
    }
    db.kv.mset(items, ttl=ttl)
    done(f"Set {len(items)} key(s)")
