"""CinchDB: Git-like management of SQLite databases.

Schema changes are events in a journal, branches fork it and merge like code, and every tenant
gets its own SQLite file with the branch's schema::

    import cinchdb
    from cinchdb.models import Column

    db = cinchdb.connect("myapp")
    db.create_table("posts", [Column(name="title", type="TEXT", nullable=False)])
    post = db.insert("posts", {"title": "Hello World"})
"""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from cinchdb.catalog import Catalog
from cinchdb.database import CinchDB
from cinchdb.errors import CinchError, ConflictError, MergeConflictError
from cinchdb.project import MAIN, init_project

try:
    __version__ = version("cinchdb")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"

__all__ = [
    "CinchDB",
    "CinchError",
    "ConflictError",
    "MergeConflictError",
    "__version__",
    "connect",
    "init",
]


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
