"""What a flush carries from a query-analytics recorder to the analytics file: the shapes its
rows name, one row per minute of one shape on one tenant, and the slow statements. Its own
module so that both sides (``cinchdb.analytics``, which records, and
``cinchdb._analytics_store``, which writes and reads) import the same types, one way."""

from __future__ import annotations

import attrs

from cinchdb._query_shapes import Shape, ShapeKind

__all__ = ["AggregateRow", "Batch", "SlowRow"]


@attrs.frozen
class AggregateRow:
    """One minute of one shape's statements on one tenant of one branch."""

    bucket_start: int  # epoch seconds, a multiple of 60
    branch: str
    tenant: str
    shape_id: str
    calls: int
    errors: int
    rows: int
    total_ns: int
    sketch: bytes  # Sketch.to_bytes() of the times in nanoseconds


@attrs.frozen
class SlowRow:
    """One statement slower than ``slow_query_ms``: when, where and which shape; no values."""

    at: float  # epoch seconds
    branch: str
    tenant: str
    shape_id: str
    elapsed_ms: float
    kind: ShapeKind


@attrs.frozen
class Batch:
    """What :meth:`Recorder.drain` took out: the shapes its rows name, and the rows."""

    shapes: dict[str, Shape]
    aggregates: list[AggregateRow]
    slow: list[SlowRow]
    slow_dropped: int = 0

    def __bool__(self) -> bool:
        return bool(self.aggregates or self.slow)
