"""Reductions over dims: mean, sum, amax."""
from __future__ import annotations

from ...compiler.ops.common import normalize_axis
from .lowering import Lowering, arg, converter, op_name


@converter("aten.mean.dim", "aten.sum.dim_IntList", "aten.amax.default")
def _reduce(cv: Lowering, node):
    x = cv.value(node.args[0])
    rank = len(x.type.shape)
    dims = arg(node, 1, "dim") or list(range(rank))
    axes = tuple(sorted({normalize_axis(d, rank) for d in dims}))
    op = {"aten.mean.dim": "ReduceMean", "aten.sum.dim_IntList": "ReduceSum",
          "aten.amax.default": "ReduceMax"}[op_name(node.target)]
    return cv.emit(op, [x], {"axes": axes, "keepdims": int(bool(arg(node, 2, "keepdim", False)))},
                   node)
