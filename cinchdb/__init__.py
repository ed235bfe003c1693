"""CinchDB: Git-like management of SQLite databases.

The product layer (SDK, tenants, KV store, encryption, code generation, the ``cinch`` command
line) is built on the event-sourced core in the ``journal`` package. This release ships the
core only; the SDK surface arrives next (see README, "Status").
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cinchdb")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
