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

import networkx as nx

from journal.errors import CorruptJournalError, EventNotFoundError

__all__ = ["Graph"]

# Paint flags of the merge-base walk (git's PARENT1, PARENT2, STALE).
_FROM_A = 1
_FROM_B = 2
_BOTH = _FROM_A | _FROM_B
_STALE = 4


class Graph:
    """An append-only DAG of event ids.

    The structure lives in a private ``networkx.DiGraph`` whose nodes carry ``parents`` (the
    ordered parent tuple) and ``generation`` attributes. The walks read two plain dicts that
    mirror those attributes, because they run millions of lookups on large journals and a
    dict lookup is several times cheaper than going through networkx's node views.

    A ``Graph`` is not safe to mutate from one thread while another reads it.
    """

    __slots__ = ("_digraph", "_generation", "_parents")

    def __init__(self) -> None:
        self._digraph = nx.DiGraph()
        self._parents: dict[str, tuple[str, ...]] = {}
        self._generation: dict[str, int] = {}

    # -- building ------------------------------------------------------------------------------

    def add(self, event_id: str, parents: Sequence[str]) -> None:
        """Add an event whose parents are already in the graph.

        Raises:
            CorruptJournalError: ``event_id`` is already present, a parent is unknown, or a
                parent is listed twice. Refusing unknown parents is what rules out cycles.
        """
        if event_id in self._generation:
            raise CorruptJournalError(f"Event {event_id[:12]} is already in the graph")
        parent_ids = tuple(parents)
        if len(set(parent_ids)) != len(parent_ids):
            raise CorruptJournalError(f"Event {event_id[:12]} lists the same parent twice")
        generation = 1
        for parent in parent_ids:
            parent_generation = self._generation.get(parent)
            if parent_generation is None:
                raise CorruptJournalError(
                    f"Event {event_id[:12]} names parent {parent[:12]}, which is not in the graph"
                )
            generation = max(generation, parent_generation + 1)
        self._digraph.add_node(event_id, parents=parent_ids, generation=generation)
        self._digraph.add_edges_from((parent, event_id) for parent in parent_ids)
        self._parents[event_id] = parent_ids
        self._generation[event_id] = generation

    # -- single nodes --------------------------------------------------------------------------

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._generation

    def __len__(self) -> int:
        return len(self._generation)

    def __iter__(self) -> Iterator[str]:
        """Event ids in the order they were added (parents before children)."""
        return iter(self._generation)

    def parents(self, event_id: str) -> tuple[str, ...]:
        """The ordered parents of an event; the first one is the branch it was appended to."""
        self._require(event_id)
        return self._parents[event_id]

    def generation(self, event_id: str) -> int:
        """1 for a root, else 1 + the highest generation of the event's parents."""
        self._require(event_id)
        return self._generation[event_id]

    def children(self, event_id: str) -> tuple[str, ...]:
        """The events that name ``event_id`` as a parent, sorted by id."""
        self._require(event_id)
        return tuple(sorted(self._digraph.successors(event_id)))

    def heads(self) -> list[str]:
        """Events without children, highest generation first, then by id."""
        heads = [node for node, degree in self._digraph.out_degree() if degree == 0]
        return sorted(heads, key=self._newest_first)

    # -- ancestry ------------------------------------------------------------------------------

    def ancestors(self, event_id: str) -> set[str]:
        """Every event reachable from ``event_id`` through parents, excluding itself."""
        self._require(event_id)
        return set(nx.ancestors(self._digraph, event_id))

    def is_ancestor(self, a: str, b: str) -> bool:
        """True if ``a`` is ``b`` or one of its ancestors.

        Walks from ``b`` towards the roots but never below ``generation(a)``: nothing there can
        lead back up to ``a``.
        """
        self._require(a)
        self._require(b)
        if a == b:
            return True
        floor = self._generation[a]
        if floor >= self._generation[b]:
            return False
        parents_of = self._parents
        generation = self._generation
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

    def merge_bases(self, a: str, b: str) -> list[str]:
        """All best common ancestors of ``a`` and ``b`` (each counts as its own ancestor).

        A best common ancestor is a common ancestor that is not an ancestor of another common
        ancestor. Criss-cross merges have several. The result is sorted by generation, highest
        first, then by id; it is empty when ``a`` and ``b`` share no history.
        """
        self._require(a)
        self._require(b)
        if a == b:
            return [a]
        candidates = self._paint_down_to_common(a, b)
        bases = self._remove_redundant(candidates)
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
        self._require(head)
        if base is None:
            return sorted([*self.ancestors(head), head], key=self._oldest_first)
        self._require(base)
        parents_of = self._parents
        generation = self._generation
        excluded = {base}
        seen = {head, base}
        queue = [(-generation[head], head), (-generation[base], base)]
        heapq.heapify(queue)
        included: list[str] = []
        # Highest generation first, so a node's membership in ``excluded`` is final when it is
        # popped; stop as soon as only excluded nodes are left, since everything below them is
        # excluded too or reachable through a node still queued.
        pending_included = 1 if head != base else 0
        while pending_included:
            _, node = heapq.heappop(queue)
            node_excluded = node in excluded
            if not node_excluded:
                pending_included -= 1
                included.append(node)
            for parent in parents_of[node]:
                if parent not in seen:
                    seen.add(parent)
                    heapq.heappush(queue, (-generation[parent], parent))
                    if node_excluded:
                        excluded.add(parent)
                    else:
                        pending_included += 1
                elif node_excluded and parent not in excluded:
                    excluded.add(parent)
                    pending_included -= 1
        return sorted(included, key=self._oldest_first)

    # -- orders --------------------------------------------------------------------------------

    def first_parent_chain(self, head: str) -> list[str]:
        """The events from the root to ``head`` following first parents only."""
        self._require(head)
        parents_of = self._parents
        chain = [head]
        parents = parents_of[head]
        while parents:
            chain.append(parents[0])
            parents = parents_of[parents[0]]
        chain.reverse()
        return chain

    def log_order(self, head: str) -> list[str]:
        """``head`` and all its ancestors, newest first, every child before its parents.

        Sorted by generation (highest first), then by id, which is deterministic and
        topological because a child's generation always exceeds its parents'.
        """
        self._require(head)
        return sorted([head, *nx.ancestors(self._digraph, head)], key=self._newest_first)

    # -- internals -----------------------------------------------------------------------------

    def _require(self, event_id: str) -> None:
        if event_id not in self._generation:
            raise EventNotFoundError(event_id, "not in the event graph")

    def _newest_first(self, event_id: str) -> tuple[int, str]:
        return (-self._generation[event_id], event_id)

    def _oldest_first(self, event_id: str) -> tuple[int, str]:
        return (self._generation[event_id], event_id)

    def _paint_down_to_common(self, a: str, b: str) -> list[str]:
        """git's paint_down_to_common, ordered by generation instead of commit date.

        Nodes reachable from ``a`` are painted FROM_A, from ``b`` FROM_B. A node painted both
        is a common ancestor: it becomes a candidate (unless already STALE) and paints its own
        ancestors STALE, since they cannot be *best* common ancestors. The walk stops when every
        queued node is STALE. Because nodes leave the queue in decreasing generation order, a
        node's paint is final when it is popped, so each node is queued and popped once.
        """
        parents_of = self._parents
        generation = self._generation
        flags = {a: _FROM_A, b: _FROM_B}
        queue = [(-generation[a], a), (-generation[b], b)]
        heapq.heapify(queue)
        # Queued nodes not yet painted STALE: the walk is over when there are none.
        live = 2
        candidates: list[str] = []
        while live:
            _, node = heapq.heappop(queue)
            paint = flags[node]
            if not paint & _STALE:
                live -= 1
                if paint & _BOTH == _BOTH:
                    candidates.append(node)
                    paint |= _STALE
                    flags[node] = paint
            for parent in parents_of[node]:
                old = flags.get(parent)
                if old is None:
                    flags[parent] = paint
                    heapq.heappush(queue, (-generation[parent], parent))
                    if not paint & _STALE:
                        live += 1
                elif old | paint != old:
                    if paint & _STALE and not old & _STALE:
                        live -= 1
                    flags[parent] = old | paint
        return candidates

    def _remove_redundant(self, candidates: list[str]) -> list[str]:
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
                other != candidate and self.is_ancestor(candidate, other) for other in candidates
            )
        ]
