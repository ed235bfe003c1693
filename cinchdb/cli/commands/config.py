"""``cinch config``: the project's settings in ``.cinchdb/config.json`` (query analytics).

The active database and branch live in the same file but have commands of their own
(``cinch db switch``, ``cinch branch switch``), which check that what they name exists; the
keys here are the ones with nothing else to set them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import click

from cinchdb.cli._context import config, json_option, parsed_by, save_config
from cinchdb.cli._render import emit_json, table
from cinchdb.project import Config


@attrs.frozen
class _Key:
    """A setting: how a value is read from the command line and shown back."""

    parse: Callable[[str], Any]
    show: Callable[[Any], str]
    #: What a valid value is, for the error on a bad one and ``config list``.
    accepts: str


_ON = {"on": True, "true": True, "off": False, "false": False}


def _on_off(text: str) -> bool:
    value = _ON.get(text.lower())
    if value is None:
        raise ValueError(text)
    return value


def _whole(least: int, most: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        # int() alone would take ' 5', '5_000' and '+5': only plain digits are a count here.
        if not text.isdigit() or not text.isascii() or not least <= int(text) <= most:
            raise ValueError(text)
        return int(text)

    return parse


def _on_off_text(value: Any) -> str:
    return "on" if value else "off"


def _whole_value(value: Any) -> Any:
    """slow_query_ms is held as a float (the SDK compares times in fractions of a
    millisecond); what was set as 250 is shown as 250, not 250.0."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _whole_text(value: Any) -> str:
    return str(_whole_value(value))


# Upper bounds keep a typo's extra digits out of the file: a day for one statement, a century
# of retention (the analytics file's own row caps bound it long before).
_MAX_SLOW_MS = 86_400_000
_MAX_RETENTION_DAYS = 36_500

#: The settable keys, in the order ``config list`` shows them.
KEYS: dict[str, _Key] = {
    "analytics": _Key(_on_off, _on_off_text, "on or off"),
    "slow_query_ms": _Key(
        _whole(0, _MAX_SLOW_MS), _whole_text, f"a whole number of milliseconds, 0 to {_MAX_SLOW_MS}"
    ),
    "analytics_retention_days": _Key(
        _whole(1, _MAX_RETENTION_DAYS),
        _whole_text,
        f"a whole number of days, 1 to {_MAX_RETENTION_DAYS}",
    ),
}


def _key(text: str) -> str:
    if text not in KEYS:
        raise click.BadParameter(f"unknown config key '{text}': use {', '.join(KEYS)}")
    return text


@click.group("config")
def config_group() -> None:
    """Project settings: query analytics on or off, the slow-query threshold, retention.

    \b
    Example:
      cinch config set analytics on
      cinch config list
    """


@config_group.command("get")
@click.argument("key", callback=parsed_by(_key))
@json_option
def get(key: str, as_json: bool) -> None:
    """Print the value of KEY (analytics, slow_query_ms, analytics_retention_days).

    \b
    Example:
      cinch config get slow_query_ms
    """
    value = getattr(config(), key)
    if as_json:
        emit_json({"key": key, "value": _whole_value(value)})
    else:
        click.echo(KEYS[key].show(value))


@config_group.command("set")
@click.argument("key", callback=parsed_by(_key))
@click.argument("value")
@json_option
def set_(key: str, value: str, as_json: bool) -> None:
    """Set KEY to VALUE: analytics on|off, slow_query_ms MS, analytics_retention_days DAYS.

    A handle opened after this reads it (``cinchdb.connect(..., analytics=None)``, the default);
    one already open keeps what it read.

    \b
    Example:
      cinch config set analytics on
      cinch config set slow_query_ms 250
    """
    setting = KEYS[key]
    try:
        parsed = setting.parse(value)
    except ValueError:
        raise click.BadParameter(
            f"{key} is {setting.accepts}, not '{value}'", param_hint="VALUE"
        ) from None
    save_config(attrs.evolve(config(), **{key: parsed}))
    if as_json:
        emit_json({"key": key, "value": parsed})
    else:
        click.echo(f"Set {key} to {setting.show(parsed)}")


@config_group.command("list")
@json_option
def list_(as_json: bool) -> None:
    """List the settings, their values and their defaults.

    \b
    Example:
      cinch config list --json
    """
    current = config()
    defaults = Config()
    if as_json:
        emit_json({key: _whole_value(getattr(current, key)) for key in KEYS})
        return
    table(
        [
            {
                "key": key,
                "value": setting.show(getattr(current, key)),
                "default": setting.show(getattr(defaults, key)),
                "accepts": setting.accepts,
            }
            for key, setting in KEYS.items()
        ]
    )
