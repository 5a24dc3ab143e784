"""Remove nodes that return their input unchanged."""
from __future__ import annotations

import numpy as np

from ..graph.ir import Graph, Node, Value
from .rewrite import Edit

#: ops whose output is their input's data in a (possibly) different shape
RESHAPES = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze"})
_VARIADIC = frozenset({"Concat", "Sum", "Max", "Min", "Mean"})
# binary op -> (operand positions that may hold the neutral constant, the neutral value)
_NEUTRAL = {"Add": ((0, 1), 0), "Sub": ((1,), 0), "Mul": ((0, 1), 1), "Div": ((1,), 1)}


def remove_noops(graph: Graph) -> Graph:
    """Drop no-op nodes, rewiring their readers to the node's input.

    No-ops: Identity, Dropout (inference); Reshape/Flatten/Squeeze/Unsqueeze to the same
    shape; Transpose by the identity permutation; Cast to the input's dtype; Pad by zeros;
    Clip with no bounds; Concat/Sum/Max/Min/Mean of one input; Add/Sub of a constant zero
    and Mul/Div by a constant one where broadcasting leaves the other operand's type as is.
    A no-op producing a graph output stays when its input cannot take the output's name
    (a graph input, a constant, another graph output).
    """
    edit = Edit(graph)
    for node in graph.nodes:
        source = passthrough(node, edit)
        if source is None or not edit.forward(node.outputs[0], source):
            edit.keep(node)
    return edit.finish()


def passthrough(node: Node, edit: Edit) -> Value | None:
    """The input a no-op ``node`` returns unchanged, or None if it is not a no-op."""
    if len(node.outputs) != 1 or not node.inputs:
        return None
    x, out, op = node.inputs[0], node.outputs[0], node.op
    if op in _NEUTRAL:
        return _neutral_operand(node, edit)
    if x.type != out.type:
        return None
    if op in ("Identity", "Dropout") or op in RESHAPES:
        return x
    if op in _VARIADIC:
        return x if len(node.inputs) == 1 else None
    trivial = {
        "Transpose": lambda: tuple(node.attr("perm")) == tuple(range(len(x.type.shape))),
        "Cast": lambda: node.attr("to") == x.type.dtype,
        "Pad": lambda: not any(node.attr("pads", ())),
        "Clip": lambda: node.attr("min") is None and node.attr("max") is None,
    }.get(op)
    return x if trivial is not None and trivial() else None


def _neutral_operand(node: Node, edit: Edit) -> Value | None:
    positions, neutral = _NEUTRAL[node.op]
    for i in positions:
        c = edit.const(node.inputs[i])
        other = node.inputs[1 - i]
        if c is not None and other.type == node.outputs[0].type and np.all(c == neutral):
            return other
    return None
