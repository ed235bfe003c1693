"""CinchDB: Git-like management of SQLite databases.

Schema changes are events in a journal, branches fork it and merge like code, and every tenant
gets its own SQLite file with the branch's schema::

    import cinchdb
    from cinchdb.models import Column

    db = cinchdb.connect("myapp")
    db.create_table("posts", [Column(name="title", type="TEXT", nullable=False)])
    post = db.insert("posts", {"title": "Hello World"})

``import cinchdb`` imports nothing else: each public name is imported from its module when
first used (:func:`journal._lazy.package_exports`), so a command that does not need the schema
machinery does not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from journal._lazy import package_exports

if TYPE_CHECKING:
    from cinchdb._connect import connect, init
    from cinchdb._version import VERSION as __version__
    from cinchdb.adopt import adopt
    from cinchdb.ci import ci_report
    from cinchdb.database import CinchDB
    from cinchdb.errors import CinchError, ConflictError, MergeConflictError
    from cinchdb.remote import RemoteCinchDB, connect_api

#: Public name -> the module that defines it (``module:attribute`` when the names differ).
_EXPORTS: dict[str, str] = {
    "CinchDB": "cinchdb.database",
    "CinchError": "cinchdb.errors",
    "ConflictError": "cinchdb.errors",
    "MergeConflictError": "cinchdb.errors",
    "RemoteCinchDB": "cinchdb.remote",
    "__version__": "cinchdb._version:VERSION",
    "adopt": "cinchdb.adopt",
    "ci_report": "cinchdb.ci",
    "connect": "cinchdb._connect",
    "connect_api": "cinchdb.remote",
    "init": "cinchdb._connect",
}

__getattr__ = package_exports(__name__, _EXPORTS)

__all__ = [
    "CinchDB",
    "CinchError",
    "ConflictError",
    "MergeConflictError",
    "RemoteCinchDB",
    "__version__",
    "adopt",
    "ci_report",
    "connect",
    "connect_api",
    "init",
]
