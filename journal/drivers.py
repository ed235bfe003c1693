"""The DB-API modules a tenant connection may come from: ``sqlite3``, and ``sqlcipher3``
(SQLCipher, SQLite with encryption) for encrypted tenant files.

The two modules' exception classes are unrelated, so code that handles SQLite errors on any
connection catches these tuples instead of ``sqlite3``'s classes.
"""

from __future__ import annotations

import sqlite3
from types import ModuleType

try:
    from sqlcipher3 import dbapi2 as sqlcipher
except ImportError:  # pragma: no cover - sqlcipher3 is a dependency; this keeps journal usable
    sqlcipher = None

__all__ = ["DatabaseError", "Error", "IntegrityError", "OperationalError", "sqlcipher"]

_MODULES: tuple[ModuleType, ...] = (sqlite3,) if sqlcipher is None else (sqlite3, sqlcipher)

Error: tuple[type[Exception], ...] = tuple(m.Error for m in _MODULES)
DatabaseError: tuple[type[Exception], ...] = tuple(m.DatabaseError for m in _MODULES)
IntegrityError: tuple[type[Exception], ...] = tuple(m.IntegrityError for m in _MODULES)
OperationalError: tuple[type[Exception], ...] = tuple(m.OperationalError for m in _MODULES)
