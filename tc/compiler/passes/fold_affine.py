"""Fold per-channel Mul/Add/Sub by constants into the Conv or Gemm before them."""
from __future__ import annotations

import numpy as np

from ..graph.ir import Graph, Node, Value
from .affine import affine_step, channel_vector
from .rewrite import Edit


def fold_affine(graph: Graph) -> Graph:
    """Fold ``Conv``/``Gemm`` followed by a chain of Mul/Add/Sub by per-output-channel
    constants (shape (C,1,1), (1,C,1,1), (C,) for Gemm, or a scalar) into one Conv/Gemm
    with rescaled weights and bias.

    Only where each intermediate result has that chain link as its sole reader and the
    Conv's weights and bias (Gemm's B and C) are constants. For ``y * s + t`` per channel:
    Conv gets ``W * s`` (per output channel) and bias ``b * s + t`` (a bias input is added
    when ``t`` is non-zero); Gemm gets ``B' * s`` per column (``transB`` respected) and
    ``C' = beta * C * s + t`` with beta 1.0 (alpha kept). Arithmetic in float64, stored in
    the weights' dtype. The folded node produces the chain's last value.
    """
    edit = Edit(graph)
    for node in graph.nodes:
        if edit.absorbed(node):
            continue
        folded = _fold(node, edit)
        if folded is None:
            edit.keep(node)
        else:
            edit.emit(folded)
    return edit.finish()


def _fold(node: Node, edit: Edit) -> Node | None:
    if node.op not in ("Conv", "Gemm") or any(edit.const(v) is None for v in node.inputs[1:]):
        return None
    shape = node.outputs[0].type.shape

    def per_channel(reader: Node, value: Value):
        step = affine_step(reader, edit)
        if step is None or step[0] != value:
            return None
        s, t = channel_vector(step[1], shape), channel_vector(step[2], shape)
        return None if s is None or t is None else (s, t)

    chain = edit.chain(node, per_channel)
    if not chain:
        return None
    scale, shift = np.ones(shape[1]), np.zeros(shape[1])
    for _, (s, t) in chain:
        scale, shift = scale * s, shift * s + t
    edit.absorb(n for n, _ in chain)
    out = chain[-1][0].outputs[0]
    fold = _fold_conv if node.op == "Conv" else _fold_gemm
    inputs, attrs = fold(node, edit, scale, shift)
    return Node(node.op, inputs, (out,), attrs, node.name)


def _fold_conv(node: Node, edit: Edit, scale: np.ndarray, shift: np.ndarray):
    x, w = node.inputs[:2]
    weights = edit.const(w)
    dtype = weights.dtype
    new_w = weights.astype(np.float64) * scale.reshape((-1,) + (1,) * (weights.ndim - 1))
    inputs = (x, edit.constant(new_w.astype(dtype), f"{w.name}_folded"))
    if len(node.inputs) == 3 or np.any(shift):
        bias = (edit.const(node.inputs[2]).astype(np.float64) if len(node.inputs) == 3
                else np.zeros_like(shift))
        inputs += (edit.constant((bias * scale + shift).astype(dtype),
                                 f"{node.outputs[0].name}_bias"),)
    return inputs, node.attrs


def _fold_gemm(node: Node, edit: Edit, scale: np.ndarray, shift: np.ndarray):
    a, b = node.inputs[:2]
    weights = edit.const(b)
    dtype = weights.dtype
    column = scale[:, None] if node.attr("transB", 0) else scale[None, :]
    inputs = (a, edit.constant((weights.astype(np.float64) * column).astype(dtype),
                               f"{b.name}_folded"))
    attrs = node.attr_dict
    if len(node.inputs) == 3 or np.any(shift):
        c = (edit.const(node.inputs[2]).astype(np.float64) * float(attrs.get("beta", 1.0))
             if len(node.inputs) == 3 else np.zeros(()))
        inputs += (edit.constant((c * scale + shift).astype(dtype),
                                 f"{node.outputs[0].name}_bias"),)
        attrs["beta"] = 1.0
    return inputs, attrs
