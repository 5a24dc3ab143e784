"""Partition a graph into kernel groups.

Each group becomes one kernel (one TE program, one PrimFunc).  For now every node is
its own group; pattern-kind fusion (TVM style) replaces ``partition`` later without
changing its contract.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..graph.ir import Graph, Node, Value


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


def partition(graph: Graph) -> list[Group]:
    """One group per node, in graph order."""
    consumers = graph.consumers()
    return [make_group(graph, [n], consumers) for n in graph.nodes]
