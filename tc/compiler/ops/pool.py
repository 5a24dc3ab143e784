"""Pooling over the spatial dims of NC... tensors (any number of spatial dims): MaxPool
(with its optional Indices output), AveragePool, LpPool, GlobalMaxPool,
GlobalAveragePool, GlobalLpPool.

MaxPool / AveragePool / LpPool canonical attributes (the frontend fills every one):
- ``kernel_shape``, ``strides``, ``dilations``: one int per spatial dim;
- ``pads``: (begin..., end...) per spatial dim (auto_pad already resolved);
- ``ceil_mode``: 0 | 1;
- ``count_include_pad``: 0 | 1 (AveragePool only: whether padding counts in the divisor;
  a window overhanging the padded extent (ceil_mode) never counts the overhang);
- ``p``: int (LpPool only): the norm's order;
- ``with_indices``: 0 | 1 (MaxPool only): a second int64 output, Indices, the flat index
  into X of each window's first maximum; ``storage_order`` 0 | 1 (row- or column-major
  spatial flattening of those indices).
Global pools: no attributes (GlobalLpPool: ``p``).

TE stages: optional "pad" (-inf / lowest for max, 0 otherwise; the default schedule
materializes a padding stage read by "pool", so that its taps are vector loads rather
than selects over clamped, per-lane gathered reads), then "pool" (a max or sum
reduction over the kernel offsets; axes (n, c, oy, ox) and reduce (ky, kx) in 2-D),
then an "elemwise" stage for averages (division by a count computed from the output
position) and Lp norms (the 1/p power). Indices:
a "pool_indices" min-reduction over the window of the flat index of taps equal to the max.
Global pools: "pool" over every spatial dim, then the elemwise stage.
"""
from __future__ import annotations

import numpy as np

from .. import te
from ..graph.ir import TensorType
from ..te import expr as E
from ..te.tensor import _lowest
from .common import define_op, in_range
from .pad import pad_stage
from .registry import OpPattern
from .window import check_window_attrs, effective_kernel, output_sizes

_AXES_2D = ("n", "c", "oy", "ox")


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
    result = [TensorType(x.shape[:2] + out, x.dtype)]
    if attrs.get("with_indices", 0):
        result.append(TensorType(x.shape[:2] + out, "int64"))
    return result


def _windows(xp, attrs, out):
    """Yield the strided slice of padded ``xp`` for each kernel offset."""
    n = len(out)
    kernel, strides, _, dilations, _ = pool_attrs(attrs, n)
    for kpos in np.ndindex(*kernel):
        yield xp[(Ellipsis,) + tuple(slice(k * dl, k * dl + (o - 1) * s + 1, s)
                                     for k, dl, o, s in zip(kpos, dilations, out, strides))]


def _flat_indices(shape, storage_order: int) -> np.ndarray:
    """The ONNX Indices numbering of every element of an NC... tensor of ``shape``."""
    n_sp = len(shape) - 2
    idx = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    if storage_order:  # column-major over the spatial dims
        spatial = int(np.prod(shape[2:]))
        sp = np.arange(spatial, dtype=np.int64).reshape(shape[2:][::-1])
        sp = np.transpose(sp, tuple(range(n_sp))[::-1])
        nc = np.arange(shape[0] * shape[1], dtype=np.int64).reshape(shape[:2])
        idx = nc.reshape(shape[:2] + (1,) * n_sp) * spatial + sp
    return idx


def _max_reference(xs, attrs):
    (x,) = xs
    out, begin, end = _window_geometry(x.shape[2:], attrs)
    fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    widths = [(0, 0), (0, 0)] + list(zip(begin, end))
    xp = np.pad(x, widths, constant_values=fill)
    result = np.maximum.reduce(list(_windows(xp, attrs, out)))
    if not attrs.get("with_indices", 0):
        return [result]
    big = np.iinfo(np.int64).max
    valid = np.pad(np.ones(x.shape, bool), widths)
    flat = np.pad(_flat_indices(x.shape, attrs.get("storage_order", 0)), widths)
    cand = [np.where(v & (w == result), f, big) for w, v, f in
            zip(_windows(xp, attrs, out), _windows(valid, attrs, out), _windows(flat, attrs, out))]
    return [result, np.minimum.reduce(cand)]


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


