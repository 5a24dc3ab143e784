"""The affine view of a node: ``y = x * scale + shift`` with constant scale and shift.

Shared by the rewrites that turn BatchNormalization into an affine pair, fold affine ops
into a Conv/Gemm, and merge affine chains.
"""
from __future__ import annotations

import numpy as np

from ..graph.ir import Node, Value
from .rewrite import Edit, is_float


def affine_step(node: Node, edit: Edit) -> tuple[Value, np.ndarray, np.ndarray] | None:
    """``(x, scale, shift)`` (float64 arrays broadcasting into x's shape) when ``node`` is a
    Mul, Add or Sub of a float tensor ``x`` by a constant that leaves x's type unchanged."""
    if node.op not in ("Mul", "Add", "Sub") or len(node.inputs) != 2:
        return None
    a, b = node.inputs
    ca, cb = edit.const(a), edit.const(b)
    if cb is not None and ca is None:
        x, c = a, cb
    elif ca is not None and cb is None and node.op != "Sub":
        x, c = b, ca
    else:
        return None
    if x.type != node.outputs[0].type or not is_float(x):
        return None
    c = c.astype(np.float64)
    one, zero = np.ones((), np.float64), np.zeros((), np.float64)
    return {"Mul": (x, c, zero), "Add": (x, one, c), "Sub": (x, one, -c)}[node.op]


def channel_vector(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """``array`` as one value per channel (axis 1) of a tensor of ``shape``, or None when it
    varies along another axis or would broadcast the tensor to a bigger shape."""
    if len(shape) < 2 or array.ndim > len(shape):
        return None
    padded = (1,) * (len(shape) - array.ndim) + array.shape
    if any(d != 1 for i, d in enumerate(padded) if i != 1) or padded[1] not in (1, shape[1]):
        return None
    return np.broadcast_to(array.reshape(-1), (shape[1],))


def channel_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of a per-channel constant for a tensor of ``shape``: (C, 1, ..., 1)."""
    return (shape[1],) + (1,) * (len(shape) - 2)
