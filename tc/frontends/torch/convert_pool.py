"""Pooling: max (with torch's per-plane indices), average (count_include_pad,
divisor_override), adaptive average and max, for 1 to 3 spatial dims."""
from __future__ import annotations

import math
import operator

import numpy as np

from .convert_conv import per_dim, with_batch
from .convert_shape import slice_dim
from .lowering import Lowering, UnsupportedTorchOpsError, arg, converter, op_name


def _pool_rank(node) -> int:
    """The spatial rank an op's name says (max_pool3d: 3)."""
    name = op_name(node.target)
    return next(n for n in (1, 2, 3) if f"{n}d" in name)


def _pool_attrs(n: int, kernel, stride, padding, dilation, ceil_mode) -> dict:
    kernel = per_dim(kernel, n)
    stride = per_dim(stride, n) if stride else kernel  # an empty stride is the kernel's
    return {"kernel_shape": kernel, "strides": stride, "pads": per_dim(padding, n) * 2,
            "dilations": per_dim(dilation, n), "ceil_mode": int(bool(ceil_mode))}


def _uses_output(node, index: int) -> bool:
    """Whether output ``index`` of a multi-output ``node`` is read (a program exported
    without decomposition picks unused outputs too)."""
    return any(u.target is operator.getitem and u.args[1] == index and u.users
               for u in node.users)


@converter("aten.max_pool2d_with_indices.default", "aten.max_pool3d_with_indices.default",
           "aten.max_pool1d.default", "aten.max_pool2d.default", "aten.max_pool3d.default")
def _max_pool(cv: Lowering, node):
    x = cv.value(node.args[0])
    n = _pool_rank(node)
    attrs = _pool_attrs(n, arg(node, 1, "kernel_size"), arg(node, 2, "stride", ()),
                        arg(node, 3, "padding", 0), arg(node, 4, "dilation", 1),
                        arg(node, 5, "ceil_mode", False))
    if "with_indices" not in op_name(node.target):
        return with_batch(cv, node, x, n, lambda x: cv.emit("MaxPool", [x], attrs, node))
    if not _uses_output(node, 1):
        return with_batch(cv, node, x, n,
                           lambda x: (cv.emit("MaxPool", [x], attrs, node), None))

    def pool_with_indices(x):
        y, flat = cv.b.op("MaxPool", [x], dict(attrs, with_indices=1, storage_order=0),
                          name=node.name)
        # ONNX counts indices from the start of X, torch from the start of each plane
        plane = cv.b.constant(np.array(math.prod(x.type.shape[2:]), np.int64), "plane_size")
        return y, cv.emit("Mod", [flat, plane], None, node)
    return with_batch(cv, node, x, n, pool_with_indices)


def _window_counts(spatial, out, attrs) -> np.ndarray:
    """Per output position, the taps torch's average pool counts with count_include_pad:
    the window clipped to the padded extent (not to the input)."""
    n = len(spatial)
    kernel, strides, pads = attrs["kernel_shape"], attrs["strides"], attrs["pads"]
    counts = np.ones((), np.float64)
    for d in range(n):
        start = np.arange(out[d]) * strides[d] - pads[d]
        end = np.minimum(start + kernel[d], spatial[d] + pads[d])
        counts = np.multiply.outer(counts, end - start)
    return counts


@converter("aten.avg_pool1d.default", "aten.avg_pool2d.default", "aten.avg_pool3d.default")
def _avg_pool(cv: Lowering, node):
    x = cv.value(node.args[0])
    n = _pool_rank(node)
    attrs = _pool_attrs(n, arg(node, 1, "kernel_size"), arg(node, 2, "stride", ()),
                        arg(node, 3, "padding", 0), 1, arg(node, 4, "ceil_mode", False))
    divisor = arg(node, 6, "divisor_override")
    attrs["count_include_pad"] = int(divisor is not None
                                     or bool(arg(node, 5, "count_include_pad", True)))
    y = with_batch(cv, node, x, n, lambda x: cv.emit("AveragePool", [x], attrs, node))
    if divisor is None:
        return y
    # window sum / divisor_override = the average (over the counts) * count / divisor
    factor = _window_counts(x.type.shape[-n:], cv.out_shape(node)[-n:], attrs) / divisor
    if np.all(factor == factor.flat[0]):
        factor = factor.flat[0]
    factor = cv.b.constant(np.asarray(factor, x.type.dtype), "divisor_factor")
    return cv.emit("Mul", [y, factor], None, node)


def _adaptive_dim(cv: Lowering, x, node, axis: int, out: int, reduce: str):
    """An adaptive pool along one axis whose size ``out`` does not divide: torch's window
    ``i`` is [floor(i * n / out), ceil((i + 1) * n / out)); each is sliced and reduced."""
    n = x.type.shape[axis]
    windows = [slice_dim(cv, x, node, axis, i * n // out, -(-(i + 1) * n // out))
               for i in range(out)]
    parts = [cv.emit(reduce, [w], {"axes": (axis,), "keepdims": 1}, node) for w in windows]
    return cv.emit("Concat", parts, {"axis": axis}, node)


@converter("aten._adaptive_avg_pool2d.default", "aten._adaptive_avg_pool3d.default",
           "aten.adaptive_max_pool2d.default", "aten.adaptive_max_pool3d.default",
           "aten.adaptive_avg_pool1d.default", "aten.adaptive_avg_pool2d.default",
           "aten.adaptive_avg_pool3d.default", "aten.adaptive_max_pool1d.default")
def _adaptive_pool(cv: Lowering, node):
    """Adaptive pools.  Windows are products of per-axis ranges (and every row of an
    average window has the same count), so the pool separates by axis: the axes an
    integral factor apart in one fixed-window pool, each other axis slice by slice."""
    x = cv.value(node.args[0])
    n = _pool_rank(node)
    is_max = "max" in op_name(node.target)
    out = per_dim(node.args[1], n)
    spatial = x.type.shape[-n:]
    kernel = tuple(s // o if s % o == 0 else 1 for s, o in zip(spatial, out))

    def pool(x):
        if any(k > 1 for k in kernel):
            attrs = _pool_attrs(n, kernel, kernel, 0, 1, False)
            if not is_max:
                attrs["count_include_pad"] = 0
            x = cv.emit("MaxPool" if is_max else "AveragePool", [x], attrs, node)
        reduce = "ReduceMax" if is_max else "ReduceMean"
        for d in range(n):
            if spatial[d] % out[d]:
                x = _adaptive_dim(cv, x, node, 2 + d, out[d], reduce)
        return x
    y = with_batch(cv, node, x, n, pool)
    if is_max:
        if _uses_output(node, 1):
            raise UnsupportedTorchOpsError(f"{node.name}: the indices of an adaptive max "
                                           "pool are not supported")
        return (y, None)
    return y
