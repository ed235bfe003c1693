"""Whether reverting an event loses data, asked of the tenants' rows rather than the schema alone.

``journal.inverse`` names what an inverse cannot restore from the schema alone: undoing an
``add_column`` drops the column "with the values written to it". Whether there are such values
depends on the rows: a column that holds nothing but its default (NULL without one) in every
materialized tenant loses nothing a re-add would not bring back, so its revert needs no
``force``. Each tenant is asked like a preflight: read only, inside a rolled-back transaction
that holds the file's write lock. Lazy tenants have no rows; an encrypted tenant whose key is
not at hand cannot be asked, so its column counts as holding values.
"""

from __future__ import annotations

import attrs

from cinchdb.changes import SchemaChanges
from journal.events import ColumnAdded, Operation
from journal.fold import apply
from journal.inverse import inverse_operations
from journal.names import quote
from journal.render import is_constant_default
from journal.schema import Schema
from journal.transactions import transaction


@attrs.frozen
class _AddedColumn:
    """A column the reverted event added, and the sentences its drop would lose."""

    table: str
    column: str
    defaults: tuple[str, ...]  # the SQL literals that count as "nothing written"
    losses: tuple[str, ...]


def revert_losses(
    changes: SchemaChanges, branch: str, before: Schema, operations: tuple[Operation, ...]
) -> list[str]:
    """What reverting ``operations`` (applied to ``before``) would lose on ``branch`` now:
    ``journal.inverse``'s losses, less those of added columns that hold only their default in
    every materialized tenant; a column that holds values names the tenants."""
    losses: list[str] = []
    added: list[_AddedColumn] = []
    schema = before
    for op in operations:
        _, lost = inverse_operations(schema, [op])
        if lost and isinstance(op, ColumnAdded) and is_constant_default(op.column.default):
            added.append(_added(changes.schema(branch), op, tuple(lost)))
        else:
            losses += lost
        schema = apply(schema, op)
    for column in added:
        holding = _tenants_with_values(changes, branch, column)
        if holding:
            where = "tenant " if len(holding) == 1 else "tenants "
            where += ", ".join(f"'{t}'" for t in holding[:5])
            where += f" and {len(holding) - 5} more" if len(holding) > 5 else ""
            losses += [f"{loss} in {where}" for loss in column.losses]
    return losses


def _added(head: Schema, op: ColumnAdded, losses: tuple[str, ...]) -> _AddedColumn:
    defaults = [op.column.default or "NULL"]
    # A later alter_column may have changed the default the rows since took.
    table = head.table(op.table)
    now = table.column(op.column.name) if table is not None else None
    if now is not None and is_constant_default(now.default):
        defaults.append(now.default or "NULL")
    return _AddedColumn(op.table, op.column.name, tuple(dict.fromkeys(defaults)), losses)


def _tenants_with_values(changes: SchemaChanges, branch: str, column: _AddedColumn) -> list[str]:
    """Materialized tenants whose ``column`` holds a value other than its defaults, by name
    (those that cannot be opened here count as holding values)."""
    files = changes.files
    reachable = set(files.reachable(branch))
    holding: list[str] = []
    condition = " AND ".join(f"{quote(column.column)} IS NOT {d}" for d in column.defaults)
    sql = f"SELECT 1 FROM {quote(column.table)} WHERE {condition} LIMIT 1"
    for tenant, _ in files.materialized(branch):
        if tenant not in reachable:
            holding.append(tenant)
            continue
        conn = files.connection(branch, tenant)
        # A rolled-back transaction holding the write lock, as a preflight's: the answer is
        # about the file as it is, not a snapshot a writer is about to change.
        with transaction(conn, commit=False):
            if conn.execute(sql).fetchone() is not None:
                holding.append(tenant)
    return holding