def _lp_reference(xs, attrs):
    (x,) = xs
    p = float(attrs.get("p", 2))
    out, begin, end = _window_geometry(x.shape[2:], attrs)
    xp = np.pad(np.abs(x), [(0, 0), (0, 0)] + list(zip(begin, end)))
    return [sum(w ** p for w in _windows(xp, attrs, out)) ** (1.0 / p)]


def _named(shape, body, name, tag, attrs=None, dtype=None):
    """``te.compute`` whose axes are named (n, c, oy, ox) in 2-D (the default scheduler
    and printed IR read better), i0.. otherwise."""
    if len(shape) == 4:
        fn = lambda n, c, oy, ox: body((n, c, oy, ox))  # noqa: E731
    else:
        fn = lambda *i: body(i)  # noqa: E731
    return te.compute(shape, fn, name, tag=tag, attrs=attrs, dtype=dtype)


def _lp_power(v: E.Expr, p: float) -> E.Expr:
    """``|v| ** p`` with the cheap forms for p = 1 and 2."""
    if p == 1:
        return E.call("fabs", v)
    if p == 2:
        return v * v
    return E.call("pow", E.call("fabs", v), E.const(p, v.dtype))


def _lp_root(v: E.Expr, p: float) -> E.Expr:
    if p == 1:
        return v
    if p == 2:
        return E.call("sqrt", v)
    return E.call("pow", v, E.const(1.0 / p, v.dtype))


def _pool_compute(kind: str):
    def compute(inputs, attrs):
        (x,) = inputs
        n_sp = x.ndim - 2
        kernel, strides, pads, dilations, _ = pool_attrs(attrs, n_sp)
        out, begin, end = _window_geometry(x.shape[2:], attrs)
        fill = _lowest(x.dtype) if kind == "max" else 0
        padded = pad_stage(x, (0, 0) + begin, (0, 0) + end, fill, "pool_pad")
        names = ("ky", "kx") if n_sp == 2 else tuple(f"k{d}" for d in range(n_sp))
        ks = [te.reduce_axis(k, nm) for k, nm in zip(kernel, names)]
        p = float(attrs.get("p", 2))
        shape = x.shape[:2] + out

        def tap(i):
            return (i[0], i[1]) + tuple(i[2 + d] * strides[d] + ks[d].var * dilations[d]
                                        for d in range(n_sp))

        def body(i):
            v = padded[tap(i)]
            if kind == "max":
                return te.max(v, axis=ks)
            return te.sum(_lp_power(v, p) if kind == "lp" else v, axis=ks)

        pooled = _named(shape, body, f"{kind}_pool", "pool",
                        {"pool": kind, "kernel_shape": kernel, "strides": strides, "pads": pads,
                         "dilations": dilations})
        if kind == "max":
            outs = [pooled]
            if attrs.get("with_indices", 0):
                outs.append(_indices(x, padded, pooled, begin, tap, ks, shape,
                                     int(attrs.get("storage_order", 0))))
            return outs
        if kind == "lp":
            return [_named(shape, lambda i: _lp_root(pooled[i], p), "lp_pool_root", "elemwise")]
        counts = [_count_expr(x.shape[2 + d], kernel[d], strides[d], dilations[d], pads[d],
                              pads[n_sp + d], bool(attrs.get("count_include_pad", 0)))
                  for d in range(n_sp)]

        def divide(i):
            count = counts[0](i[2])
            for d in range(1, n_sp):
                count = count * counts[d](i[2 + d])
            return pooled[i] / E.cast(x.dtype, count)
        return [_named(shape, divide, "avg_pool_div", "elemwise")]
    return compute


