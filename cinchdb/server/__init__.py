"""``cinch serve``: one CinchDB project over HTTP (see docs/server.md).

Needs the ``server`` extra (Starlette, uvicorn); ``import cinchdb`` never imports it.
"""

from __future__ import annotations

from cinchdb.server.app import app_from_environment, create_app
from cinchdb.server.settings import ServerSettings

__all__ = ["ServerSettings", "app_from_environment", "create_app"]
