"""Importing this package registers every command on :data:`cinchdb.cli.cli`."""

from __future__ import annotations

from cinchdb.cli.commands import (  # noqa: F401 - imported for their registrations
    branch,
    codegen,
    column,
    db,
    history,
    index,
    kv,
    project,
    query,
    table,
    tenant,
    view,
)
