"""Errors and values on the wire: HTTP statuses per error class, the error body, and JSON
forms of the values JSON lacks (bytes).

An error travels as ``{"error": {"code", "message", "details"}}`` (see
:func:`cinchdb.errors.error_code`); the status comes from :data:`STATUS`, the first class of
it the error is an instance of. Bytes travel as ``{"$base64": "..."}`` in rows and KV values,
so they come back as bytes.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from cinchdb import errors
from cinchdb.errors import CinchError, error_code, error_details

__all__ = [
    "BASE64",
    "STATUS",
    "decode_value",
    "driver_error_body",
    "encode_value",
    "error_body",
    "status_of",
]

BASE64 = "$base64"

#: HTTP status per error class, most specific first; the first match wins. Classes missing
#: here fall back on their builtin: LookupError 404, ValueError 400, else 500.
STATUS: tuple[tuple[type[CinchError], int], ...] = (
    (errors.AuthenticationError, 401),
    (errors.PermissionDeniedError, 403),
    (errors.BodyTooLargeError, 413),
    (errors.RouteNotFoundError, 404),
    (errors.RequestError, 400),
    (errors.ConcurrentChangeError, 412),
    (errors.MergeConflictError, 409),
    (errors.PreflightError, 409),
    (errors.UnmergedBranchError, 409),
    (errors.TooManyHeadsError, 409),
    (errors.BranchHeadsError, 409),
    (errors.RevertLosesDataError, 409),
    (errors.ResetRefusedError, 409),
    (errors.RepairRefusedError, 409),
    (errors.TenantDivergedError, 409),
    (errors.ProtectedError, 409),
    (errors.ObjectExistsError, 409),
    (errors.BranchExistsError, 409),
    (errors.DatabaseExistsError, 409),
    (errors.TenantExistsError, 409),
    (errors.ConstraintError, 409),
    (errors.QueryTimeoutError, 504),
    (errors.WrongKeyError, 403),
    (errors.HandleClosedError, 503),
)


def status_of(error: CinchError) -> int:
    for cls, status in STATUS:
        if isinstance(error, cls):
            return status
    if isinstance(error, LookupError):
        return 404
    if isinstance(error, ValueError):
        return 400
    return 500


def error_body(error: CinchError) -> dict[str, Any]:
    """The JSON body of an error response."""
    return {
        "error": {
            "code": error_code(type(error)),
            "message": str(error),
            "details": error_details(error),
        }
    }


def driver_error_body(error: Exception) -> dict[str, Any]:
    """SQLite's own error (bad SQL in a query): not a CinchError, so code ``sqlite`` and the
    driver's class name in ``details.type``."""
    return {
        "error": {
            "code": "sqlite",
            "message": str(error),
            "details": {"type": type(error).__name__},
        }
    }


def encode_value(value: object) -> Any:
    """A row's or KV value as JSON: bytes as ``{"$base64": ...}``, lists and dicts item by
    item, everything else as it is."""
    if isinstance(value, bytes | bytearray | memoryview):
        return {BASE64: base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, list | tuple):
        return [encode_value(item) for item in value]
    if isinstance(value, dict):
        return {key: encode_value(item) for key, item in value.items()}
    return value


def decode_value(value: object) -> Any:
    """The inverse of :func:`encode_value` for a value that arrived as JSON.

    Raises:
        RequestError: a ``{"$base64": ...}`` that is not base64.
    """
    if isinstance(value, Mapping):
        if len(value) == 1 and BASE64 in value:
            text = value[BASE64]
            try:
                if not isinstance(text, str):
                    raise ValueError
                return base64.b64decode(text, validate=True)
            except (ValueError, binascii.Error):
                raise errors.RequestError(
                    f"{BASE64} value {str(text)[:40]!r} is not base64"
                ) from None
        return {key: decode_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode_value(item) for item in value]
    return value
