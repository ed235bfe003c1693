"""Adopting a database, part one: read an existing SQLite file and say what CinchDB cannot
represent in it, without writing anything anywhere.

The file is opened read-only. Every object in its ``sqlite_schema`` is looked at on its own, so
that every problem is found in one pass (not the first one only): virtual tables (FTS, R*Tree,
...) and their shadow tables, names outside CinchDB's rule or under its reserved prefix, and
definitions the journal's parser cannot read. SQLite's own tables (``sqlite_sequence``,
``sqlite_stat1``...) are not objects of the schema and are passed over; AUTOINCREMENT counters
are carried over by the row copy. When the objects are all readable, the schema is read back
whole (``journal.introspect``, which cross-checks the parser against SQLite's pragmas) and
replayed into memory from the events that will record it: a schema the events would not give
back exactly is a problem too. Rows that break a foreign key are reported, because a tenant
enforces foreign keys.
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path
from urllib.parse import quote as url_quote

import attrs
import networkx as nx

from cinchdb._system_tables import FOREIGN_TABLES
from cinchdb.errors import AdoptError, AdoptProblem
from journal.diff import diff_schemas
from journal.errors import JournalError
from journal.events import Operation
from journal.introspect import introspect
from journal.names import (
    MAX_IDENTIFIER_LENGTH,
    RESERVED_OBJECT_PREFIXES,
    fold_name,
    name_rule_problem,
)
from journal.parse import parse_statement
from journal.replay import apply_operations
from journal.schema import Schema

# Other tools' tables (Litestream's): not the file's schema.
_FOREIGN = {fold_name(name) for name in FOREIGN_TABLES}

__all__ = ["Inspection", "inspect_file", "read_only_uri"]

# The types ``PRAGMA table_list`` gives the tables a virtual table keeps its data in.
_SHADOW = "shadow"
_KINDS = ("table", "index", "view", "trigger")


@attrs.frozen
class Inspection:
    """What reading the file found: its schema and the events that make it (when there are no
    problems), the problems, and the rows per table."""

    path: Path
    schema: Schema
    operations: tuple[Operation, ...]
    problems: tuple[AdoptProblem, ...]
    rows: dict[str, int]


def read_only_uri(path: Path) -> str:
    """``path`` as a read-only URI: SQLite never creates or changes a file opened this way."""
    return f"file:{url_quote(str(path.resolve()))}?mode=ro"


def _outside_name_rule(name: str) -> str | None:
    """Why ``name`` breaks the rule every new name follows (``journal.names.NAME_RULE``), or None:
    adopted objects become events, and events are checked as new names are."""
    problem = name_rule_problem(name)
    return None if problem is None else f"has a name outside the name rule ({problem})"


def _suggest_name(name: str) -> str:
    """A name inside the rule close to ``name``, for the suggestion."""
    cleaned = re.sub(r"\W+", "_", name.lstrip("_")).strip("_") or "renamed"
    if cleaned[0].isdigit():
        cleaned = f"t_{cleaned}"
    return cleaned[:MAX_IDENTIFIER_LENGTH]


def _rename_hint(kind: str, name: str, table: str | None = None) -> str:
    new = _suggest_name(name)
    match kind:
        case "table":
            return f'rename it first, e.g. ALTER TABLE "{name}" RENAME TO {new}'
        case "column":
            return f'rename it first, e.g. ALTER TABLE "{table}" RENAME COLUMN "{name}" TO {new}'
        case _:
            return f"drop it and create it again as {new} first"


def _name_problems(kind: str, name: str, table: str | None = None) -> list[AdoptProblem]:
    """The name rule and the reserved prefixes, for one object or column."""
    where = f"{table}.{name}" if kind == "column" and table is not None else name
    problems = []
    reason = _outside_name_rule(name)
    if reason is not None:
        problems.append(AdoptProblem(kind, where, reason, _rename_hint(kind, name, table)))
    if kind != "column" and fold_name(name).startswith(RESERVED_OBJECT_PREFIXES):
        problems.append(
            AdoptProblem(
                kind,
                where,
                "has a name starting with '__', which CinchDB keeps for its own tables",
                _rename_hint(kind, name, table),
            )
        )
    return problems


def _virtual_problem(name: str, sql: str) -> AdoptProblem:
    module = re.search(r"\bUSING\s+(\w+)", sql, flags=re.IGNORECASE)
    using = f" ({module.group(1)})" if module else ""
    return AdoptProblem(
        "table",
        name,
        f"is a virtual table{using}, which CinchDB cannot record as a schema event",
        "drop it before adopting and rebuild it from the adopted tables in your application"
        " (for full-text search, keep the text in an ordinary table)",
    )


def _shadow_tables(conn: sqlite3.Connection) -> set[str]:
    """The tables that store virtual tables' data (they go with the virtual table)."""
    return {
        row[1] for row in conn.execute("PRAGMA main.table_list").fetchall() if row[2] == _SHADOW
    }


def _column_names(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute("SELECT * FROM pragma_table_xinfo(?)", (table,))]


