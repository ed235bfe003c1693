"""The event DAG: ancestry, first-parent chains and their merge base, and log order.

Events form a DAG like git commits: edges point from parent to child, an event has at most two
parents, and the *first* parent is the branch the event was appended to (a merge's second
parent is the branch merged in). Parents must be added before their children, which is what
keeps the graph acyclic without ever searching for cycles.

Every node carries a *generation number*: 1 for a root, else 1 + the highest generation of its
parents. A parent's generation is always lower than its child's, so a walk looking for ``a``
can stop descending once it is below ``generation(a)``, and two first-parent chains can be
walked down together to where they meet. This is git's commit-graph trick; it is what keeps
:meth:`Graph.is_ancestor` and :meth:`Graph.first_parent_base` proportional to the part of
history between the two events instead of to all of it.

networkx does what it is good at, on the whole history: :meth:`Graph.ancestors` and the
topological order of :meth:`Graph.log_order`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from journal.errors import CorruptJournalError, EventNotFoundError

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["Graph"]


class Graph:
    """An append-only DAG of event ids.

    The structure is a private ``networkx.DiGraph`` whose nodes carry ``parents`` (the ordered
    parent tuple) and ``generation`` attributes, used for the whole-history queries (ancestors,
    log order). The walks merging runs on (is-ancestor, first-parent chains and their base) use
    a parallel integer index (node number, parent numbers, generation): on large journals they
    make many lookups, and list indexing with small ints is several times cheaper than hashing
    64-character ids through networkx's views. The DiGraph is brought up
    to date with the index lazily, in bulk, by the operations that need it, because building
    it costs about 10 us per event: most of what loading a journal would otherwise cost, in
    every CLI process.

    A ``Graph`` is not safe to use from one thread while another adds to it.
    """

    __slots__ = (
        "_digraph",
        "_generation",
        "_ids",
        "_index",
        "_parent_ids",
        "_parents",
        "_synced",
    )

    def __init__(self) -> None:
        # Built on first use: importing networkx costs ~150 ms, which every short-lived
        # process (each `cinch` command) would otherwise pay.
        self._digraph: nx.DiGraph | None = None
        # How many events (in insertion order) the DiGraph holds so far.
        self._synced = 0
        self._index: dict[str, int] = {}
        self._ids: list[str] = []
        self._parent_ids: list[tuple[str, ...]] = []
        self._parents: list[tuple[int, ...]] = []
        self._generation: list[int] = []

    # -- building ------------------------------------------------------------------------------

    def add(self, event_id: str, parents: Sequence[str]) -> None:
        """Add an event whose parents are already in the graph.

        Raises:
            CorruptJournalError: ``event_id`` is already present, a parent is unknown, or a
                parent is listed twice. Refusing unknown parents is what rules out cycles.
        """
        index = self._index
        if event_id in index:
            raise CorruptJournalError(f"Event {event_id[:12]} is already in the graph")
        parent_ids = tuple(parents)
        if len(parent_ids) > 1 and len(set(parent_ids)) != len(parent_ids):
            raise CorruptJournalError(f"Event {event_id[:12]} lists the same parent twice")
        parent_numbers: list[int] = []
        generation = 1
        for parent in parent_ids:
            number = index.get(parent)
            if number is None:
                raise CorruptJournalError(
                    f"Event {event_id[:12]} names parent {parent[:12]}, which is not in the graph"
                )
            parent_numbers.append(number)
            if self._generation[number] >= generation:
                generation = self._generation[number] + 1
        number = len(self._ids)
        index[event_id] = number
        self._ids.append(event_id)
        self._parent_ids.append(parent_ids)
        self._parents.append(tuple(parent_numbers))
        self._generation.append(generation)

    # -- single nodes --------------------------------------------------------------------------

    def __iter__(self) -> Iterator[str]:
        """Event ids in the order they were added (parents before children)."""
        return iter(self._ids)

    def parents(self, event_id: str) -> tuple[str, ...]:
        """The ordered parents of an event; the first one is the branch it was appended to."""
        return self._parent_ids[self._require(event_id)]

    def generation(self, event_id: str) -> int:
        """1 for a root, else 1 + the highest generation of the event's parents."""
        return self._generation[self._require(event_id)]

    # -- ancestry ------------------------------------------------------------------------------

    def first_parent_base(self, a: str, b: str) -> str | None:
        """The newest event on both ``a``'s and ``b``'s first-parent chains (None: they share
        none). A branch's schema is the fold of its first-parent chain, so this is where two
        branches' schemas last agreed; if ``a`` is on ``b``'s chain the answer is ``a``.

        Walks both chains down together, always stepping the one at the higher generation:
        generations strictly decrease along a chain, so a node above the other chain's current
        node cannot be on it. Costs the length of the two chains since the base, not of all
        history.
        """
        x, y = self._require(a), self._require(b)
        generation, parents_of = self._generation, self._parents
        while x != y:
            if generation[x] < generation[y]:
                x, y = y, x
            parents = parents_of[x]
            if not parents:
                return None
            x = parents[0]
        return self._ids[x]

    def ancestors(self, event_id: str) -> set[str]:
        """Every event reachable from ``event_id`` through parents, excluding itself."""
        self._require(event_id)
        import networkx as nx

        found: set[str] = nx.ancestors(self._synced_digraph(), event_id)
        return found

    def is_ancestor(self, a: str, b: str) -> bool:
        """True if ``a`` is ``b`` or one of its ancestors.

        Walks from ``b`` towards the roots but never below ``generation(a)``: nothing there can
        lead back up to ``a``.
        """
        return self._is_ancestor(self._require(a), self._require(b))

    # -- orders --------------------------------------------------------------------------------

    def first_parent_chain(self, head: str, after: str | None = None) -> list[str]:
        """The events from the root to ``head`` following first parents only, oldest first.

        With ``after`` (an event on that chain, e.g. a :meth:`first_parent_base`), only the
        events after it: the walk stops there instead of going on to the root.

        Raises:
            EventNotFoundError: ``head`` or ``after`` is not in the graph.
            ValueError: ``after`` is not on ``head``'s first-parent chain.
        """
        node = self._require(head)
        stop = -1 if after is None else self._require(after)
        parents_of = self._parents
        ids = self._ids
        chain: list[str] = []
        while node != stop:
            chain.append(ids[node])
            parents = parents_of[node]
            if not parents:
                if after is not None:
                    raise ValueError(f"Event {after[:12]} is not on the first-parent chain of"
                                     f" {head[:12]}")  # fmt: skip
                break
            node = parents[0]
        chain.reverse()
        return chain

    def log_order(self, head: str) -> list[str]:
        """``head`` and all its ancestors, newest first, every child before its parents: the
        order ``log`` (and ``log --graph``, which draws its lanes from it) shows them in.

        networkx's topological sort of the history, reversed so children come first, taking
        among the events that are ready the one with the highest generation, then the smallest
        id: deterministic, whatever order the events were added in.
        """
        import networkx as nx

        history = self._synced_digraph().subgraph([head, *self.ancestors(head)])
        order: list[str] = list(
            nx.lexicographical_topological_sort(history.reverse(copy=False), key=self._newest_first)
        )
        return order

    # -- internals -----------------------------------------------------------------------------

    def _synced_digraph(self) -> nx.DiGraph:
        """The DiGraph, after adding the events added to the index since the last call."""
        if self._digraph is None:
            import networkx as nx

            self._digraph = nx.DiGraph()
        start, end = self._synced, len(self._ids)
        if start < end:
            ids, parent_ids, generation = self._ids, self._parent_ids, self._generation
            self._digraph.add_nodes_from(
                (ids[n], {"parents": parent_ids[n], "generation": generation[n]})
                for n in range(start, end)
            )
            self._digraph.add_edges_from(
                (parent, ids[n]) for n in range(start, end) for parent in parent_ids[n]
            )
            self._synced = end
        return self._digraph

    def _require(self, event_id: str) -> int:
        number = self._index.get(event_id)
        if number is None:
            raise EventNotFoundError(event_id, "not in the event graph")
        return number

    def _newest_first(self, event_id: str) -> tuple[int, str]:
        return (-self._generation[self._index[event_id]], event_id)

    def _is_ancestor(self, a: int, b: int) -> bool:
        if a == b:
            return True
        generation = self._generation
        floor = generation[a]
        if floor >= generation[b]:
            return False
        parents_of = self._parents
        seen = {b}
        stack = [b]
        while stack:
            node = stack.pop()
            # Reversed so that the first parent is explored first: the ancestor is most often
            # on the first-parent chain, and a depth-first walk then reaches it directly.
            for parent in reversed(parents_of[node]):
                if parent == a:
                    return True
                if parent not in seen and generation[parent] > floor:
                    seen.add(parent)
                    stack.append(parent)
        return False
