"""The quantile sketch: within its documented relative error of exact quantiles, mergeable,
and the same after a round trip through bytes (cinchdb._sketch)."""

from __future__ import annotations

import math
import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cinchdb._sketch import RELATIVE_ERROR, Sketch

N = 10_000
QUANTILES = (0.0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0)


def _samples(name: str, rng: random.Random) -> list[float]:
    match name:
        case "uniform":
            return [rng.uniform(1_000, 5_000_000) for _ in range(N)]
        case "lognormal":
            return [rng.lognormvariate(11, 2) for _ in range(N)]
        case "exponential":
            return [rng.expovariate(1 / 50_000) for _ in range(N)]
        case "pareto":  # a long tail, as statement times have
            return [20_000 * rng.paretovariate(1.2) for _ in range(N)]
        case "bimodal":  # cache hits and misses
            return [
                rng.gauss(30_000, 3_000) if rng.random() < 0.9 else rng.gauss(9e6, 1e6)
                for _ in range(N)
            ]
        case "integers":  # nanosecond counts, with many repeats
            return [float(rng.randint(1, 2_000)) for _ in range(N)]
    raise AssertionError(name)


def _exact(ordered: list[float], q: float) -> float:
    """The lower quantile the sketch documents: the value of rank floor(q * (n - 1))."""
    return ordered[int(q * (len(ordered) - 1))]


@pytest.mark.parametrize(
    "distribution", ["uniform", "lognormal", "exponential", "pareto", "bimodal", "integers"]
)
def test_quantiles_are_within_the_documented_error_on_10000_samples(distribution: str) -> None:
    values = _samples(distribution, random.Random(distribution))
    sketch = Sketch()
    for value in values:
        sketch.add(value)
    ordered = sorted(values)
    assert sketch.count == N
    for q in QUANTILES:
        exact = _exact(ordered, q)
        assert abs(sketch.quantile(q) - exact) <= RELATIVE_ERROR * abs(exact), (q, exact)


def test_merged_sketches_answer_as_one_sketch_of_all_values() -> None:
    rng = random.Random(7)
    parts = [[rng.lognormvariate(10, 1.5) for _ in range(2_500)] for _ in range(4)]
    whole = Sketch()
    merged = Sketch()
    for part in parts:
        piece = Sketch()
        for value in part:
            piece.add(value)
            whole.add(value)
        merged.merge(Sketch.from_bytes(piece.to_bytes()))
    assert merged == whole
    ordered = sorted(v for part in parts for v in part)
    for q in QUANTILES:
        exact = _exact(ordered, q)
        assert abs(merged.quantile(q) - exact) <= RELATIVE_ERROR * exact


def test_zero_values_an_empty_sketch_and_bad_input() -> None:
    sketch = Sketch()
    assert sketch.quantile(0.5) == 0.0
    assert Sketch.from_bytes(sketch.to_bytes()).count == 0
    for value in (0, 0, 0, 5):
        sketch.add(value)
    assert sketch.quantile(0.5) == 0.0
    assert sketch.quantile(1.0) == 5
    with pytest.raises(ValueError, match="between 0 and 1"):
        sketch.quantile(1.5)
    with pytest.raises(ValueError, match="version 9"):
        Sketch.from_bytes(b"\x09" + sketch.to_bytes()[1:])
    with pytest.raises(ValueError, match="needs"):
        Sketch.from_bytes(b"\x01")
    with pytest.raises(ValueError, match="cut short"):
        Sketch.from_bytes(sketch.to_bytes() + b"\x80")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=300))
def test_bytes_round_trip_and_error_bound_for_any_values(values: list[int]) -> None:
    sketch = Sketch()
    for value in values:
        sketch.add(value)
    again = Sketch.from_bytes(sketch.to_bytes())
    assert again == sketch
    ordered = sorted(values)
    for q in QUANTILES:
        exact = _exact(ordered, q)
        assert abs(again.quantile(q) - exact) <= RELATIVE_ERROR * exact


def _reference_encoding(buckets: dict[int, int], low: float, high: float, zeros: int) -> bytes:
    """Format 1 written the plain way (a header, then zigzag delta and count varints), to hold
    the inlined codec to the bytes that files already contain."""
    out = bytearray(struct.pack("<BddQ", 1, low, high, zeros))
    previous = 0
    for index in sorted(buckets):
        delta = index - previous
        for n in (delta * 2 if delta >= 0 else -delta * 2 - 1, buckets[index]):
            while True:
                out.append((n & 0x7F) | (0x80 if n >= 0x80 else 0))
                n >>= 7
                if not n:
                    break
        previous = index
    return bytes(out)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.integers(min_value=-3_000, max_value=3_000),
        st.integers(min_value=1, max_value=2**40),
        min_size=1,
        max_size=200,
    ),
    st.integers(min_value=0, max_value=2**40),
)
def test_the_encoding_is_format_1_byte_for_byte(buckets: dict[int, int], zeros: int) -> None:
    data = _reference_encoding(buckets, 1.5, 9e9, zeros)
    sketch = Sketch.from_bytes(data)
    assert (sketch._buckets, sketch.zero_count, sketch.count) == (
        buckets,
        zeros,
        zeros + sum(buckets.values()),
    )
    assert (sketch.min, sketch.max) == (1.5, 9e9)
    assert sketch.to_bytes() == data
    # A bucket without its count, or a number cut in the middle, is refused.
    for cut in (data[:-1], data + b"\x05", data + b"\x85"):
        with pytest.raises(ValueError, match="cut short"):
            Sketch.from_bytes(cut)


# Values on and beside bucket edges (GAMMA ** k), where the rounding of a power and of a
# logarithm could disagree; and repeats, zeros and negatives.
_EDGES = [(1.01 / 0.99) ** k for k in range(-50, 1200, 7)]
_values = st.one_of(
    st.integers(min_value=-5, max_value=10**12),
    st.floats(min_value=-1.0, max_value=1e15, allow_nan=False),
    st.sampled_from(_EDGES),
    st.sampled_from(_EDGES).map(lambda edge: math.nextafter(edge, math.inf)),
    st.sampled_from(_EDGES).map(lambda edge: math.nextafter(edge, 0.0)),
    st.sampled_from(_EDGES).map(math.ceil),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_values, max_size=400))
def test_add_many_counts_each_value_in_the_bucket_add_would(values: list[float]) -> None:
    one_by_one = Sketch()
    for value in values:
        one_by_one.add(value)
    at_once = Sketch()
    at_once.add_many(values)
    assert at_once._buckets == one_by_one._buckets
    assert (at_once.count, at_once.zero_count) == (one_by_one.count, one_by_one.zero_count)
    assert at_once.to_bytes() == one_by_one.to_bytes()
    # Added in two halves: the same again (buckets add up).
    halves = Sketch()
    halves.add_many(values[: len(values) // 2])
    halves.add_many(values[len(values) // 2 :])
    assert halves == one_by_one


def test_add_many_agrees_with_add_on_every_bucket_edge() -> None:
    # At GAMMA ** k itself the rounded logarithm lands on either side: the run found by
    # binary search is corrected to where add() puts each value.
    gamma = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR)
    edges = [gamma**k for k in range(-60, 1400)]
    values = [
        v
        for edge in edges
        for v in (math.nextafter(edge, 0.0), edge, math.nextafter(edge, math.inf))
    ]
    one_by_one = Sketch()
    for value in values:
        one_by_one.add(value)
    at_once = Sketch()
    at_once.add_many(values)
    assert at_once._buckets == one_by_one._buckets
