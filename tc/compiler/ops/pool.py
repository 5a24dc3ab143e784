"""Pooling over the spatial dims of NC... tensors: MaxPool, AveragePool, GlobalMaxPool,
GlobalAveragePool.

MaxPool / AveragePool canonical attributes (the frontend fills every one):
- ``kernel_shape``, ``strides``, ``dilations``: one int per spatial dim;
- ``pads``: (begin..., end...) per spatial dim (auto_pad already resolved);
- ``ceil_mode``: 0 | 1;
- ``count_include_pad``: 0 | 1 (AveragePool only: whether padding counts in the divisor;
  a window overhanging the padded extent (ceil_mode) never counts the overhang).
MaxPool has one output (Indices are not supported). Global pools: no attributes.

TE stages: optional "pad" (-inf / lowest for max, 0 for average), then "pool" (a max or
sum reduction over (ky, kx); axes (n, c, oy, ox)), then for averages an "elemwise"
division stage. Global pools: "pool" over every spatial dim, then the division.
"""
from __future__ import annotations

import numpy as np

from ..graph.ir import TensorType
from .. import te
from ..te import expr as E
from ..te.tensor import _lowest
from .common import define_op
from .pad import pad_stage
from .registry import OpPattern
from .window import check_window_attrs, effective_kernel, output_sizes


def pool_attrs(attrs: dict, n: int):
    """(kernel, strides, pads, dilations, ceil_mode) with defaults for ``n`` spatial dims."""
    if "kernel_shape" not in attrs or len(attrs["kernel_shape"]) != n:
        raise ValueError(f"pooling needs kernel_shape with {n} entries, got "
                         f"{attrs.get('kernel_shape')}")
    check_window_attrs("pooling", n, attrs)
    return (tuple(attrs["kernel_shape"]), tuple(attrs.get("strides", (1,) * n)),
            tuple(attrs.get("pads", (0,) * 2 * n)), tuple(attrs.get("dilations", (1,) * n)),
            bool(attrs.get("ceil_mode", 0)))


def _window_geometry(spatial, attrs):
    """Output sizes, and the end padding each dim needs so no window reads past it."""
    n = len(spatial)
    kernel, strides, pads, dilations, ceil_mode = pool_attrs(attrs, n)
    out = output_sizes(spatial, kernel, strides, pads, dilations, ceil_mode)
    ends = tuple(max(pads[n + d], (out[d] - 1) * strides[d]
                     + effective_kernel(kernel[d], dilations[d]) - spatial[d] - pads[d])
                 for d in range(n))
    return out, pads[:n], ends


def _infer(types, attrs):
    (x,) = types
    if len(x.shape) < 3:
        raise ValueError(f"pooling needs an input of rank >= 3 (N, C, spatial...), got {x.shape}")
    out, _, _ = _window_geometry(x.shape[2:], attrs)
    return [TensorType(x.shape[:2] + out, x.dtype)]


def _windows(xp, attrs, out):
    """Yield the strided slice of padded ``xp`` for each kernel offset."""
    n = len(out)
    kernel, strides, _, dilations, _ = pool_attrs(attrs, n)
    for kpos in np.ndindex(*kernel):
        yield xp[(Ellipsis,) + tuple(slice(k * dl, k * dl + (o - 1) * s + 1, s)
                                     for k, dl, o, s in zip(kpos, dilations, out, strides))]


def _max_reference(xs, attrs):
    (x,) = xs
    out, begin, end = _window_geometry(x.shape[2:], attrs)
    fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    xp = np.pad(x, [(0, 0), (0, 0)] + list(zip(begin, end)), constant_values=fill)
    return [np.maximum.reduce(list(_windows(xp, attrs, out)))]


def _avg_reference(xs, attrs):
    (x,) = xs
    n = x.ndim - 2
    out, begin, end = _window_geometry(x.shape[2:], attrs)
    widths = list(zip(begin, end))
    xp = np.pad(x, [(0, 0), (0, 0)] + widths)
    total = sum(_windows(xp, attrs, out))
    # the divisor: pool a mask of the counted region (input, or input plus padding)
    pads = pool_attrs(attrs, n)[2]
    mask = np.pad(np.ones(x.shape[2:]), widths)
    if attrs.get("count_include_pad", 0):
        region = tuple(slice(0, x.shape[2 + d] + pads[d] + pads[n + d]) for d in range(n))
        mask = np.zeros_like(mask)
        mask[region] = 1
    count = sum(_windows(mask, attrs, out))
    return [total / count.astype(x.dtype)]


