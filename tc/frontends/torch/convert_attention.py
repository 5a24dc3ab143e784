"""scaled_dot_product_attention from tc's matmul and softmax kernels."""
from __future__ import annotations

import numpy as np

from .lowering import Lowering, UnsupportedTorchOpsError, arg, converter


@converter("aten.scaled_dot_product_attention.default")
def _sdpa(cv: Lowering, node):
    """softmax(q @ k^T * scale + mask) @ v, from tc's matmul and softmax kernels."""
    q, k, v = (cv.value(a) for a in node.args[:3])
    mask = cv.value(arg(node, 3, "attn_mask"))
    if float(arg(node, 4, "dropout_p", 0.0)) != 0.0:
        raise UnsupportedTorchOpsError(f"{node.name}: scaled_dot_product_attention with "
                                       "dropout; export the model in eval mode")
    if node.kwargs.get("enable_gqa", False):
        raise UnsupportedTorchOpsError(f"{node.name}: grouped-query attention is not "
                                       "supported yet")
    rank, dtype = len(q.type.shape), q.type.dtype
    scale = node.kwargs.get("scale") or 1.0 / float(np.sqrt(q.type.shape[-1]))
    perm = tuple(range(rank - 2)) + (rank - 1, rank - 2)
    kt = cv.emit("Transpose", [k], {"perm": perm}, node)
    scores = cv.emit("MatMul", [q, kt], None, node)
    scores = cv.emit("Mul", [scores, cv.scalar(scale, dtype)], None, node)
    length, source = q.type.shape[-2], k.type.shape[-2]
    if arg(node, 5, "is_causal", False):
        causal = np.tril(np.ones((length, source), bool))
        mask = cv.b.constant(causal, "causal_mask") if mask is None else mask
    if mask is not None:
        if mask.type.dtype == "bool":
            low = cv.b.constant(np.asarray(-np.inf, dtype), "masked")
            scores = cv.emit("Where", [mask, scores, low], None, node)
        else:
            scores = cv.emit("Add", [scores, mask], None, node)
    weights = cv.emit("Softmax", [scores], {"axis": rank - 1}, node)
    return cv.emit("MatMul", [weights, v], None, node)
