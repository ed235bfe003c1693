"""A small token stream over sqlglot's SQLite tokenizer, for hand-parsing DDL headers.

sqlglot's parser does not understand STRICT, WITHOUT ROWID, ON CONFLICT clauses, trigger
bodies, and it rewrites declared types (INTEGER -> INT, REAL -> DOUBLE). Its tokenizer is exact
and keeps source offsets, so we parse DDL structure ourselves on top of it and slice verbatim
text (types, defaults, expressions) straight out of the source.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
from sqlglot import TokenType
from sqlglot.dialects.sqlite import SQLite
from sqlglot.errors import TokenError

from journal.errors import SQLParseError

_DIALECT = SQLite()

_QUOTED = {TokenType.IDENTIFIER}
_STRINGS = {TokenType.STRING, TokenType.HEX_STRING, TokenType.BYTE_STRING}


@attrs.frozen
class Tok:
    """One token. ``kind``: word, quoted, string, number or punct. ``end`` is exclusive."""

    kind: str
    text: str
    start: int
    end: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


def tokenize(sql: str) -> list[Tok]:
    try:
        raw = _DIALECT.tokenize(sql)
    except TokenError as e:
        raise SQLParseError(f"Cannot tokenize SQL: {e}", sql=sql) from e
    out: list[Tok] = []
    for token in raw:
        start, end = token.start, token.end + 1
        if token.token_type in _QUOTED:
            out.append(Tok("quoted", token.text, start, end))
        elif token.token_type in _STRINGS:
            out.append(Tok("string", token.text, start, end))
        elif token.token_type == TokenType.NUMBER:
            out.append(Tok("number", token.text, start, end))
        elif token.text[:1].isalpha() or token.text[:1] == "_":
            words = token.text.split()
            if len(words) == 1:
                out.append(Tok("word", token.text, start, end))
            else:
                # Multi-word keywords ("PRIMARY KEY") become one token per word, so the
                # parser can match word by word whatever the tokenizer chose to merge.
                offset = start
                for word in words:
                    found = sql.find(word, offset, end)
                    offset = found if found >= 0 else offset
                    out.append(Tok("word", word, offset, offset + len(word)))
                    offset += len(word)
        else:
            out.append(Tok("punct", token.text, start, end))
    return out


class TokenStream:
    """Cursor over the tokens of one statement, with errors that point at the source."""

    def __init__(self, sql: str, tokens: Sequence[Tok] | None = None) -> None:
        self.sql = sql
        self.tokens = list(tokenize(sql) if tokens is None else tokens)
        self.pos = 0

    # -- looking -------------------------------------------------------------------------
    def peek(self, ahead: int = 0) -> Tok | None:
        index = self.pos + ahead
        return self.tokens[index] if index < len(self.tokens) else None

    def at_end(self) -> bool:
        return self.pos >= len(self.tokens)

    def at_word(self, *words: str) -> bool:
        for offset, word in enumerate(words):
            token = self.peek(offset)
            if token is None or token.upper != word:
                return False
        return True

    def at_punct(self, text: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "punct" and token.text == text

    # -- consuming -----------------------------------------------------------------------
    def next(self) -> Tok:
        token = self.peek()
        if token is None:
            raise self.error("Unexpected end of statement")
        self.pos += 1
        return token

    def accept_word(self, *words: str) -> bool:
        if self.at_word(*words):
            self.pos += len(words)
            return True
        return False

    def expect_word(self, *words: str) -> None:
        if not self.accept_word(*words):
            raise self.error(f"Expected {' '.join(words)}")

    def accept_punct(self, text: str) -> bool:
        if self.at_punct(text):
            self.pos += 1
            return True
        return False

    def expect_punct(self, text: str) -> None:
        if not self.accept_punct(text):
            raise self.error(f"Expected '{text}'")

    def name(self, what: str) -> str:
        """An identifier: quoted, or a bare word (SQLite lets most keywords be names)."""
        token = self.peek()
        if token is None or token.kind not in ("word", "quoted"):
            raise self.error(f"Expected {what} name")
        self.pos += 1
        if self.at_punct("."):
            raise self.error(
                f"Schema-qualified {what} names are not supported; name the {what} alone"
            )
        return token.text

    def balanced(self) -> tuple[int, int]:
        """Consume a parenthesised group; return the source span *inside* the parentheses."""
        open_token = self.peek()
        self.expect_punct("(")
        assert open_token is not None
        depth = 1
        while True:
            token = self.next()
            if token.kind == "punct" and token.text == "(":
                depth += 1
            elif token.kind == "punct" and token.text == ")":
                depth -= 1
                if depth == 0:
                    return open_token.end, token.start

    def span_until(self, stop_words: set[str], stop_punct: set[str]) -> tuple[int, int] | None:
        """Consume tokens up to (not including) a stop token at paren depth 0."""
        start = self.peek()
        last: Tok | None = None
        depth = 0
        while (token := self.peek()) is not None:
            if depth == 0 and (
                token.upper in stop_words or (token.kind == "punct" and token.text in stop_punct)
            ):
                break
            if token.kind == "punct" and token.text == "(":
                depth += 1
            elif token.kind == "punct" and token.text == ")":
                depth -= 1
            last = self.next()
        if start is None or last is None:
            return None
        return start.start, last.end

    def raw(self, span: tuple[int, int]) -> str:
        return self.sql[span[0] : span[1]].strip()

    def error(self, message: str, token: Tok | None = None) -> SQLParseError:
        token = token or self.peek()
        offset = token.start if token is not None else len(self.sql)
        line, column = position(self.sql, offset)
        found = f", found '{token.text}'" if token is not None else ""
        return SQLParseError(message + found, sql=self.sql, line=line, column=column)


def position(sql: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    line = sql.count("\n", 0, offset) + 1
    column = offset - (sql.rfind("\n", 0, offset) + 1) + 1
    return line, column
