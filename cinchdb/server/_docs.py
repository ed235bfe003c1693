"""Generate the tables of ``docs/server.md`` from the API table and the wire's statuses.

Run ``python -m cinchdb.server._docs`` and paste each block between its markers in
docs/server.md (``python -m cinchdb.server._docs --write docs/server.md`` does it); a test
fails when a block is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cinchdb import api
from cinchdb.errors import error_code
from cinchdb.server.wire import STATUS


def resources() -> str:
    """One row per endpoint: method, path (after the branch prefix), scope, SDK call."""
    lines = [
        "| Method | Path | Scope | SDK call | What |",
        "| --- | --- | --- | --- | --- |",
    ]
    for endpoint in api.ENDPOINTS:
        path = endpoint.path.replace(api.TENANT, "…/tenants/{tenant}").replace(api.BRANCH, "…")
        flags = " (If-Match, dry_run)" if endpoint.cas else ""
        call = f"`{endpoint.name}`" if endpoint.sdk else "(server only)"
        lines.append(
            f"| {endpoint.method} | `{path}` | `{endpoint.scope}` | {call} |"
            f" {endpoint.summary}{flags} |"
        )
    return "\n".join(lines)


def statuses() -> str:
    """The HTTP status of each error class listed in the wire's table."""
    lines = ["| Error | Code | Status |", "| --- | --- | --- |"]
    for cls, status in STATUS:
        lines.append(f"| `{cls.__name__}` | `{error_code(cls)}` | {status} |")
    lines += [
        "| any other `LookupError` | (its own) | 404 |",
        "| any other `ValueError` | (its own) | 400 |",
        "| SQLite's own error (bad SQL) | `sqlite` | 400 |",
        "| any other `CinchError` | (its own) | 500 |",
    ]
    return "\n".join(lines)


BLOCKS = {"resources": resources, "statuses": statuses}


def refreshed(text: str) -> str:
    """``text`` (docs/server.md) with each generated block replaced by its current form."""
    for name, render in BLOCKS.items():
        begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
        start, stop = text.index(begin), text.index(end) + len(end)
        text = f"{text[:start]}{begin}\n{render()}\n{end}{text[stop:]}"
    return text


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"]:
        target = Path(sys.argv[2])
        target.write_text(refreshed(target.read_text()))
    else:
        for name, render in BLOCKS.items():
            sys.stdout.write(f"<!-- {name}:begin -->\n{render()}\n<!-- {name}:end -->\n\n")
