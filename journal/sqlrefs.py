"""What a piece of SQL reads, and renaming inside SQL text the way SQLite does.

A reference is a table or a column that an identifier in the text resolves to, with the
identifier's span. Dependencies (``references``) are the set of resolved references; renames
replace exactly those spans and leave the rest of the user's text untouched, which is what
SQLite's ``ALTER TABLE ... RENAME`` does to views, triggers and indexes. Resolution follows
SQLite's rules closely enough for schema work: qualifiers resolve through FROM aliases of the
enclosing queries, unqualified columns to the table in scope that has them, ``new.``/``old.``
to the trigger's table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import TYPE_CHECKING

import attrs

from journal._lazy import lazy_module
from journal.definitions import IndexDef
from journal.events import IndexCreated
from journal.names import fold_name, quote

if TYPE_CHECKING:
    import sqlglot
    from sqlglot import expressions as exp

    import journal.parse as _parse
    from journal import _tokens
else:  # sqlglot and the parser load on the first SQL text read (start-up time, journal._lazy)
    sqlglot = lazy_module("sqlglot")
    exp = lazy_module("sqlglot.expressions")
    _parse = lazy_module("journal.parse")
    _tokens = lazy_module("journal._tokens")

#: Columns of a table by name, or None when the table is unknown (a view, or missing).
ColumnsOf = Callable[[str], "Iterable[str] | None"]


@lru_cache(maxsize=1)
def _scopes() -> tuple[type[exp.Expr], ...]:
    # A function, not a constant: building it needs sqlglot, which loads on first use.
    return (exp.Select, exp.Update, exp.Delete, exp.Insert)


@attrs.frozen
class Ref:
    """An identifier resolved to a table (``column`` is None) or to a table's column."""

    table: str
    column: str | None
    start: int
    end: int


def view_refs(sql: str, columns_of: ColumnsOf) -> list[Ref]:
    """References of a whole ``CREATE VIEW`` statement."""
    tree = _view_tree(sql)
    return list(_resolve(tree, columns_of, offset=0, trigger_table=None))


def trigger_refs(sql: str, columns_of: ColumnsOf) -> list[Ref]:
    """References of a whole ``CREATE TRIGGER`` statement: target, OF columns, WHEN, body."""
    parts = _parse.trigger_parts(sql)
    table = parts.table
    refs = [Ref(table, None, *parts.table_span)]
    refs += [Ref(table, name, *span) for name, span in parts.of_columns]
    if parts.when is not None:
        text = sql[parts.when[0] : parts.when[1]]
        refs += _resolve(
            _parse.parse_expression(text), columns_of, parts.when[0], trigger_table=table
        )
    for start, end in parts.body:
        tree = parse_query_or_dml(sql[start:end])
        refs += _resolve(tree, columns_of, start, trigger_table=table)
    return refs


def data_step_refs(sql: str, columns_of: ColumnsOf) -> list[Ref]:
    """References of a data step (one INSERT, UPDATE or DELETE): its target and every table
    and column it reads or writes. A column no table in scope has is still a reference: at
    the statement's own level it can only be the target's (``UPDATE t SET missing = 1``), so
    the fold can say it is missing."""
    tree = parse_query_or_dml(sql)
    refs = list(_resolve(tree, columns_of, offset=0, trigger_table=None))
    target = _dml_target(tree)
    if target is None:
        return refs
    found = {(r.start, r.end) for r in refs}
    ctes = {fold_name(cte.alias) for cte in tree.find_all(exp.CTE)}
    for column in tree.find_all(exp.Column):
        ident = column.this
        if (
            isinstance(ident, exp.Identifier)
            and "start" in ident.meta
            and column.args.get("table") is None
            and _span(ident, 0) not in found
            and next(_enclosing_scopes(column), None) is tree
            and fold_name(target) not in ctes
        ):
            refs.append(Ref(target, ident.this, *_span(ident, 0)))
    return refs


def _dml_target(tree: exp.Expr) -> str | None:
    target = tree.this if isinstance(tree, (exp.Insert, exp.Update, exp.Delete)) else None
    if isinstance(target, exp.Schema):
        target = target.this
    if isinstance(target, exp.Table) and isinstance(target.this, exp.Identifier):
        return str(target.this.this)
    return None


def expression_refs(text: str, table: str) -> list[Ref]:
    """References of an expression evaluated on the rows of ``table`` (CHECK, index, ...)."""
    refs: list[Ref] = []
    for column in _parse.parse_expression(text).find_all(exp.Column):
        name = column.this
        if isinstance(name, exp.Identifier) and "start" in name.meta:
            refs.append(Ref(table, name.this, name.meta["start"], name.meta["end"] + 1))
    return refs