def _object_problems(conn: sqlite3.Connection) -> list[AdoptProblem]:
    problems: list[AdoptProblem] = []
    shadows = _shadow_tables(conn)
    rows = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY rowid"
    ).fetchall()
    for kind, name, table, sql in rows:
        if fold_name(name).startswith("sqlite_") or name in shadows:
            continue  # SQLite's own tables, and what a virtual table keeps its data in
        if fold_name(table) in _FOREIGN:
            continue  # another tool's (Litestream's), not the file's schema
        if kind == "table" and re.match(r"\s*CREATE\s+VIRTUAL\b", sql, flags=re.IGNORECASE):
            problems.append(_virtual_problem(name, sql))
            continue
        if kind not in _KINDS:  # pragma: no cover - SQLite has no other kind
            continue
        named = _name_problems(kind, name)
        if kind == "table":
            for column in _column_names(conn, name):
                named += _name_problems("column", column, table)
        problems += named
        if named:
            continue  # the parser refuses such names too: one problem, said once
        try:
            parse_statement(sql)
        except (JournalError, ValueError) as e:
            problems.append(
                AdoptProblem(
                    kind,
                    name,
                    f"has a definition CinchDB cannot read ({_first_line(e)})",
                    "re-create it in plain SQLite syntax before adopting, or drop it",
                )
            )
    return problems


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _replay_problems(
    source: Path, schema: Schema, operations: list[Operation]
) -> list[AdoptProblem]:
    """Replay the events into memory: they must give the file's schema back exactly."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        apply_operations(conn, Schema(), operations)
        replayed = introspect(conn)
    except (JournalError, sqlite3.Error, ValueError) as e:
        return [
            AdoptProblem(
                "schema",
                source.name,
                f"its events do not replay in SQLite ({_first_line(e)})",
                "simplify the object named in the message and adopt again",
            )
        ]
    finally:
        conn.close()
    found = {fold_name(t.name): t for t in replayed.tables}
    differ = [
        t.name
        for t in schema.tables
        if fold_name(t.name) not in found or found[fold_name(t.name)] != t
    ]
    if replayed.canonical() == schema.canonical():
        return []
    return [
        AdoptProblem(
            "schema",
            source.name,
            "replaying its events gives a different schema"
            + (f" (tables {', '.join(differ)})" if differ else ""),
            "simplify those definitions and adopt again",
        )
    ]


def _reference_problems(schema: Schema) -> list[AdoptProblem]:
    """Foreign keys the journal cannot record: SQLite does not check a foreign key's table at
    CREATE time, but the journal records each table as it is created, so every foreign key must
    point at a table created before it (or at its own table)."""
    problems = []
    graph: nx.DiGraph[str] = nx.DiGraph()
    for table in schema.tables:
        graph.add_node(table.name)
        for fk in table.foreign_keys:
            target = schema.table(fk.ref_table)
            if target is None:
                problems.append(
                    AdoptProblem(
                        "table",
                        table.name,
                        f"has a foreign key to table '{fk.ref_table}', which does not exist",
                        "create that table or remove the foreign key, then adopt again",
                    )
                )
            elif target.name != table.name:
                graph.add_edge(table.name, target.name)
    for cycle in nx.strongly_connected_components(graph):
        if len(cycle) > 1:
            names = sorted(cycle)
            problems.append(
                AdoptProblem(
                    "table",
                    names[0],
                    f"is in a cycle of foreign keys ({', '.join(names)}), which the journal"
                    " cannot create one table at a time",
                    "remove one of the cycle's foreign keys (re-create that table without it),"
                    " adopt, then enforce it in a trigger or the application",
                )
            )
    return problems


def _foreign_key_problems(conn: sqlite3.Connection) -> list[AdoptProblem]:
    broken: dict[str, set[str]] = {}
    for table, _rowid, parent, _fk in conn.execute("PRAGMA foreign_key_check").fetchall():
        broken.setdefault(table, set()).add(parent)
    return [
        AdoptProblem(
            "table",
            table,
            f"has rows whose foreign key points at no row of {', '.join(sorted(parents))}",
            "fix or delete those rows (PRAGMA foreign_key_check lists them), then adopt again",
        )
        for table, parents in broken.items()
    ]


def _count_rows(conn: sqlite3.Connection, schema: Schema) -> dict[str, int]:
    return {
        t.name: conn.execute(f'SELECT count(*) FROM "{t.name}"').fetchone()[0]
        for t in schema.tables
    }


def inspect_file(path: str | os.PathLike[str]) -> Inspection:
    """Read ``path``'s schema and find what CinchDB cannot represent; writes nothing.

    Raises:
        AdoptError: the file is missing or not an SQLite database.
    """
    source = Path(path)
    if not source.is_file():
        raise AdoptError(
            source, [AdoptProblem("file", str(source), "does not exist", "check the path")]
        )
    try:
        conn = sqlite3.connect(read_only_uri(source), uri=True, isolation_level=None)
    except sqlite3.Error as e:
        raise AdoptError(
            source,
            [AdoptProblem("file", str(source), f"cannot be opened ({e})", "check the path")],
        ) from e
    try:
        try:
            problems = _object_problems(conn)
        except sqlite3.DatabaseError as e:
            raise AdoptError(
                source,
                [
                    AdoptProblem(
                        "file",
                        str(source),
                        f"is not an SQLite database ({e})",
                        "give the path of an SQLite database file",
                    )
                ],
            ) from e
        schema = Schema()
        operations: list[Operation] = []
        if not problems:
            try:
                schema = introspect(conn, ignore=FOREIGN_TABLES)
            except (JournalError, ValueError) as e:
                problems.append(
                    AdoptProblem(
                        "schema",
                        source.name,
                        f"cannot be read back exactly ({_first_line(e)})",
                        "re-create the object named in the message in plain SQLite syntax",
                    )
                )
            problems += _reference_problems(schema)
        if not problems:
            operations = diff_schemas(Schema(), schema, renames=[])
            problems += _replay_problems(source, schema, operations)
            problems += _foreign_key_problems(conn)
        rows = _count_rows(conn, schema)
    finally:
        conn.close()
    return Inspection(source, schema, tuple(operations), tuple(problems), rows)
