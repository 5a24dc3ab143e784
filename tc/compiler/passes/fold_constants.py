"""Constant folding: evaluate every node whose inputs are all constants."""
from __future__ import annotations

import numpy as np

from ..graph.ir import Graph
from ..ops.registry import apply_reference


def fold_constants(graph: Graph, max_bytes: int | None = None) -> Graph:
    """Replace each node whose inputs are all constants (nodes without inputs included)
    by constants holding its outputs, computed with the op's numpy reference.

    Folding cascades in one pass (nodes are in topological order). ``max_bytes``, when
    given, leaves a node alone if its outputs would exceed that many bytes. Output
    values keep their names and types, so readers need no rewiring.
    """
    constants = dict(graph.constants)
    nodes = []
    for node in graph.nodes:
        foldable = all(v.name in constants for v in node.inputs) and (
            max_bytes is None or sum(o.type.nbytes for o in node.outputs) <= max_bytes)
        if not foldable:
            nodes.append(node)
            continue
        results = apply_reference(node.op, [constants[v.name] for v in node.inputs],
                                  node.attr_dict)
        for value, array in zip(node.outputs, results):
            constants[value.name] = np.asarray(array, dtype=value.type.dtype, order="C")
    return Graph(graph.inputs, graph.outputs, nodes, constants, graph.name)
