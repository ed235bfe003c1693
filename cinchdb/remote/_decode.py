"""Values and results of the remote SDK on the wire, both ways.

Rows and KV values are JSON, with BLOBs as ``{"$base64": "..."}`` so they come back as
``bytes``; a model (``Column``) travels as its fields, with a default that is ``SQL(...)`` or
bytes tagged (:mod:`cinchdb._wire_models`) so it keeps its Python type. A
result is decoded by the kind the API table names for it (:data:`cinchdb.api.RESULTS`), into
the same types a local handle returns: pydantic models, ``Row`` dicts, ``QueryRows``, journal
events and operations, ``MigrateResult``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any

from cinchdb import models
from cinchdb._wire_models import BASE64, model_from_json, model_to_json
from cinchdb.results import MigrateResult, QueryRows
from journal import events

__all__ = ["decode_result", "decode_value", "encode_model", "encode_value"]


def encode_value(value: Any) -> Any:
    """A Python value as JSON: bytes tagged, tuples as lists, containers walked."""
    if isinstance(value, bytes | bytearray | memoryview):
        return {BASE64: base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Mapping):
        return {key: encode_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [encode_value(item) for item in value]
    return value


def decode_value(value: Any) -> Any:
    """The Python value of :func:`encode_value`'s JSON."""
    if isinstance(value, dict):
        if len(value) == 1 and BASE64 in value:
            return base64.b64decode(value[BASE64])
        return {key: decode_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode_value(item) for item in value]
    return value


def encode_model(model: Any) -> Any:
    """A ``cinchdb.models`` value (or a list of them) as the server reads it."""
    return model_to_json(model)


def _rows(body: Any) -> Any:
    """Rows: one (an object) or a list; a query's ``{"columns", "rows"}`` as QueryRows."""
    if isinstance(body, dict) and "columns" in body and "rows" in body:
        return QueryRows([decode_value(row) for row in body["rows"]], list(body["columns"]))
    return decode_value(body)


def _events(body: Any) -> Any:
    return [events.Event.model_validate(event) for event in body]


def _migration(body: Any) -> Any:
    return MigrateResult(_events(body["events"]), list(body["data_steps"]))


def _operations(body: Any) -> Any:
    return [events.OPERATION_ADAPTER.validate_python(operation) for operation in body]


def _model(name: str) -> Callable[[Any], Any]:
    def one(fields: Any) -> Any:
        return getattr(models, name)(**model_from_json(fields))

    return one


def _listed(decode: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda body: [decode(item) for item in body]


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "none": lambda body: None,
    "json": lambda body: body,
    "row": decode_value,
    "rows": _rows,
    "page": decode_value,
    "value": decode_value,
    "values": decode_value,
    "events": _events,
    "operations": _operations,
    "migration": _migration,
}


def decode_result(kind: str, body: Any) -> Any:
    """The local handle's value for a result of ``kind`` (a :data:`cinchdb.api.RESULTS`)."""
    decode = _DECODERS.get(kind)
    if decode is not None:
        return decode(body)
    if kind.startswith("list[") and kind.endswith("]"):
        return _listed(_model(kind[5:-1]))(body)
    return _model(kind)(body)
