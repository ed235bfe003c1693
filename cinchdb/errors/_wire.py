"""Errors on the wire: a class's stable code, and an error's details as JSON values."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import attrs

from journal.errors import CinchError

# -- errors on the wire -------------------------------------------------------------------------

_WORD = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def error_code(cls: type[CinchError]) -> str:
    """The stable code of an error class on the wire: its name in snake_case without
    ``Error`` (``TableNotFoundError`` -> ``table_not_found``; ``CinchError`` -> ``cinch``)."""
    # "SQLite" is one word, not "SQ" + "Lite".
    name = cls.__name__.removesuffix("Error").replace("SQLite", "Sqlite")
    return _WORD.sub("_", name).lower()


def error_class(code: str) -> type[CinchError]:
    """The error class whose :func:`error_code` is ``code``; ``CinchError`` for a code this
    version does not know (a newer server's)."""
    return _codes().get(code, CinchError)


def _codes() -> dict[str, type[CinchError]]:
    # Walked at each call: a class defined after this module (another module's subclass)
    # is found too. Codes are few (~80) and errors are rare.
    found: dict[str, type[CinchError]] = {}
    pending: list[type[CinchError]] = [CinchError]
    while pending:
        cls = pending.pop()
        found.setdefault(error_code(cls), cls)
        pending.extend(cls.__subclasses__())
    return found


def error_details(error: CinchError) -> dict[str, Any]:
    """The error's public attributes as JSON values: what :meth:`CinchError.from_wire`
    rebuilds it from on the other side (structured values such as a merge's conflicts arrive
    as JSON objects)."""
    return {
        name: _jsonable(value)
        for name, value in vars(error).items()
        if not name.startswith("_")
        and name not in ("args", "__traceback__", "__cause__", "__context__")
    }


def _jsonable(value: object) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    cls = type(value)
    if attrs.has(cls):
        return {field.name: _jsonable(getattr(value, field.name)) for field in attrs.fields(cls)}
    dump = getattr(value, "model_dump", None)  # a pydantic model, without importing pydantic
    if callable(dump):
        return _jsonable(dump(mode="json"))
    return str(value)
