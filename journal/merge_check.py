"""Schema changes checked in SQLite itself, before they are written.

SQLite refuses some DDL that the fold accepts (a CHECK with a subquery, a non-deterministic
partial or expression index, a non-constant default, too many columns, a view or trigger that
names another database), and accepts some that only fails later (a view selecting a column that
does not exist, a trigger body that no longer compiles). So every change is run on an in-memory
database built at the schema it applies to, and then every view is selected from and every
trigger compiled: :func:`check_change`, which every commit path uses (schema calls, migrations,
merges including fast-forwards, reverts); :func:`first_refused` replays a whole first-parent
chain, for ``check()``.

The semantic check of a merge (:func:`semantic_check`) builds on the same parts: base + ours +
theirs and base + theirs + ours are replayed into two in-memory databases (each side's schema
built directly, the other side's translated operations replayed onto it). Both must replay,
every view and trigger of both must compile, and both must give the same schema (up to the
order of columns, which follows the order the two sides' additions were applied). This catches
what no object-level rule sees: a view of one side that selects from a column the other side's
change made ambiguous, a trigger body that no longer compiles, and so on.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from journal._lazy import lazy_module
from journal.errors import SchemaError, SQLiteRefusedError
from journal.events import (
    DataMigrated,
    Event,
    IndexCreated,
    Operation,
    TableCreated,
    TriggerCreated,
    ViewCreated,
)
from journal.fold import apply_all
from journal.introspect import introspect
from journal.names import quote
from journal.replay import ReplayError, apply_operations, apply_steps, plan
from journal.schema import Schema

if TYPE_CHECKING:
    from journal import merge
else:  # the merge engine: only a merge's semantic check needs it, not a commit check
    merge = lazy_module("journal.merge")


def base_operations(schema: Schema) -> list[Operation]:
    """Operations that build ``schema`` from nothing (tables, indexes, views, triggers)."""
    return [
        *(TableCreated(table=t) for t in schema.tables),
        *(IndexCreated(index=i) for i in schema.indexes),
        *(ViewCreated(view=v) for v in schema.views),
        *(TriggerCreated(trigger=t) for t in schema.triggers),
    ]


def _memory() -> sqlite3.Connection:
    # Kept in CheckImages (journal._check_images), used from whichever thread makes the next
    # change.
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def build(schema: Schema) -> sqlite3.Connection:
    """An in-memory database at ``schema``.

    Raises:
        SQLiteRefusedError: SQLite refuses the schema itself (a journal that already holds an
            event SQLite refuses).
    """
    return _build(schema)[0]


def _build(schema: Schema) -> tuple[sqlite3.Connection, Schema]:
    """:func:`build`, and the schema the database was built to (the fold of its creation)."""
    conn = _memory()
    try:
        built = apply_operations(conn, Schema(), base_operations(schema))
    except ReplayError as e:
        conn.close()
        raise SQLiteRefusedError(e.operation.type, e.statement, e.reason) from e
    except BaseException:
        conn.close()
        raise
    return conn, built


#: A view or trigger that does not compile: (kind, name, its SQL, SQLite's reason).
CompileFailure = tuple[str, str, str, str]


def compile_failures(conn: sqlite3.Connection) -> list[CompileFailure]:
    """Every view is selected from and every trigger's table written to (with EXPLAIN, so
    nothing runs): SQLite compiles trigger bodies only when a statement fires them."""
    found: list[CompileFailure] = []
    rows = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE type IN ('view', 'trigger')"
    ).fetchall()
    for kind, name, table, sql in rows:
        statements: list[str]
        if kind == "view":
            statements = [f"SELECT * FROM {quote(name)} LIMIT 0"]
        else:
            columns = [r[1] for r in conn.execute(f"PRAGMA table_xinfo({quote(table)})")]
            sets = ", ".join(f"{quote(c)} = {quote(c)}" for c in columns)
            statements = [
                f"EXPLAIN INSERT INTO {quote(table)} DEFAULT VALUES",
                f"EXPLAIN UPDATE {quote(table)} SET {sets}" if sets else "",
                f"EXPLAIN DELETE FROM {quote(table)}",
            ]
        for statement in filter(None, statements):
            try:
                conn.execute(statement).fetchall()
            except sqlite3.Error as e:
                if "cannot modify" in str(e) or "generated column" in str(e):
                    continue  # a view without an INSTEAD OF trigger for this statement
                found.append((kind, name, sql, str(e)))
                break
    return found


def check_change(
    schema: Schema,
    operations: Sequence[Operation],
    *,
    image: sqlite3.Connection | None = None,
) -> tuple[Schema, sqlite3.Connection]:
    """Run ``operations`` in SQLite on a database at ``schema``; the schema after them and the
    in-memory database after them, which a later check of a change on top of this one can
    start from (``image``, copied with the backup API, never changed) instead of building
    ``schema`` again. The caller closes the returned database.

    Cheap enough for every change (once per change, never per tenant): an in-memory database
    at the schema, the change's statements, then a select from every view and an EXPLAIN of
    every trigger's table. A view or trigger that was already broken before the change (a
    journal written before this check) does not refuse the change; dropping or fixing it stays
    possible.

    Raises:
        SchemaError: the change does not apply to the schema (the fold's checks).
        SQLiteRefusedError: SQLite refuses a statement of the change, or a view or trigger no
            longer compiles after it; naming the statement and SQLite's reason.
    """
    steps, after = plan(schema, operations)
    conn = _copy(image) if image is not None else build(schema)
    try:
        try:
            apply_steps(conn, steps)
        except ReplayError as e:
            raise SQLiteRefusedError(e.operation.type, e.statement, e.reason) from e
        failures = compile_failures(conn)
        if failures:
            _refuse_new(schema, image, failures)
    except BaseException:
        conn.close()
        raise
    return after, conn


def _copy(image: sqlite3.Connection) -> sqlite3.Connection:
    conn = _memory()
    image.backup(conn)
    return conn


def _refuse_new(
    schema: Schema, image: sqlite3.Connection | None, failures: list[CompileFailure]
) -> None:
    """Raise for the first failure that the schema before the change did not have already."""
    conn = _copy(image) if image is not None else build(schema)
    try:
        before = {(kind, name) for kind, name, _, _ in compile_failures(conn)}
    finally:
        conn.close()
    for kind, name, sql, reason in failures:
        if (kind, name) not in before:
            raise SQLiteRefusedError(f"{kind} '{name}'", sql, reason)


def first_refused(events: Sequence[Event]) -> tuple[Event, SchemaError] | None:
    """The first event of a first-parent chain (oldest first) that does not replay in SQLite,
    and why; None if the whole chain replays and every view and trigger at its end compiles.
    A view or trigger that does not compile at the end is charged to the last event."""
    conn = _memory()
    schema = Schema()
    try:
        for event in events:
            try:
                steps, after = plan(schema, event.operations)
                apply_steps(conn, steps)
            except ReplayError as e:
                return event, SQLiteRefusedError(e.operation.type, e.statement, e.reason)
            except SchemaError as e:
                return event, e
            schema = after
        for kind, name, sql, reason in compile_failures(conn):
            return events[-1], SQLiteRefusedError(f"{kind} '{name}'", sql, reason)
    finally:
        conn.close()
    return None


def _replay(
    start: Schema, ops: Sequence[Operation]
) -> tuple[sqlite3.Connection, list[merge.Conflict]]:
    """A database built at ``start`` with ``ops`` replayed onto it."""
    conn, schema = _build(start)
    try:
        _replay_compiling_data_steps(conn, schema, ops)
    except ReplayError as e:
        return conn, [
            merge.Conflict(
                kind=merge.SEMANTIC,
                object=e.operation.type,
                message=f"The merged changes do not replay in SQLite: {e}",
                theirs=e.statement,
            )
        ]
    except SchemaError as e:
        # Only the reverse order can get here: the forward one was folded already.
        return conn, [
            merge.Conflict(
                kind=merge.SEMANTIC,
                object="schema",
                message=f"The two sides' changes apply in one order but not in the other: {e}",
            )
        ]
    return conn, []


def _replay_compiling_data_steps(
    conn: sqlite3.Connection, schema: Schema, ops: Sequence[Operation]
) -> None:
    """Replay ``ops`` onto ``conn`` (at ``schema``), data steps compiled where they stand
    rather than run: the in-memory database has no rows, so running them would prove nothing
    and could fail where a tenant would not (an insert whose foreign key points at a row
    only the tenants hold). ``EXPLAIN`` resolves every table and column the statement names
    and compiles the triggers it fires, without executing it."""
    pending: list[Operation] = []
    for op in ops:
        if not isinstance(op, DataMigrated):
            pending.append(op)
            continue
        schema = apply_operations(conn, schema, pending)
        pending = []
        try:
            conn.execute(f"EXPLAIN {op.sql}").fetchall()
        except sqlite3.Error as e:
            raise ReplayError(op, op.sql, str(e)) from e
    apply_operations(conn, schema, pending)


def compile_errors(conn: sqlite3.Connection) -> list[merge.Conflict]:
    """:func:`compile_failures` as merge conflicts."""
    return [
        merge.Conflict(
            kind=merge.SEMANTIC,
            object=f"{kind} {name}",
            message=f"After the merge {kind} '{name}' does not compile: {reason}",
        )
        for kind, name, _, reason in compile_failures(conn)
    ]


def _unordered(schema: Schema) -> dict[str, Any]:
    canonical = schema.canonical()
    for table in canonical["tables"]:
        table["columns"] = sorted(table["columns"], key=lambda c: str(c.get("name", "")))
    return canonical


#: Above this many translated operations (both orders together) the check builds the two
#: results in SQLite directly instead of replaying every operation: SQLite's ALTER TABLE
#: re-checks the whole schema, so replaying thousands of renames onto hundreds of tables takes
#: tens of seconds. Each side's operations were replayed into tenants when committed.
REPLAY_LIMIT = 200


def semantic_check(
    ours_schema: Schema,
    theirs_on_ours: Sequence[Operation],
    theirs_schema: Schema,
    ours_on_theirs: Sequence[Operation],
) -> list[merge.Conflict]:
    """Conflicts found by checking both orders in SQLite (empty: the merge is sound).

    Each side's own history is already known to replay to its schema (the journal's core
    invariant, replay == fold), so "base + ours + theirs" starts from ours' schema built
    directly and replays theirs' translated operations onto it; and the other way round. Past
    :data:`REPLAY_LIMIT` operations the two orders are folded instead and their results built
    in SQLite, which still compiles every view and trigger.
    """
    if len(theirs_on_ours) + len(ours_on_theirs) > REPLAY_LIMIT:
        try:
            first = apply_all(ours_schema, theirs_on_ours)
            second = apply_all(theirs_schema, ours_on_theirs)
        except SchemaError as e:
            return [
                merge.Conflict(
                    kind=merge.SEMANTIC,
                    object="schema",
                    message=f"The two sides' changes apply in one order but not in the other: {e}",
                )
            ]
        one, conflicts = _replay(first, ())
        two, more = _replay(second, ())
        results: tuple[Schema, Schema] | None = (first, second)
    else:
        one, conflicts = _replay(ours_schema, theirs_on_ours)
        two, more = _replay(theirs_schema, ours_on_theirs)
        results = None  # compare what SQLite built
    try:
        conflicts += more
        if conflicts:
            return conflicts
        conflicts += compile_errors(one)
        if conflicts:
            return conflicts
        if results is None:
            results = (introspect(one), introspect(two))
        a, b = _unordered(results[0]), _unordered(results[1])
        if a != b:
            differing = sorted(
                {
                    f"{kind[:-1]} {item['name']}"
                    for kind in ("tables", "indexes", "views", "triggers")
                    for item in a[kind] + b[kind]
                    if (item in a[kind]) != (item in b[kind])
                }
            )
            conflicts.append(
                merge.Conflict(
                    kind=merge.SEMANTIC,
                    object=", ".join(differing) or "schema",
                    message="The two sides' changes give different schemas depending on which is"
                    f" applied first: {', '.join(differing)}",
                )
            )
        return conflicts
    finally:
        one.close()
        two.close()
