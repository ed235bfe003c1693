"""SQL text -> events.

DDL structure is parsed on sqlglot's tokenizer (see ``_tokens``) so declared types, defaults and
expressions keep their exact text; every expression and query inside is checked with sqlglot's
parser (``read="sqlite"``). SQL that sqlglot generates is never executed: DDL is rendered from
the events by ``journal.ddl``. Scripts are split with ``sqlite3.complete_statement``, the same
rule the sqlite3 shell uses, so ``;`` inside trigger bodies and strings does not split.

``INSERT``, ``UPDATE`` and ``DELETE`` (upserts, ``INSERT ... SELECT`` and a leading ``WITH``
included) become :class:`journal.events.DataMigrated` data steps, stored as written. A data step
may touch only the tenant's own tables, so CinchDB's and SQLite's tables, attached databases and
``RETURNING`` are refused, and so are functions whose result differs per tenant (``random()``,
``datetime('now')``) unless the caller allows them.

Besides SQLite's own DDL, ``ALTER TABLE t ALTER COLUMN c ...`` (SET DATA TYPE / TYPE, SET / DROP
NOT NULL, SET / DROP DEFAULT) is accepted; CinchDB applies it with a table rebuild.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import sqlglot
from pydantic import ValidationError
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from journal._fragments import (
    checked_expression,
    expect_end,
    from_sqlglot,
    parse_expression,
    parse_query,
    refuse_if_exists,
    shifted,
)
from journal._parse_table import (
    TABLE_CONSTRAINTS,
    column_def,
    create_table,
    default_value,
    invalid_definition,
    name_list,
)
from journal._tokens import Tok, TokenStream, position, tokenize
from journal.definitions import (
    IndexDef,
    IndexedColumn,
    TriggerDef,
    ViewDef,
)
from journal.errors import DataStepRefusedError, SQLParseError
from journal.events import (
    ColumnAdded,
    ColumnAltered,
    ColumnDropped,
    ColumnRenamed,
    DataMigrated,
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
from journal.names import fold_name

__all__ = [
    "TriggerParts",
    "parse",
    "parse_down",
    "parse_expression",
    "parse_query",
    "parse_statement",
    "split_statements",
    "trigger_parts",
]


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


def parse(script: str, allow_nondeterministic: bool = False) -> list[Operation]:
    """Parse one or many DDL and DML statements into operations, in order.

    Each ``INSERT``, ``UPDATE`` or ``DELETE`` becomes a :class:`DataMigrated` data step;
    ``allow_nondeterministic`` lets data steps call functions whose result differs per tenant
    (and records that in the step).

    Raises:
        SQLParseError: naming the statement, line and column, for anything that is not
            supported DDL or DML (PRAGMA, VACUUM, syntax errors...).
        DataStepRefusedError: a data step touching CinchDB's or SQLite's own tables or an
            attached database, with RETURNING, or non-deterministic when not allowed.
    """
    operations: list[Operation] = []
    for offset, statement in split_statements(script):
        try:
            operations.extend(_parse_one(statement, allow_nondeterministic))
        except SQLParseError as e:
            if e.line is None:
                raise
            base_line, base_col = position(script, offset)
            # Leading whitespace belongs to the statement; report positions in the script.
            line = base_line + e.line - 1
            column = e.column if e.line > 1 else (e.column or 0) + base_col - 1
            # type(e): a refused data step stays a DataStepRefusedError.
            raise type(e)(e.reason, sql=statement, line=line, column=column) from e
    return operations


def parse_down(script: str, allow_nondeterministic: bool = False) -> tuple[str, ...]:
    """The statements of a data step's ``down`` script, each checked as a data step.

    Raises:
        SQLParseError: a statement is not INSERT, UPDATE or DELETE (or does not parse).
        DataStepRefusedError: as :func:`parse`.
    """
    statements: list[str] = []
    for operation in parse(script, allow_nondeterministic):
        if not isinstance(operation, DataMigrated):
            raise SQLParseError(
                "Down SQL undoes a data step: only INSERT, UPDATE and DELETE are allowed,"
                f" found a schema change ({operation.type})",
                sql=script,
            )
        statements.append(operation.sql)
    if not statements:
        raise SQLParseError("Down SQL has no statement", sql=script)
    return tuple(statements)


def parse_statement(sql: str, allow_nondeterministic: bool = False) -> Operation:
    """Parse exactly one statement into one operation."""
    statements = split_statements(sql)
    if len(statements) != 1:
        raise SQLParseError(f"Expected one statement, found {len(statements)}", sql=sql)
    operations = _parse_one(statements[0][1], allow_nondeterministic)
    if len(operations) != 1:
        raise SQLParseError("Expected a statement with a single effect", sql=sql)
    return operations[0]


def _parse_one(sql: str, allow_nondeterministic: bool = False) -> list[Operation]:
    try:
        return _operations(sql, allow_nondeterministic)
    except ValidationError as e:
        # An event or definition built from the statement refused a value (a reserved or
        # invisible name, say): the same error the SDK raises for it.
        raise invalid_definition(e, sql) from e


def _operations(sql: str, allow_nondeterministic: bool) -> list[Operation]:
    ts = TokenStream(sql)
    if ts.at_word("INSERT") or ts.at_word("UPDATE") or ts.at_word("DELETE") or ts.at_word("WITH"):
        return [_data_step(ts, allow_nondeterministic)]
    if ts.at_word("REPLACE"):
        raise _refused(ts, "REPLACE INTO is not supported in a data step: write INSERT OR REPLACE")
    if ts.at_word("ATTACH") or ts.at_word("DETACH"):
        raise _refused(
            ts,
            f"{ts.peek().upper} is not allowed in a migration: it runs on each"  # type: ignore[union-attr]
            " tenant's own database only",
        )
    if ts.at_word("CREATE"):
        ts.next()
        if ts.at_word("TEMP") or ts.at_word("TEMPORARY"):
            raise ts.error("Temporary objects are not part of a schema")
        if ts.accept_word("TABLE"):
            return [TableCreated(table=create_table(ts))]
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
        " triggers are schema changes, and INSERT/UPDATE/DELETE data steps"
    )


# -- data steps (INSERT / UPDATE / DELETE) --------------------------------------------------

#: Name prefixes of tables that belong to CinchDB (its state, its registries, the tenant's
#: key-value store ``__kv``/``__kv_expires``), SQLite or Litestream, never to the user.
_OWN_TABLES = ("__cinch", "cinch_", "__kv", "sqlite_", "_litestream_")
#: Functions whose result differs from one call (and so one tenant) to the next.
_VOLATILE = frozenset({"random", "randomblob", "changes", "last_insert_rowid", "total_changes"})
#: Date and time functions, by the index of their time-value argument (None: every argument,
#: as timediff's two); with no time value or with 'now' they read the clock.
_CLOCK: dict[str, int | None] = {
    "date": 0,
    "time": 0,
    "datetime": 0,
    "julianday": 0,
    "unixepoch": 0,
    "strftime": 1,
    "timediff": None,
}
_CLOCK_WORDS = frozenset({"CURRENT_TIME", "CURRENT_DATE", "CURRENT_TIMESTAMP"})


def _refused(
    ts: TokenStream, reason: str, token: Tok | None = None, node: exp.Expr | None = None
) -> DataStepRefusedError:
    """The refusal, pointing at ``token``, else at ``node`` (where sqlglot kept its offset),
    else at the statement's start."""
    start = token.start if token is not None else None
    if start is None and isinstance(node, exp.Table):
        # A qualified name's first part (the database), else the table's name.
        parts = (node.args.get("catalog"), node.args.get("db"), node.this)
        starts = [
            int(p.meta["start"])
            for p in parts
            if isinstance(p, exp.Identifier) and "start" in p.meta
        ]
        start = min(starts) if starts else None
    if start is None:
        first = ts.peek()
        start = first.start if first is not None else 0
    line, column = position(ts.sql, start)
    return DataStepRefusedError(reason, sql=ts.sql, line=line, column=column)


