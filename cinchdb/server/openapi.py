"""The OpenAPI 3.1 document of the API, generated from the API table (cinchdb/api.py).

Served at ``GET /v1/openapi.json`` without a key (it describes the API, it holds no data). The
schemas of results and bodies are pydantic's JSON Schema of ``cinchdb.models`` and of the
SDK's result types, so the TypeScript client is typed from the same classes the SDK returns.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue

from cinchdb import api, models
from cinchdb._version import VERSION
from cinchdb.api import Endpoint, Param
from cinchdb.server.metrics import CONTENT_TYPE, METRICS_PATH
from journal.events import Event, Operation

__all__ = ["openapi_document"]

_REF = "#/components/schemas/{model}"
#: ``GET /metrics`` is not in the API table: its figures are of the server process, not of a
#: database, its body is not JSON and no SDK method calls it; it is described here by hand.

#: The Python type of each result kind (models by name, the rest here).
_RESULT_TYPES: dict[str, Any] = {
    "Table": models.Table,
    "list[Table]": list[models.Table],
    "Index": models.Index,
    "View": models.View,
    "list[View]": list[models.View],
    "Branch": models.Branch,
    "list[Branch]": list[models.Branch],
    "Tenant": models.Tenant,
    "list[Tenant]": list[models.Tenant],
    "events": list[Event],
    "operations": list[Operation],
}
#: The type of a "json" result, per endpoint.
_JSON_RESULTS: dict[str, Any] = {
    # The SDK's TypedDicts (cinchdb.results) are typing.TypedDict, which pydantic does not
    # describe on Python 3.11: their fields are listed in docs/sdk.md.
    "list_indexes": list[dict[str, Any]],
    "merge_branches": dict[str, Any],
    "merge_preview": dict[str, Any],
    "can_merge": dict[str, Any],
    "tenant_status": list[dict[str, Any]],
    "data_step_rows": list[dict[str, Any]],
    "get_analytics_stats": dict[str, Any],
    "get_slow_queries": list[dict[str, Any]],
    "delete": int,
    "kv.exists": bool,
    "kv.delete": int,
    "kv.expire": bool,
    "kv.ttl": int | None,
    "kv.persist": bool,
    "kv.increment": int | float,
    "kv.setnx": bool,
    "kv.keys": list[str],
    "kv.count": int,
}
_METRICS: dict[str, Any] = {
    "get": {
        "operationId": "metrics",
        "summary": "Prometheus metrics of the server process (text exposition format)",
        "tags": ["metrics"],
        "x-cinch-scope": "metrics:read",
        "x-cinch-writes": False,
        "responses": {
            "200": {
                "description": "The metrics",
                "content": {CONTENT_TYPE: {"schema": {"type": "string"}}},
            },
            "default": {
                "description": "An error",
                "content": {"application/json": {"schema": {"$ref": _REF.format(model="Error")}}},
            },
        },
    }
}
_BODY_MODELS: dict[str, Any] = {
    "Column": models.Column,
    "list[Column]": list[models.Column],
    "list[Index]": list[models.Index],
}
_BLOB = {
    "type": "object",
    "properties": {"$base64": {"type": "string", "contentEncoding": "base64"}},
    "required": ["$base64"],
    "additionalProperties": False,
}
_ROW = {
    "type": "object",
    "description": 'A row: column -> value; a BLOB as {"$base64": ...}',
    "additionalProperties": True,
}
_ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {
                    "type": "string",
                    "description": "cinchdb.errors.error_code of the exception class",
                },
                "message": {"type": "string"},
                "details": {"type": "object", "additionalProperties": True},
            },
            "required": ["code", "message", "details"],
        }
    },
    "required": ["error"],
}


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The whole document (a JSON value; one, shared: do not change it)."""
    components: dict[str, Any] = {"Row": _ROW, "Blob": _BLOB, "Error": _ERROR}
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in api.ENDPOINTS:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(
            endpoint, components
        )
    paths["/v1/openapi.json"] = {
        "get": {
            "operationId": "openapi",
            "summary": "This document (no key needed)",
            "security": [],
            "responses": {"200": {"description": "The OpenAPI document"}},
        }
    }
    paths[METRICS_PATH] = _METRICS
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "CinchDB",
            "version": VERSION,
            "description": "cinch serve: one project over HTTP. See docs/server.md.",
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def _operation(endpoint: Endpoint, components: dict[str, Any]) -> dict[str, Any]:
    parameters = [_path_param(name) for name in ("database", "branch", "tenant")]
    parameters = [p for p in parameters if "{" + p["name"] + "}" in endpoint.path]
    parameters += [_param(param) for param in endpoint.params if param.source != "body"]
    if endpoint.cas:
        parameters.append(
            {
                "name": "dry_run",
                "in": "query",
                "required": False,
                "schema": {"type": "boolean"},
                "description": "Run the checks only; nothing is written",
            }
        )
        parameters.append(
            {
                "name": api.IF_MATCH_HEADER,
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "The branch head this change was made against (412 if moved)",
            }
        )
    # A tenant's data, or a tenant call (the analytics name tenants but open none).
    if endpoint.tenant_scoped or (endpoint.tenant_params and endpoint.scope == "tenants:admin"):
        parameters.append(
            {
                "name": api.TENANT_KEY_HEADER,
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "An encrypted tenant's key (HTTPS or loopback only)",
            }
        )
    operation: dict[str, Any] = {
        "operationId": endpoint.name.replace(".", "_"),
        "summary": endpoint.summary,
        "tags": [endpoint.scope.split(":")[0]],
        "x-cinch-scope": endpoint.scope,
        "x-cinch-writes": endpoint.writes,
        "parameters": parameters,
        "responses": {
            "200": {
                "description": "The result",
                "headers": {api.HEAD_HEADER: {"schema": {"type": "string"}}},
                "content": {"application/json": {"schema": _result(endpoint, components)}},
            },
            "default": {
                "description": "An error",
                "content": {"application/json": {"schema": {"$ref": _REF.format(model="Error")}}},
            },
        },
    }
    body = [param for param in endpoint.params if param.source == "body"]
    if body:
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {p.name: _body_schema(p, components) for p in body},
                        "required": [p.name for p in body if p.required],
                        "additionalProperties": False,
                    }
                }
            },
        }
    return operation


