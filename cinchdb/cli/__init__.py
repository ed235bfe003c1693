"""The ``cinch`` command line: click groups, one module per group; rendering only.

Every command parses its arguments, makes one SDK call and renders the result. Errors are
mapped once, in :class:`cinchdb.cli._app.CinchGroup`: ``Error: <message>`` on stderr and a
stable exit code (see :mod:`cinchdb.cli._app`).
"""

from __future__ import annotations

from cinchdb.cli._app import EXIT_CONFLICT, EXIT_ERROR, EXIT_USAGE, cli, main

__all__ = ["EXIT_CONFLICT", "EXIT_ERROR", "EXIT_USAGE", "cli", "main"]
