"""Keeping ``query()`` read-only: a leading-keyword check, then an authorizer that denies every
write action while the query runs (see ``cinchdb.data`` for why it is installed once)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cinchdb._guard import DENIED_FUNCTIONS
from cinchdb.errors import (
    CinchError,
    DeniedFunctionError,
    ReadOnlyQueryError,
)

Authorizer = Callable[[int, "str | None", "str | None", "str | None", "str | None"], int]
#: Parameters of a query, by position or by name. The values are whatever ``sqlite3`` can bind
#: (str, int, float, bytes, None, and types with a registered adapter such as ``datetime``),
#: which no closed union names: ``Any``, as in typeshed's own ``sqlite3`` signatures.
Params = Sequence[Any] | Mapping[str, Any]


class Gate:
    """The connection's authorizer: the caller's policy, plus a read-only mode for query()."""

    __slots__ = ("base", "compiled", "denied", "read_only", "reads")

    def __init__(self, base: Authorizer | None) -> None:
        self.base = base
        self.read_only = False
        self.reads: set[str] = set()
        self.denied: list[tuple[int, str | None]] = []
        #: Whether SQLite asked about anything since query() cleared it: SQLite asks only while
        #: it compiles a statement (every SELECT is asked about at least once).
        self.compiled = False

    def start_read(self) -> None:
        """Read-only mode for one statement, with what the last one learned forgotten."""
        self.reads.clear()
        self.denied.clear()
        self.compiled = False
        self.read_only = True

    def __call__(
        self,
        action: int,
        arg1: str | None,
        arg2: str | None,
        db_name: str | None,
        source: str | None,
    ) -> int:
        self.compiled = True
        base = self.base
        if base is not None:
            if getattr(base, "internal", False):
                # CinchDB itself is replaying journal DDL (tenants.internal): a schema change
                # asks the authorizer about every object it touches, so this is the hot case.
                return sqlite3.SQLITE_OK
            verdict = base(action, arg1, arg2, db_name, source)
            if verdict != sqlite3.SQLITE_OK:
                if self.read_only:
                    if action == sqlite3.SQLITE_FUNCTION:
                        if (arg2 or "").lower() in DENIED_FUNCTIONS:
                            # Kept so query() can name the function.
                            self.denied.append((action, arg2))
                    elif action not in _READ_ACTIONS:
                        # A write the read-only gate refuses anyway (e.g. into a system table
                        # that the caller's policy guards first): query() names it the same
                        # way. Other denials of the caller's policy stay SQLite's own errors.
                        self.denied.append((action, arg1))
                return verdict
        if not self.read_only or action in _READ_ACTIONS:
            if action == sqlite3.SQLITE_READ and arg1 is not None:
                self.reads.add(arg1)
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_PRAGMA and arg1 is not None and arg1.lower() in _READ_PRAGMAS:
            return sqlite3.SQLITE_OK
        # SQLite authorizes an UPDATE of sqlite_master when a query first uses an eponymous
        # virtual table (pragma_table_info); user SQL cannot write it without writable_schema,
        # a PRAGMA this gate refuses.
        if action == sqlite3.SQLITE_UPDATE and arg1 in ("sqlite_master", "sqlite_schema"):
            return sqlite3.SQLITE_OK
        self.denied.append((action, arg1))
        return sqlite3.SQLITE_DENY


_READ_ACTIONS = frozenset(
    {sqlite3.SQLITE_READ, sqlite3.SQLITE_SELECT, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)
# Pragmas that only report; SQLite offers table-valued functions (pragma_table_info(...)) only
# for pragmas without side effects, and these are the ones worth reading through query().
_READ_PRAGMAS = frozenset(
    {
        "table_info",
        "table_xinfo",
        "table_list",
        "index_info",
        "index_xinfo",
        "index_list",
        "foreign_key_list",
        "collation_list",
        "function_list",
        "module_list",
        "pragma_list",
    }
)

_DATA_HINTS = {
    "INSERT": "insert()",
    "REPLACE": "insert()",
    "UPDATE": "update() or update_where()",
    "DELETE": "delete() or delete_where()",
}
_SCHEMA_WORDS = ("CREATE", "DROP", "ALTER")
_SCHEMA_HINTS = {
    "CREATE": "create_table(), create_index() or create_view()",
    "DROP": "drop_table(), drop_column(), drop_index() or drop_view()",
    "ALTER": "add_column(), rename_column(), alter_column() or rename_table()",
}
_ACTION_WORDS = {
    sqlite3.SQLITE_INSERT: "INSERT",
    sqlite3.SQLITE_UPDATE: "UPDATE",
    sqlite3.SQLITE_DELETE: "DELETE",
    sqlite3.SQLITE_ATTACH: "ATTACH",
    sqlite3.SQLITE_DETACH: "DETACH",
    sqlite3.SQLITE_PRAGMA: "PRAGMA",
    sqlite3.SQLITE_TRANSACTION: "TRANSACTION",
    sqlite3.SQLITE_SAVEPOINT: "SAVEPOINT",
    sqlite3.SQLITE_ALTER_TABLE: "ALTER TABLE",
    sqlite3.SQLITE_REINDEX: "REINDEX",
    sqlite3.SQLITE_ANALYZE: "ANALYZE",
}
_MASTER_TABLES = frozenset(
    {"sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema"}
)
READ_WORDS = frozenset({"SELECT", "WITH", "VALUES", "EXPLAIN"})


def refusal(sql: str, word: str) -> ReadOnlyQueryError:
    hint = _DATA_HINTS.get(word)
    if hint is not None:
        return ReadOnlyQueryError(sql, word, f"use {hint} to change data")
    if word.startswith(_SCHEMA_WORDS) or word == "a schema change":
        methods = next(
            (hint for head, hint in _SCHEMA_HINTS.items() if word.startswith(head)),
            "the schema methods (create_table(), add_column(), ...)",
        )
        return ReadOnlyQueryError(
            sql, word, f"use {methods}; schema changes go through the journal"
        )
    return ReadOnlyQueryError(sql, word, "it is not allowed through query()")


def denial(sql: str, action: int, target: str | None) -> CinchError:
    """The error for the first action the authorizer denied while ``sql`` was compiled."""
    if action == sqlite3.SQLITE_FUNCTION:
        return DeniedFunctionError(target or "")
    return refusal(sql, action_word(action, target))


def action_word(action: int, target: str | None) -> str:
    if target is not None and target.lower() in _MASTER_TABLES:
        # SQLite authorizes the write to its catalog before the CREATE or DROP itself.
        return "a schema change"
    word = _ACTION_WORDS.get(action)
    if word is not None:
        return word
    # The remaining write actions are CREATE_* and DROP_*; sqlite3 names them.
    for name in dir(sqlite3):
        if name.startswith(("SQLITE_CREATE_", "SQLITE_DROP_")) and getattr(sqlite3, name) == action:
            return name[len("SQLITE_") :].replace("_", " ")
    return f"action {action}"


def leading_word(sql: str) -> str:
    """The first keyword of ``sql``, past whitespace and comments, upper-cased."""
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch.isspace() or ch == ";":
            i += 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            break
    j = i
    while j < n and (sql[j].isalpha() or sql[j] == "_"):
        j += 1
    return sql[i:j].upper()