@lru_cache(maxsize=4096)
def index_refs(index: IndexDef) -> list[Ref]:
    """References of an index's columns, expressions and WHERE (spans are within each
    expression's own text; an indexed column has none)."""
    refs: list[Ref] = []
    for term in index.columns:
        if term.column is not None:
            refs.append(Ref(index.table, term.column, 0, 0))
        else:
            assert term.expr is not None
            refs += expression_refs(term.expr, index.table)
    if index.where is not None:
        refs += expression_refs(index.where, index.table)
    return refs


def parse_query_or_dml(text: str) -> exp.Expr:
    return sqlglot.parse_one(text, read="sqlite")


@lru_cache(maxsize=4096)
def identifiers(sql: str) -> frozenset[str]:
    """Every word and quoted name in ``sql``, folded: a cheap test of whether SQL *might*
    mention a name before paying for a parse and resolution."""
    return frozenset(
        fold_name(t.text) for t in _tokens.tokenize(sql) if t.kind in ("word", "quoted")
    )


def mentions(sql: str, *names: str) -> bool:
    return {fold_name(name) for name in names} <= identifiers(sql)


@lru_cache(maxsize=4096)
def _view_tree(sql: str) -> exp.Expr:
    """The query of a CREATE VIEW statement, parsed in place so spans index ``sql``."""
    tree = sqlglot.parse_one(sql, read="sqlite")
    query = tree.expression if isinstance(tree, exp.Create) else None
    if isinstance(query, exp.Expr):
        return query
    return _parse.parse_query(sql)


def _resolve(
    tree: exp.Expr, columns_of: ColumnsOf, offset: int, trigger_table: str | None
) -> Iterator[Ref]:
    ctes = {fold_name(cte.alias) for cte in tree.find_all(exp.CTE)}
    for node in tree.walk():
        if isinstance(node, exp.Table):
            ident = node.this
            if (
                isinstance(ident, exp.Identifier)
                and fold_name(ident.this) not in ctes
                and "start" in ident.meta
                and not node.args.get("db")
            ):
                yield Ref(ident.this, None, *_span(ident, offset))
                # INSERT INTO t (a, b): the column list belongs to the target table.
                if isinstance(node.parent, exp.Schema) and isinstance(
                    node.parent.parent, exp.Insert
                ):
                    for column in node.parent.expressions:
                        if isinstance(column, exp.Identifier) and "start" in column.meta:
                            yield Ref(ident.this, column.this, *_span(column, offset))
        elif isinstance(node, exp.Column):
            yield from _column_ref(node, columns_of, offset, trigger_table, ctes)


def _column_ref(
    node: exp.Column,
    columns_of: ColumnsOf,
    offset: int,
    trigger_table: str | None,
    ctes: set[str],
) -> Iterator[Ref]:
    ident = node.this
    qualifier = node.args.get("table")
    column_name = ident.this if isinstance(ident, exp.Identifier) else None
    if isinstance(qualifier, exp.Identifier):
        qual = fold_name(qualifier.this)
        if trigger_table is not None and qual in ("new", "old") and not _alias_in_scope(node, qual):
            table: str | None = trigger_table
        else:
            table, is_alias = _lookup_qualifier(node, qual, ctes)
            if table is not None and not is_alias and "start" in qualifier.meta:
                yield Ref(table, None, *_span(qualifier, offset))
        if table is not None and column_name is not None and "start" in ident.meta:
            yield Ref(table, column_name, *_span(ident, offset))
        return
    if column_name is None or "start" not in ident.meta:
        return
    owner = _unqualified_owner(node, column_name, columns_of, ctes, trigger_table)
    if owner is not None:
        yield Ref(owner, column_name, *_span(ident, offset))


def _span(ident: exp.Identifier, offset: int) -> tuple[int, int]:
    return offset + ident.meta["start"], offset + ident.meta["end"] + 1


def _enclosing_scopes(node: exp.Expr) -> Iterator[exp.Expr]:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, _scopes()):
            yield parent
        parent = parent.parent


def _sources(scope: exp.Expr, ctes: set[str]) -> list[tuple[str, str | None]]:
    """(name visible in the scope, real table name or None for derived sources)."""
    found: list[exp.Expr] = []
    if isinstance(scope, exp.Select):
        from_ = scope.args.get("from_") or scope.args.get("from")
        if from_ is not None:
            found.append(from_.this)
        found += [join.this for join in scope.args.get("joins") or []]
    elif isinstance(scope, (exp.Update, exp.Delete)):
        found.append(scope.this)
        from_ = scope.args.get("from_") or scope.args.get("from")
        if from_ is not None:
            found.append(from_.this)
    elif isinstance(scope, exp.Insert):
        target = scope.this
        found.append(target.this if isinstance(target, exp.Schema) else target)
    out: list[tuple[str, str | None]] = []
    for source in found:
        if isinstance(source, exp.Table) and isinstance(source.this, exp.Identifier):
            name = source.this.this
            real = None if fold_name(name) in ctes else name
            out.append((source.alias or name, real))
        elif source is not None and source.alias:
            out.append((source.alias, None))
    return out