def _indices(x, padded, pooled, begin, tap, ks, shape, storage_order):
    """Flat index into ``x`` of each window's first tap equal to the window's max."""
    n_sp = x.ndim - 2
    spatial = x.shape[2:]

    def body(i):
        t = tap(i)
        src = [t[2 + d] - E.const(begin[d]) for d in range(n_sp)]
        valid = [in_range(s, 0, spatial[d]) for d, s in enumerate(src)]
        order = range(n_sp) if not storage_order else reversed(range(n_sp))
        flat = E.cast("int64", i[0] * E.const(x.shape[1]) + i[1])
        for d in order:
            flat = flat * E.const(spatial[d], "int64") + E.cast("int64", src[d])
        hit = E.logical_and(E.eq(padded[t], pooled[i]), *valid)
        return te.min(E.select(hit, flat, E.const(np.iinfo(np.int64).max, "int64")), axis=ks)

    return _named(shape, body, "max_pool_indices", "pool_indices")


def _count_expr(size, k, stride, dilation, pad_begin, pad_end, include_pad):
    """A function of the output index giving how many of its window's taps are counted.

    Computed in int32: the vector min/max/multiply and the conversion to float are
    single AVX2 instructions in int32, emulated lane by lane in int64."""
    lo, hi = (-pad_begin, size + pad_end) if include_pad else (0, size)

    def c(v):
        return E.const(v, "int32")

    def count(o):
        start = E.cast("int32", o) * c(stride) - c(pad_begin)
        # taps t in [0, k) with lo <= start + t*dilation < hi
        t_min = E.maximum(c(0), c(0) - ((start - c(lo)) // c(dilation)))
        t_max = E.minimum(c(k - 1), (c(hi - 1) - start) // c(dilation))
        return E.maximum(t_max - t_min + c(1), c(0))
    return count


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
        p = float(attrs.get("p", 2))

        def body(n, c, *_):
            v = x[(n, c) + tuple(axes)]
            if kind == "max":
                return te.max(v, axis=axes)
            return te.sum(_lp_power(v, p) if kind == "lp" else v, axis=axes)
        pooled = te.compute(shape, body, f"global_{kind}_pool", tag="pool", attrs={"pool": kind})
        if kind == "max":
            return [pooled]
        if kind == "lp":
            return [te.compute(shape, lambda *i: _lp_root(pooled[i], p), "global_lp_pool_root",
                               tag="elemwise")]
        size = int(np.prod(x.shape[2:]))
        return [te.compute(shape, lambda *i: pooled[i] / E.const(size, x.dtype),
                           "global_avg_pool_div", tag="elemwise")]
    return compute


def _global_lp_reference(xs, attrs):
    p = float(attrs.get("p", 2))
    axes = tuple(range(2, xs[0].ndim))
    return [(np.abs(xs[0]) ** p).sum(axis=axes, keepdims=True) ** (1.0 / p)]


define_op("MaxPool", _infer, _max_reference, _pool_compute("max"), OpPattern.REDUCTION, __doc__)
define_op("AveragePool", _infer, _avg_reference, _pool_compute("avg"), OpPattern.REDUCTION,
          __doc__)
define_op("LpPool", _infer, _lp_reference, _pool_compute("lp"), OpPattern.REDUCTION, __doc__)
define_op("GlobalMaxPool", _global_infer,
          lambda xs, a: [xs[0].max(axis=tuple(range(2, xs[0].ndim)), keepdims=True)],
          _global_compute("max"), OpPattern.REDUCTION, __doc__)
define_op("GlobalAveragePool", _global_infer,
          lambda xs, a: [xs[0].mean(axis=tuple(range(2, xs[0].ndim)), keepdims=True)],
          _global_compute("avg"), OpPattern.REDUCTION, __doc__)
define_op("GlobalLpPool", _global_infer, _global_lp_reference, _global_compute("lp"),
          OpPattern.REDUCTION, __doc__)
