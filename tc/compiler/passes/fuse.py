"""Partition a graph into kernel groups by fusion pattern, as TVM's FuseOps does.

Each group becomes one kernel (one TE program, one PrimFunc).  The dataflow graph has an
edge from producer to consumer labelled with how the consumer reads it: the consumer's
``OpPattern``, except that a BROADCAST op reads a same-shape input ELEMWISE.  A virtual
exit follows every node whose output leaves the graph, so such a node never fuses
forward.  Every node tries to join the group of its immediate post-dominator, taking
along every node on the paths between them, when:

- OUT_FUSABLE (conv, matmul; first phase only): every edge on the paths is ELEMWISE and
  every group on them, the post-dominator's included, is at most BROADCAST -- the op
  takes its epilogue (bias, batch norm, activation, residual add).
- ELEMWISE/BROADCAST (both phases): the edges are at most INJECTIVE or lead into a
  REDUCTION, the groups in between are at most INJECTIVE, and the post-dominator's group
  is not OPAQUE: chains join, and an injective op or a reduction takes its producers.
- INJECTIVE (second phase, once complex ops hold their epilogues): every group on the
  paths is at most INJECTIVE; the post-dominator's may also be a REDUCTION.
- A reduction never takes a multi-input injective op (Concat): a window reads each
  input element several times, and each read of an inlined concat is a select chain
  (measured slower than writing the concat out).
- REDUCTION and OPAQUE never join a consumer: a reduction closes its group.

A merge is refused when the group would exceed ``max_group_size`` nodes, hold two
OUT_FUSABLE nodes, or stop being convex (a path leaving it and coming back), so the
groups always have a valid execution order.
"""
from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from ..graph.ir import Graph, Node, Value
from ..ops.registry import OpPattern, lookup_op
from .dominators import immediate_post_dominators

#: the most nodes one group may hold (TVM's max_fuse_depth)
MAX_GROUP_SIZE = 256


@dataclass(frozen=True)
class Group:
    """Nodes computed by one kernel; ``inputs`` are read from outside (graph inputs,
    constants or other groups' outputs), ``outputs`` are needed outside the group."""

    nodes: tuple[Node, ...]
    inputs: tuple[Value, ...]
    outputs: tuple[Value, ...]

    @property
    def name(self) -> str:
        return "_".join(n.op.lower() for n in self.nodes)


def make_group(graph: Graph, nodes: list[Node], consumers: dict[str, list[Node]]) -> Group:
    """The group of ``nodes`` with its external inputs and needed outputs derived."""
    inside = {o.name for n in nodes for o in n.outputs}
    node_ids = {id(n) for n in nodes}
    graph_outputs = {v.name for v in graph.outputs}
    inputs: dict[str, Value] = {}
    for n in nodes:
        for v in n.inputs:
            if v.name not in inside:
                inputs.setdefault(v.name, v)
    outputs = [o for n in nodes for o in n.outputs
               if o.name in graph_outputs
               or any(id(c) not in node_ids for c in consumers.get(o.name, ()))]
    return Group(tuple(nodes), tuple(inputs.values()), tuple(outputs))


def partition(graph: Graph, max_group_size: int = MAX_GROUP_SIZE) -> list[Group]:
    """Fuse ``graph``'s nodes into groups by the rules of the module doc.

    Returns the groups in a valid execution order (ties broken by graph order), each
    group's nodes in graph order.
    """
    patterns = [lookup_op(n.op).pattern for n in graph.nodes]
    dfg = dataflow_graph(graph, patterns)
    exit_ = len(graph.nodes)
    ipdom = immediate_post_dominators(dfg, exit_)
    groups = _Groups(patterns, [p == OpPattern.INJECTIVE and len(n.inputs) > 1
                                for p, n in zip(patterns, graph.nodes)])
    for phase in (0, 1):
        for i in range(len(graph.nodes)):
            candidate = _fusion_candidate(i, ipdom.get(i, exit_), exit_, phase, dfg, groups)
            if candidate is not None:
                groups.merge(candidate, dfg, max_group_size)
    consumers = graph.consumers()
    return [make_group(graph, [graph.nodes[i] for i in members], consumers)
            for members in groups.in_execution_order(dfg, exit_)]


def dataflow_graph(graph: Graph, patterns: list[OpPattern]) -> nx.DiGraph:
    """Nodes ``0..n-1`` (graph order) and a virtual exit ``n``; an edge producer ->
    consumer per dataflow dependency with attribute ``pattern`` (how the consumer reads
    it), and an OPAQUE edge to the exit from every node whose output leaves the graph or
    that has no consumer."""
    producer = {o.name: i for i, n in enumerate(graph.nodes) for o in n.outputs}
    exit_ = len(graph.nodes)
    dfg = nx.DiGraph()
    dfg.add_nodes_from(range(exit_ + 1))
    for c, node in enumerate(graph.nodes):
        for v in node.inputs:
            if v.name in producer:
                _add_edge(dfg, producer[v.name], c, _edge_pattern(patterns[c], v, node))
    escaping = {v.name for v in graph.outputs}
    for i, node in enumerate(graph.nodes):
        if dfg.out_degree(i) == 0 or any(o.name in escaping for o in node.outputs):
            _add_edge(dfg, i, exit_, OpPattern.OPAQUE)
    return dfg