def _pool_compute(kind: str):
    def compute(inputs, attrs):
        (x,) = inputs
        if x.ndim != 4:
            raise NotImplementedError(f"pooling's TE compute is 2-D; got input rank {x.ndim}")
        kernel, strides, pads, dilations, _ = pool_attrs(attrs, 2)
        out, begin, end = _window_geometry(x.shape[2:], attrs)
        fill = _lowest(x.dtype) if kind == "max" else 0
        padded = pad_stage(x, (0, 0) + begin, (0, 0) + end, fill, "pool_pad")
        ky, kx = te.reduce_axis(kernel[0], "ky"), te.reduce_axis(kernel[1], "kx")
        reducer = te.max if kind == "max" else te.sum
        shape = x.shape[:2] + out
        pooled = te.compute(
            shape,
            lambda n, c, oy, ox: reducer(padded[n, c, oy * strides[0] + ky.var * dilations[0],
                                                ox * strides[1] + kx.var * dilations[1]],
                                         axis=[ky, kx]),
            f"{kind}_pool", tag="pool",
            attrs={"pool": kind, "kernel_shape": kernel, "strides": strides, "pads": pads,
                   "dilations": dilations})
        if kind == "max":
            return [pooled]
        counts = [_count_expr(x.shape[2 + d], kernel[d], strides[d], dilations[d], pads[d],
                              pads[2 + d], bool(attrs.get("count_include_pad", 0)))
                  for d in range(2)]
        return [te.compute(shape, lambda n, c, oy, ox: pooled[n, c, oy, ox] / E.cast(
            x.dtype, counts[0](oy) * counts[1](ox)), "avg_pool_div", tag="elemwise")]
    return compute


def _count_expr(size, k, stride, dilation, pad_begin, pad_end, include_pad):
    """A function of the output index giving how many of its window's taps are counted."""
    lo, hi = (-pad_begin, size + pad_end) if include_pad else (0, size)

    def count(o):
        start = o * stride - E.const(pad_begin)
        # taps t in [0, k) with lo <= start + t*dilation < hi
        t_min = E.maximum(E.const(0), _ceil_div(E.const(lo) - start, dilation))
        t_max = E.minimum(E.const(k - 1), (E.const(hi - 1) - start) // E.const(dilation))
        return E.maximum(t_max - t_min + E.const(1), E.const(0))
    return count


def _ceil_div(a: E.Expr, d: int) -> E.Expr:
    return E.const(0) - ((E.const(0) - a) // E.const(d))


def _global_infer(types, attrs):
    (x,) = types
    if len(x.shape) < 3:
        raise ValueError(f"global pooling needs rank >= 3 (N, C, spatial...), got {x.shape}")
    return [TensorType(x.shape[:2] + (1,) * (len(x.shape) - 2), x.dtype)]


def _global_compute(kind: str):
    def compute(inputs, attrs):
        (x,) = inputs
        axes = [te.reduce_axis(s, f"k{d}") for d, s in enumerate(x.shape[2:])]
        shape = x.shape[:2] + (1,) * len(axes)
        reducer = te.max if kind == "max" else te.sum
        pooled = te.compute(shape, lambda n, c, *_: reducer(x[(n, c) + tuple(axes)], axis=axes),
                            f"global_{kind}_pool", tag="pool", attrs={"pool": kind})
        if kind == "max":
            return [pooled]
        size = int(np.prod(x.shape[2:]))
        return [te.compute(shape, lambda *i: pooled[i] / E.const(size, x.dtype),
                           "global_avg_pool_div", tag="elemwise")]
    return compute


define_op("MaxPool", _infer, _max_reference, _pool_compute("max"), OpPattern.REDUCTION, __doc__)
define_op("AveragePool", _infer, _avg_reference, _pool_compute("avg"), OpPattern.REDUCTION,
          __doc__)
define_op("GlobalMaxPool", _global_infer,
          lambda xs, a: [xs[0].max(axis=tuple(range(2, xs[0].ndim)), keepdims=True)],
          _global_compute("max"), OpPattern.REDUCTION, __doc__)
define_op("GlobalAveragePool", _global_infer,
          lambda xs, a: [xs[0].mean(axis=tuple(range(2, xs[0].ndim)), keepdims=True)],
          _global_compute("avg"), OpPattern.REDUCTION, __doc__)
