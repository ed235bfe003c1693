"""Validation and quoting of every name that reaches SQL or the file system.

Identifiers (tables, columns, indexes, views, triggers) are always double-quoted when rendered,
so an existing journal may hold names with spaces or punctuation; what every name must avoid
is what cannot be quoted safely or collides with SQLite's and CinchDB's own objects
(:func:`validate_identifier`). A NEW name also follows :data:`NAME_RULE`
(:func:`validate_new_name`), checked where a change enters a branch from the user, never when
an event is read back, so objects an older project made keep working. Database and branch
names also become parts of file paths, so they follow a much narrower, git-like rule.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from journal.errors import InvalidNameError

MAX_IDENTIFIER_LENGTH = 128
MAX_DATABASE_NAME_LENGTH = 64
MAX_BRANCH_NAME_LENGTH = 100

# Prefixes SQLite reserves for itself and CinchDB reserves for its system tables (KV store,
# tenant cursor). User objects with these prefixes would shadow or reach into system state.
RESERVED_OBJECT_PREFIXES = ("sqlite_", "__")

#: The rule every NEW table, column, index, view and trigger name follows (one sentence, used
#: in messages): what every code generator can map to an identifier of its language.
NAME_RULE = "letters, digits and '_', not starting with a digit, at most 128 characters"

_DIGITS = frozenset("0123456789")
_MARKS = frozenset({"Mn", "Mc"})

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Characters that print as nothing or reorder what follows: controls (Cc, incl. C1 such as
# U+0085), format characters (Cf: zero-width U+200B-U+200D, marks U+200E/U+200F, bidi
# embeddings and overrides U+202A-U+202E and isolates U+2066-U+2069, U+FEFF, soft hyphen...),
# line and paragraph separators and lone surrogates. Two names differing only by one of them
# look the same in every listing; a bidi override makes a name display as another.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# No '-': tenant files live under "{database}-{branch}", so a '-' in a database name could make
# two (database, branch) pairs share a directory.
_DATABASE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]*")
_BRANCH_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


def validate_identifier(kind: str, name: object, *, object_name: bool = True) -> str:
    """Return ``name`` if it is a usable SQL identifier, else raise InvalidNameError.

    ``object_name`` is true for schema objects (tables, indexes, views, triggers), which may
    not use the reserved ``sqlite_`` and ``__`` prefixes; columns may.
    """
    if not isinstance(name, str):
        raise InvalidNameError(kind, name, "must be a string")
    if not name or not name.strip():
        raise InvalidNameError(kind, name, "must not be empty")
    if len(name) > MAX_IDENTIFIER_LENGTH:
        raise InvalidNameError(kind, name, f"longer than {MAX_IDENTIFIER_LENGTH} characters")
    if _CONTROL.search(name):
        raise InvalidNameError(kind, name, "contains control characters")
    invisible = _invisible(name)
    if invisible is not None:
        raise InvalidNameError(
            kind, name, f"contains an invisible or format character (U+{ord(invisible):04X})"
        )
    if name != name.strip():
        raise InvalidNameError(kind, name, "has leading or trailing whitespace")
    if object_name and fold_name(name).startswith(RESERVED_OBJECT_PREFIXES):
        raise InvalidNameError(kind, name, "names starting with 'sqlite_' or '__' are reserved")
    return name


def name_rule_problem(name: str) -> str | None:
    """Why ``name`` is outside :data:`NAME_RULE` (a short phrase), or None when it follows it.

    Letters are any alphabet's (Unicode category L*), followed by the combining marks some
    scripts write them with (Devanagari vowel signs, a decomposed accent); digits are 0-9.
    """
    if not name:
        return "it is empty"
    if len(name) > MAX_IDENTIFIER_LENGTH:
        return f"it is longer than {MAX_IDENTIFIER_LENGTH} characters"
    if name[0] in _DIGITS:
        return "it starts with a digit"
    for position, char in enumerate(name):
        if char == "_" or char in _DIGITS or char.isalpha():
            continue
        if position and unicodedata.category(char) in _MARKS:
            continue
        return f"{char!r} is not a letter, digit or '_'"
    return None


def follows_name_rule(name: str) -> bool:
    """Whether ``name`` follows :data:`NAME_RULE` (for reports such as ``adopt``'s)."""
    return name_rule_problem(name) is None


def validate_new_name(kind: str, name: object) -> str:
    """Return ``name`` if it may name a NEW ``kind`` (table, column, index, view, trigger),
    else raise InvalidNameError naming :data:`NAME_RULE`.

    Reserved prefixes (``sqlite_``, ``__``) stay refused for every kind but columns.
    """
    validated = validate_identifier(kind, name, object_name=kind != "column")
    if name_rule_problem(validated) is not None:
        raise InvalidNameError(kind, validated, f"use {NAME_RULE}")
    return validated


def _invisible(name: str) -> str | None:
    """The first character of ``name`` that does not print (ASCII is checked by _CONTROL)."""
    if name.isascii():
        return None
    for char in name:
        if unicodedata.category(char) in _INVISIBLE_CATEGORIES:
            return char
    return None


def validate_database_name(name: object) -> str:
    """Database names become directory names: letters, digits and '_' only."""
    if not isinstance(name, str):
        raise InvalidNameError("database", name, "must be a string")
    if len(name) > MAX_DATABASE_NAME_LENGTH:
        raise InvalidNameError(
            "database", name, f"longer than {MAX_DATABASE_NAME_LENGTH} characters"
        )
    if not _DATABASE_NAME.fullmatch(name):
        raise InvalidNameError(
            "database",
            name,
            "use letters, digits and '_', starting with a letter or digit",
        )
    return name


def validate_branch_name(name: object) -> str:
    """Branch names follow git's shape: '/'-separated segments, no '..', no empty segment."""
    if not isinstance(name, str):
        raise InvalidNameError("branch", name, "must be a string")
    if not name:
        raise InvalidNameError("branch", name, "must not be empty")
    if len(name) > MAX_BRANCH_NAME_LENGTH:
        raise InvalidNameError("branch", name, f"longer than {MAX_BRANCH_NAME_LENGTH} characters")
    for segment in name.split("/"):
        if not segment:
            raise InvalidNameError("branch", name, "has an empty path segment")
        if segment in (".", "..") or ".." in segment:
            raise InvalidNameError("branch", name, "must not contain '..'")
        if not _BRANCH_SEGMENT.fullmatch(segment):
            raise InvalidNameError(
                "branch",
                name,
                "use letters, digits, '.', '_', '-' and '/' between segments",
            )
    if name.endswith(".lock") or name.endswith("."):
        raise InvalidNameError("branch", name, "must not end with '.' or '.lock'")
    return name


def quote(identifier: str) -> str:
    """Quote an identifier for SQLite: double quotes, embedded quotes doubled."""
    return '"' + identifier.replace('"', '""') + '"'


def same_name(a: str, b: str) -> bool:
    """SQLite compares identifiers case-insensitively (ASCII only)."""
    return fold_name(a) == fold_name(b)


@lru_cache(maxsize=65536)
def fold_name(name: str) -> str:
    """The key under which SQLite considers two identifiers equal (cached: it is on every
    lookup of the fold)."""
    return name.lower() if name.isascii() else _ascii_lower(name)


def _ascii_lower(name: str) -> str:
    return "".join(ch.lower() if ch.isascii() else ch for ch in name)
