"""The public models (``cinchdb.models``) as JSON on the wire of ``cinch serve``, both ways.

Pydantic's own JSON form loses what a column's default is: ``SQL("datetime('now')")``
becomes the text ``"datetime('now')"`` (a string literal when read back) and bytes become
text. On the wire a default that is ``SQL`` travels as ``{"$sql": "..."}`` and bytes as
``{"$base64": "..."}``, so the server builds the same column the client gave and the client
gets back the same ``Table`` a local handle returns. The server and the remote SDK both use
this module, which imports neither (models are read through their fields).
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from cinchdb.errors import RequestError
from cinchdb.models import SQL

__all__ = ["BASE64", "SQL_TAG", "model_from_json", "model_to_json"]

BASE64 = "$base64"
SQL_TAG = "$sql"


def model_to_json(value: Any) -> Any:
    """A model (or a list of them, or a field's value) as JSON, defaults tagged."""
    if isinstance(value, SQL):
        return {SQL_TAG: str(value)}
    if isinstance(value, bytes):
        return {BASE64: base64.b64encode(value).decode("ascii")}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [model_to_json(item) for item in value]
    fields = getattr(type(value), "model_fields", None)
    if fields is not None:
        return {name: model_to_json(getattr(value, name)) for name in fields}
    return value


def model_from_json(value: Any) -> Any:
    """The fields :func:`model_to_json` wrote, tags turned back into ``SQL`` and bytes,
    ready to validate into the model.

    Raises:
        RequestError: a ``{"$base64": ...}`` that is not base64.
    """
    if isinstance(value, dict):
        if len(value) == 1 and SQL_TAG in value and isinstance(value[SQL_TAG], str):
            return SQL(value[SQL_TAG])
        if len(value) == 1 and BASE64 in value:
            try:
                return base64.b64decode(value[BASE64], validate=True)
            except (TypeError, ValueError):
                raise RequestError(f"{BASE64} value {value[BASE64]!r:.40} is not base64") from None
        return {key: model_from_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [model_from_json(item) for item in value]
    return value
