"""One line describing the machine and versions, printed by every benchmark."""

from __future__ import annotations

import os
import platform
import sqlite3
import statistics
import time
from collections.abc import Callable


def machine_line() -> str:
    import sqlglot

    try:
        import sqlglot.parser as parser_module

        compiled = parser_module.__file__.endswith((".so", ".pyd"))
    except Exception:  # pragma: no cover - informational only
        compiled = False
    return (
        f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"sqlglot {sqlglot.__version__}{' (compiled)' if compiled else ' (pure Python)'}"
    )


def timed(fn: Callable[[], object], repeat: int = 5) -> float:
    """Median wall time of ``repeat`` calls, in seconds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)
