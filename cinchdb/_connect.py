"""The package's two entry points, :func:`connect` and :func:`init`, re-exported by
``cinchdb/__init__.py``: they live here so that ``import cinchdb`` itself imports nothing."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, overload

from cinchdb.catalog import Catalog
from cinchdb.database import CinchDB
from cinchdb.errors import ArgumentError
from cinchdb.project import MAIN, init_project
from journal._lazy import lazy_module

if TYPE_CHECKING:
    from cinchdb import remote
    from cinchdb.remote import RemoteCinchDB
else:
    # httpx loads only for a remote handle: ``cinch query`` on a local project never pays
    # for it (tests/cli/test_startup.py).
    remote = lazy_module("cinchdb.remote")

__all__ = ["connect", "init"]


@overload
def connect(
    database: str = MAIN,
    branch: str = MAIN,
    tenant: str = MAIN,
    project_dir: str | os.PathLike[str] | None = None,
    encryption_key: str | None = None,
    *,
    url: None = None,
    api_key: None = None,
    analytics: bool | None = None,
) -> CinchDB: ...
@overload
def connect(
    database: str = MAIN,
    branch: str = MAIN,
    tenant: str = MAIN,
    project_dir: None = None,
    encryption_key: str | None = None,
    *,
    url: str,
    api_key: str,
    analytics: None = None,
) -> RemoteCinchDB: ...
def connect(
    database: str = MAIN,
    branch: str = MAIN,
    tenant: str = MAIN,
    project_dir: str | os.PathLike[str] | None = None,
    encryption_key: str | None = None,
    *,
    url: str | None = None,
    api_key: str | None = None,
    analytics: bool | None = None,
) -> CinchDB | RemoteCinchDB:
    """Open a :class:`CinchDB` handle (the same arguments); the database is created if the
    project does not have it yet.

    With ``url`` and ``api_key``: a :class:`~cinchdb.remote.RemoteCinchDB` on the server at
    ``url`` instead (as :func:`cinchdb.connect_api`), with the same methods.

    ``analytics``: record query analytics for this handle (True/False); None: as the
    project's ``analytics`` setting says (``cinch config set analytics on``; default off).
    See docs/analytics.md.

    Raises:
        ArgumentError: ``url`` without ``api_key`` (or the reverse), or with ``project_dir``;
            ``analytics`` with ``url`` (the server records analytics itself).
    """
    if url is not None or api_key is not None:
        if url is None or api_key is None:
            raise ArgumentError("connect", "takes url= and api_key= together")
        if project_dir is not None:
            raise ArgumentError("connect", "takes project_dir= or url=, not both")
        if analytics is not None:
            raise ArgumentError("connect", "takes analytics= only for a local project, not url=")
        return remote.connect_api(
            url, api_key, database, branch, tenant, encryption_key=encryption_key
        )
    return CinchDB(
        database=database,
        branch=branch,
        tenant=tenant,
        project_dir=project_dir,
        encryption_key=encryption_key,
        analytics=analytics,
    )


def init(path: str | os.PathLike[str] = ".", database: str = MAIN) -> Path:
    """Create a project in ``path`` with ``database``, its ``main`` branch and ``main`` tenant;
    return the project root.

    Raises:
        ProjectExistsError: ``path`` already holds a project; nothing was changed.
    """
    root = init_project(path, database)
    catalog = Catalog.open(root)
    try:
        catalog.ensure_database(database).close()
    finally:
        catalog.close()
    return root
