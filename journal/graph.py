"""The event DAG: ancestry, merge bases, first-parent chains and log order.

Events form a DAG like git commits: edges point from parent to child, an event has at most two
parents, and the *first* parent is the branch the event was appended to (a merge's second
parent is the branch merged in). Parents must be added before their children, which is what
keeps the graph acyclic without ever searching for cycles.

Every node carries a *generation number*: 1 for a root, else 1 + the highest generation of its
parents. A parent's generation is always lower than its child's, so walks that visit nodes in
decreasing generation order see every descendant of a node before the node itself, and a walk
looking for ``a`` can stop descending once it is below ``generation(a)``. This is git's
commit-graph trick; it is what keeps :meth:`Graph.merge_bases` and :meth:`Graph.is_ancestor`
proportional to the part of history between the two events instead of to all of it.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from journal.errors import CorruptJournalError, EventNotFoundError

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["Graph"]

# Paint flags of the merge-base walk (git's PARENT1, PARENT2, STALE).
_FROM_A = 1
_FROM_B = 2
_BOTH = _FROM_A | _FROM_B
_STALE = 4

# Walk queues hold one int per node: the negated generation in the high bits and the node's
# index in the low 32, so the min-heap pops the highest generation first and compares plain
# ints rather than tuples. Which of two same-generation nodes comes first does not matter:
# neither can be an ancestor of the other.
_INDEX_BITS = 32
_INDEX_MASK = (1 << _INDEX_BITS) - 1


class Graph:
    """An append-only DAG of event ids.

    The structure is a private ``networkx.DiGraph`` whose nodes carry ``parents`` (the ordered
    parent tuple) and ``generation`` attributes, used for the child-side queries (children,
    heads). The parent-side walks (ancestry, merge bases, chains, log order) run on a parallel
    integer index (node number, parent numbers, generation, queue key): they make hundreds of
    thousands of lookups on large journals, and list indexing with small ints is several times
    cheaper than hashing 64-character ids through networkx's views. The DiGraph is brought up
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
        "_keys",
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
        self._keys: list[int] = []

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
        self._keys.append((-generation << _INDEX_BITS) | number)

    # -- single nodes --------------------------------------------------------------------------

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._index

    def __len__(self) -> int:
        return len(self._ids)

    def __iter__(self) -> Iterator[str]:
        """Event ids in the order they were added (parents before children)."""
        return iter(self._ids)

    def parents(self, event_id: str) -> tuple[str, ...]:
        """The ordered parents of an event; the first one is the branch it was appended to."""
        return self._parent_ids[self._require(event_id)]

    def generation(self, event_id: str) -> int:
        """1 for a root, else 1 + the highest generation of the event's parents."""
        return self._generation[self._require(event_id)]

    def children(self, event_id: str) -> tuple[str, ...]:
        """The events that name ``event_id`` as a parent, sorted by id."""
        self._require(event_id)
        return tuple(sorted(self._synced_digraph().successors(event_id)))

    def heads(self) -> list[str]:
        """Events without children, highest generation first, then by id."""
        digraph = self._synced_digraph()
        heads = [node for node, degree in digraph.out_degree() if degree == 0]
        return sorted(heads, key=self._newest_first)

    # -- ancestry ------------------------------------------------------------------------------

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

    def merge_bases(self, a: str, b: str) -> list[str]:
        """All best common ancestors of ``a`` and ``b`` (each counts as its own ancestor).

        A best common ancestor is a common ancestor that is not an ancestor of another common
        ancestor. Criss-cross merges have several. The result is sorted by generation, highest
        first, then by id; it is empty when ``a`` and ``b`` share no history.
        """
        start_a, start_b = self._require(a), self._require(b)
        if start_a == start_b:
            return [a]
        # The common "one contains the other" case (up to date, fast-forward) is answered by
        # the pruned depth-first search, which goes straight down first parents, instead of
        # painting every event between the two.
        generation = self._generation
        if generation[start_a] < generation[start_b] and self._is_ancestor(start_a, start_b):
            return [a]
        if generation[start_b] < generation[start_a] and self._is_ancestor(start_b, start_a):
            return [b]
        candidates = self._paint_down_to_common(start_a, start_b)
        bases = [self._ids[number] for number in self._remove_redundant(candidates)]
        return sorted(bases, key=self._newest_first)

    def merge_base(self, a: str, b: str) -> str | None:
        """The merge base of ``a`` and ``b``, or None when they share no history.

        When there are several best common ancestors (criss-cross merges), this is the one
        with the highest generation, ties broken by the smallest id, so the answer never
        depends on the order events were added in. If ``a`` is an ancestor of ``b`` (or equal
        to it) the answer is ``a``.
        """
        bases = self.merge_bases(a, b)
        return bases[0] if bases else None

    def between(self, base: str | None, head: str) -> list[str]:
        """Events in ``head``'s history that are not in ``base``'s (git's ``base..head``).

        Includes ``head`` unless it is in ``base``'s history. Oldest first: parents always
        before their children, ties by id, so the list is a valid application order. With
        ``base`` None, the whole history of ``head``.
        """
        start = self._require(head)
        if base is None:
            return sorted([*self.ancestors(head), head], key=self._oldest_first)
        stop = self._require(base)
        parents_of = self._parents
        keys = self._keys
        excluded = {stop}
        seen = {start, stop}
        queue = [keys[start], keys[stop]]
        heapq.heapify(queue)
        included: list[str] = []
        # Highest generation first, so a node's membership in ``excluded`` is final when it is
        # popped; stop as soon as only excluded nodes are queued, since every unvisited event
        # of head's history is then reached through them and is in base's history too.
        pending = 1 if start != stop else 0
        while pending:
            node = heapq.heappop(queue) & _INDEX_MASK
            node_excluded = node in excluded
            if not node_excluded:
                pending -= 1
                included.append(self._ids[node])
            for parent in parents_of[node]:
                if parent not in seen:
                    seen.add(parent)
                    heapq.heappush(queue, keys[parent])
                    if node_excluded:
                        excluded.add(parent)
                    else:
                        pending += 1
                elif node_excluded and parent not in excluded:
                    excluded.add(parent)
                    pending -= 1
        return sorted(included, key=self._oldest_first)

    # -- orders --------------------------------------------------------------------------------

    def first_parent_chain(self, head: str) -> list[str]:
        """The events from the root to ``head`` following first parents only."""
        node = self._require(head)
        parents_of = self._parents
        ids = self._ids
        chain = [head]
        parents = parents_of[node]
        while parents:
            node = parents[0]
            chain.append(ids[node])
            parents = parents_of[node]
        chain.reverse()
        return chain

    def log_order(self, head: str) -> list[str]:
        """``head`` and all its ancestors, newest first, every child before its parents.

        Sorted by generation (highest first), then by id, which is deterministic and
        topological because a child's generation always exceeds its parents'.
        """
        start = self._require(head)
        ids = self._ids
        return sorted(
            [head, *(ids[n] for n in self._ancestor_numbers(start))], key=self._newest_first
        )

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

    def _oldest_first(self, event_id: str) -> tuple[int, str]:
        return (self._generation[self._index[event_id]], event_id)

    def _ancestor_numbers(self, start: int) -> set[int]:
        parents_of = self._parents
        seen: set[int] = set()
        stack = [start]
        while stack:
            for parent in parents_of[stack.pop()]:
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        return seen

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

    def _paint_down_to_common(self, a: int, b: int) -> list[int]:
        """git's paint_down_to_common, ordered by generation instead of commit date.

        Nodes reachable from ``a`` are painted FROM_A, from ``b`` FROM_B. A node painted both
        is a common ancestor: it becomes a candidate (unless already STALE) and paints its own
        ancestors STALE, since they cannot be *best* common ancestors. The walk stops when every
        queued node is STALE. Because nodes leave the queue in decreasing generation order, a
        node's paint is final when it is popped, so each node is queued and popped once.
        """
        parents_of = self._parents
        keys = self._keys
        # One byte per node: allocating it zeroed is cheaper than hashing into a dict.
        flags = bytearray(len(keys))
        flags[a] = _FROM_A
        flags[b] = _FROM_B
        queue = [keys[a], keys[b]]
        heapq.heapify(queue)
        pop, push = heapq.heappop, heapq.heappush
        # Queued nodes not yet painted STALE: the walk is over when there are none.
        live = 2
        candidates: list[int] = []
        while live:
            node = pop(queue) & _INDEX_MASK
            paint = flags[node]
            if not paint & _STALE:
                live -= 1
                if paint & _BOTH == _BOTH:
                    candidates.append(node)
                    paint |= _STALE
                    flags[node] = paint
            for parent in parents_of[node]:
                old = flags[parent]
                if not old:
                    flags[parent] = paint
                    push(queue, keys[parent])
                    if not paint & _STALE:
                        live += 1
                elif old | paint != old:
                    if paint & _STALE and not old & _STALE:
                        live -= 1
                    flags[parent] = old | paint
        return candidates

    def _remove_redundant(self, candidates: list[int]) -> list[int]:
        """Drop candidates that are ancestors of other candidates.

        With exact generation ordering the walk above already yields none, but this keeps the
        result correct by definition rather than by a property of the walk's order.
        """
        if len(candidates) < 2:
            return candidates
        return [
            candidate
            for candidate in candidates
            if not any(
                other != candidate and self._is_ancestor(candidate, other) for other in candidates
            )
        ]
