"""One lock per handle: the public calls of an object that several threads may share run one
at a time.

A handle's SQLite connections are opened with ``check_same_thread=False``, but a connection is
not a unit of work: a call opens a transaction, sets the authorizer's flags (a ``kv.set``
lets CinchDB write its system tables for one statement; a ``query()`` switches the
connection to read-only) and reads its cached state. Two threads inside two calls at once
would see each other's transaction and flags. Holding one re-entrant lock for the length of
each public call makes every call atomic with respect to the other threads of the process;
other processes are kept apart by SQLite's own locks, as before.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

__all__ = ["Locked", "serialized"]


class Locked(Protocol):
    """An object whose public calls hold ``_lock`` (a ``threading.RLock``)."""

    _lock: Any


_C = TypeVar("_C", bound=type)


def serialized(cls: _C) -> _C:
    """Class decorator: every public method of ``cls`` runs holding the instance's ``_lock``.

    Re-entrant, so a public method may call another; properties and private methods are left
    as they are (they run inside a public call, or touch no connection).
    """
    for name, value in list(vars(cls).items()):
        if not name.startswith("_") and inspect.isfunction(value):
            setattr(cls, name, _locked(value))
    return cls


def _locked(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: Locked, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return call
