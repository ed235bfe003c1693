"""The ``KVError`` subtree: the key-value store."""

from __future__ import annotations

from typing import Any

from journal.errors import CinchError


class KVError(CinchError):
    """Root of the key-value store's errors."""


class InvalidKeyError(KVError, ValueError):
    """A key that is empty, too long or has characters outside letters, digits and ``:_-./``.

    The message is the reference's wording for ``reason`` ("Key must be a non-empty string",
    "Key exceeds 255 characters", "Invalid characters in key").
    """

    def __init__(self, key: object, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(reason)


class KVValueError(KVError, ValueError):
    """A value the store cannot keep exactly, a bad TTL, or a non-numeric increment."""

    def __init__(self, value: Any, reason: str) -> None:
        self.value = value
        self.reason = reason
        super().__init__(reason)


class InvalidPatternError(KVError, ValueError):
    """A ``keys()`` / ``count()`` glob pattern that cannot be matched (a bad character range
    such as ``[z-a]``)."""

    def __init__(self, pattern: str, reason: str) -> None:
        self.pattern = pattern
        self.reason = reason
        super().__init__(f"Invalid key pattern {pattern!r}: {reason}")


class KeysNotFoundError(KVError, ValueError, LookupError):
    """``mget`` was asked for keys that are missing or expired."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        super().__init__(f"Keys not found: {missing!r}")
