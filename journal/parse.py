"""SQL text -> events.

DDL structure is parsed on sqlglot's tokenizer (see ``_tokens``) so declared types, defaults and
expressions keep their exact text; every expression and query inside is checked with sqlglot's
parser (``read="sqlite"``). SQL that sqlglot generates is never executed: DDL is rendered from
the events by ``journal.ddl``. Scripts are split with ``sqlite3.complete_statement``, the same
rule the sqlite3 shell uses, so ``;`` inside trigger bodies and strings does not split.

Besides SQLite's own DDL, ``ALTER TABLE t ALTER COLUMN c ...`` (SET DATA TYPE / TYPE, SET / DROP
NOT NULL, SET / DROP DEFAULT) is accepted; CinchDB applies it with a table rebuild.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from journal._tokens import TokenStream, position, tokenize
from journal.definitions import (
    Check,
    Column,
    ForeignKey,
    IndexDef,
    IndexedColumn,
    PrimaryKey,
    TableDef,
    TriggerDef,
    Unique,
    ViewDef,
)
from journal.errors import SQLParseError
from journal.events import (
    ColumnAdded,
    ColumnAltered,
    ColumnDropped,
    ColumnRenamed,
    IndexCreated,
    IndexDropped,
    Operation,
    TableCreated,
    TableDropped,
    TableRenamed,
    TriggerCreated,
    TriggerDropped,
    ViewCreated,
    ViewDropped,
)

__all__ = [
    "TriggerParts",
    "parse",
    "parse_expression",
    "parse_query",
    "parse_statement",
    "references",
    "split_statements",
    "trigger_parts",
]

_CONFLICT = ("ROLLBACK", "ABORT", "FAIL", "IGNORE", "REPLACE")
_COLUMN_CONSTRAINTS = {
    "CONSTRAINT",
    "PRIMARY",
    "NOT",
    "NULL",
    "UNIQUE",
    "CHECK",
    "DEFAULT",
    "COLLATE",
    "REFERENCES",
    "GENERATED",
    "AS",
}
_TABLE_CONSTRAINTS = ("CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN")
_DEFAULT_WORDS = {"NULL", "TRUE", "FALSE", "CURRENT_TIME", "CURRENT_DATE", "CURRENT_TIMESTAMP"}


def split_statements(script: str) -> list[tuple[int, str]]:
    """Split a script into ``(offset, statement)`` pairs.

    Each statement runs from its first token to its last (comments and whitespace around it
    and the closing ``;`` dropped), the way SQLite stores DDL text in ``sqlite_schema``.
    """
    out: list[tuple[int, str]] = []
    start = 0
    index = script.find(";")
    while index != -1:
        chunk = script[start : index + 1]
        if sqlite3.complete_statement(chunk):
            _add_statement(out, script, start, index)
            start = index + 1
        index = script.find(";", index + 1)
    _add_statement(out, script, start, len(script))
    return out


def _add_statement(out: list[tuple[int, str]], script: str, start: int, stop: int) -> None:
    tokens = tokenize(script[start:stop])
    if tokens:
        first, last = tokens[0].start, tokens[-1].end
        out.append((start + first, script[start + first : start + last]))


def parse(script: str) -> list[Operation]:
    """Parse one or many DDL statements into operations, in order.

    Raises:
        SQLParseError: naming the statement, line and column, for anything that is not
            supported DDL (DML, PRAGMA, ATTACH, syntax errors...).
    """
    operations: list[Operation] = []
    for offset, statement in split_statements(script):
        try:
            operations.extend(_parse_one(statement))
        except SQLParseError as e:
            if e.line is None:
                raise
            base_line, base_col = position(script, offset)
            # Leading whitespace belongs to the statement; report positions in the script.
            line = base_line + e.line - 1
            column = e.column if e.line > 1 else (e.column or 0) + base_col - 1
            raise SQLParseError(e.reason, sql=statement, line=line, column=column) from e
    return operations


def parse_statement(sql: str) -> Operation:
    """Parse exactly one statement into one operation."""
    statements = split_statements(sql)
    if len(statements) != 1:
        raise SQLParseError(f"Expected one statement, found {len(statements)}", sql=sql)
    operations = _parse_one(statements[0][1])
    if len(operations) != 1:
        raise SQLParseError("Expected a statement with a single effect", sql=sql)
    return operations[0]


def _parse_one(sql: str) -> list[Operation]:
    ts = TokenStream(sql)
    if ts.at_word("CREATE"):
        ts.next()
        if ts.at_word("TEMP") or ts.at_word("TEMPORARY"):
            raise ts.error("Temporary objects are not part of a schema")
        if ts.accept_word("TABLE"):
            return [TableCreated(table=_create_table(ts))]
        if ts.at_word("UNIQUE") or ts.at_word("INDEX"):
            return [IndexCreated(index=_create_index(ts))]
        if ts.accept_word("VIEW"):
            return [ViewCreated(view=_create_view(ts))]
        if ts.accept_word("TRIGGER"):
            return [TriggerCreated(trigger=_create_trigger(ts))]
        if ts.at_word("VIRTUAL"):
            raise ts.error("Virtual tables are not supported")
        raise ts.error("Expected TABLE, INDEX, VIEW or TRIGGER after CREATE")
    if ts.accept_word("ALTER"):
        ts.expect_word("TABLE")
        return _alter_table(ts)
    if ts.accept_word("DROP"):
        return [_drop(ts)]
    first = ts.peek()
    verb = first.text.upper() if first else ""
    raise ts.error(
        f"Unsupported statement '{verb}': only CREATE/ALTER/DROP of tables, indexes, views and"
        " triggers are schema changes"
    )


def _no_if_exists(ts: TokenStream, negated: bool) -> None:
    words = ("IF", "NOT", "EXISTS") if negated else ("IF", "EXISTS")
    if ts.at_word(*words):
        raise ts.error(
            f"{' '.join(words)} is not supported: the journal knows which objects exist;"
            " remove the clause"
        )


def _end(ts: TokenStream) -> None:
    if not ts.at_end():
        raise ts.error("Unexpected text after the end of the statement (missing ';'?)")


# -- expressions ---------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def parse_expression(text: str) -> exp.Expr:
    """Parse one SQL expression with sqlglot (cached by text); SQLParseError if it is not one."""
    try:
        tree = sqlglot.parse_one(text, read="sqlite")
    except (ParseError, TokenError) as e:
        raise _from_sqlglot("Invalid expression", text, e) from e
    if isinstance(tree, exp.Command) or tree is None:
        raise SQLParseError("Unsupported expression", sql=text)
    return tree


@lru_cache(maxsize=4096)
def parse_query(text: str) -> exp.Expr:
    """Parse a SELECT (or WITH/compound) query with sqlglot (cached by text)."""
    try:
        tree = sqlglot.parse_one(text, read="sqlite")
    except (ParseError, TokenError) as e:
        raise _from_sqlglot("Invalid query", text, e) from e
    if not isinstance(tree, exp.Query):
        raise SQLParseError("Expected a SELECT query", sql=text)
    return tree


def _from_sqlglot(message: str, text: str, error: Exception) -> SQLParseError:
    line = column = None
    details = getattr(error, "errors", None)
    first = str(error).splitlines()[0] if str(error) else type(error).__name__
    if details:
        line, column = details[0].get("line"), details[0].get("col")
        first = details[0].get("description") or first
    return SQLParseError(f"{message}: {first}", sql=text, line=line, column=column)


def _expression(ts: TokenStream, span: tuple[int, int]) -> str:
    text = ts.raw(span)
    if not text:
        raise ts.error("Expected an expression")
    try:
        parse_expression(text)
    except SQLParseError as e:
        raise _shifted(ts, span[0], e) from e
    return text


# -- CREATE TABLE ---------------------------------------------------------------------------


def _create_table(ts: TokenStream) -> TableDef:
    _no_if_exists(ts, negated=True)
    name = ts.name("table")
    if ts.at_word("AS"):
        raise ts.error("CREATE TABLE ... AS SELECT is not supported; declare the columns")
    ts.expect_punct("(")
    columns: list[Column] = []
    primary_key: PrimaryKey | None = None
    uniques: list[Unique] = []
    foreign_keys: list[ForeignKey] = []
    checks: list[Check] = []
    in_constraints = False
    while True:
        token = ts.peek()
        if token is not None and token.upper in _TABLE_CONSTRAINTS:
            in_constraints = True
            kind, value = _table_constraint(ts)
            if kind == "pk":
                if primary_key is not None:
                    raise ts.error(f"Table '{name}' has more than one primary key")
                assert isinstance(value, PrimaryKey)
                primary_key = value
            elif kind == "unique":
                assert isinstance(value, Unique)
                uniques.append(value)
            elif kind == "fk":
                assert isinstance(value, ForeignKey)
                foreign_keys.append(value)
            else:
                assert isinstance(value, Check)
                checks.append(value)
        else:
            if in_constraints:
                raise ts.error("Column definitions must come before table constraints")
            parsed = _column_def(ts)
            columns.append(parsed.column)
            if parsed.primary_key is not None:
                if primary_key is not None:
                    raise ts.error(f"Table '{name}' has more than one primary key")
                primary_key = parsed.primary_key
            uniques.extend(parsed.uniques)
            foreign_keys.extend(parsed.foreign_keys)
            checks.extend(parsed.checks)
        if ts.accept_punct(")"):
            break
        ts.expect_punct(",")
    strict = without_rowid = False
    while not ts.at_end():
        if ts.accept_word("STRICT"):
            strict = True
        elif ts.accept_word("WITHOUT", "ROWID"):
            without_rowid = True
        elif strict or without_rowid:
            raise ts.error("Expected STRICT or WITHOUT ROWID")
        else:
            break
        if not ts.accept_punct(","):
            break
    _end(ts)
    try:
        return TableDef(
            name=name,
            columns=tuple(columns),
            primary_key=primary_key,
            uniques=tuple(uniques),
            foreign_keys=tuple(foreign_keys),
            checks=tuple(checks),
            strict=strict,
            without_rowid=without_rowid,
        )
    except ValueError as e:
        raise SQLParseError(_first_error(e), sql=ts.sql) from e


def _first_error(error: ValueError) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):
        first = errors()[0]
        return str(first.get("msg", error)).removeprefix("Value error, ")
    return str(error)


class _ParsedColumn:
    def __init__(self, column: Column) -> None:
        self.column = column
        self.primary_key: PrimaryKey | None = None
        self.uniques: list[Unique] = []
        self.foreign_keys: list[ForeignKey] = []
        self.checks: list[Check] = []


def _column_def(ts: TokenStream) -> _ParsedColumn:
    name = ts.name("column")
    type_span = ts.span_until(_COLUMN_CONSTRAINTS, {",", ")"})
    declared = " ".join(ts.raw(type_span).split()) if type_span else ""
    fields: dict[str, object] = {"name": name, "type": declared}
    parsed = _ParsedColumn(Column(name=name))
    constraint_name: str | None = None
    while (token := ts.peek()) is not None and not (
        token.kind == "punct" and token.text in (",", ")")
    ):
        if ts.accept_word("CONSTRAINT"):
            constraint_name = ts.name("constraint")
            continue
        if ts.accept_word("PRIMARY", "KEY"):
            if ts.accept_word("DESC"):
                raise ts.error("PRIMARY KEY DESC is not supported (it changes rowid aliasing)")
            ts.accept_word("ASC")
            conflict = _conflict_clause(ts)
            autoincrement = ts.accept_word("AUTOINCREMENT")
            parsed.primary_key = PrimaryKey(
                columns=(name,),
                autoincrement=autoincrement,
                on_conflict=conflict,
                name=constraint_name,
            )
        elif ts.accept_word("NOT", "NULL"):
            fields["not_null"] = True
            fields["not_null_conflict"] = _conflict_clause(ts)
        elif ts.accept_word("NULL"):
            _conflict_clause(ts)
        elif ts.accept_word("UNIQUE"):
            parsed.uniques.append(
                Unique(columns=(name,), on_conflict=_conflict_clause(ts), name=constraint_name)
            )
        elif ts.accept_word("CHECK"):
            parsed.checks.append(Check(expr=_expression(ts, ts.balanced()), name=constraint_name))
        elif ts.accept_word("DEFAULT"):
            fields["default"] = _default(ts)
        elif ts.accept_word("COLLATE"):
            fields["collate"] = ts.name("collation")
        elif ts.accept_word("REFERENCES"):
            parsed.foreign_keys.append(_references(ts, (name,), constraint_name))
        elif ts.at_word("GENERATED") or ts.at_word("AS"):
            if ts.accept_word("GENERATED"):
                ts.expect_word("ALWAYS")
            ts.expect_word("AS")
            fields["generated"] = _expression(ts, ts.balanced())
            if ts.accept_word("STORED"):
                fields["stored"] = True
            else:
                ts.accept_word("VIRTUAL")
        else:
            raise ts.error(f"Unexpected text in the definition of column '{name}'")
        constraint_name = None
    try:
        parsed.column = Column(**fields)
    except ValueError as e:
        raise SQLParseError(_first_error(e), sql=ts.sql) from e
    return parsed


def _conflict_clause(ts: TokenStream) -> str | None:
    if not ts.accept_word("ON", "CONFLICT"):
        return None
    token = ts.next()
    if token.upper not in _CONFLICT:
        raise ts.error("Expected ROLLBACK, ABORT, FAIL, IGNORE or REPLACE", token)
    return token.upper


def _default(ts: TokenStream) -> str:
    token = ts.peek()
    if token is None:
        raise ts.error("Expected a default value")
    if token.kind == "punct" and token.text == "(":
        text = _expression(ts, ts.balanced())
        return f"({text})"
    if token.kind == "punct" and token.text in ("+", "-"):
        sign = ts.next()
        number = ts.next()
        if number.kind != "number":
            raise ts.error("Expected a number after the sign", number)
        return ts.sql[sign.start : number.end]
    if token.kind in ("number", "string") or token.upper in _DEFAULT_WORDS:
        ts.next()
        return ts.sql[token.start : token.end]
    raise ts.error("Expected a literal or a parenthesised expression as DEFAULT")


def _references(
    ts: TokenStream, columns: tuple[str, ...], constraint_name: str | None
) -> ForeignKey:
    ref_table = ts.name("table")
    ref_columns: tuple[str, ...] = ()
    if ts.at_punct("("):
        ref_columns = _name_list(ts)
    actions = {"on_delete": "NO ACTION", "on_update": "NO ACTION"}
    deferrable: str | None = None
    while True:
        if ts.accept_word("ON"):
            which = ts.next().upper
            if which not in ("DELETE", "UPDATE"):
                raise ts.error("Expected DELETE or UPDATE after ON")
            actions[f"on_{which.lower()}"] = _fk_action(ts)
        elif ts.accept_word("MATCH"):
            ts.name("match")  # SQLite parses MATCH and ignores it.
        elif ts.at_word("NOT", "DEFERRABLE") or ts.at_word("DEFERRABLE"):
            start = ts.next()
            if start.upper == "NOT":
                ts.next()
            end = ts.tokens[ts.pos - 1]
            if ts.accept_word("INITIALLY"):
                end = ts.next()
                if end.upper not in ("DEFERRED", "IMMEDIATE"):
                    raise ts.error("Expected DEFERRED or IMMEDIATE", end)
            deferrable = " ".join(ts.sql[start.start : end.end].upper().split())
        else:
            break
    try:
        return ForeignKey(
            columns=columns,
            ref_table=ref_table,
            ref_columns=ref_columns,
            deferrable=deferrable,
            name=constraint_name,
            **actions,
        )
    except ValueError as e:
        raise SQLParseError(_first_error(e), sql=ts.sql) from e


def _fk_action(ts: TokenStream) -> str:
    for words in (
        ("SET", "NULL"),
        ("SET", "DEFAULT"),
        ("CASCADE",),
        ("RESTRICT",),
        ("NO", "ACTION"),
    ):
        if ts.accept_word(*words):
            return " ".join(words)
    raise ts.error("Expected SET NULL, SET DEFAULT, CASCADE, RESTRICT or NO ACTION")


def _name_list(ts: TokenStream, allow_order: bool = False) -> tuple[str, ...]:
    ts.expect_punct("(")
    names = []
    while True:
        names.append(ts.name("column"))
        if allow_order:
            if ts.accept_word("COLLATE"):
                ts.name("collation")
            if not ts.accept_word("ASC"):
                ts.accept_word("DESC")
        if ts.accept_punct(")"):
            return tuple(names)
        ts.expect_punct(",")


def _table_constraint(ts: TokenStream) -> tuple[str, object]:
    constraint_name = ts.name("constraint") if ts.accept_word("CONSTRAINT") else None
    if ts.accept_word("PRIMARY", "KEY"):
        columns = _name_list(ts, allow_order=True)
        conflict = _conflict_clause(ts)
        return "pk", PrimaryKey(columns=columns, on_conflict=conflict, name=constraint_name)
    if ts.accept_word("UNIQUE"):
        columns = _name_list(ts, allow_order=True)
        conflict = _conflict_clause(ts)
        return "unique", Unique(columns=columns, on_conflict=conflict, name=constraint_name)
    if ts.accept_word("CHECK"):
        return "check", Check(expr=_expression(ts, ts.balanced()), name=constraint_name)
    if ts.accept_word("FOREIGN", "KEY"):
        columns = _name_list(ts)
        ts.expect_word("REFERENCES")
        return "fk", _references(ts, columns, constraint_name)
    raise ts.error("Expected PRIMARY KEY, UNIQUE, CHECK or FOREIGN KEY")


# -- CREATE INDEX / VIEW / TRIGGER ----------------------------------------------------------


def _create_index(ts: TokenStream) -> IndexDef:
    unique = ts.accept_word("UNIQUE")
    ts.expect_word("INDEX")
    _no_if_exists(ts, negated=True)
    name = ts.name("index")
    ts.expect_word("ON")
    table = ts.name("table")
    ts.expect_punct("(")
    terms: list[IndexedColumn] = []
    while True:
        first = ts.pos
        span = ts.span_until({"COLLATE", "ASC", "DESC"}, {",", ")"})
        if span is None:
            raise ts.error("Expected an indexed column or expression")
        single = ts.tokens[first] if ts.pos - first == 1 else None
        collate = ts.name("collation") if ts.accept_word("COLLATE") else None
        desc = ts.accept_word("DESC")
        if not desc:
            ts.accept_word("ASC")
        if single is not None and single.kind in ("word", "quoted"):
            terms.append(IndexedColumn(column=single.text, collate=collate, desc=desc))
        else:
            terms.append(IndexedColumn(expr=_expression(ts, span), collate=collate, desc=desc))
        if ts.accept_punct(")"):
            break
        ts.expect_punct(",")
    where = None
    if ts.accept_word("WHERE"):
        span = ts.span_until(set(), set())
        if span is None:
            raise ts.error("Expected a condition after WHERE")
        where = _expression(ts, span)
    _end(ts)
    return IndexDef(name=name, table=table, columns=tuple(terms), unique=unique, where=where)


def _create_view(ts: TokenStream) -> ViewDef:
    _no_if_exists(ts, negated=True)
    name = ts.name("view")
    if ts.at_punct("("):
        _name_list(ts)
    ts.expect_word("AS")
    span = ts.span_until(set(), set())
    if span is None:
        raise ts.error("Expected a SELECT after AS")
    try:
        parse_query(ts.raw(span))
    except SQLParseError as e:
        raise _shifted(ts, span[0], e) from e
    return ViewDef(name=name, sql=ts.sql.strip())


def _shifted(ts: TokenStream, offset: int, error: SQLParseError) -> SQLParseError:
    """Re-anchor an error found in a fragment to its place in the whole statement."""
    base_line, base_col = position(ts.sql, offset)
    if error.line is None:
        return SQLParseError(error.reason, sql=ts.sql, line=base_line, column=base_col)
    line = base_line + error.line - 1
    column = error.column if error.line > 1 else (error.column or 0) + base_col - 1
    return SQLParseError(error.reason, sql=ts.sql, line=line, column=column)


class TriggerParts:
    """Where the pieces of a CREATE TRIGGER statement sit in its text (spans are offsets)."""

    def __init__(self) -> None:
        self.name = ""
        self.table = ""
        self.table_span: tuple[int, int] = (0, 0)
        self.of_columns: list[tuple[str, tuple[int, int]]] = []
        self.when: tuple[int, int] | None = None
        self.body: list[tuple[int, int]] = []


def trigger_parts(sql: str) -> TriggerParts:
    """Locate name, target table, UPDATE OF columns, WHEN and body statements of a trigger."""
    ts = TokenStream(sql)
    ts.expect_word("CREATE")
    ts.expect_word("TRIGGER")
    return _trigger_header_and_body(ts)


def _trigger_header_and_body(ts: TokenStream) -> TriggerParts:
    parts = TriggerParts()
    _no_if_exists(ts, negated=True)
    parts.name = ts.name("trigger")
    if not (ts.accept_word("BEFORE") or ts.accept_word("AFTER")):
        ts.accept_word("INSTEAD", "OF")
    if ts.accept_word("UPDATE"):
        if ts.accept_word("OF"):
            while True:
                token = ts.peek()
                column = ts.name("column")
                assert token is not None
                parts.of_columns.append((column, (token.start, token.end)))
                if not ts.accept_punct(","):
                    break
    elif not (ts.accept_word("INSERT") or ts.accept_word("DELETE")):
        raise ts.error("Expected INSERT, UPDATE or DELETE")
    ts.expect_word("ON")
    token = ts.peek()
    parts.table = ts.name("table")
    assert token is not None
    parts.table_span = (token.start, token.end)
    ts.accept_word("FOR", "EACH", "ROW")
    if ts.accept_word("WHEN"):
        parts.when = ts.span_until({"BEGIN"}, set())
        if parts.when is None:
            raise ts.error("Expected a condition after WHEN")
    ts.expect_word("BEGIN")
    # Statements never start with END, so END after a ';' closes the body; CASE ... END
    # sits inside a statement and is consumed with it.
    while not ts.at_word("END"):
        span = ts.span_until(set(), {";"})
        if span is None:
            raise ts.error("Expected a statement in the trigger body")
        parts.body.append(span)
        ts.expect_punct(";")
        if ts.at_end():
            raise ts.error("Trigger body is missing END")
    ts.expect_word("END")
    _end(ts)
    if not parts.body:
        raise ts.error("A trigger body needs at least one statement")
    return parts


def _create_trigger(ts: TokenStream) -> TriggerDef:
    parts = _trigger_header_and_body(ts)
    if parts.when is not None:
        _expression(ts, parts.when)
    for span in parts.body:
        _check_body_statement(ts, span)
    return TriggerDef(name=parts.name, table=parts.table, sql=ts.sql.strip())


def _check_body_statement(ts: TokenStream, span: tuple[int, int]) -> None:
    text = ts.raw(span)
    try:
        tree = sqlglot.parse_one(text, read="sqlite")
    except (ParseError, TokenError) as e:
        raise _shifted(ts, span[0], _from_sqlglot("Invalid trigger statement", text, e)) from e
    if not isinstance(tree, (exp.Query, exp.Insert, exp.Update, exp.Delete)):
        raise _shifted(
            ts,
            span[0],
            SQLParseError("Trigger bodies may contain SELECT, INSERT, UPDATE, DELETE", sql=text),
        )


# -- ALTER TABLE / DROP ---------------------------------------------------------------------


def _alter_table(ts: TokenStream) -> list[Operation]:
    table = ts.name("table")
    if ts.accept_word("RENAME"):
        if ts.accept_word("TO"):
            new_name = ts.name("table")
            _end(ts)
            return [TableRenamed(table=table, new_name=new_name)]
        ts.accept_word("COLUMN")
        column = ts.name("column")
        ts.expect_word("TO")
        new_name = ts.name("column")
        _end(ts)
        return [ColumnRenamed(table=table, column=column, new_name=new_name)]
    if ts.accept_word("ADD"):
        ts.accept_word("COLUMN")
        if ts.peek() is not None and ts.peek().upper in _TABLE_CONSTRAINTS:  # type: ignore[union-attr]
            raise ts.error("ALTER TABLE ADD accepts a column, not a table constraint")
        parsed = _column_def(ts)
        _end(ts)
        if parsed.primary_key is not None:
            raise ts.error("Cannot add a PRIMARY KEY column to an existing table")
        if len(parsed.checks) > 1 or len(parsed.foreign_keys) > 1:
            raise ts.error("An added column takes at most one CHECK and one REFERENCES")
        return [
            ColumnAdded(
                table=table,
                column=parsed.column,
                unique=bool(parsed.uniques),
                references=parsed.foreign_keys[0] if parsed.foreign_keys else None,
                check=parsed.checks[0].expr if parsed.checks else None,
            )
        ]
    if ts.accept_word("DROP"):
        ts.accept_word("COLUMN")
        column = ts.name("column")
        _end(ts)
        return [ColumnDropped(table=table, column=column)]
    if ts.accept_word("ALTER"):
        return [_alter_column(ts, table)]
    raise ts.error("Expected RENAME, ADD, DROP or ALTER COLUMN")


def _alter_column(ts: TokenStream, table: str) -> ColumnAltered:
    ts.accept_word("COLUMN")
    column = ts.name("column")
    changes: dict[str, object] = {}
    while True:
        if ts.accept_word("SET", "DATA", "TYPE") or ts.accept_word("TYPE"):
            span = ts.span_until(set(), {","})
            if span is None:
                raise ts.error("Expected a type")
            changes["new_type"] = " ".join(ts.raw(span).split())
        elif ts.accept_word("SET", "NOT", "NULL"):
            changes["not_null"] = True
        elif ts.accept_word("DROP", "NOT", "NULL"):
            changes["not_null"] = False
        elif ts.accept_word("SET", "DEFAULT"):
            changes["default"] = _default(ts)
        elif ts.accept_word("DROP", "DEFAULT"):
            changes["drop_default"] = True
        else:
            raise ts.error("Expected SET DATA TYPE, SET/DROP NOT NULL or SET/DROP DEFAULT")
        if not ts.accept_punct(","):
            break
        ts.expect_word("ALTER")
        ts.accept_word("COLUMN")
        again = ts.name("column")
        if again != column:
            raise ts.error("One ALTER TABLE statement may alter only one column")
    _end(ts)
    try:
        return ColumnAltered(table=table, column=column, **changes)
    except ValueError as e:
        raise SQLParseError(_first_error(e), sql=ts.sql) from e


def _drop(ts: TokenStream) -> Operation:
    kind = ts.next().upper
    if kind not in ("TABLE", "INDEX", "VIEW", "TRIGGER"):
        raise ts.error("Expected TABLE, INDEX, VIEW or TRIGGER after DROP")
    _no_if_exists(ts, negated=False)
    name = ts.name(kind.lower())
    _end(ts)
    if kind == "TABLE":
        return TableDropped(table=name)
    if kind == "INDEX":
        return IndexDropped(index=name)
    if kind == "VIEW":
        return ViewDropped(view=name)
    return TriggerDropped(trigger=name)


def references(
    sql: str,
    *,
    table: str | None = None,
    columns_of: Callable[[str], Iterable[str] | None] | None = None,
) -> set[tuple[str, str | None]]:
    """The tables and ``(table, column)`` pairs that a view, trigger, index or CHECK reads.

    See :func:`journal.sqlrefs.references`; ``new.``/``old.`` resolve to the trigger's table.
    """
    # The resolver builds on this module's parsers, so it is imported here, not at the top.
    from journal import sqlrefs

    return sqlrefs.references(sql, table=table, columns_of=columns_of)
