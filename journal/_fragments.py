"""Shared pieces of the DDL parser: sqlglot parsing of expressions and queries (cached by
text), and errors anchored at the right line and column of the statement they came from."""

from __future__ import annotations

from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from journal._tokens import TokenStream, position
from journal.errors import SQLParseError


def refuse_if_exists(ts: TokenStream, negated: bool) -> None:
    words = ("IF", "NOT", "EXISTS") if negated else ("IF", "EXISTS")
    if ts.at_word(*words):
        raise ts.error(
            f"{' '.join(words)} is not supported: the journal knows which objects exist;"
            " remove the clause"
        )


def expect_end(ts: TokenStream) -> None:
    if not ts.at_end():
        raise ts.error("Unexpected text after the end of the statement (missing ';'?)")


@lru_cache(maxsize=4096)
def parse_expression(text: str) -> exp.Expr:
    """Parse one SQL expression with sqlglot (cached by text); SQLParseError if it is not one."""
    try:
        tree = sqlglot.parse_one(text, read="sqlite")
    except (ParseError, TokenError) as e:
        raise from_sqlglot("Invalid expression", text, e) from e
    if isinstance(tree, exp.Command) or tree is None:
        raise SQLParseError("Unsupported expression", sql=text)
    return tree


@lru_cache(maxsize=4096)
def parse_query(text: str) -> exp.Expr:
    """Parse a SELECT (or WITH/compound) query with sqlglot (cached by text)."""
    try:
        tree = sqlglot.parse_one(text, read="sqlite")
    except (ParseError, TokenError) as e:
        raise from_sqlglot("Invalid query", text, e) from e
    if not isinstance(tree, exp.Query):
        raise SQLParseError("Expected a SELECT query", sql=text)
    return tree


def from_sqlglot(message: str, text: str, error: Exception) -> SQLParseError:
    line = column = None
    details = getattr(error, "errors", None)
    first = str(error).splitlines()[0] if str(error) else type(error).__name__
    if details:
        line, column = details[0].get("line"), details[0].get("col")
        first = details[0].get("description") or first
    if "<class 'sqlglot." in first:
        # sqlglot names its own classes ("Required keyword: 'expression' missing for <class
        # 'sqlglot.expressions.core.GT'>"): the user wrote an incomplete expression.
        first = "the expression is incomplete (an operand or keyword is missing)"
    return SQLParseError(f"{message}: {first}", sql=text, line=line, column=column)


def checked_expression(ts: TokenStream, span: tuple[int, int]) -> str:
    text = ts.raw(span)
    if not text:
        raise ts.error("Expected an expression")
    try:
        parse_expression(text)
    except SQLParseError as e:
        raise shifted(ts, span[0], e) from e
    return text


def shifted(ts: TokenStream, offset: int, error: SQLParseError) -> SQLParseError:
    """Re-anchor an error found in a fragment to its place in the whole statement."""
    base_line, base_col = position(ts.sql, offset)
    if error.line is None:
        return SQLParseError(error.reason, sql=ts.sql, line=base_line, column=base_col)
    line = base_line + error.line - 1
    column = error.column if error.line > 1 else (error.column or 0) + base_col - 1
    return SQLParseError(error.reason, sql=ts.sql, line=line, column=column)
