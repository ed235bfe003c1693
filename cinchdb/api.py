"""The HTTP API as data: one :class:`Endpoint` per operation of the SDK.

This table is the one description of the API. ``cinch serve`` builds its routes from it
(cinchdb/server), the remote SDK builds its calls from it (cinchdb/remote), the OpenAPI
document is generated from it, and the tests iterate it, so a new route cannot forget its
scope. It imports no web framework.

Every path starts with :data:`BRANCH` (``/v1/databases/{database}/branches/{branch}``), the
handle's database and branch; a tenant's data lives under :data:`TENANT`
(``.../tenants/{tenant}``). A branch name's ``/`` is written ``~`` in a path, as on disk
(:func:`branch_to_path`). The handle's own database, branch and tenant are never a
:class:`Param`: they are the path's prefix.

Schema changes (``cas=True``) are compare-and-swap: the request's ``If-Match: <branch head>``
is the head the change was made against (412 when it moved), and ``?dry_run=true`` runs only
the checks. Every response carries the branch head in ``X-Cinch-Head``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Literal

import attrs

__all__ = [
    "BRANCH",
    "ENDPOINTS",
    "HEAD_HEADER",
    "IF_MATCH_HEADER",
    "MAX_PAGE",
    "RESULTS",
    "SCOPES",
    "TENANT",
    "TENANT_KEY_HEADER",
    "Endpoint",
    "Param",
    "Scope",
    "branch_from_path",
    "branch_to_path",
    "endpoint",
]

#: Every scope a key can hold.
Scope = Literal[
    "schema:read",
    "schema:write",
    "data:read",
    "data:write",
    "kv:read",
    "kv:write",
    "tenants:admin",
    "branches:admin",
    "keys:admin",
    "metrics:read",
]
SCOPES: tuple[Scope, ...] = (
    "schema:read",
    "schema:write",
    "data:read",
    "data:write",
    "kv:read",
    "kv:write",
    "tenants:admin",
    "branches:admin",
    "keys:admin",
    "metrics:read",
)

BRANCH = "/v1/databases/{database}/branches/{branch}"
TENANT = BRANCH + "/tenants/{tenant}"

#: Response header: the branch head after the call.
HEAD_HEADER = "X-Cinch-Head"
#: Request header of a schema change: the branch head it was made against.
IF_MATCH_HEADER = "If-Match"
#: Request header: an encrypted tenant's key (never logged or stored).
TENANT_KEY_HEADER = "X-Cinch-Tenant-Key"
#: The most rows one page of ``list_rows`` returns (``limit`` above it is refused).
MAX_PAGE = 1000

Source = Literal["path", "query", "body"]
#: JSON Schema type of a parameter; "any" is any JSON value.
JsonType = Literal["string", "integer", "number", "boolean", "object", "array", "any"]

#: How a result travels, one of:
#: "none" (JSON null), "json" (plain JSON: a TypedDict, a number, a list of strings...),
#: "row" and "rows" (rows, BLOBs as ``{"$base64": ...}``), "page" (``{"rows": [...],
#: "next": key or null}``), "value" (one KV value, bytes as ``{"$base64": ...}``), "values"
#: (a dict of them), "events" and "operations" (journal events / operations as their JSON),
#: "migration" (``{"events": [...], "data_steps": [...]}``: migrate's events and the rows each
#: data step changed), or a model of ``cinchdb.models`` ("Table", "list[Table]", ...).
RESULTS = (
    "none",
    "json",
    "row",
    "rows",
    "page",
    "value",
    "values",
    "events",
    "operations",
    "migration",
    "Table",
    "list[Table]",
    "Index",
    "View",
    "list[View]",
    "Branch",
    "list[Branch]",
    "Tenant",
    "list[Tenant]",
)


@attrs.frozen
class Param:
    """One argument of an endpoint: the SDK keyword ``name``, where it travels and its type.

    ``model`` names a ``cinchdb.models`` class the JSON value is validated into (``Column``,
    ``list[Column]``, ``list[Index]``). An optional parameter that is absent is not passed to
    the SDK (its own default applies).
    """

    name: str
    source: Source
    type: JsonType = "string"
    required: bool = True
    model: str | None = None
    doc: str = ""


@attrs.frozen
class Endpoint:
    """One operation: the SDK method ``name`` (``"kv.get"`` for the handle's ``kv``) over
    HTTP ``method`` at ``path``, allowed to keys holding ``scope``.

    Attributes:
        writes: it changes something (a read-only key is refused).
        cas: a schema change: takes ``If-Match`` and ``?dry_run=true``.
        branch_params: parameters that name another branch the call changes or reads (a
            key's branch limits apply to them as to the path's branch).
        tenant_params: parameters that name tenants (a key's tenant limits apply).
        sdk: False for an operation the SDK handle has no method of the same name for
            (``list_rows``: the server pages with a keyset query).
    """

    name: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str
    scope: Scope
    summary: str
    params: tuple[Param, ...] = ()
    result: str = "none"
    writes: bool = False
    cas: bool = False
    branch_params: tuple[str, ...] = ()
    tenant_params: tuple[str, ...] = ()
    sdk: bool = True

    def __attrs_post_init__(self) -> None:
        if self.result not in RESULTS:
            raise ValueError(f"endpoint {self.name}: unknown result {self.result!r}")
        own = set(re.findall(r"\{(\w+)\}", self.path)) - {"database", "branch", "tenant"}
        if own != {param.name for param in self.params if param.source == "path"}:
            raise ValueError(f"endpoint {self.name}: its path and path parameters disagree")

    @property
    def tenant_scoped(self) -> bool:
        """Under ``.../tenants/{tenant}``: a call on one tenant's data."""
        return self.path.startswith(TENANT)

    def params_from(self, source: Source) -> Iterator[Param]:
        return (param for param in self.params if param.source == source)


def _p(name: str, type: JsonType = "string") -> Param:
    return Param(name, "path", type)


def _q(name: str, type: JsonType = "string", required: bool = False, doc: str = "") -> Param:
    return Param(name, "query", type, required, doc=doc)


def _b(
    name: str, type: JsonType = "string", required: bool = True, model: str | None = None
) -> Param:
    return Param(name, "body", type, required, model=model)


_SR: Scope = "schema:read"
_SW: Scope = "schema:write"
_MR: Scope = "metrics:read"
_SINCE = "an ISO 8601 time (naive: UTC), or seconds back from now; default: everything kept"

ENDPOINTS: tuple[Endpoint, ...] = (
    # -- schema: reading ----------------------------------------------------------------------
    Endpoint("list_tables", "GET", BRANCH + "/tables", _SR, "Every table of the branch",
             result="list[Table]"),
    Endpoint("get_table", "GET", TENANT + "/tables/{name}", _SR,
             "One table, with this tenant's row count", (_p("name"),), result="Table"),
    Endpoint("list_indexes", "GET", BRANCH + "/indexes", _SR, "Indexes, optionally of one table",
             (_q("table"),), result="json"),
    Endpoint("list_views", "GET", BRANCH + "/views", _SR, "Every view", result="list[View]"),
    Endpoint("log", "GET", BRANCH + "/log", _SR, "Events newest first",
             (_q("branch", doc="a branch or range A..B; default: the path's branch"),
              _q("limit", "integer"), _q("path", doc="table or table.column")),
             result="events", branch_params=("branch",)),
    Endpoint("diff", "GET", BRANCH + "/diff", _SR, "Operations that turn schema a into b",
             (_q("a", required=True), _q("b")), result="operations"),
    # -- schema: changing ---------------------------------------------------------------------
    Endpoint("create_table", "POST", BRANCH + "/tables", _SW, "Create a table",
             (_b("name"), _b("columns", "array", model="list[Column]"),
              _b("indexes", "array", False, model="list[Index]")),
             result="Table", writes=True, cas=True),
    Endpoint("drop_table", "DELETE", BRANCH + "/tables/{name}", _SW, "Drop a table",
             (_p("name"),), writes=True, cas=True),
    Endpoint("rename_table", "POST", BRANCH + "/tables/{old_name}/rename", _SW, "Rename a table",
             (_p("old_name"), _b("new_name")), writes=True, cas=True),
    Endpoint("add_column", "POST", BRANCH + "/tables/{table}/columns", _SW, "Add a column",
             (_p("table"), _b("column", "object", model="Column")), writes=True, cas=True),
    Endpoint("drop_column", "DELETE", BRANCH + "/tables/{table}/columns/{column}", _SW,
             "Drop a column", (_p("table"), _p("column")), writes=True, cas=True),
    Endpoint("rename_column", "POST", BRANCH + "/tables/{table}/columns/{old_name}/rename", _SW,
             "Rename a column", (_p("table"), _p("old_name"), _b("new_name")),
             writes=True, cas=True),
    Endpoint("alter_column", "PATCH", BRANCH + "/tables/{table}/columns/{column}", _SW,
             "Change a column's nullability, default (null drops it) or type",
             (_p("table"), _p("column"), _b("nullable", "boolean", False),
              _b("default", "any", False), _b("type", "string", False)),
             writes=True, cas=True),
    Endpoint("create_index", "POST", BRANCH + "/indexes", _SW, "Create an index",
             (_b("name"), _b("table"), _b("columns", "array"), _b("unique", "boolean", False),
              _b("where", "string", False)),
             result="Index", writes=True, cas=True),
    Endpoint("drop_index", "DELETE", BRANCH + "/indexes/{name}", _SW, "Drop an index",
             (_p("name"),), writes=True, cas=True),
    Endpoint("create_view", "POST", BRANCH + "/views", _SW, "Create a view",
             (_b("name"), _b("sql")), result="View", writes=True, cas=True),
    Endpoint("update_view", "PUT", BRANCH + "/views/{name}", _SW, "Replace a view's query",
             (_p("name"), _b("sql")), result="View", writes=True, cas=True),
    Endpoint("drop_view", "DELETE", BRANCH + "/views/{name}", _SW, "Drop a view",
             (_p("name"),), writes=True, cas=True),
    Endpoint("migrate", "POST", BRANCH + "/migrate", _SW,
             "Apply a migration (DDL and data steps) as journal events",
             (_b("sql"), _b("message", "string", False), _b("down", "string", False),
              _b("allow_nondeterministic", "boolean", False)),
             result="migration", writes=True, cas=True),
    Endpoint("data_step_rows", "GET", BRANCH + "/data-steps", _SR,
             "Rows each data step of an event changed, per tenant (as the server recorded them)",
             (_q("event", required=True, doc="an event id, prefix or ref"),
              _q("branch", doc="one branch's tenant files; default: every branch's")),
             result="json", branch_params=("branch",)),
    # -- merges -------------------------------------------------------------------------------
    Endpoint("merge_branches", "POST", BRANCH + "/merges", _SW,
             "Merge branch source into target",
             (_b("source"), _b("target", "string", False), _b("dry_run", "boolean", False),
              _b("resolve", "object", False), _b("strategy", "string", False)),
             result="json", writes=True, branch_params=("source", "target")),
    Endpoint("merge_preview", "POST", BRANCH + "/merges/preview", _SR,
             "What a merge would do, conflicts included, writing nothing",
             (_b("source"), _b("target", "string", False)),
             result="json", branch_params=("source", "target")),
    Endpoint("can_merge", "POST", BRANCH + "/merges/check", _SR,
             "Whether source merges cleanly into target (the check only)",
             (_b("source"), _b("target", "string", False)),
             result="json", branch_params=("source", "target")),
    # -- branches -----------------------------------------------------------------------------
    Endpoint("list_branches", "GET", BRANCH + "/branches", _SR, "Every branch, main first",
             result="list[Branch]"),
    Endpoint("create_branch", "POST", BRANCH + "/branches", "branches:admin",
             "Fork a branch (default: the path's) at its head",
             (_b("name"), _b("source_branch", "string", False), _b("with_data", "boolean", False)),
             result="Branch", writes=True, branch_params=("name", "source_branch")),
    Endpoint("delete_branch", "DELETE", BRANCH + "/branches/{name}", "branches:admin",
             "Delete a branch and its tenant files", (_p("name"), _q("force", "boolean")),
             writes=True, branch_params=("name",)),
    # -- tenants ------------------------------------------------------------------------------
    Endpoint("list_tenants", "GET", BRANCH + "/tenants", "tenants:admin",
             "Every tenant, main first", result="list[Tenant]"),
    Endpoint("create_tenant", "POST", BRANCH + "/tenants", "tenants:admin",
             "Register a tenant (encrypted: its key in X-Cinch-Tenant-Key)",
             (_b("name"), _b("lazy", "boolean", False), _b("encrypt", "boolean", False)),
             result="Tenant", writes=True, tenant_params=("name",)),
    Endpoint("delete_tenant", "DELETE", BRANCH + "/tenants/{name}", "tenants:admin",
             "Delete a tenant in every branch", (_p("name"),), writes=True,
             tenant_params=("name",)),
    Endpoint("copy_tenant", "POST", BRANCH + "/tenants/{source}/copy", "tenants:admin",
             "A new tenant with a copy of source's data", (_p("source"), _b("target")),
             result="Tenant", writes=True, tenant_params=("source", "target")),
    Endpoint("rename_tenant", "POST", BRANCH + "/tenants/{old_name}/rename", "tenants:admin",
             "Rename a tenant in every branch", (_p("old_name"), _b("new_name")),
             result="Tenant", writes=True, tenant_params=("old_name", "new_name")),
    Endpoint("tenant_status", "GET", BRANCH + "/tenant-status", "tenants:admin",
             "Per tenant: materialized, cursor, events behind", result="json"),
    # -- rows ---------------------------------------------------------------------------------
    Endpoint("insert", "POST", TENANT + "/rows/{table}", "data:write",
             "Insert a row (object: the stored row back) or rows (array: the list)",
             (_p("table"), _b("rows", "any")), result="rows", writes=True),
    Endpoint("list_rows", "GET", TENANT + "/rows/{table}", "data:read",
             "A page of rows in key order: ?after=<the previous page's next>&limit=N",
             (_p("table"), _q("after"), _q("limit", "integer")), result="page", sdk=False),
    Endpoint("get", "GET", TENANT + "/rows/{table}/{key}", "data:read",
             "The record named by key (a composite key: a JSON array)",
             (_p("table"), _p("key")), result="row"),
    Endpoint("update", "PATCH", TENANT + "/rows/{table}/{key}", "data:write",
             "Update one record; the whole row after", (_p("table"), _p("key"),
                                                        _b("data", "object")),
             result="row", writes=True),
    Endpoint("delete", "DELETE", TENANT + "/rows/{table}/{key}", "data:write",
             "Delete one record; how many existed (0 or 1)", (_p("table"), _p("key")),
             result="json", writes=True),
    Endpoint("query", "POST", TENANT + "/query", "data:read",
             "A read-only statement's rows (NDJSON with Accept: application/x-ndjson)",
             (_b("sql"), _b("params", "any", False)), result="rows"),
    # -- analytics (every branch of the database; a tenant-limited key sees its tenants) ------
    Endpoint("get_analytics_stats", "GET", BRANCH + "/analytics/stats", _MR,
             "Slowest and most frequent query shapes and the busiest tenants (no values)",
             (_q("since", doc=_SINCE), _q("tenant"), _q("limit", "integer")),
             result="json", tenant_params=("tenant",)),
    Endpoint("get_slow_queries", "GET", BRANCH + "/analytics/slow", _MR,
             "Statements slower than slow_query_ms, most recent first (normalized SQL only)",
             (_q("since", doc=_SINCE), _q("tenant"), _q("limit", "integer"),
              _q("threshold_ms", "number")),
             result="json", tenant_params=("tenant",)),
    # -- KV -----------------------------------------------------------------------------------
    Endpoint("kv.set", "POST", TENANT + "/kv/set", "kv:write", "Store a value",
             (_b("key"), _b("value", "any"), _b("ttl", "number", False)), writes=True),
    Endpoint("kv.get", "GET", TENANT + "/kv/get", "kv:read", "A value, or null",
             (_q("key", required=True),), result="value"),
    Endpoint("kv.exists", "GET", TENANT + "/kv/exists", "kv:read", "Whether a key is live",
             (_q("key", required=True),), result="json"),
    Endpoint("kv.delete", "POST", TENANT + "/kv/delete", "kv:write",
             "Delete keys; how many existed", (_b("keys", "array"),), result="json", writes=True),
    Endpoint("kv.expire", "POST", TENANT + "/kv/expire", "kv:write", "Set a key's TTL",
             (_b("key"), _b("ttl", "number")), result="json", writes=True),
    Endpoint("kv.ttl", "GET", TENANT + "/kv/ttl", "kv:read",
             "Seconds left, null without TTL, -1 missing", (_q("key", required=True),),
             result="json"),
    Endpoint("kv.persist", "POST", TENANT + "/kv/persist", "kv:write", "Remove a key's TTL",
             (_b("key"),), result="json", writes=True),
    Endpoint("kv.increment", "POST", TENANT + "/kv/increment", "kv:write",
             "Add amount to a number; the new value", (_b("key"), _b("amount", "number", False)),
             result="json", writes=True),
    Endpoint("kv.setnx", "POST", TENANT + "/kv/setnx", "kv:write",
             "Store a value if the key is not live", (_b("key"), _b("value", "any"),
                                                      _b("ttl", "number", False)),
             result="json", writes=True),
    Endpoint("kv.mset", "POST", TENANT + "/kv/mset", "kv:write", "Store several values",
             (_b("items", "object"), _b("ttl", "number", False)), writes=True),
    Endpoint("kv.mget", "POST", TENANT + "/kv/mget", "kv:read",
             "The live values of keys (missing ones left out)", (_b("keys", "array"),),
             result="values"),
    Endpoint("kv.keys", "GET", TENANT + "/kv/keys", "kv:read", "Live keys matching a pattern",
             (_q("pattern"),), result="json"),
    Endpoint("kv.count", "GET", TENANT + "/kv/count", "kv:read",
             "How many live keys match a pattern", (_q("pattern"),), result="json"),
)  # fmt: skip

_BY_NAME = {endpoint.name: endpoint for endpoint in ENDPOINTS}
if len(_BY_NAME) != len(ENDPOINTS):  # pragma: no cover - a table edit named one twice
    raise ValueError("two endpoints share a name")


def endpoint(name: str) -> Endpoint:
    """The endpoint of SDK method ``name`` (``"insert"``, ``"kv.get"``).

    Raises:
        KeyError: no endpoint has that name.
    """
    return _BY_NAME[name]


def branch_to_path(branch: str) -> str:
    """A branch name as a path segment: ``feature/x`` -> ``feature~x`` (as on disk)."""
    return branch.replace("/", "~")


def branch_from_path(segment: str) -> str:
    """The branch a path segment names: ``feature~x`` -> ``feature/x``."""
    return segment.replace("~", "/")