def _alias_in_scope(node: exp.Expr, qual: str) -> bool:
    return any(
        fold_name(visible) == qual
        for scope in _enclosing_scopes(node)
        for visible, _ in _sources(scope, set())
    )


def _lookup_qualifier(node: exp.Expr, qual: str, ctes: set[str]) -> tuple[str | None, bool]:
    """The real table a qualifier names, and whether it was written as an alias."""
    for scope in _enclosing_scopes(node):
        for visible, real in _sources(scope, ctes):
            if fold_name(visible) == qual:
                return real, real is None or fold_name(real) != qual
    return None, False


def _unqualified_owner(
    node: exp.Expr,
    column: str,
    columns_of: ColumnsOf,
    ctes: set[str],
    trigger_table: str | None,
) -> str | None:
    key = fold_name(column)
    for scope in _enclosing_scopes(node):
        sources = _sources(scope, ctes)
        real = [name for _, name in sources if name is not None]
        for table in real:
            columns = columns_of(table)
            if columns is not None and key in {fold_name(c) for c in columns}:
                return table
        if len(sources) == 1 and real and columns_of(real[0]) is None:
            return real[0]
    return None


def rename_in_sql(sql: str, refs: Iterable[Ref], replacement: Callable[[Ref], str | None]) -> str:
    """Replace the spans of ``refs`` for which ``replacement`` returns new (quoted) text."""
    edits = sorted(
        {(ref.start, ref.end, new) for ref in refs if (new := replacement(ref)) is not None},
        reverse=True,
    )
    for start, end, new in edits:
        sql = sql[:start] + new + sql[end:]
    return sql


def table_renamer(old: str, new: str) -> Callable[[Ref], str | None]:
    key = fold_name(old)
    return lambda ref: quote(new) if ref.column is None and fold_name(ref.table) == key else None


def column_renamer(table: str, old: str, new: str) -> Callable[[Ref], str | None]:
    tkey, ckey = fold_name(table), fold_name(old)
    return lambda ref: (
        quote(new)
        if ref.column is not None and fold_name(ref.table) == tkey and fold_name(ref.column) == ckey
        else None
    )


def canonical_sql(text: str) -> str:
    """A comparison key for SQL text: tokens joined by spaces, identifiers unquoted and
    lower-cased, string literals exact. Equal keys mean the same SQL up to formatting."""
    out = []
    for token in _tokens.tokenize(text):
        if token.kind in ("word", "quoted"):
            out.append(fold_name(token.text))
        elif token.kind == "string":
            out.append(text[token.start : token.end])
        else:
            out.append(token.text)
    return " ".join(out)


def references(
    sql: str, *, table: str | None = None, columns_of: ColumnsOf | None = None
) -> set[tuple[str, str | None]]:
    """The tables and ``(table, column)`` pairs a piece of SQL reads.

    ``sql`` is a ``CREATE VIEW``, ``CREATE TRIGGER`` or ``CREATE INDEX`` statement, a data
    step (``INSERT``, ``UPDATE``, ``DELETE``, with or without a leading ``WITH``), or a bare
    expression (a CHECK, an index WHERE) evaluated on the rows of ``table``. A table reference
    has column None. ``columns_of`` resolves unqualified columns in multi-table queries.
    """
    lookup: ColumnsOf = columns_of or (lambda _name: None)
    head = [t.upper for t in _tokens.tokenize(sql)[:3]]
    if head[:1] == ["CREATE"] and "VIEW" in head:
        found = view_refs(sql, lookup)
    elif head[:1] == ["CREATE"] and "TRIGGER" in head:
        found = trigger_refs(sql, lookup)
    elif head[:1] == ["CREATE"] and "INDEX" in head:
        operation = _parse.parse_statement(sql)
        assert isinstance(operation, IndexCreated)
        found = [Ref(operation.index.table, None, 0, 0), *index_refs(operation.index)]
    elif head[:1] in (["INSERT"], ["UPDATE"], ["DELETE"], ["WITH"]):
        found = data_step_refs(sql, lookup)
    else:
        if table is None:
            raise ValueError("references() of a bare expression needs the table it runs on")
        found = expression_refs(sql, table)
    return {(ref.table, ref.column) for ref in found}
