"""Reductions and scans: sum, mean, prod, amax/amin, max/min (values and indices),
argmax/argmin, any, var/var_mean, vector norms, logsumexp, cumsum/cumprod.

The input is cast to the result dtype first: that applies a ``dtype=`` argument and
torch's promotion of integer sums and products to int64."""
from __future__ import annotations

import math

from ...compiler.graph import Value
from ...compiler.ops.common import normalize_axis
from .lowering import Lowering, arg, converter, op_name


def _axes(dims, rank: int) -> tuple:
    """torch's ``dim`` (an int, a list, or None / [] for all) as sorted tc axes."""
    if dims is None or (isinstance(dims, (list, tuple)) and not dims):
        return tuple(range(rank))
    dims = [dims] if isinstance(dims, int) else dims
    return tuple(sorted({normalize_axis(d, rank) for d in dims}))


def _reduce(cv: Lowering, node, op: str, x: Value, dims, keepdim) -> Value:
    """The tc reduction ``op`` of ``x`` over torch's ``dims`` (a 0-d ``x`` is returned)."""
    axes = _axes(dims, len(x.type.shape))
    if not axes:
        return x
    return cv.emit(op, [x], {"axes": axes, "keepdims": int(bool(keepdim))}, node)


#: ATen reduction -> (tc op, whether it takes dim and keepdim)
_REDUCE = {"aten.sum.dim_IntList": ("ReduceSum", True),
           "aten.mean.dim": ("ReduceMean", True), "aten.mean.default": ("ReduceMean", False),
           "aten.prod.dim_int": ("ReduceProd", True), "aten.prod.default": ("ReduceProd", False),
           "aten.amax.default": ("ReduceMax", True), "aten.amin.default": ("ReduceMin", True),
           "aten.max.default": ("ReduceMax", False), "aten.min.default": ("ReduceMin", False),
           "aten.logsumexp.default": ("ReduceLogSumExp", True),
           # any: the max of the input cast to bool
           "aten.any.dim": ("ReduceMax", True), "aten.any.dims": ("ReduceMax", True),
           "aten.any.default": ("ReduceMax", False)}


@converter(*_REDUCE)
def _reduction(cv: Lowering, node):
    x = cv.operands(node, *node.args[:1])[0]
    op, with_dims = _REDUCE[op_name(node.target)]
    if not with_dims:
        return _reduce(cv, node, op, x, None, False)
    return _reduce(cv, node, op, x, arg(node, 1, "dim"), arg(node, 2, "keepdim", False))


@converter("aten.max.dim", "aten.min.dim")
def _max_dim(cv: Lowering, node):
    """(values, int64 indices of the first extreme) along one dim."""
    x = cv.value(node.args[0])
    dim = normalize_axis(node.args[1], len(x.type.shape))
    keep = int(bool(arg(node, 2, "keepdim", False)))
    big = op_name(node.target) == "aten.max.dim"
    values = cv.emit("ReduceMax" if big else "ReduceMin", [x],
                     {"axes": (dim,), "keepdims": keep}, node)
    return values, _arg_extreme(cv, node, x, dim, keep, big)


def _arg_extreme(cv: Lowering, node, x: Value, dim: int, keep: int, big: bool) -> Value:
    return cv.emit("ArgMax" if big else "ArgMin", [x],
                   {"axis": dim, "keepdims": keep, "select_last_index": 0}, node)


@converter("aten.argmax.default", "aten.argmin.default")
def _argmax(cv: Lowering, node):
    """Index along ``dim``, or into the flattened input when ``dim`` is None."""
    x = cv.value(node.args[0])
    dim, keep = arg(node, 1, "dim"), int(bool(arg(node, 2, "keepdim", False)))
    big = op_name(node.target) == "aten.argmax.default"
    if dim is not None:
        return _arg_extreme(cv, node, x, normalize_axis(dim, len(x.type.shape)), keep, big)
    flat = cv.emit("Reshape", [x], {"shape": (math.prod(x.type.shape),)}, node)
    index = _arg_extreme(cv, node, flat, 0, 0, big)
    shape = cv.out_shape(node)
    return cv.emit("Reshape", [index], {"shape": shape}, node) if shape else index


@converter("aten.var.correction", "aten.var_mean.correction")
def _var(cv: Lowering, node):
    """sum((x - mean)^2) / (N - correction); var_mean also returns the mean."""
    with_mean = op_name(node.target) == "aten.var_mean.correction"
    x = cv.cast(cv.value(node.args[0]), cv.out_dtype(node, 0 if with_mean else None), node)
    axes = _axes(arg(node, 1, "dim"), len(x.type.shape))
    keep = int(bool(node.kwargs.get("keepdim", False)))
    correction = node.kwargs.get("correction")
    correction = 1 if correction is None else correction
    count = math.prod(x.type.shape[a] for a in axes)
    mean = cv.emit("ReduceMean", [x], {"axes": axes, "keepdims": 1}, node)
    centered = cv.emit("Sub", [x, mean], None, node)
    squares = cv.emit("ReduceSumSquare", [centered], {"axes": axes, "keepdims": keep}, node)
    dtype = x.type.dtype
    var = cv.emit("Div", [squares, cv.scalar(max(count - correction, 0), dtype)], None, node)
    if not with_mean:
        return var
    if not keep:
        mean = cv.emit("Reshape", [mean], {"shape": tuple(var.type.shape)}, node)
    return var, mean


@converter("aten.linalg_vector_norm.default")
def _vector_norm(cv: Lowering, node):
    """(sum |x|^ord)^(1 / ord): ReduceL1 / ReduceL2 for 1 and 2, max / min |x| for +-inf,
    the count of nonzeros for 0."""
    x = cv.operands(node, *node.args[:1])[0]
    order = float(arg(node, 1, "ord", 2))
    dims, keep = arg(node, 2, "dim"), arg(node, 3, "keepdim", False)
    if order in (1.0, 2.0):
        return _reduce(cv, node, f"ReduceL{int(order)}", x, dims, keep)
    dtype = x.type.dtype
    if order == 0.0:
        nonzero = cv.cast(cv.cast(x, "bool", node), dtype, node)
        return _reduce(cv, node, "ReduceSum", nonzero, dims, keep)
    size = cv.emit("Abs", [x], None, node)
    if math.isinf(order):
        return _reduce(cv, node, "ReduceMax" if order > 0 else "ReduceMin", size, dims, keep)
    powers = cv.emit("Pow", [size, cv.scalar(order, dtype)], None, node)
    total = _reduce(cv, node, "ReduceSum", powers, dims, keep)
    return cv.emit("Pow", [total, cv.scalar(1 / order, dtype)], None, node)


@converter("aten.cumsum.default", "aten.cumprod.default")
def _scan(cv: Lowering, node):
    x = cv.operands(node, *node.args[:1])[0]
    op = "CumSum" if op_name(node.target) == "aten.cumsum.default" else "CumProd"
    if not x.type.shape:
        return x
    return cv.emit(op, [x], {"axis": normalize_axis(node.args[1], len(x.type.shape))}, node)
