"""Results that name tenants, as one key's limits let it see them: the analytics reads
(``get_analytics_stats``, ``get_slow_queries``) and the row counts of data steps (``migrate``'s
``data_steps``, ``data_step_rows``). A key limited to tenants never sees another tenant's name
or figures; the path's checks are not enough, since these cover every tenant (and analytics
every branch) of a database.

- A ``tenant`` outside the key's is refused before this runs (the endpoints' ``tenant_params``).
- Slow statements with no ``tenant``: read per tenant of the key and merged (exact: each names
  its tenant). Stats with no ``tenant``: those of the key's one tenant; a key of several must
  name one, since a shape's figures and percentiles sum every tenant that ran it.
- Data-step counts: summed again over the key's tenants (the branch template's rows are no
  tenant's and stay); a key limited to branches names one (every branch's counts, summed,
  would hold the others').
- A key limited to branches sees the tenant rows and slow statements of its branches only.

Nothing here reads parameter values: analytics never store them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from cinchdb._data_step_rows import TEMPLATE_ROW, summary_of
from cinchdb.database import CinchDB
from cinchdb.errors import PermissionDeniedError, RequestError
from cinchdb.keys import Principal
from cinchdb.results import AnalyticsStats, DataStepRows, MigrateResult, SlowStatement

__all__ = ["analytics_stats", "data_step_rows", "migrate", "since_from_text", "slow_queries"]

_SCOPE = "metrics:read"
#: What a limited key is refused when it names no tenant (branch) where it must: every one.
_EVERY = "*"


def since_from_text(text: str | None) -> datetime | timedelta | None:
    """``since`` as the SDK takes it: an ISO 8601 time, or a number of seconds back from now.

    Raises:
        RequestError: neither.
    """
    if text is None:
        return None
    try:
        return timedelta(seconds=float(text))
    except (ValueError, OverflowError):  # not a number, or NaN or infinity
        pass
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise RequestError(
            f"'since' must be an ISO 8601 time or a number of seconds, got {text!r}"
        ) from None


def analytics_stats(db: CinchDB, arguments: dict[str, Any], principal: Principal) -> AnalyticsStats:
    """``get_analytics_stats`` as ``principal`` may see it."""
    since = since_from_text(arguments.get("since"))
    tenant = arguments.get("tenant")
    if tenant is None and principal.tenants:
        if len(principal.tenants) > 1:
            raise PermissionDeniedError(principal.key_id, "tenant", _EVERY, principal.tenants)
        tenant = principal.tenants[0]
    stats = db.get_analytics_stats(since, tenant, arguments.get("limit", 20))
    if principal.branches:
        stats["tenants"] = [
            row for row in stats["tenants"] if _sees(principal, db, row["branch"], row["tenant"])
        ]
    return stats


def slow_queries(
    db: CinchDB, arguments: dict[str, Any], principal: Principal
) -> list[SlowStatement]:
    """``get_slow_queries`` as ``principal`` may see it."""
    since = since_from_text(arguments.get("since"))
    limit = arguments.get("limit", 50)
    threshold = arguments.get("threshold_ms")
    tenant = arguments.get("tenant")
    if tenant is not None or not principal.tenants:
        found = db.get_slow_queries(since, tenant, limit, threshold_ms=threshold)
    else:
        if isinstance(since, timedelta):  # one window for every tenant's read
            since = datetime.now(timezone.utc) - since
        found = [
            row
            for one in principal.tenants
            for row in db.get_slow_queries(since, one, limit, threshold_ms=threshold)
        ]
        found.sort(key=lambda row: row["at"], reverse=True)
        found = found[:limit]
    if principal.branches:
        found = [row for row in found if _sees(principal, db, row["branch"], row["tenant"])]
    return found


def _sees(principal: Principal, db: CinchDB, branch: str, tenant: str) -> bool:
    return principal.permits(_SCOPE, database=db.database, branch=branch, tenant=tenant)


def migrate(db: CinchDB, arguments: dict[str, Any], principal: Principal) -> MigrateResult:
    """``migrate``, its ``data_steps`` counted over the tenants ``principal`` may see."""
    result = db.migrate(**arguments)
    if not principal.tenants:
        return result
    return MigrateResult(list(result), _visible_steps(principal, result.data_steps))


def data_step_rows(
    db: CinchDB, arguments: dict[str, Any], principal: Principal
) -> list[DataStepRows]:
    """``data_step_rows`` counted over the tenants ``principal`` may see. A key limited to
    branches names one (every branch's counts, summed, would hold the others')."""
    if principal.branches and arguments.get("branch") is None:
        raise PermissionDeniedError(principal.key_id, "branch", _EVERY, principal.branches)
    steps = db.data_step_rows(**arguments)
    return _visible_steps(principal, steps) if principal.tenants else steps


def _visible_steps(principal: Principal, steps: Iterable[DataStepRows]) -> list[DataStepRows]:
    found: list[DataStepRows] = []
    for step in steps:
        counts = {t: n for t, n in step["per_tenant"].items() if t in principal.tenants}
        if step["template"] is not None:
            counts[TEMPLATE_ROW] = step["template"]
        found.append(summary_of(step["event_id"], step["step"], step["sql"], counts))
    return found
