"""Merge chains of Mul/Add/Sub by constants into one Mul and one Add."""
from __future__ import annotations

import numpy as np

from ..graph.ir import Graph, Node, Value
from .affine import affine_step
from .rewrite import Edit


def merge_affine(graph: Graph) -> Graph:
    """Rewrite each chain of Mul/Add/Sub of a float tensor ``x`` by constants (each link
    the sole reader of the one before, none changing x's type) as ``Mul(x, S)`` then
    ``Add(., B)``: ``((x*c1 + b1)*c2 + b2)`` becomes ``x*(c1*c2) + (b1*c2 + b2)``,
    computed in float64. A factor of all ones or a shift of all zeros is left out.

    Chains already in that form (a lone op, or Mul then Add/Sub) are left alone. The last
    emitted node produces the chain's last value.
    """
    edit = Edit(graph)
    for node in graph.nodes:
        if edit.absorbed(node):
            continue
        first = affine_step(node, edit)
        if first is None:
            edit.keep(node)
            continue
        chain = [(node, first)] + edit.chain(node, lambda r, v: _link(r, v, edit))
        if len(chain) < 2 or [n.op for n, _ in chain] in (["Mul", "Add"], ["Mul", "Sub"]):
            edit.keep(node)
            continue
        edit.absorb(n for n, _ in chain[1:])
        scale, shift = np.ones(()), np.zeros(())
        for _, (_, s, t) in chain:
            scale, shift = scale * s, shift * s + t
        _emit_affine(edit, first[0], scale, shift, chain[-1][0].outputs[0], node.name)
    return edit.finish()


def _link(reader: Node, value: Value, edit: Edit):
    step = affine_step(reader, edit)
    return step if step is not None and step[0] == value else None


def _emit_affine(edit: Edit, x: Value, scale: np.ndarray, shift: np.ndarray, out: Value,
                 name: str) -> None:
    """Emit ``out = x * scale + shift`` as at most a Mul and an Add (always at least one:
    an identity is left to ``remove_noops``, which knows about graph outputs)."""
    dtype = x.type.dtype
    use_mul, use_add = bool(np.any(scale != 1)), bool(np.any(shift != 0))
    if use_mul or not use_add:
        product = Value(edit.fresh(f"{out.name}_scaled"), x.type) if use_add else out
        factor = edit.constant(scale.astype(dtype), f"{out.name}_scale")
        edit.emit(Node("Mul", (x, factor), (product,), (), name))
        x = product
    if use_add:
        edit.emit(Node("Add", (x, edit.constant(shift.astype(dtype), f"{out.name}_shift")),
                       (out,), (), name))
