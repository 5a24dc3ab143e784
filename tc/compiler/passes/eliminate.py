"""Dead-code and common-subexpression elimination."""
from __future__ import annotations

import hashlib

import numpy as np

from ..graph.ir import Graph, Node, Value


def eliminate(graph: Graph) -> Graph:
    """CSE, then DCE.

    CSE merges constants with equal dtype, shape and contents, and nodes with the same
    op, inputs and attributes (keeping the first); later readers are rewired to the
    survivor. DCE drops nodes none of whose outputs is read by a live node or a graph
    output, and constants nobody reads.
    """
    return dead_code_elimination(common_subexpressions(graph))


def common_subexpressions(graph: Graph) -> Graph:
    """Merge duplicate constants and duplicate nodes (see ``eliminate``)."""
    rename: dict[str, Value] = {}      # node output -> surviving twin's output
    const_rename: dict[str, str] = {}  # constant -> surviving twin constant
    constants: dict[str, np.ndarray] = {}
    by_content: dict[tuple, list[str]] = {}
    for name, array in graph.constants.items():
        key = (str(array.dtype), array.shape, hashlib.blake2b(
            np.ascontiguousarray(array).view(np.uint8).reshape(-1), digest_size=16).digest())
        twin = next((n for n in by_content.get(key, ()) if np.array_equal(constants[n], array)),
                    None)
        if twin is None:
            by_content.setdefault(key, []).append(name)
            constants[name] = array
        else:
            const_rename[name] = twin

    def resolve(v: Value) -> Value:
        if v.name in const_rename:  # same dtype and shape, so the same type
            return Value(const_rename[v.name], v.type)
        return rename.get(v.name, v)

    seen: dict[tuple, Node] = {}
    nodes = []
    for node in graph.nodes:
        inputs = tuple(resolve(v) for v in node.inputs)
        key = (node.op, tuple(v.name for v in inputs), node.attrs)
        twin = seen.get(key)
        if twin is not None and [o.type for o in twin.outputs] == [o.type for o in node.outputs]:
            for old, new in zip(node.outputs, twin.outputs):
                rename[old.name] = new
            continue
        new = Node(node.op, inputs, node.outputs, node.attrs, node.name)
        seen[key] = new
        nodes.append(new)
    outputs = tuple(resolve(v) for v in graph.outputs)
    return Graph(graph.inputs, outputs, nodes, constants, graph.name)


def dead_code_elimination(graph: Graph) -> Graph:
    """Drop nodes whose outputs nobody reads, and unread constants (see ``eliminate``)."""
    live = {v.name for v in graph.outputs}
    kept = []
    for node in reversed(graph.nodes):
        if any(o.name in live for o in node.outputs):
            kept.append(node)
            live.update(v.name for v in node.inputs)
    constants = {k: a for k, a in graph.constants.items() if k in live}
    return Graph(graph.inputs, graph.outputs, tuple(reversed(kept)), constants, graph.name)
