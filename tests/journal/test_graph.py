from __future__ import annotations

import random
from collections.abc import Sequence
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journal.errors import CorruptJournalError, EventNotFoundError
from journal.graph import Graph

Dag = list[tuple[str, tuple[str, ...]]]


def build(edges: Sequence[tuple[str, Sequence[str]]]) -> Graph:
    graph = Graph()
    for event_id, parents in edges:
        graph.add(event_id, parents)
    return graph


def brute_ancestors(dag: Dag, node: str) -> set[str]:
    """``node`` and everything reachable through parents, by plain recursion."""
    parents = dict(dag)
    seen = {node}
    stack = [node]
    while stack:
        for parent in parents[stack.pop()]:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def brute_merge_bases(dag: Dag, a: str, b: str) -> set[str]:
    common = brute_ancestors(dag, a) & brute_ancestors(dag, b)
    return {c for c in common if not any(c != d and c in brute_ancestors(dag, d) for d in common)}


# A linear history, a fork, a criss-cross merge with two bases, and two unrelated roots:
#
#   r - a1 - a2 - a3                   (linear)
#        \
#         b1 - b2                       (fork at a1)
#
#   x0 - x1 - m1 - m3                   criss-cross: m1 merges y1 into x1 and m2 merges x1
#     \     \/                          into y1, so x1 and y1 are both best common
#      y1 -- m2 - m4                    ancestors of m3 and m4
#
#   z (a root of its own)
SAMPLE: Dag = [
    ("r", ()),
    ("a1", ("r",)),
    ("a2", ("a1",)),
    ("a3", ("a2",)),
    ("b1", ("a1",)),
    ("b2", ("b1",)),
    ("x0", ()),
    ("x1", ("x0",)),
    ("y1", ("x0",)),
    ("m1", ("x1", "y1")),
    ("m2", ("y1", "x1")),
    ("m3", ("m1",)),
    ("m4", ("m2",)),
    ("z", ()),
]


@pytest.fixture
def sample() -> Graph:
    return build(SAMPLE)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("a3", "a3", ["a3"]),
        ("a1", "a3", ["a1"]),
        ("a3", "a1", ["a1"]),
        ("r", "a3", ["r"]),
        ("a3", "b2", ["a1"]),
        ("b2", "a2", ["a1"]),
        ("m3", "m4", ["x1", "y1"]),
        ("m4", "m3", ["x1", "y1"]),
        ("m1", "m2", ["x1", "y1"]),
        ("m3", "y1", ["y1"]),
        ("a3", "z", []),
        ("a3", "m3", []),
    ],
)
def test_merge_bases_hand_made(sample: Graph, a: str, b: str, expected: list[str]) -> None:
    assert sample.merge_bases(a, b) == expected
    assert sample.merge_base(a, b) == (expected[0] if expected else None)


def test_merge_base_prefers_highest_generation_then_smallest_id() -> None:
    # Two bases at different generations: p2 (generation 3) beats q1 (generation 2).
    graph = build(
        [
            ("root", ()),
            ("p1", ("root",)),
            ("p2", ("p1",)),
            ("q1", ("root",)),
            ("ours", ("p2", "q1")),
            ("theirs", ("q1", "p2")),
        ]
    )
    assert graph.merge_bases("ours", "theirs") == ["p2", "q1"]
    assert graph.merge_base("ours", "theirs") == "p2"


def test_generation_numbers(sample: Graph) -> None:
    assert sample.generation("r") == 1
    assert sample.generation("a3") == 4
    assert sample.generation("m1") == 3
    assert sample.generation("z") == 1


def test_parents_children_and_membership(sample: Graph) -> None:
    assert sample.parents("m2") == ("y1", "x1")
    assert sample.parents("r") == ()
    assert sample.children("a1") == ("a2", "b1")
    assert sample.children("a3") == ()
    assert "m1" in sample
    assert "nope" not in sample
    assert len(sample) == len(SAMPLE)
    assert list(sample) == [event_id for event_id, _ in SAMPLE]
    assert sample.heads() == ["a3", "b2", "m3", "m4", "z"]


def test_child_side_queries_see_events_added_after_a_first_call(sample: Graph) -> None:
    assert sample.children("a3") == ()
    sample.add("a4", ["a3"])
    sample.add("mx", ["a4", "b2"])
    assert sample.children("a3") == ("a4",)
    assert sample.children("b2") == ("mx",)
    assert sample.heads() == ["mx", "m3", "m4", "z"]


def test_ancestors(sample: Graph) -> None:
    assert sample.ancestors("a3") == {"r", "a1", "a2"}
    assert sample.ancestors("m3") == {"m1", "x1", "y1", "x0"}
    assert sample.ancestors("z") == set()


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("a3", "a3", True),
        ("r", "a3", True),
        ("a1", "b2", True),
        ("a2", "b2", False),
        ("a3", "r", False),
        ("y1", "m1", True),
        ("y1", "m3", True),
        ("m1", "m4", False),
        ("z", "a3", False),
        ("b1", "a3", False),
    ],
)
def test_is_ancestor(sample: Graph, a: str, b: str, expected: bool) -> None:
    assert sample.is_ancestor(a, b) is expected


def test_first_parent_chain(sample: Graph) -> None:
    assert sample.first_parent_chain("a3") == ["r", "a1", "a2", "a3"]
    assert sample.first_parent_chain("b2") == ["r", "a1", "b1", "b2"]
    assert sample.first_parent_chain("m4") == ["x0", "y1", "m2", "m4"]
    assert sample.first_parent_chain("z") == ["z"]