def _path_param(name: str) -> dict[str, Any]:
    described = {"branch": "A branch name, '/' written '~'"}
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": described.get(name, f"The {name}'s name"),
    }


def _param(param: Param) -> dict[str, Any]:
    schema: dict[str, Any] = {} if param.type == "any" else {"type": param.type}
    found: dict[str, Any] = {
        "name": param.name,
        "in": param.source,
        "required": param.source == "path" or param.required,
        "schema": schema,
    }
    if param.doc:
        found["description"] = param.doc
    return found


def _body_schema(param: Param, components: dict[str, Any]) -> dict[str, Any]:
    if param.model is not None:
        return _schema(_BODY_MODELS[param.model], components)
    schema: dict[str, Any] = {} if param.type == "any" else {"type": param.type}
    if not param.required:
        schema = {"anyOf": [schema, {"type": "null"}]} if schema else schema
    return schema


def _result(endpoint: Endpoint, components: dict[str, Any]) -> dict[str, Any]:
    row = {"$ref": _REF.format(model="Row")}
    match endpoint.result:
        case "none":
            return {"type": "null"}
        case "row":
            return row
        case "rows":
            many = {"type": "array", "items": row}
            return many if endpoint.name == "query" else {"anyOf": [row, many]}
        case "page":
            return {
                "type": "object",
                "properties": {
                    "rows": {"type": "array", "items": row},
                    "next": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                },
                "required": ["rows", "next"],
            }
        case "value":
            return {"description": 'The value (bytes as {"$base64": ...}), null if missing'}
        case "values":
            return {"type": "object", "additionalProperties": True}
        case "migration":
            return {
                "type": "object",
                "properties": {
                    "events": _schema(list[Event], components),
                    "data_steps": {
                        "type": "array",
                        "items": {"type": "object", "additionalProperties": True},
                        "description": "Per data step: the rows it changed (DataStepRows)",
                    },
                },
                "required": ["events", "data_steps"],
            }
        case "json":
            found = _JSON_RESULTS.get(endpoint.name)
            return {} if found is None else _schema(found, components)
        case kind:
            return _schema(_RESULT_TYPES[kind], components)


class _Schemas(GenerateJsonSchema):
    """pydantic's generator, with any JSON value for a field checked by a plain validator
    function (a column's ``default``: any SQL literal or expression)."""

    def handle_invalid_for_json_schema(self, schema: Any, error_info: str) -> JsonSchemaValue:
        return {}


def _schema(python_type: Any, components: dict[str, Any]) -> dict[str, Any]:
    schema = TypeAdapter(python_type).json_schema(
        ref_template=_REF, mode="serialization", schema_generator=_Schemas
    )
    components.update(schema.pop("$defs", {}))
    if isinstance(python_type, type) and issubclass(python_type, BaseModel):
        name = python_type.__name__
        components.setdefault(name, schema)
        return {"$ref": _REF.format(model=name)}
    return schema
