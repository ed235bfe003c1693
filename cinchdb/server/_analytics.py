"""The analytics reads of the API (``get_analytics_stats``, ``get_slow_queries``) for one key:
what its tenant and branch limits let it see.

Analytics cover every branch and tenant of a database, so the path's checks are not enough.
A key limited to tenants sees only those: a ``tenant`` outside them is refused before this runs
(the endpoints' ``tenant_params``); with no ``tenant``, slow statements are read per tenant of
the key and merged (exact: each names its tenant), and the stats of its one tenant are read.
Stats of several tenants cannot be told apart (a shape's figures and percentiles sum every
tenant that ran it), so a key of several tenants must name one. A key limited to branches sees
the tenant rows and slow statements of its branches only. Nothing here reads parameter values:
analytics never store them.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from cinchdb.database import CinchDB
from cinchdb.errors import PermissionDeniedError, RequestError
from cinchdb.keys import Principal
from cinchdb.results import AnalyticsStats, SlowStatement

__all__ = ["analytics_stats", "since_from_text", "slow_queries"]

_SCOPE = "metrics:read"
#: What a key limited to several tenants is refused when it names none: every tenant.
_EVERY_TENANT = "*"


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
            raise PermissionDeniedError(
                principal.key_id, "tenant", _EVERY_TENANT, principal.tenants
            )
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
