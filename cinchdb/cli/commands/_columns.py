"""Parsing the command line's column specs: ``name:TYPE[:not_null|:unique|:default=V]``."""

from __future__ import annotations

from typing import Any

import click

from cinchdb.models import Column


def _value(text: str) -> Any:
    """``default=`` text as the value it spells: integers, decimals, true/false, else text."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_column(spec: str) -> Column:
    """``email:TEXT:unique`` -> Column(name="email", type="TEXT", unique=True)."""
    name, _, rest = spec.partition(":")
    parts = rest.split(":") if rest else []
    type_ = parts[0] if parts and "=" not in parts[0] else "TEXT"
    flags = parts[1:] if parts and "=" not in parts[0] else parts
    fields: dict[str, Any] = {"name": name, "type": type_}
    for flag in flags:
        key, eq, value = flag.partition("=")
        key = key.strip().lower()
        if key in ("not_null", "notnull", "required") and not eq:
            fields["nullable"] = False
        elif key == "unique" and not eq:
            fields["unique"] = True
        elif key == "default" and eq:
            fields["default"] = _value(value)
        else:
            raise click.BadParameter(
                f"unknown column option '{flag}' in '{spec}'; use not_null, unique or default=V"
            )
    try:
        return Column(**fields)
    except ValueError as error:
        errors = getattr(error, "errors", None)
        detail = str(errors()[0]["ctx"]["error"]) if callable(errors) else str(error)
        raise click.BadParameter(f"'{spec}': {detail}") from None
