"""Parsing CREATE TABLE and column definitions (also used by ALTER TABLE ADD COLUMN).

Hand-written on the token stream because sqlglot does not parse STRICT, WITHOUT ROWID or
ON CONFLICT clauses, misreads ``DEFAULT 'x' COLLATE y``, and rewrites declared types; types,
defaults and expressions are sliced verbatim from the source.
"""

from __future__ import annotations

from journal._fragments import checked_expression, expect_end, refuse_if_exists
from journal._tokens import TokenStream
from journal.definitions import Check, ColumnDef, ForeignKey, PrimaryKey, TableDef, Unique
from journal.errors import InvalidNameError, SQLParseError

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
TABLE_CONSTRAINTS = ("CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN")
_DEFAULT_WORDS = {"NULL", "TRUE", "FALSE", "CURRENT_TIME", "CURRENT_DATE", "CURRENT_TIMESTAMP"}


def create_table(ts: TokenStream) -> TableDef:
    refuse_if_exists(ts, negated=True)
    name = ts.name("table")
    if ts.at_word("AS"):
        raise ts.error("CREATE TABLE ... AS SELECT is not supported; declare the columns")
    ts.expect_punct("(")
    columns: list[ColumnDef] = []
    primary_key: PrimaryKey | None = None
    uniques: list[Unique] = []
    foreign_keys: list[ForeignKey] = []
    checks: list[Check] = []
    in_constraints = False
    while True:
        token = ts.peek()
        if token is not None and token.upper in TABLE_CONSTRAINTS:
            in_constraints = True
            kind, value = table_constraint(ts)
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
            parsed = column_def(ts)
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
    expect_end(ts)
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
        raise invalid_definition(e, ts.sql) from e


def invalid_definition(error: ValueError, sql: str) -> InvalidNameError | SQLParseError:
    """What to raise for a definition its model refused: a refused name as the
    InvalidNameError its validator raised (as a name refused anywhere else is), anything else
    as SQLParseError naming the statement."""
    if isinstance(error, InvalidNameError):
        return error
    errors = getattr(error, "errors", None)
    if callable(errors):
        for found in errors():
            cause = found.get("ctx", {}).get("error")
            if isinstance(cause, InvalidNameError):
                return cause
    return SQLParseError(first_error(error), sql=sql)


def first_error(error: ValueError) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):
        first = errors()[0]
        return str(first.get("msg", error)).removeprefix("Value error, ")
    return str(error)


class ParsedColumn:
    def __init__(self, column: ColumnDef) -> None:
        self.column = column
        self.primary_key: PrimaryKey | None = None
        self.uniques: list[Unique] = []
        self.foreign_keys: list[ForeignKey] = []
        self.checks: list[Check] = []


def column_def(ts: TokenStream) -> ParsedColumn:
    name = ts.name("column")
    type_span = ts.span_until(_COLUMN_CONSTRAINTS, {",", ")"})
    declared = " ".join(ts.raw(type_span).split()) if type_span else ""
    fields: dict[str, object] = {"name": name, "type": declared}
    parsed = ParsedColumn(ColumnDef(name=name))
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
            parsed.checks.append(
                Check(expr=checked_expression(ts, ts.balanced()), name=constraint_name)
            )
        elif ts.accept_word("DEFAULT"):
            fields["default"] = default_value(ts)
        elif ts.accept_word("COLLATE"):
            fields["collate"] = ts.name("collation")
        elif ts.accept_word("REFERENCES"):
            parsed.foreign_keys.append(_references(ts, (name,), constraint_name))
        elif ts.at_word("GENERATED") or ts.at_word("AS"):
            if ts.accept_word("GENERATED"):
                ts.expect_word("ALWAYS")
            ts.expect_word("AS")
            fields["generated"] = checked_expression(ts, ts.balanced())
            if ts.accept_word("STORED"):
                fields["stored"] = True
            else:
                ts.accept_word("VIRTUAL")
        else:
            raise ts.error(f"Unexpected text in the definition of column '{name}'")
        constraint_name = None
    try:
        parsed.column = ColumnDef(**fields)
    except ValueError as e:
        raise invalid_definition(e, ts.sql) from e
    return parsed


def _conflict_clause(ts: TokenStream) -> str | None:
    if not ts.accept_word("ON", "CONFLICT"):
        return None
    token = ts.next()
    if token.upper not in _CONFLICT:
        raise ts.error("Expected ROLLBACK, ABORT, FAIL, IGNORE or REPLACE", token)
    return token.upper


def default_value(ts: TokenStream) -> str:
    token = ts.peek()
    if token is None:
        raise ts.error("Expected a default value")
    if token.kind == "punct" and token.text == "(":
        text = checked_expression(ts, ts.balanced())
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
        ref_columns = name_list(ts)
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
        raise invalid_definition(e, ts.sql) from e


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


def name_list(ts: TokenStream, allow_order: bool = False) -> tuple[str, ...]:
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


def table_constraint(ts: TokenStream) -> tuple[str, object]:
    constraint_name = ts.name("constraint") if ts.accept_word("CONSTRAINT") else None
    if ts.accept_word("PRIMARY", "KEY"):
        columns = name_list(ts, allow_order=True)
        conflict = _conflict_clause(ts)
        return "pk", PrimaryKey(columns=columns, on_conflict=conflict, name=constraint_name)
    if ts.accept_word("UNIQUE"):
        columns = name_list(ts, allow_order=True)
        conflict = _conflict_clause(ts)
        return "unique", Unique(columns=columns, on_conflict=conflict, name=constraint_name)
    if ts.accept_word("CHECK"):
        return "check", Check(expr=checked_expression(ts, ts.balanced()), name=constraint_name)
    if ts.accept_word("FOREIGN", "KEY"):
        columns = name_list(ts)
        ts.expect_word("REFERENCES")
        return "fk", _references(ts, columns, constraint_name)
    raise ts.error("Expected PRIMARY KEY, UNIQUE, CHECK or FOREIGN KEY")
