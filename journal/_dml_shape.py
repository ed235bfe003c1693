"""The shape of one data step's statement, read from its tokens: what it does (INSERT, UPDATE,
DELETE), to which table, and whether it has a WHERE of its own.

Tokens rather than sqlglot's parser because the parser refuses SQLite forms a data step may use
(``UPDATE OR IGNORE``, ``INSERT OR REPLACE``); only the top level of the statement counts (depth
0 in parentheses), so a WHERE inside a leading ``WITH``, a subquery or a ``CASE`` is not the
statement's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from journal._lazy import lazy_module

if TYPE_CHECKING:
    from journal import _tokens
else:  # sqlglot's tokenizer loads on the first statement read (start-up time, journal._lazy)
    _tokens = lazy_module("journal._tokens")

_VERBS = {"INSERT": "INSERT", "REPLACE": "INSERT", "UPDATE": "UPDATE", "DELETE": "DELETE"}
#: Words that may stand between the verb and the table: ``UPDATE OR IGNORE t``,
#: ``INSERT OR REPLACE INTO t``, ``DELETE FROM t``.
_BEFORE_TABLE = {"OR", "ROLLBACK", "ABORT", "REPLACE", "FAIL", "IGNORE", "INTO", "FROM"}


@attrs.frozen
class DmlShape:
    """``verb``: "INSERT", "UPDATE" or "DELETE" ("REPLACE INTO" is an INSERT); ``table``: the
    table it writes, as written (unquoted; None when it cannot be read); ``where``: whether the
    statement itself has a WHERE clause."""

    verb: str
    table: str | None
    where: bool

    @property
    def every_row(self) -> bool:
        """An UPDATE or DELETE without WHERE: it changes every row of its table."""
        return self.verb in ("UPDATE", "DELETE") and not self.where


def dml_shape(sql: str) -> DmlShape | None:
    """The statement's shape, or None when it is no INSERT, UPDATE or DELETE."""
    depth = 0
    top: list[_tokens.Tok] = []
    for token in _tokens.tokenize(sql):
        if token.kind == "punct" and token.text == "(":
            depth += 1
        elif token.kind == "punct" and token.text == ")":
            depth -= 1
        elif depth == 0:
            top.append(token)
    for at, token in enumerate(top):
        verb = _VERBS.get(token.upper)
        if verb is None:
            continue
        rest = top[at + 1 :]
        table = None
        for word in rest:
            if word.upper in _BEFORE_TABLE:
                continue
            if word.kind in ("word", "quoted"):
                table = word.text
            break
        return DmlShape(verb, table, any(word.upper == "WHERE" for word in rest))
    return None
