"""From a request's arguments to an SDK call and back: parsing each :class:`cinchdb.api.Param`,
calling the handle's method, and encoding the result as the endpoint's ``result`` says.

Runs in a worker thread (the SDK is synchronous); nothing here touches the event loop.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from cinchdb import models
from cinchdb._wire_models import model_from_json, model_to_json
from cinchdb.api import Endpoint, Param
from cinchdb.database import CinchDB
from cinchdb.errors import RequestError
from cinchdb.keys import Principal
from cinchdb.server import _limits
from cinchdb.server.settings import ServerSettings
from cinchdb.server.wire import decode_value, encode_value
from journal.names import quote, validate_identifier

__all__ = ["call", "parse_body", "parse_query"]

_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}
_MODELS: dict[str, TypeAdapter[Any]] = {
    "Column": TypeAdapter(models.Column),
    "list[Column]": TypeAdapter(list[models.Column]),
    "list[Index]": TypeAdapter(list[models.Index]),
}
_TRUE = {"true": True, "1": True, "false": False, "0": False}


def parse_query(endpoint: Endpoint, query: Mapping[str, str]) -> dict[str, Any]:
    """The endpoint's query parameters, typed; an unknown one is refused.

    Raises:
        RequestError.
    """
    accepted = {param.name: param for param in endpoint.params_from("query")}
    arguments: dict[str, Any] = {}
    for name, text in query.items():
        param = accepted.get(name)
        if param is None:
            raise RequestError(_unknown("query parameter", name, endpoint, accepted))
        arguments[name] = _from_text(param, text)
    return _required(endpoint, "query", arguments)


def parse_body(endpoint: Endpoint, body: bytes) -> dict[str, Any]:
    """The endpoint's body parameters, from a JSON object.

    Raises:
        RequestError: not JSON, not an object, an unknown or missing field, a value of the
            wrong type.
    """
    accepted = {param.name: param for param in endpoint.params_from("body")}
    if not accepted:
        if body.strip():
            raise RequestError(f"{endpoint.method} {endpoint.name} takes no request body")
        return {}
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise RequestError(f"Request body is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise RequestError(f"Request body must be a JSON object, got {type(document).__name__}")
    arguments: dict[str, Any] = {}
    for name, value in document.items():
        param = accepted.get(name)
        if param is None:
            raise RequestError(_unknown("field", name, endpoint, accepted))
        arguments[name] = _checked(param, value)
    return _required(endpoint, "body", arguments)


def _unknown(what: str, name: str, endpoint: Endpoint, accepted: Mapping[str, Param]) -> str:
    listed = ", ".join(accepted) or "none"
    return f"{endpoint.name} has no {what} '{name}' (it takes: {listed})"


def _required(endpoint: Endpoint, source: str, arguments: dict[str, Any]) -> dict[str, Any]:
    for param in endpoint.params:
        if param.source == source and param.required and param.name not in arguments:
            where = "query parameter" if source == "query" else "field"
            raise RequestError(f"{endpoint.name} needs the {where} '{param.name}'")
    return arguments


def _from_text(param: Param, text: str) -> Any:
    if param.type == "integer":
        try:
            return int(text)
        except ValueError:
            raise RequestError(f"'{param.name}' must be an integer, got {text!r}") from None
    if param.type == "number":
        try:
            # A whole number stays an int, as it would in a JSON body (and in a message).
            return int(text) if text.strip().lstrip("+-").isdigit() else float(text)
        except ValueError:
            raise RequestError(f"'{param.name}' must be a number, got {text!r}") from None
    if param.type == "boolean":
        if text.lower() not in _TRUE:
            raise RequestError(f"'{param.name}' must be true or false, got {text!r}")
        return _TRUE[text.lower()]
    return text


def _checked(param: Param, value: Any) -> Any:
    if param.type == "any" or (value is None and not param.required):
        return value
    types = _PYTHON_TYPES[param.type]
    # bool is an int in Python, but not a JSON integer or number.
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        got = "null" if value is None else type(value).__name__
        raise RequestError(f"'{param.name}' must be a JSON {param.type}, got {got}")
    if param.model is not None:
        try:
            return _MODELS[param.model].validate_python(model_from_json(value))
        except ValidationError as error:
            raise models.invalid_fields(param.name, "field", error) from None
    return value


# -- calling the SDK -------------------------------------------------------------------------

Special = Callable[[CinchDB, dict[str, Any], ServerSettings], Any]
#: A call whose result depends on the key's limits, not only on its arguments.
Limited = Callable[[CinchDB, dict[str, Any], Principal], Any]


def call(
    db: CinchDB,
    endpoint: Endpoint,
    arguments: dict[str, Any],
    settings: ServerSettings,
    principal: Principal,
) -> Any:
    """Call the SDK method of ``endpoint`` on ``db`` for ``principal`` (already authorized
    for it) and return its result as JSON."""
    limited = _LIMITED.get(endpoint.name)
    special = _SPECIAL.get(endpoint.name)
    if limited is not None:
        result = limited(db, arguments, principal)
    elif special is not None:
        result = special(db, arguments, settings)
    else:
        owner, _, method = endpoint.name.rpartition(".")
        target: Any = db.kv if owner == "kv" else db
        result = getattr(target, method)(**arguments)
    return encode_result(endpoint.result, result)


def encode_result(kind: str, result: Any) -> Any:
    """A result as the JSON the endpoint's ``result`` names."""
    if kind == "none":
        return None
    if kind in ("row", "rows", "value", "values", "page"):
        return encode_value(result)
    if kind in ("events", "operations"):
        return [item.model_dump(mode="json") for item in result]
    if kind == "migration":
        return {
            "events": [event.model_dump(mode="json") for event in result],
            "data_steps": list(result.data_steps),
        }
    if isinstance(result, BaseModel) or (isinstance(result, list) and kind.startswith("list[")):
        # Column defaults keep their kind (SQL(...), bytes): cinchdb/_wire_models.py.
        return model_to_json(result)
    return result


