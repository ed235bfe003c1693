"""The package's two entry points, :func:`connect` and :func:`init`, re-exported by
``cinchdb/__init__.py``: they live here so that ``import cinchdb`` itself imports nothing."""

from __future__ import annotations

import os
from pathlib import Path

from cinchdb.catalog import Catalog
from cinchdb.database import CinchDB
from cinchdb.project import MAIN, init_project

__all__ = ["connect", "init"]


def connect(
    database: str = MAIN,
    branch: str = MAIN,
    tenant: str = MAIN,
    project_dir: str | os.PathLike[str] | None = None,
    encryption_key: str | None = None,
) -> CinchDB:
    """Open a :class:`CinchDB` handle (the same arguments); the database is created if the
    project does not have it yet."""
    return CinchDB(
        database=database,
        branch=branch,
        tenant=tenant,
        project_dir=project_dir,
        encryption_key=encryption_key,
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
