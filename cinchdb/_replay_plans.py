"""The statements of each journal event, rendered once and replayed into many files.

A change reaches every materialized tenant of a branch, and each tenant replays the same
events from the same schema: the statements of an event depend only on the event and the
schema before it (the fold at its first parent), so they are kept by event id. The schemas
themselves come from the one :class:`~journal.FoldCache` the schema-change service owns.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from journal._lazy import lazy_module

if TYPE_CHECKING:
    from journal import FoldCache, replay
    from journal.events import Event
    from journal.replay import Step
else:  # the DDL planner (and the event models under it): only replaying an event needs it
    replay = lazy_module("journal.replay")

#: Events whose steps are kept; a change and the catch-up of files a few events behind fit.
PLAN_CACHE_SIZE = 256


class ReplayPlans:
    """Steps of events by id, computed from ``fold`` on first use. Safe to share between
    threads: entries are immutable and the cache is changed under a lock."""

    def __init__(self, fold: FoldCache, size: int = PLAN_CACHE_SIZE) -> None:
        self.fold = fold
        self._size = size
        self._steps: OrderedDict[str, tuple[Step, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def steps(self, event: Event) -> tuple[Step, ...]:
        """The steps that take a file at ``event``'s first parent to ``event``."""
        with self._lock:
            hit = self._steps.get(event.id)
            if hit is not None:
                self._steps.move_to_end(event.id)
                return hit
        before = self.fold.schema_at(event.parents[0] if event.parents else None)
        steps, _ = replay.plan(before, event.operations)
        with self._lock:
            self._steps[event.id] = steps
            while len(self._steps) > self._size:
                self._steps.popitem(last=False)
        return steps

    def steps_of(self, events: list[Event]) -> list[Step]:
        """The steps of consecutive events of a first-parent chain, in order."""
        return [step for event in events for step in self.steps(event)]
