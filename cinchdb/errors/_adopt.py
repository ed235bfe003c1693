"""Errors of adopting an existing SQLite database."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import attrs

from journal.errors import CinchError

# -- adopting an existing database -------------------------------------------------------------


@attrs.frozen
class AdoptProblem:
    """One thing in a database being adopted that CinchDB cannot represent.

    ``kind`` is what it is (``table``, ``column``, ``index``, ``view``, ``trigger``, or
    ``schema`` / ``file`` for the whole), ``name`` its name (``table.column`` for a column),
    ``reason`` what is wrong and ``suggestion`` what to do about it.
    """

    kind: str
    name: str
    reason: str
    suggestion: str

    def __str__(self) -> str:
        return f"{self.kind} '{self.name}' {self.reason}: {self.suggestion}"


class AdoptError(CinchError, ValueError):
    """An SQLite database cannot be adopted as it is; ``problems`` lists every reason, each
    with a suggestion. Nothing was written."""

    def __init__(self, path: Path | str, problems: Sequence[AdoptProblem]) -> None:
        self.path = str(path)
        self.problems = tuple(problems)
        count = f"{len(self.problems)} problem" + ("s" if len(self.problems) != 1 else "")
        listed = "; ".join(str(p) for p in self.problems)
        super().__init__(f"Cannot adopt {self.path} ({count}, nothing was written): {listed}")