def test_log_order(sample: Graph) -> None:
    assert sample.log_order("m3") == ["m3", "m1", "x1", "y1", "x0"]
    assert sample.log_order("b2") == ["b2", "b1", "a1", "r"]


def test_between(sample: Graph) -> None:
    assert sample.between("a1", "a3") == ["a2", "a3"]
    assert sample.between("a3", "b2") == ["b1", "b2"]
    assert sample.between("a3", "a1") == []
    assert sample.between("a3", "a3") == []
    assert sample.between("x1", "m3") == ["y1", "m1", "m3"]
    assert sample.between(None, "a2") == ["r", "a1", "a2"]
    assert sample.between("z", "a1") == ["r", "a1"]


def test_unknown_ids_raise(sample: Graph) -> None:
    for call in (
        lambda: sample.parents("nope"),
        lambda: sample.generation("nope"),
        lambda: sample.children("nope"),
        lambda: sample.ancestors("nope"),
        lambda: sample.is_ancestor("nope", "a1"),
        lambda: sample.is_ancestor("a1", "nope"),
        lambda: sample.merge_bases("a1", "nope"),
        lambda: sample.merge_base("nope", "a1"),
        lambda: sample.first_parent_chain("nope"),
        lambda: sample.log_order("nope"),
        lambda: sample.between("nope", "a1"),
    ):
        with pytest.raises(EventNotFoundError, match="nope"):
            call()


def test_add_rejects_duplicates_unknown_parents_and_repeated_parents(sample: Graph) -> None:
    with pytest.raises(CorruptJournalError, match="already in the graph"):
        sample.add("a1", ["r"])
    with pytest.raises(CorruptJournalError, match="not in the graph"):
        sample.add("new", ["a1", "ghost"])
    # An event cannot be its own parent: it is not in the graph yet.
    with pytest.raises(CorruptJournalError, match="not in the graph"):
        sample.add("self", ["self"])
    with pytest.raises(CorruptJournalError, match="twice"):
        sample.add("new", ["a1", "a1"])
    assert "new" not in sample
    assert sample.children("a1") == ("a2", "b1")


# -- property tests against the definition ------------------------------------------------------


@st.composite
def dags(draw: st.DrawFn) -> Dag:
    """Random DAGs of up to 24 events, each with 0, 1 or 2 earlier events as parents."""
    size = draw(st.integers(min_value=1, max_value=24))
    dag: Dag = []
    for index in range(size):
        earlier = [event_id for event_id, _ in dag]
        parent_count = draw(st.integers(0, min(2, index))) if index else 0
        # Mostly one parent, so that histories share ancestors often.
        if index and parent_count == 0 and draw(st.booleans()):
            parent_count = 1
        parents = draw(
            st.lists(
                st.sampled_from(earlier), min_size=parent_count, max_size=parent_count, unique=True
            )
            if parent_count
            else st.just([])
        )
        dag.append((f"e{index:02d}", tuple(parents)))
    return dag


@settings(max_examples=300, deadline=None)
@given(dag=dags(), data=st.data())
def test_merge_bases_match_brute_force(dag: Dag, data: st.DataObject) -> None:
    graph = build(dag)
    ids = [event_id for event_id, _ in dag]
    for _ in range(5):
        a = data.draw(st.sampled_from(ids))
        b = data.draw(st.sampled_from(ids))
        expected = brute_merge_bases(dag, a, b)
        bases = graph.merge_bases(a, b)
        assert set(bases) == expected
        assert len(bases) == len(expected)
        assert bases == sorted(bases, key=lambda n: (-graph.generation(n), n))
        assert set(graph.merge_bases(b, a)) == expected
        assert graph.merge_base(a, b) == graph.merge_base(b, a)
        assert graph.is_ancestor(a, b) == (a in brute_ancestors(dag, b))
        assert graph.between(a, b) == sorted(
            brute_ancestors(dag, b) - brute_ancestors(dag, a),
            key=lambda n: (graph.generation(n), n),
        )


@settings(max_examples=200, deadline=None)
@given(dag=dags(), seed=st.integers(0, 2**32 - 1))
def test_results_do_not_depend_on_insertion_order(dag: Dag, seed: int) -> None:
    rng = random.Random(seed)
    shuffled: Dag = []
    placed: set[str] = set()
    pending = list(dag)
    # A random topological order: repeatedly pick any event whose parents are placed.
    while pending:
        ready = [entry for entry in pending if set(entry[1]) <= placed]
        entry = rng.choice(ready)
        pending.remove(entry)
        shuffled.append(entry)
        placed.add(entry[0])
    first, second = build(dag), build(shuffled)
    ids = [event_id for event_id, _ in dag]
    for a in ids:
        for b in ids:
            assert first.merge_bases(a, b) == second.merge_bases(a, b)
            assert first.merge_base(a, b) == second.merge_base(a, b)
    head = ids[-1]
    assert first.log_order(head) == second.log_order(head)
    assert first.heads() == second.heads()


@settings(max_examples=200, deadline=None)
@given(dag=dags())
def test_log_order_is_topological_and_first_parent_chain_follows_first_parents(dag: Dag) -> None:
    graph = build(dag)
    for head, _ in dag:
        order = graph.log_order(head)
        assert set(order) == brute_ancestors(dag, head)
        assert order[0] == head
        position = {event_id: index for index, event_id in enumerate(order)}
        for event_id in order:
            for parent in graph.parents(event_id):
                assert position[event_id] < position[parent]
        chain = graph.first_parent_chain(head)
        assert chain[-1] == head
        assert graph.parents(chain[0]) == ()
        for parent, child in pairwise(chain):
            assert graph.parents(child)[0] == parent
