"""Structural checks on a graph: SSA, topological order, types of constants."""
from __future__ import annotations

from .ir import Graph


class GraphError(ValueError):
    """A graph breaks an invariant of the graph IR."""


def verify(graph: Graph) -> None:
    """Raise ``GraphError`` listing every broken invariant; return None when sound.

    Checks: value names unique (defined once: input, constant or node output);
    each node input defined before use; outputs defined; constants match their
    value's type; node ops registered; node output types equal to the op's
    shape/type inference.
    """
    from ..ops.registry import lookup_op, OpNotRegistered

    problems: list[str] = []
    defined: dict[str, object] = {}

    def define(v, where):
        if v.name in defined:
            problems.append(f"value %{v.name} defined twice ({where})")
        defined[v.name] = v

    for v in graph.inputs:
        define(v, "input")
    const_values = {v.name: v for n in graph.nodes for v in n.inputs if v.name in graph.constants}
    const_values.update({v.name: v for v in graph.outputs if v.name in graph.constants})
    for name, v in const_values.items():
        arr = graph.constants[name]
        if tuple(arr.shape) != v.type.shape or str(arr.dtype) != v.type.dtype:
            problems.append(
                f"constant %{name} holds {arr.dtype}{list(arr.shape)} but its value is typed {v.type}")
        define(v, "constant")
    for node in graph.nodes:
        for v in node.inputs:
            if v.name not in defined:
                problems.append(f"node {node.name or node.op} uses %{v.name} before it is defined")
            elif defined[v.name] != v:
                problems.append(f"node {node.name or node.op} uses %{v.name} with type {v.type}, "
                                f"defined as {defined[v.name].type}")
        for v in node.outputs:
            if v.name in defined:
                problems.append(f"value %{v.name} defined twice (node {node.name or node.op})")
            defined[v.name] = v
        try:
            opdef = lookup_op(node.op)
        except OpNotRegistered:
            problems.append(f"node {node.name or node.op}: op {node.op!r} is not registered")
            continue
        try:
            inferred = opdef.infer([v.type for v in node.inputs], node.attr_dict)
        except Exception as e:  # inference failures are reported, not raised mid-check
            problems.append(f"node {node.name or node.op}: type inference failed: {e}")
            continue
        if list(inferred) != [v.type for v in node.outputs]:
            problems.append(f"node {node.name or node.op}: outputs typed "
                            f"{[str(v.type) for v in node.outputs]}, inference gives "
                            f"{[str(t) for t in inferred]}")
    for v in graph.outputs:
        if v.name not in defined:
            problems.append(f"graph output %{v.name} is never defined")
    if problems:
        raise GraphError("graph failed verification:\n  " + "\n  ".join(problems))
