"""Who may make a call: the bearer key of a request, and the checks of an endpoint's scope and
of the key's limits on every database, branch and tenant the call names.

The checks come from the API table (:class:`cinchdb.api.Endpoint`): its ``scope``, the path's
database, branch and tenant, and the parameters it marks as naming other branches
(``branch_params``) or tenants (``tenant_params``). A new endpoint is checked by the same code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from cinchdb.api import Endpoint
from cinchdb.errors import AuthenticationError
from cinchdb.keys import ApiKeys, Principal

__all__ = ["authenticate", "authorize", "bearer_token", "looks_like_key"]

_BEARER = re.compile(r"Bearer[ \t]+(\S+)[ \t]*", re.IGNORECASE)
#: The shape of a key (``ck_<id>_<secret>``), to refuse and redact it where it must not be.
_KEY_SHAPE = re.compile(r"ck_[A-Za-z0-9-]+_[A-Za-z0-9-]+")
#: A ref naming a branch: "main", "feature/x~2", either side of "A..B" or "A...B".
_RANGE = re.compile(r"\.\.\.?")
_SUFFIX = re.compile(r"[~^][0-9]*$")


def looks_like_key(text: str) -> bool:
    """Whether ``text`` holds something shaped like an API key."""
    return _KEY_SHAPE.search(text) is not None


def redact(text: str) -> str:
    """``text`` with every key-shaped run replaced (for a log line)."""
    return _KEY_SHAPE.sub("ck_[redacted]", text)


def bearer_token(authorization: str | None) -> str:
    """The key of an ``Authorization: Bearer <key>`` header.

    Raises:
        AuthenticationError: no header, or not a bearer one.
    """
    if authorization is None:
        raise AuthenticationError("is missing: send it as 'Authorization: Bearer <key>'")
    match = _BEARER.fullmatch(authorization)
    if match is None:
        raise AuthenticationError("must be sent as 'Authorization: Bearer <key>'")
    return match.group(1)


def authenticate(keys: ApiKeys, authorization: str | None) -> Principal:
    """The principal of a request's ``Authorization`` header (read now: a revoked or expired
    key is refused from the next request on).

    Raises:
        AuthenticationError.
    """
    return keys.authenticate(bearer_token(authorization))


def authorize(
    principal: Principal,
    endpoint: Endpoint,
    database: str,
    branch: str,
    tenant: str | None,
    arguments: Mapping[str, object],
) -> None:
    """Check ``endpoint``'s scope for the path's database, branch and tenant, and the key's
    limits for every branch and tenant its arguments name.

    Raises:
        PermissionDeniedError.
    """
    principal.require(endpoint.scope, database=database, branch=branch, tenant=tenant)
    for name in endpoint.branch_params:
        value = arguments.get(name)
        if isinstance(value, str):
            for ref in _RANGE.split(value):
                if ref:
                    principal.require(endpoint.scope, database=database, branch=_branch(ref))
    for name in endpoint.tenant_params:
        value = arguments.get(name)
        if isinstance(value, str):
            principal.require(endpoint.scope, database=database, tenant=value)


def _branch(ref: str) -> str:
    return _SUFFIX.sub("", ref)
