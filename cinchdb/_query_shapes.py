"""Query shapes: a statement's SQL with every value taken out, so that ``WHERE id = 1`` and
``where  id=2`` are counted as one query.

Normalization is one pass of a tokenizer (no parser on the hot path):

- string (``'..'``), numeric (``12``, ``1.5e3``, ``0x1F``) and blob (``X'..'``) literals and
  parameters (``?``, ``?3``, ``:name``, ``@name``, ``$name``) become ``?``; a sign in front of
  a literal goes with it (``-1`` is a value, not an operator and a value);
- ``IN (?, ?, ...)`` of any length becomes ``IN (?...)``;
- comments are dropped and whitespace is collapsed to one canonical spacing;
- keywords are upper-cased; identifiers are kept as written (quoted ones with their quotes).

A value never survives: anything the tokenizer cannot close (an unterminated string, blob or
comment) becomes ``?`` too, up to the end of the text. :func:`shape_of` is cached by SQL text:
the SDK sends the same few texts again and again, so the tokenizer runs once per text.
"""

from __future__ import annotations

import functools
import hashlib
import re
from typing import Literal

import attrs

__all__ = ["KINDS", "Shape", "ShapeKind", "operation_shape", "shape_of"]

ShapeKind = Literal["select", "insert", "update", "delete", "kv", "schema", "other"]
KINDS: tuple[ShapeKind, ...] = ("select", "insert", "update", "delete", "kv", "schema", "other")

#: Distinct SQL texts remembered; a program that builds its SQL with the values inside (and so
#: makes a new text per call) only pays the tokenizer again, it never grows memory.
CACHE_SIZE = 4096


@attrs.frozen
class Shape:
    """A normalized statement: ``id`` is the first 16 hex digits of the SHA-256 of ``text``."""

    id: str
    text: str
    kind: ShapeKind


