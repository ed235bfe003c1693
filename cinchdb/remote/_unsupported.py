"""The local handle's methods that a remote one does not have, and why (docs/server.md
lists them from this table; a test keeps the two equal)."""

from __future__ import annotations

from typing import NoReturn

from cinchdb.errors import RemoteUnsupportedError

__all__ = ["UNSUPPORTED", "unsupported"]

#: Method (``kv.`` for the KV store's) -> why it is not available remotely and what to do.
UNSUPPORTED: dict[str, str] = {
    "project_dir": "the project directory is on the server",
    "schema": "the journal's Schema object is not sent over the API; use list_tables",
    "schema_at": "the journal's Schema object is not sent over the API; use diff",
    "update_where": "the API updates one record by key; use query and update",
    "delete_where": "the API deletes records by key; use query and delete",
    "value_from_text": "it reads command-line text; pass typed values",
    "import_rows": "it reads a local file; insert the rows (insert_many)",
    "export_rows": "it writes a local file; use query",
    "branch_heads": "git heads are in the server's working copy; run cinch status there",
    "merge_heads": "git heads are in the server's working copy; run cinch merge --heads there",
    "merge_heads_preview": "git heads are in the server's working copy",
    "log_range": "the API has no endpoint for it; use log",
    "diff_range": "the API has no endpoint for it; use diff",
    "lint": "the API has no endpoint for it; run cinch lint on the server",
    "check": "it inspects the server's files; run cinch check on the server",
    "revert": "the API has no endpoint for it; run cinch revert on the server",
    "reset_branch": "it rewrites the server's branch; run cinch branch reset on the server",
    "generate_models": "it writes local files; run cinch codegen generate",
    "stale_models": "it reads local files; run cinch codegen check",
    "rotate_tenant_key": "it rewrites the server's files; run cinch tenant rotate-key there",
    "reset_tenant": "it rebuilds the server's files; run cinch tenant reset on the server",
    "repair_tenant": "it rebuilds the server's files; run cinch tenant repair on the server",
    "sync_tenants": "tenants catch up when the server opens them; run cinch tenant sync there",
    "create_database": "a key is limited to its databases; run cinch db create on the server",
    "list_databases": "a key is limited to its databases; run cinch db list on the server",
    "delete_database": "a key is limited to its databases; run cinch db delete on the server",
    "kv.delete_expired": "the server's store purges expired keys as it writes",
}


def unsupported(name: str) -> NoReturn:
    """Raise RemoteUnsupportedError for method ``name`` with its reason."""
    raise RemoteUnsupportedError(name, UNSUPPORTED[name])
