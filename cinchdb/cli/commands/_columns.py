"""Parsing the command line's column specs, ``name:TYPE[:option...]`` (see :data:`SPEC_HELP`).

A spec is split at each ``:`` that is not inside quotes (``'...'``, ``"..."``) or parentheses
and not escaped with a backslash, so ``default='a:b'``, ``default=a\\:b`` and
``default=(strftime('%H:%M', 'now'))`` each stay one option.
"""

from __future__ import annotations

import re
from typing import Any

import click

from cinchdb.models import SQL, Column, FKAction, ForeignKey

#: The grammar, as ``table create`` and ``column add`` show it in --help (and docs/cli.md).
SPEC_HELP = """\b
Column spec: name[:TYPE][:option...] (TYPE defaults to TEXT)
  TYPE         TEXT INTEGER REAL BLOB NUMERIC BOOLEAN, an alias (int str float
               bool), or an SQL type kept as declared: DATETIME, DATE, BIGINT,
               VARCHAR(255), DECIMAL(10,2), ...
  not_null     NULL is refused (also: notnull, required)
  unique       no two rows share a value
  default=V    a number, true/false, or text; 'quoted' text is always text
               ('it''s' for a quote); an SQL expression in parentheses,
               default=(lower(hex(randomblob(4)))), or CURRENT_TIMESTAMP,
               CURRENT_DATE, CURRENT_TIME
  check=EXPR   a CHECK constraint, e.g. check=age >= 0
  ref=TABLE[.COLUMN]   a foreign key (to TABLE's id unless COLUMN is given)
  on_delete=ACTION, on_update=ACTION   with ref=: cascade, set_null,
               set_default, restrict, no_action
A ':' inside quotes or parentheses, or escaped as \\:, is not a separator:
default='a:b' and default=a\\:b are both the text a:b. Quote each spec for the
shell when it has spaces, quotes or parentheses.

\b
Examples:
  cinch table create members name:TEXT:not_null team:ref=teams:on_delete=cascade
  cinch table create events "at:DATETIME:default=CURRENT_TIMESTAMP" \\
      "label:VARCHAR(20):default='a:b'" "age:INTEGER:check=age >= 0"
  cinch column add users "plan:TEXT:default='pro:annual'"
"""

_FLAGS = {"not_null": "nullable", "notnull": "nullable", "required": "nullable", "unique": "unique"}
_OPTIONS = (
    "not_null, unique, default=V, check=EXPR, ref=TABLE[.COLUMN], on_delete=ACTION or"
    " on_update=ACTION"
)
_ACTIONS: dict[str, FKAction] = {
    "cascade": "CASCADE",
    "set_null": "SET NULL",
    "set_default": "SET DEFAULT",
    "restrict": "RESTRICT",
    "no_action": "NO ACTION",
}
_EXPRESSIONS = ("CURRENT_TIMESTAMP", "CURRENT_DATE", "CURRENT_TIME")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


class _SpecError(ValueError):
    """A spec that cannot be read; the message is in the user's terms."""


def _split(spec: str) -> list[str]:
    """``spec`` cut at its separating ``:``, backslash escapes resolved outside quotes."""
    parts: list[str] = []
    current: list[str] = []
    quote: str | None = None
    depth = 0
    chars = iter(spec)
    for ch in chars:
        if quote is not None:
            current.append(ch)
            if ch == quote:
                quote = None  # a doubled quote ('') closes and reopens: still balanced
        elif ch == "\\":
            current.append(next(chars, "\\"))
        elif ch in "'\"":
            quote = ch
            current.append(ch)
        elif ch == "(":
            depth += 1
            current.append(ch)
        elif ch == ")":
            if depth == 0:
                raise _SpecError("a parenthesis is closed that was not opened")
            depth -= 1
            current.append(ch)
        elif ch == ":" and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if quote is not None:
        raise _SpecError("a quote is not closed")
    if depth:
        raise _SpecError("a parenthesis is not closed")
    parts.append("".join(current))
    return parts


def _value(text: str) -> Any:
    """``default=`` text as the value it spells: ``'quoted'`` text, an SQL expression
    (``(expr)`` or a CURRENT_* keyword), integers, decimals, true/false, else text."""
    stripped = text.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] == "'":
        inner = stripped[1:-1]
        if "'" not in inner.replace("''", ""):
            return inner.replace("''", "'")
    if len(stripped) >= 2 and stripped[0] == "(" and stripped[-1] == ")":
        return SQL(stripped[1:-1].strip())
    if stripped.upper() in _EXPRESSIONS:
        return SQL(stripped.upper())
    lowered = stripped.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if _NUMBER.fullmatch(stripped):
        return float(stripped) if any(c in stripped for c in ".eE") else int(stripped)
    return text


def _action(option: str, text: str) -> FKAction:
    key = "_".join(text.strip().lower().split())
    if key not in _ACTIONS:
        raise _SpecError(f"{option} '{text}' is not one of {', '.join(_ACTIONS)}")
    return _ACTIONS[key]


def _foreign_key(ref: str | None, actions: dict[str, FKAction]) -> ForeignKey | None:
    if ref is None:
        if actions:
            raise _SpecError(f"{next(iter(actions))} needs ref=TABLE")
        return None
    table, _, column = ref.strip().partition(".")
    if not table:
        raise _SpecError("ref needs a table: ref=TABLE or ref=TABLE.COLUMN")
    return ForeignKey(table=table, column=column or "id", **actions)


def _fields(spec: str) -> dict[str, Any]:
    name, *rest = _split(spec)
    # The type may be left out: "email:unique" and "plan:default=free" are TEXT columns.
    has_type = bool(rest) and "=" not in rest[0] and rest[0].strip().lower() not in _FLAGS
    fields: dict[str, Any] = {"name": name, "type": rest[0] if has_type else "TEXT"}
    ref: str | None = None
    actions: dict[str, FKAction] = {}
    for option in rest[1:] if has_type else rest:
        key, eq, value = option.partition("=")
        key = key.strip().lower()
        if key in _FLAGS and not eq:
            fields[_FLAGS[key]] = _FLAGS[key] == "unique"
        elif key == "default" and eq:
            fields["default"] = _value(value)
        elif key == "check" and eq:
            if not value.strip():
                raise _SpecError("check needs an expression")
            fields["check"] = value.strip()
        elif key == "ref" and eq:
            ref = value
        elif key in ("on_delete", "on_update") and eq:
            actions[key] = _action(key, value)
        else:
            raise click.BadParameter(
                f"unknown column option '{option}' in '{spec}'; use {_OPTIONS}"
            )
    fields["foreign_key"] = _foreign_key(ref, actions)
    return fields


def _detail(error: ValueError) -> str:
    """A pydantic error's own message (without pydantic's framing), else the error's text."""
    errors = getattr(error, "errors", None)
    if not callable(errors):
        return str(error)
    first = errors()[0]
    return str(first.get("ctx", {}).get("error", first["msg"]))


def parse_column(spec: str, argument: str | None = None) -> Column:
    """``email:TEXT:unique`` -> Column(name="email", type="TEXT", unique=True).

    Raises:
        click.BadParameter: naming ``argument`` (as --help shows it) and what is wrong.
    """
    try:
        return Column(**_fields(spec))
    except click.BadParameter as error:
        raise click.BadParameter(error.message, param_hint=argument) from None
    except ValueError as error:
        raise click.BadParameter(f"'{spec}': {_detail(error)}", param_hint=argument) from None