def _data_step(ts: TokenStream, allow_nondeterministic: bool) -> DataMigrated:
    sql = ts.sql
    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except (ParseError, TokenError) as e:
        raise from_sqlglot("Invalid data step", sql, e) from e
    if not isinstance(tree, (exp.Insert, exp.Update, exp.Delete)):
        raise ts.error("A data step is one INSERT, UPDATE or DELETE statement")
    if tree.find(exp.Returning) is not None:
        raise _refused(
            ts, "RETURNING is not allowed in a data step: a migration reports row counts"
        )
    ctes = {fold_name(cte.alias) for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        name = table.name
        if table.args.get("db") is not None or table.args.get("catalog") is not None:
            raise _refused(
                ts,
                f"'{table.sql(dialect='sqlite')}' names another database: a data step touches"
                f" only the tenant's own tables (write '{name}')",
                node=table,
            )
        if fold_name(name) in ctes:
            continue
        if fold_name(name).startswith(_OWN_TABLES):
            raise _refused(
                ts,
                f"'{name}' belongs to CinchDB or SQLite: a data step touches only your tables",
                node=table,
            )
    found = _nondeterministic(ts.tokens)
    if found is not None and not allow_nondeterministic:
        call, token = found
        raise _refused(
            ts,
            f"{call} gives a different result on each tenant; allow it with"
            " allow_nondeterministic=True (cinch migrate --allow-nondeterministic)",
            token,
        )
    return DataMigrated(sql=sql.strip(), nondeterministic=found is not None)


def _nondeterministic(tokens: Sequence[Tok]) -> tuple[str, Tok] | None:
    """The first call in ``tokens`` whose result differs per tenant, as the user wrote it, with
    its token. Read on tokens, not sqlglot's tree: sqlglot rewrites date functions."""
    for i, token in enumerate(tokens):
        if token.kind != "word":
            continue
        is_call = (
            i + 1 < len(tokens) and tokens[i + 1].text == "(" and tokens[i + 1].kind == "punct"
        )
        if not is_call:
            if token.upper in _CLOCK_WORDS:
                return token.upper, token
            continue
        name = token.text.casefold()
        if name in _VOLATILE:
            return f"{token.text}()", token
        if name in _CLOCK:
            arguments = _call_arguments(tokens, i + 2)
            at = _CLOCK[name]
            times = arguments if at is None else arguments[at : at + 1]
            reads_clock = not times or any(
                len(arg) == 1 and arg[0].kind == "string" and arg[0].text.casefold() == "now"
                for arg in times
            )
            if reads_clock:
                shown = ", ".join(" ".join(t.text if t.kind != "string" else f"'{t.text}'"
                                           for t in arg) for arg in arguments)  # fmt: skip
                return f"{token.text}({shown})", token
    return None


def _call_arguments(tokens: Sequence[Tok], start: int) -> list[list[Tok]]:
    """The arguments (token lists) of the call whose '(' is just before ``start``."""
    arguments: list[list[Tok]] = []
    current: list[Tok] = []
    depth = 0
    for token in tokens[start:]:
        if token.kind == "punct" and token.text == "(":
            depth += 1
        elif token.kind == "punct" and token.text == ")":
            if depth == 0:
                break
            depth -= 1
        elif token.kind == "punct" and token.text == "," and depth == 0:
            arguments.append(current)
            current = []
            continue
        current.append(token)
    if current:
        arguments.append(current)
    return arguments


# -- CREATE INDEX / VIEW / TRIGGER ----------------------------------------------------------


def _create_index(ts: TokenStream) -> IndexDef:
    unique = ts.accept_word("UNIQUE")
    ts.expect_word("INDEX")
    refuse_if_exists(ts, negated=True)
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
            terms.append(
                IndexedColumn(expr=checked_expression(ts, span), collate=collate, desc=desc)
            )
        if ts.accept_punct(")"):
            break
        ts.expect_punct(",")
    where = None
    if ts.accept_word("WHERE"):
        span = ts.span_until(set(), set())
        if span is None:
            raise ts.error("Expected a condition after WHERE")
        where = checked_expression(ts, span)
    expect_end(ts)
    return IndexDef(name=name, table=table, columns=tuple(terms), unique=unique, where=where)


def _create_view(ts: TokenStream) -> ViewDef:
    refuse_if_exists(ts, negated=True)
    name = ts.name("view")
    if ts.at_punct("("):
        name_list(ts)
    ts.expect_word("AS")
    span = ts.span_until(set(), set())
    if span is None:
        raise ts.error("Expected a SELECT after AS")
    try:
        parse_query(ts.raw(span))
    except SQLParseError as e:
        raise shifted(ts, span[0], e) from e
    return ViewDef(name=name, sql=ts.sql.strip())


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
    refuse_if_exists(ts, negated=True)
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
    expect_end(ts)
    if not parts.body:
        raise ts.error("A trigger body needs at least one statement")
    return parts


def _create_trigger(ts: TokenStream) -> TriggerDef:
    parts = _trigger_header_and_body(ts)
    if parts.when is not None:
        checked_expression(ts, parts.when)
    for span in parts.body:
        _check_body_statement(ts, span)
    return TriggerDef(name=parts.name, table=parts.table, sql=ts.sql.strip())


def _check_body_statement(ts: TokenStream, span: tuple[int, int]) -> None:
    text = ts.raw(span)
    try:
        tree = sqlglot.parse_one(text, read="sqlite")
    except (ParseError, TokenError) as e:
        raise shifted(ts, span[0], from_sqlglot("Invalid trigger statement", text, e)) from e
    if not isinstance(tree, (exp.Query, exp.Insert, exp.Update, exp.Delete)):
        raise shifted(
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
            expect_end(ts)
            return [TableRenamed(table=table, new_name=new_name)]
        ts.accept_word("COLUMN")
        column = ts.name("column")
        ts.expect_word("TO")
        new_name = ts.name("column")
        expect_end(ts)
        return [ColumnRenamed(table=table, column=column, new_name=new_name)]
    if ts.accept_word("ADD"):
        ts.accept_word("COLUMN")
        if ts.peek() is not None and ts.peek().upper in TABLE_CONSTRAINTS:  # type: ignore[union-attr]
            raise ts.error("ALTER TABLE ADD accepts a column, not a table constraint")
        parsed = column_def(ts)
        expect_end(ts)
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
        expect_end(ts)
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
            changes["default"] = default_value(ts)
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
    expect_end(ts)
    try:
        return ColumnAltered(table=table, column=column, **changes)
    except ValueError as e:
        raise invalid_definition(e, ts.sql) from e


def _drop(ts: TokenStream) -> Operation:
    kind = ts.next().upper
    if kind not in ("TABLE", "INDEX", "VIEW", "TRIGGER"):
        raise ts.error("Expected TABLE, INDEX, VIEW or TRIGGER after DROP")
    refuse_if_exists(ts, negated=False)
    name = ts.name(kind.lower())
    expect_end(ts)
    if kind == "TABLE":
        return TableDropped(table=name)
    if kind == "INDEX":
        return IndexDropped(index=name)
    if kind == "VIEW":
        return ViewDropped(view=name)
    return TriggerDropped(trigger=name)
