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


def brute_chain(dag: Dag, head: str) -> list[str]:
    """``head``'s first-parent chain, oldest first."""
    parents = dict(dag)
    chain = [head]
    while parents[chain[-1]]:
        chain.append(parents[chain[-1]][0])
    return chain[::-1]


def brute_first_parent_base(dag: Dag, a: str, b: str) -> str | None:
    on_b = set(brute_chain(dag, b))
    return next((e for e in reversed(brute_chain(dag, a)) if e in on_b), None)


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
        ("a3", "a3", "a3"),
        ("a1", "a3", "a1"),
        ("a3", "a1", "a1"),
        ("r", "a3", "r"),
        ("a3", "b2", "a1"),
        ("b2", "a2", "a1"),
        # m3's chain is x0 x1 m1 m3, m4's is x0 y1 m2 m4: the chains meet at x0 only, although
        # x1 and y1 are both common ancestors through the merges' second parents.
        ("m3", "m4", "x0"),
        ("m1", "y1", "x0"),
        ("y1", "m4", "y1"),
        ("a3", "z", None),
        ("a3", "m3", None),
    ],
)
def test_first_parent_base(sample: Graph, a: str, b: str, expected: str | None) -> None:
    assert sample.first_parent_base(a, b) == expected
    assert sample.first_parent_base(b, a) == expected


def test_generation_numbers(sample: Graph) -> None:
    assert sample.generation("r") == 1
    assert sample.generation("a3") == 4
    assert sample.generation("m1") == 3
    assert sample.generation("z") == 1


def test_parents_and_insertion_order(sample: Graph) -> None:
    assert sample.parents("m2") == ("y1", "x1")
    assert sample.parents("r") == ()
    assert list(sample) == [event_id for event_id, _ in SAMPLE]


def test_ancestors(sample: Graph) -> None:
    assert sample.ancestors("a3") == {"r", "a1", "a2"}
    assert sample.ancestors("m3") == {"m1", "x1", "y1", "x0"}
    assert sample.ancestors("z") == set()


def test_networkx_backed_queries_see_events_added_after_a_first_call(sample: Graph) -> None:
    assert sample.log_order("a3") == ["a3", "a2", "a1", "r"]
    sample.add("a4", ["a3"])
    sample.add("mx", ["a4", "b2"])
    assert sample.ancestors("mx") == {"a4", "a3", "a2", "a1", "r", "b2", "b1"}
    assert sample.log_order("mx") == ["mx", "a4", "a3", "b2", "a2", "b1", "a1", "r"]


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


def test_first_parent_chain_after_an_event_on_it(sample: Graph) -> None:
    assert sample.first_parent_chain("a3", after="a1") == ["a2", "a3"]
    assert sample.first_parent_chain("a3", after="a3") == []
    assert sample.first_parent_chain("m4", after="x0") == ["y1", "m2", "m4"]
    # x1 is an ancestor of m4, but through a second parent: not on its chain.
    with pytest.raises(ValueError, match="not on the first-parent chain"):
        sample.first_parent_chain("m4", after="x1")


def test_log_order(sample: Graph) -> None:
    assert sample.log_order("m3") == ["m3", "m1", "x1", "y1", "x0"]
    assert sample.log_order("b2") == ["b2", "b1", "a1", "r"]


def test_unknown_ids_raise(sample: Graph) -> None:
    for call in (
        lambda: sample.parents("nope"),
        lambda: sample.generation("nope"),
        lambda: sample.ancestors("nope"),
        lambda: sample.is_ancestor("nope", "a1"),
        lambda: sample.is_ancestor("a1", "nope"),
        lambda: sample.first_parent_base("a1", "nope"),
        lambda: sample.first_parent_base("nope", "a1"),
        lambda: sample.first_parent_chain("nope"),
        lambda: sample.first_parent_chain("a1", after="nope"),
        lambda: sample.log_order("nope"),
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
    assert list(sample) == [event_id for event_id, _ in SAMPLE]


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
def test_queries_match_brute_force(dag: Dag, data: st.DataObject) -> None:
    graph = build(dag)
    ids = [event_id for event_id, _ in dag]
    for _ in range(5):
        a = data.draw(st.sampled_from(ids))
        b = data.draw(st.sampled_from(ids))
        base = brute_first_parent_base(dag, a, b)
        assert graph.first_parent_base(a, b) == base
        assert graph.first_parent_base(b, a) == base
        if base is not None:
            chain = brute_chain(dag, a)
            assert graph.first_parent_chain(a, after=base) == chain[chain.index(base) + 1 :]
        assert graph.is_ancestor(a, b) == (a in brute_ancestors(dag, b))
        assert graph.ancestors(b) == brute_ancestors(dag, b) - {b}


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
            assert first.first_parent_base(a, b) == second.first_parent_base(a, b)
        assert first.log_order(a) == second.log_order(a)


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
        # Among the events whose children are all shown, the newest generation comes first.
        assert order == sorted(order, key=lambda n: (-graph.generation(n), n))
        chain = graph.first_parent_chain(head)
        assert chain[-1] == head
        assert graph.parents(chain[0]) == ()
        for parent, child in pairwise(chain):
            assert graph.parents(child)[0] == parent