_TOKEN = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
    | (?P<blob>[xX]'[^']*(?:'|\Z))
    | (?P<string>'(?:[^']|'')*(?:'|\Z))
    | (?P<quoted>"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\])
    | (?P<unclosed>["`\[].*\Z)
    | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<param>\?\d*|[:@$][A-Za-z0-9_$]+(?:::[A-Za-z0-9_$]+)*(?:\([^)]*\))?)
    | (?P<word>[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_$\u0080-\U0010ffff]*)
    | (?P<op>\|\||<<|>>|<=|>=|==|!=|<>|->>|->|.)
    """,
    re.VERBOSE | re.DOTALL,
)

#: SQLite's keywords (https://sqlite.org/lang_keywords.html): upper-cased in a shape.
_KEYWORD_TEXT = """
    ABORT ACTION ADD AFTER ALL ALTER ALWAYS ANALYZE AND AS ASC ATTACH AUTOINCREMENT BEFORE
    BEGIN BETWEEN BY CASCADE CASE CAST CHECK COLLATE COLUMN COMMIT CONFLICT CONSTRAINT CREATE
    CROSS CURRENT CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP DATABASE DEFAULT DEFERRABLE
    DEFERRED DELETE DESC DETACH DISTINCT DO DROP EACH ELSE END ESCAPE EXCEPT EXCLUDE EXCLUSIVE
    EXISTS EXPLAIN FAIL FILTER FIRST FOLLOWING FOR FOREIGN FROM FULL GENERATED GLOB GROUP GROUPS
    HAVING IF IGNORE IMMEDIATE IN INDEX INDEXED INITIALLY INNER INSERT INSTEAD INTERSECT INTO IS
    ISNULL JOIN KEY LAST LEFT LIKE LIMIT MATCH MATERIALIZED NATURAL NO NOT NOTHING NOTNULL NULL
    NULLS OF OFFSET ON OR ORDER OTHERS OUTER OVER PARTITION PLAN PRAGMA PRECEDING PRIMARY QUERY
    RAISE RANGE RECURSIVE REFERENCES REGEXP REINDEX RELEASE RENAME REPLACE RESTRICT RETURNING
    RIGHT ROLLBACK ROW ROWS SAVEPOINT SELECT SET TABLE TEMP TEMPORARY THEN TIES TO TRANSACTION
    TRIGGER UNBOUNDED UNION UNIQUE UPDATE USING VACUUM VALUES VIEW VIRTUAL WHEN WHERE WINDOW
    WITH WITHOUT"""
_KEYWORDS = frozenset(_KEYWORD_TEXT.split())
_KIND_OF_FIRST: dict[str, ShapeKind] = {
    "SELECT": "select",
    "VALUES": "select",
    "INSERT": "insert",
    "REPLACE": "insert",
    "UPDATE": "update",
    "DELETE": "delete",
    "CREATE": "schema",
    "DROP": "schema",
    "ALTER": "schema",
}
_VALUE = "?"
# Tokens after which a '-' or '+' is a sign, not an operator (start, '(', ',', an operator
# or a keyword such as WHERE / AND / THEN).
_SIGNS = frozenset("-+")
_NO_SPACE_BEFORE = frozenset({",", ")", ";", "."})
_NO_SPACE_AFTER = frozenset({"(", "."})


def _shape_id(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=CACHE_SIZE)
def shape_of(sql: str) -> Shape:
    """The shape of one SQL text (cached by text)."""
    tokens = _tokens(sql)
    text = _render(_fold_in_lists(tokens))
    return Shape(id=_shape_id(text), text=text, kind=_kind(tokens))


@functools.lru_cache(maxsize=256)
def operation_shape(kind: ShapeKind, text: str) -> Shape:
    """The shape of an SDK operation that is not one SQL text: a KV operation (``kind="kv"``,
    ``text="KV GET"``) or a schema change (``kind="schema"``, ``text="create_table posts"``).
    ``text`` must hold names only, never values."""
    return Shape(id=_shape_id(text), text=text, kind=kind)


def _tokens(sql: str) -> list[str]:
    out: list[str] = []
    for match in _TOKEN.finditer(sql):
        group = match.lastgroup
        token = match.group()
        if group == "space" or group == "comment":
            continue
        if group in ("blob", "string", "number", "param", "unclosed"):
            _push_value(out)
        elif group == "word":
            upper = token.upper()
            out.append(upper if upper in _KEYWORDS else token)
        else:  # quoted identifier or operator
            out.append(token)
    return out


def _push_value(out: list[str]) -> None:
    # "- 1" after an operator, '(' or keyword is a negative number: fold the sign in, so a
    # shape does not depend on a value's sign.
    if out and out[-1] in _SIGNS:
        before = out[-2] if len(out) > 1 else None
        if before is None or before in _KEYWORDS or not _is_operand(before):
            out.pop()
    out.append(_VALUE)


def _is_operand(token: str) -> bool:
    """Whether ``token`` ends an expression (so a following '-' is subtraction)."""
    return (
        token == _VALUE
        or token == ")"
        or token[0] in '"`['
        or token[0].isalnum()
        or (token[0] == "_")
    )


def _fold_in_lists(tokens: list[str]) -> list[str]:
    """``IN ( ? , ? , ... )`` -> ``IN (?...)``, whatever the length."""
    out: list[str] = []
    i = 0
    n = len(tokens)
    while i < n:
        token = tokens[i]
        out.append(token)
        i += 1
        if token != "IN" or i >= n or tokens[i] != "(":
            continue
        j = i + 1
        while j < n and tokens[j] == _VALUE:
            if j + 1 < n and tokens[j + 1] == ",":
                j += 2
            elif j + 1 < n and tokens[j + 1] == ")":
                out.append("(?...)")
                i = j + 2
                break
            else:
                break
        # not a list of values only (a subquery, names): keep the tokens as they are
    return out


def _render(tokens: list[str]) -> str:
    parts: list[str] = []
    previous = ""
    for token in tokens:
        # "count(*)", "t(a, b)": an opening parenthesis sticks to a name before it.
        call = token == "(" and previous not in _KEYWORDS and _is_name(previous)
        if parts and not call and token not in _NO_SPACE_BEFORE and previous not in _NO_SPACE_AFTER:
            parts.append(" ")
        parts.append(token)
        previous = token
    return "".join(parts)


def _is_name(token: str) -> bool:
    return bool(token) and (token[0] in '"`[_' or token[0].isalpha())


def _kind(tokens: list[str]) -> ShapeKind:
    if not tokens:
        return "other"
    first = tokens[0]
    if first == "WITH":
        # A common table expression's statement is the first DML keyword at depth 0.
        depth = 0
        for token in tokens[1:]:
            if token == "(":
                depth += 1
            elif token == ")":
                depth -= 1
            elif depth == 0 and token in _KIND_OF_FIRST:
                return _KIND_OF_FIRST[token]
        return "other"
    return _KIND_OF_FIRST.get(first, "other")
