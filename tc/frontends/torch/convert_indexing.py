"""Indexing with tensors: embedding, gather, index_select and advanced indexing
(``x[idx0, idx1]``, ``aten.index.Tensor``), from tc's Gather and GatherElements."""
from __future__ import annotations

import math

import numpy as np

from ...compiler.graph import Value
from ...compiler.ops.common import normalize_axis
from .lowering import Lowering, UnsupportedTorchOpsError, converter


@converter("aten.embedding.default")
def _embedding(cv: Lowering, node):
    """Rows of the table (padding_idx only matters for training)."""
    table, indices = cv.value(node.args[0]), cv.value(node.args[1])
    return cv.emit("Gather", [table, indices], {"axis": 0}, node)


@converter("aten.index_select.default")
def _index_select(cv: Lowering, node):
    x, index = cv.value(node.args[0]), cv.value(node.args[2])
    return cv.emit("Gather", [x, index], {"axis": normalize_axis(node.args[1], len(x.type.shape))},
                   node)


@converter("aten.gather.default")
def _gather(cv: Lowering, node):
    x, index = cv.value(node.args[0]), cv.value(node.args[2])
    axis = normalize_axis(node.args[1], len(x.type.shape))
    return cv.emit("GatherElements", [x, index], {"axis": axis}, node)


@converter("aten.index.Tensor")
def _index(cv: Lowering, node):
    """``x[i0, i1, ...]`` with integer index tensors (None for a whole dim).

    The indexed dims are moved next to each other (to the front when they are not
    adjacent, as torch orders the result), merged into one, and read with one Gather at
    the merged index ``sum(i_d * stride_d)``, each ``i_d`` broadcast and wrapped if
    negative."""
    x = cv.value(node.args[0])
    shape = x.type.shape
    indexed = [(d, cv.value(i)) for d, i in enumerate(node.args[1]) if i is not None]
    if any(i.type.dtype == "bool" for _, i in indexed):
        raise UnsupportedTorchOpsError(
            f"{node.name}: indexing with a boolean mask gives a data-dependent shape, which "
            "tc cannot compile; use torch.where(mask, x, fill) instead")
    dims = [d for d, _ in indexed]
    adjacent = dims == list(range(dims[0], dims[0] + len(dims)))
    first = dims[0] if adjacent else 0
    if not adjacent:
        rest = [d for d in range(len(shape)) if d not in dims]
        x = cv.emit("Transpose", [x], {"perm": tuple(dims + rest)}, node)
        shape = x.type.shape
        indexed = [(k, i) for k, (_, i) in enumerate(indexed)]
    sizes = [shape[first + k] for k in range(len(indexed))]
    merged_shape = shape[:first] + (math.prod(sizes),) + shape[first + len(sizes):]
    if merged_shape != shape:
        x = cv.emit("Reshape", [x], {"shape": merged_shape}, node)
    flat = None
    for k, (_, index) in enumerate(indexed):
        index = _wrapped(cv, node, index, sizes[k])
        stride = math.prod(sizes[k + 1:])
        if stride != 1:
            index = cv.emit("Mul", [index, _int64(cv, stride)], None, node)
        flat = index if flat is None else cv.emit("Add", [flat, index], None, node)
    return cv.emit("Gather", [x, flat], {"axis": first}, node)


def _int64(cv: Lowering, n: int) -> Value:
    return cv.b.constant(np.asarray(n, np.int64), "index_stride")


def _wrapped(cv: Lowering, node, index: Value, size: int) -> Value:
    """``index`` as int64 with negative entries counted from the end of the dim."""
    if index.type.dtype != "int64":
        index = cv.emit("Cast", [index], {"to": "int64"}, node)
    negative = cv.emit("Less", [index, _int64(cv, 0)], None, node)
    shifted = cv.emit("Add", [index, _int64(cv, size)], None, node)
    return cv.emit("Where", [negative, shifted, index], None, node)