def _record(db: CinchDB, table: str, key: str) -> Any:
    """The record a path's key names: the value of a one-column key (typed as the column), a
    JSON array of a composite key's values in key order."""
    columns = db.key_columns(table)
    if len(columns) == 1 and columns[0] != "rowid":
        return db.value_from_text(table, columns[0], key)
    try:
        values = json.loads(key)
    except ValueError:
        values = None
    if columns == ("rowid",) and isinstance(values, int):
        return values
    if not isinstance(values, list) or len(values) != len(columns):
        # The SDK refuses it with its own KeyColumnError, as a local handle would.
        return key if not isinstance(values, list) else values
    return tuple(values)


def _insert(db: CinchDB, arguments: dict[str, Any], _settings: ServerSettings) -> Any:
    rows = decode_value(arguments["rows"])
    if isinstance(rows, dict):
        return db.insert(arguments["table"], rows)
    if isinstance(rows, list) and rows and all(isinstance(row, dict) for row in rows):
        return db.insert(arguments["table"], rows)
    raise RequestError("'rows' must be a row (a JSON object) or a non-empty array of rows")


def _get(db: CinchDB, arguments: dict[str, Any], _settings: ServerSettings) -> Any:
    table = arguments["table"]
    return db.get(table, _record(db, table, arguments["key"]))


def _update(db: CinchDB, arguments: dict[str, Any], _settings: ServerSettings) -> Any:
    table = arguments["table"]
    return db.update(table, _record(db, table, arguments["key"]), decode_value(arguments["data"]))


def _delete(db: CinchDB, arguments: dict[str, Any], _settings: ServerSettings) -> Any:
    table = arguments["table"]
    return db.delete(table, _record(db, table, arguments["key"]))


def _list_rows(db: CinchDB, arguments: dict[str, Any], settings: ServerSettings) -> Any:
    """A page of rows in key order after the previous page's ``next`` (keyset pagination:
    each page is one indexed range read, however deep)."""
    table = validate_identifier("table", arguments["table"])
    max_page = settings.max_page
    limit = arguments.get("limit", max_page)
    if not 1 <= limit <= max_page:
        raise RequestError(f"'limit' must be between 1 and {max_page}, got {limit}")
    columns = db.key_columns(table)
    key = ", ".join(quote(column) for column in columns)
    select = (
        f"SELECT rowid, * FROM {quote(table)}"
        if columns == ("rowid",)
        else (f"SELECT * FROM {quote(table)}")
    )
    params: list[Any] = []
    if "after" in arguments:
        try:
            after = json.loads(arguments["after"])
        except ValueError:
            after = None
        if not isinstance(after, list) or len(after) != len(columns):
            raise RequestError(f"'after' must be a page's 'next' value, got {arguments['after']!r}")
        marks = ", ".join("?" for _ in columns)
        select += f" WHERE ({key}) > ({marks})"
        params = list(after)
    rows = db.query(f"{select} ORDER BY {key} LIMIT ?", [*params, limit + 1])
    page = list(rows[:limit])
    after_last = None
    if len(rows) > limit:
        after_last = json.dumps([page[-1][column] for column in columns])
    return {"rows": page, "next": after_last}


def _query(db: CinchDB, arguments: dict[str, Any], settings: ServerSettings) -> Any:
    params = decode_value(arguments.get("params"))
    if params is not None and not isinstance(params, list | dict):
        raise RequestError("'params' must be a JSON array (by position) or object (by name)")
    return db.query(arguments["sql"], params, timeout=settings.query_timeout)


def _kv_delete(db: CinchDB, arguments: dict[str, Any], _settings: ServerSettings) -> Any:
    return db.kv.delete(*arguments["keys"])


def _kv_set(db: CinchDB, arguments: dict[str, Any], _settings: ServerSettings) -> Any:
    return db.kv.set(arguments["key"], decode_value(arguments["value"]), arguments.get("ttl"))


def _kv_setnx(db: CinchDB, arguments: dict[str, Any], _settings: ServerSettings) -> Any:
    return db.kv.setnx(arguments["key"], decode_value(arguments["value"]), arguments.get("ttl"))


def _kv_mset(db: CinchDB, arguments: dict[str, Any], _settings: ServerSettings) -> Any:
    return db.kv.mset(decode_value(arguments["items"]), arguments.get("ttl"))


def _alter_column(db: CinchDB, arguments: dict[str, Any], _settings: ServerSettings) -> Any:
    # A default that is SQL(...) or bytes arrives tagged (cinchdb/_wire_models.py).
    if "default" in arguments:
        arguments = {**arguments, "default": model_from_json(arguments["default"])}
    return db.alter_column(**arguments)


_LIMITED: dict[str, Limited] = {
    "get_analytics_stats": _limits.analytics_stats,
    "get_slow_queries": _limits.slow_queries,
    "migrate": _limits.migrate,
    "data_step_rows": _limits.data_step_rows,
}
_SPECIAL: dict[str, Special] = {
    "alter_column": _alter_column,
    "insert": _insert,
    "get": _get,
    "update": _update,
    "delete": _delete,
    "list_rows": _list_rows,
    "query": _query,
    "kv.delete": _kv_delete,
    "kv.set": _kv_set,
    "kv.setnx": _kv_setnx,
    "kv.mset": _kv_mset,
}
