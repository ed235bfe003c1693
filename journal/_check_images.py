"""The in-memory databases of recent change checks, kept so the next check starts from one.

Apart from :mod:`journal.merge_check` because every handle makes a :class:`CheckImages` when
it opens, while most never change the schema: the check and what it needs (the fold, the
events, replay) load on the first change checked (``journal._lazy.lazy_module``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from journal._lazy import lazy_module

if TYPE_CHECKING:
    from journal import merge_check
    from journal.events import Operation
    from journal.schema import Schema
else:  # loaded by the first change checked, not by making the cache
    merge_check = lazy_module("journal.merge_check")

__all__ = ["CheckImages"]


class CheckImages:
    """The in-memory databases :func:`~journal.merge_check.check_change` left behind, by the
    event id whose schema they hold: the next change on a branch starts from a copy of its
    head's database instead of building the schema again (building costs about 0.15 ms per
    table; the copy is a few pages). A few are kept, least recently used out; safe to share
    between threads."""

    def __init__(self, size: int = 8) -> None:
        self._size = size
        self._images: OrderedDict[str, sqlite3.Connection] = OrderedDict()
        self._lock = threading.Lock()

    def check(
        self, at: str | None, schema: Schema, operations: Sequence[Operation]
    ) -> tuple[Schema, sqlite3.Connection]:
        """:func:`~journal.merge_check.check_change` on ``schema``, the schema at event ``at``;
        the caller hands the database back to :meth:`remember` or closes it."""
        with self._lock:  # held through the copy: one image is never read by two threads
            image = None if at is None else self._images.get(at)
            if at is not None and image is not None:
                self._images.move_to_end(at)
            return merge_check.check_change(schema, operations, image=image)

    def remember(self, event_id: str, image: sqlite3.Connection) -> None:
        """Keep ``image``, the database at ``event_id``'s schema (just appended)."""
        with self._lock:
            old = self._images.pop(event_id, None)
            if old is not None:
                old.close()
            self._images[event_id] = image
            while len(self._images) > self._size:
                self._images.popitem(last=False)[1].close()

    def close(self) -> None:
        with self._lock:
            while self._images:
                self._images.popitem()[1].close()
