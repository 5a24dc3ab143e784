"""Inference BatchNormalization as a per-channel affine pair: Mul then Add by constants."""
from __future__ import annotations

import numpy as np

from ..graph.ir import Graph, Node, Value
from .affine import channel_shape
from .rewrite import Edit, is_float


def batchnorm_to_affine(graph: Graph) -> Graph:
    """Rewrite each BatchNormalization whose parameters are constants as
    ``Mul(x, s)`` then ``Add(., t)`` with ``s = scale / sqrt(var + eps)`` and
    ``t = B - mean * s`` (computed in float64), both of shape (C, 1, ..., 1).

    The Add produces the BatchNormalization's output value. A Conv or Gemm before it then
    absorbs the pair (``fold_affine``); elsewhere it merges with neighbouring affine ops
    (``merge_affine``).
    """
    edit = Edit(graph)
    for node in graph.nodes:
        params = [edit.const(v) for v in node.inputs[1:]]
        if node.op != "BatchNormalization" or any(p is None for p in params) \
                or not is_float(node.inputs[0]):
            edit.keep(node)
            continue
        x, out = node.inputs[0], node.outputs[0]
        scale, beta, mean, var = (p.astype(np.float64) for p in params)
        s = scale / np.sqrt(var + float(node.attr("epsilon", 1e-5)))
        t = beta - mean * s
        cshape, dtype = channel_shape(x.type.shape), x.type.dtype
        s_value = edit.constant(s.reshape(cshape).astype(dtype), f"{out.name}_scale")
        t_value = edit.constant(t.reshape(cshape).astype(dtype), f"{out.name}_shift")
        scaled = Value(edit.fresh(f"{out.name}_scaled"), x.type)
        edit.emit(Node("Mul", (x, s_value), (scaled,), (), node.name))
        edit.emit(Node("Add", (scaled, t_value), (out,), (), node.name))
    return edit.finish()