def _edge_pattern(consumer: OpPattern, v: Value, node: Node) -> OpPattern:
    if consumer == OpPattern.BROADCAST and v.type.shape == node.outputs[0].type.shape:
        return OpPattern.ELEMWISE
    return consumer


def _add_edge(dfg: nx.DiGraph, a: int, b: int, pattern: OpPattern) -> None:
    old = dfg.edges[a, b]["pattern"] if dfg.has_edge(a, b) else pattern
    dfg.add_edge(a, b, pattern=max(old, pattern))


def _fusion_candidate(i: int, sink: int, exit_: int, phase: int, dfg: nx.DiGraph,
                      groups: "_Groups") -> set[int] | None:
    """The nodes to merge into one group if node ``i`` may join its post-dominator
    ``sink`` in this phase, else None."""
    kind = groups.pattern(i)
    if kind in (OpPattern.REDUCTION, OpPattern.OPAQUE) or sink == exit_ or groups.same(i, sink):
        return None
    if (kind == OpPattern.OUT_FUSABLE and phase != 0) or (kind == OpPattern.INJECTIVE
                                                         and phase != 1):
        return None
    between, edge = _paths_between(dfg, i, sink)
    inner = max((groups.pattern(m) for m in between), default=OpPattern.ELEMWISE)
    last = groups.pattern(sink)
    if kind == OpPattern.OUT_FUSABLE:
        ok = edge == OpPattern.ELEMWISE and max(inner, last) <= OpPattern.BROADCAST
    elif kind <= OpPattern.BROADCAST:
        ok = ((edge <= OpPattern.INJECTIVE or edge == OpPattern.REDUCTION)
              and inner <= OpPattern.INJECTIVE and last != OpPattern.OPAQUE)
    else:
        ok = inner <= OpPattern.INJECTIVE and (last <= OpPattern.INJECTIVE
                                               or last == OpPattern.REDUCTION)
    if ok and last == OpPattern.REDUCTION:
        ok = not any(groups.has_gather(m) for m in (i, *between))
    return {i, sink, *between} if ok else None


def _paths_between(dfg: nx.DiGraph, src: int, sink: int) -> tuple[set[int], OpPattern]:
    """The nodes strictly between ``src`` and its post-dominator ``sink``, and the
    strongest pattern of the edges on those paths."""
    between: set[int] = set()
    edge, stack = OpPattern.ELEMWISE, [src]
    while stack:
        for s, data in dfg.adj[stack.pop()].items():
            edge = max(edge, data["pattern"])
            if s != sink and s not in between:
                between.add(s)
                stack.append(s)
    return between, edge


class _Groups:
    """Union-find over node indices; a group's pattern is the strongest of its nodes'.
    ``gathers`` flags the multi-input injective nodes."""

    def __init__(self, patterns: list[OpPattern], gathers: list[bool]):
        self._parent = list(range(len(patterns)))
        self._members = {i: {i} for i in range(len(patterns))}
        self._pattern = dict(enumerate(patterns))
        self._complex = {i: int(p == OpPattern.OUT_FUSABLE) for i, p in enumerate(patterns)}
        self._gathers = dict(enumerate(map(int, gathers)))

    def find(self, i: int) -> int:
        while self._parent[i] != i:
            self._parent[i] = self._parent[self._parent[i]]
            i = self._parent[i]
        return i

    def same(self, a: int, b: int) -> bool:
        return self.find(a) == self.find(b)

    def pattern(self, i: int) -> OpPattern:
        return self._pattern[self.find(i)]

    def has_gather(self, i: int) -> bool:
        return self._gathers[self.find(i)] > 0

    def merge(self, nodes: set[int], dfg: nx.DiGraph, max_size: int) -> bool:
        """Merge the groups of ``nodes`` into one unless that breaks a group invariant."""
        roots = sorted({self.find(n) for n in nodes})
        merged = set().union(*(self._members[r] for r in roots))
        if (len(merged) > max_size or sum(self._complex[r] for r in roots) > 1
                or not _is_convex(dfg, merged)):
            return False
        keep = roots[0]
        for r in roots[1:]:
            self._parent[r] = keep
            self._pattern[keep] = max(self._pattern[keep], self._pattern.pop(r))
            self._complex[keep] += self._complex.pop(r)
            self._gathers[keep] += self._gathers.pop(r)
            del self._members[r]
        self._members[keep] = merged
        return True

    def in_execution_order(self, dfg: nx.DiGraph, exit_: int) -> list[list[int]]:
        """Each group's sorted members, groups topologically ordered."""
        quotient = nx.DiGraph()
        quotient.add_nodes_from(self._members)
        quotient.add_edges_from((self.find(a), self.find(b)) for a, b in dfg.edges
                                if b != exit_ and not self.same(a, b))
        order = nx.lexicographical_topological_sort(quotient, key=lambda r: min(self._members[r]))
        return [sorted(self._members[r]) for r in order]


def _is_convex(dfg: nx.DiGraph, members: set[int]) -> bool:
    """No path leaves ``members`` and comes back (node indices are topological)."""
    last = max(members)
    stack = [s for m in members for s in dfg.successors(m) if s not in members and s < last]
    seen = set(stack)
    while stack:
        for s in dfg.successors(stack.pop()):
            if s in members:
                return False
            if s < last and s not in seen:
                seen.add(s)
                stack.append(s)
    return True
