"""A mergeable quantile sketch for statement times (a DDSketch-style log-bucket histogram).

A positive value ``x`` is counted in bucket ``ceil(log(x) / log(gamma))`` with
``gamma = (1 + a) / (1 - a)``; a bucket's representative value is within a relative error
``a`` of every value it counts. So :meth:`Sketch.quantile` returns, for the value ``v`` of rank
``floor(q * (count - 1))`` among the values added (the lower quantile), an estimate ``e`` with
``|e - v| <= RELATIVE_ERROR * v`` (Masson, Rim & Lee, "DDSketch", VLDB 2019). Values ``<= 0``
count in a zero bucket and come back as ``0.0``. Two sketches merge by adding bucket counts, so
per-process and per-minute sketches add up without keeping any sample.

Size: one bucket per ``2 * a`` of relative range: nanosecond times from 1 us to 100 s span at
most ``log(1e8) / log(gamma)`` = 922 buckets at 1%, and a statement's times cluster in far fewer.
"""

from __future__ import annotations

import math
import struct
from bisect import bisect_right
from itertools import accumulate

__all__ = ["RELATIVE_ERROR", "Sketch"]

#: The documented relative error of :meth:`Sketch.quantile` (1%).
RELATIVE_ERROR = 0.01
_GAMMA = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR)
_INV_LOG_GAMMA = 1.0 / math.log(_GAMMA)
_VERSION = 1
_HEADER = struct.Struct("<BddQ")  # version, min, max, zero count


class Sketch:
    """Counts of values in log-spaced buckets; see the module docstring for the error bound."""

    __slots__ = ("_buckets", "count", "max", "min", "zero_count")

    def __init__(self) -> None:
        self._buckets: dict[int, int] = {}
        self.count = 0
        self.zero_count = 0
        self.min = math.inf
        self.max = -math.inf

    def add(self, value: float) -> None:
        """Count one value (a time in any unit; the caller keeps one unit per sketch)."""
        self.count += 1
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        if value > 0:
            index = math.ceil(math.log(value) * _INV_LOG_GAMMA)
            buckets = self._buckets
            buckets[index] = buckets.get(index, 0) + 1
        else:
            self.zero_count += 1

    def add_many(self, values: list[int] | list[float]) -> None:
        """Count every value of ``values`` (as :meth:`add` each: the same buckets).

        Sorted first (in C), so each non-empty bucket is one run of the sorted values, found
        with a binary search: a logarithm per bucket instead of one per value. A batch of
        statement times fills a few hundred buckets, however many values it holds.
        """
        if not values:
            return
        ordered = sorted(values)
        n = len(ordered)
        self.count += n
        self.min = min(self.min, ordered[0])
        self.max = max(self.max, ordered[-1])
        i = bisect_right(ordered, 0)
        self.zero_count += i
        buckets = self._buckets
        log = math.log
        ceil = math.ceil
        while i < n:
            index = ceil(log(ordered[i]) * _INV_LOG_GAMMA)
            # The bucket's upper bound, then exactly where add() would stop: the rounding of
            # GAMMA ** index and of the logarithm may disagree by one value at the edge (the
            # bucket of a value never decreases as the value grows, so the run is contiguous).
            try:
                bound = _GAMMA**index
            except OverflowError:  # a value near the largest float: its bucket runs to the end
                bound = math.inf
            j = bisect_right(ordered, bound, i + 1)
            while j < n and ceil(log(ordered[j]) * _INV_LOG_GAMMA) == index:
                j += 1
            while j > i + 1 and ceil(log(ordered[j - 1]) * _INV_LOG_GAMMA) != index:
                j -= 1
            buckets[index] = buckets.get(index, 0) + j - i
            i = j

    def merge(self, other: Sketch) -> None:
        """Add ``other``'s counts into this sketch (``other`` is unchanged)."""
        if not other.count:
            return
        buckets = self._buckets
        for index, n in other._buckets.items():
            buckets[index] = buckets.get(index, 0) + n
        self.count += other.count
        self.zero_count += other.zero_count
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    def quantile(self, q: float) -> float:
        """The estimated value at quantile ``q`` (0..1); ``0.0`` for an empty sketch.

        Raises:
            ValueError: ``q`` outside 0..1.
        """
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile must be between 0 and 1, not {q!r}")
        if not self.count:
            return 0.0
        rank = int(q * (self.count - 1))
        seen = self.zero_count
        if rank < seen:
            return 0.0
        for index in sorted(self._buckets):
            seen += self._buckets[index]
            if rank < seen:
                estimate = 2.0 * _GAMMA**index / (_GAMMA + 1.0)
                # The exact extremes are known: an estimate never leaves them.
                return min(max(estimate, self.min), self.max)
        return self.max

    def to_bytes(self) -> bytes:
        """A compact, versioned encoding: a header, then (index delta, count) varint pairs."""
        if not self.count:
            return _HEADER.pack(_VERSION, 0.0, 0.0, 0)
        out = bytearray(_HEADER.pack(_VERSION, self.min, self.max, self.zero_count))
        append = out.append
        previous = 0
        buckets = self._buckets
        # The varints written inline: a flush merges a minute's sketch with the file's (decode
        # two, encode one) for every row, and a call per number was most of its cost.
        for index in sorted(buckets):
            delta = index - previous
            previous = index
            for n in (delta * 2 if delta >= 0 else -delta * 2 - 1, buckets[index]):
                while n >= 0x80:
                    append((n & 0x7F) | 0x80)
                    n >>= 7
                append(n)
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> Sketch:
        """The sketch :meth:`to_bytes` wrote.

        Raises:
            ValueError: not a sketch of a version this code reads, or cut short.
        """
        if len(data) < _HEADER.size:
            raise ValueError(f"a sketch needs {_HEADER.size} bytes, got {len(data)}")
        version, low, high, zeros = _HEADER.unpack_from(data)
        if version != _VERSION:
            raise ValueError(f"sketch format version {version} is not {_VERSION}")
        # Every varint in one pass over the bytes (no call per number), then paired up.
        numbers: list[int] = []
        push = numbers.append
        n = shift = 0
        for byte in memoryview(data)[_HEADER.size :]:
            if byte < 0x80:
                push(n | (byte << shift))
                n = shift = 0
            else:
                n |= (byte & 0x7F) << shift
                shift += 7
        if shift or len(numbers) % 2:
            raise ValueError("a sketch's buckets are cut short")
        sketch = cls()
        sketch.zero_count = zeros
        indexes = accumulate(-((z + 1) >> 1) if z & 1 else z >> 1 for z in numbers[0::2])
        counts = numbers[1::2]
        sketch._buckets = dict(zip(indexes, counts, strict=True))
        total = zeros + sum(counts)
        sketch.count = total
        if total:
            sketch.min, sketch.max = low, high
        return sketch

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sketch):
            return NotImplemented
        return self.to_bytes() == other.to_bytes()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Sketch(count={self.count}, buckets={len(self._buckets)})"
