"""Resize: nearest / linear / cubic interpolation of an N-d tensor (also ONNX Upsample).

Canonical attributes (the frontend resolves scales/sizes/roi/axes inputs):
- ``sizes``: the output shape; ``scales``: one float per dim (the factor the coordinate
  transform divides by: the given scale, or sizes/input when only sizes were given);
- ``mode``: "nearest" | "linear" | "cubic";
- ``coordinate_transformation_mode``: "half_pixel" | "half_pixel_symmetric" |
  "pytorch_half_pixel" | "align_corners" | "asymmetric" | "tf_crop_and_resize";
- ``nearest_mode``: "round_prefer_floor" | "round_prefer_ceil" | "floor" | "ceil";
- ``cubic_coeff_a`` (float), ``exclude_outside`` (0|1), ``extrapolation_value`` (float),
  ``roi``: 2 * rank floats (starts then ends, used by tf_crop_and_resize only),
  ``antialias`` (0|1: linear/cubic downsampling with a kernel stretched by 1/scale).
Separable: each output dim maps to input taps with weights; dims whose mapping is the
identity are read directly. Coordinates are computed in float64 by one formula shared by
the TE compute and the numpy reference. Tag "injective" (a gather with arithmetic).
"""
from __future__ import annotations

import numpy as np

from ..graph.dtypes import is_floating
from ..graph.ir import TensorType
from .. import te
from ..te import expr as E
from .common import clamp_index, define_op
from .registry import OpPattern

MODES = ("nearest", "linear", "cubic")
COORD_MODES = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
               "asymmetric", "tf_crop_and_resize")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


class _NumpyMath:
    floor, ceil = staticmethod(np.floor), staticmethod(np.ceil)
    to_int = staticmethod(lambda x: x.astype(np.int64))
    clamp = staticmethod(lambda i, n: np.clip(i, 0, n - 1))
    inside = staticmethod(lambda i, n: ((i >= 0) & (i < n)).astype(np.float64))
    outside = staticmethod(lambda x, hi: (x < 0) | (x > hi))
    abs = staticmethod(np.abs)
    where = staticmethod(np.where)
    lt = staticmethod(lambda a, b: a < b)


class _TEMath:
    floor = staticmethod(lambda x: E.call("floor", x))
    ceil = staticmethod(lambda x: E.call("ceil", x))
    to_int = staticmethod(lambda x: E.cast("int64", x))
    clamp = staticmethod(clamp_index)
    inside = staticmethod(lambda i, n: E.select(E.logical_and(E.ge(i, E.const(0)),
                                                              E.lt(i, E.const(n))),
                                                E.const(1.0, "float64"),
                                                E.const(0.0, "float64")))
    outside = staticmethod(lambda x, hi: E.logical_or(E.lt(x, E.const(0.0, "float64")),
                                                      E.gt(x, E.const(float(hi), "float64"))))
    abs = staticmethod(lambda x: E.call("fabs", x))
    where = staticmethod(E.select)
    lt = staticmethod(lambda a, b: E.lt(a, E.const(float(b), "float64")))


def _check(attrs, rank):
    for key, allowed in (("mode", MODES), ("coordinate_transformation_mode", COORD_MODES),
                         ("nearest_mode", NEAREST_MODES)):
        if attrs.get(key, allowed[0]) not in allowed:
            raise ValueError(f"Resize {key} {attrs.get(key)!r} is not supported; tc has {allowed}")
    if len(attrs["sizes"]) != rank or len(attrs["scales"]) != rank:
        raise ValueError(f"Resize needs sizes and scales for each of {rank} dims")


def _coord(x, n, m, s, d, attrs):
    """Input coordinate of output coordinate ``x`` (float64 array or expression)."""
    mode = attrs.get("coordinate_transformation_mode", "half_pixel")
    mf = s * n  # ONNX uses the unrounded output width in these formulas
    if mode == "asymmetric":
        return x / s
    if mode == "align_corners":
        return x * 0.0 if mf == 1 else x * (n - 1) / (mf - 1)
    if mode == "pytorch_half_pixel":
        return x * 0.0 - 0.5 if mf == 1 else (x + 0.5) / s - 0.5
    if mode == "half_pixel_symmetric":
        adjustment = m / mf
        offset = n / 2 * (1 - adjustment)
        return (x + 0.5) / s - 0.5 + offset
    if mode == "tf_crop_and_resize":
        roi = attrs["roi"]
        lo, hi = roi[d], roi[len(roi) // 2 + d]
        if mf == 1:
            return x * 0.0 + (hi - lo) * (n - 1) / 2 + lo * (n - 1)
        return x * (hi - lo) * (n - 1) / (mf - 1) + lo * (n - 1)
    return (x + 0.5) / s - 0.5  # half_pixel


def _cubic_weights(t, a):
    def inner(u):  # |u| <= 1
        return ((a + 2) * u - (a + 3)) * u * u + 1.0

    def outer(u):  # 1 <= |u| <= 2
        return ((a * u - 5 * a) * u + 8 * a) * u - 4 * a

    return [outer(t + 1.0), inner(t), inner(1.0 - t), outer(2.0 - t)]


def _antialias_taps(t, s, mode, a, M):
    """Downsampling with a kernel stretched by 1/s (ONNX antialias): offsets, weights."""
    if mode == "linear":
        start = int(np.floor(-1 / s) + 1)

        def kernel(u):
            return 1.0 - M.abs(u)  # |u| < 1 on every tap that can be non-zero
    else:
        start = int(np.floor(-2 / s) + 1)

        def kernel(u):
            v = M.abs(u)
            near = ((a + 2) * v - (a + 3)) * v * v + 1.0
            far = ((a * v - 5 * a) * v + 8 * a) * v - 4 * a
            return M.where(M.lt(v, 1.0), near, M.where(M.lt(v, 2.0), far, v * 0.0))
    offsets = tuple(range(start, 2 - start))
    weights = [kernel((t - float(i)) * s) for i in offsets]
    if mode == "linear":
        weights = [M.where(M.lt(w, 0.0), w * 0.0, w) for w in weights]
    total = weights[0]
    for w in weights[1:]:
        total = total + w
    return offsets, [w / total for w in weights]


def _taps(x, n, m, s, d, attrs, M):
    """[(index, weight or None)] of output coordinate ``x`` along a dim, and the
    out-of-range test of tf_crop_and_resize (or None)."""
    xo = _coord(x, n, m, s, d, attrs)
    mode = attrs.get("mode", "nearest")
    out = (M.outside(xo, n - 1)
           if attrs.get("coordinate_transformation_mode") == "tf_crop_and_resize" else None)
    if mode == "nearest":
        nm = attrs.get("nearest_mode", "round_prefer_floor")
        r = {"round_prefer_floor": lambda: M.ceil(xo - 0.5),
             "round_prefer_ceil": lambda: M.floor(xo + 0.5),
             "floor": lambda: M.floor(xo), "ceil": lambda: M.ceil(xo)}[nm]()
        return [(M.clamp(M.to_int(r), n), None)], out
    base = M.floor(xo)
    t = xo - base
    bi = M.to_int(base)
    if attrs.get("antialias", 0) and s < 1:
        offsets, weights = _antialias_taps(t, s, mode, float(attrs.get("cubic_coeff_a", -0.75)), M)
    elif mode == "linear":
        offsets, weights = (0, 1), [1.0 - t, t]
    else:
        offsets, weights = (-1, 0, 1, 2), _cubic_weights(t, float(attrs.get("cubic_coeff_a", -0.75)))
    idx = [bi + k for k in offsets]
    if attrs.get("exclude_outside", 0):
        weights = [w * M.inside(i, n) for w, i in zip(weights, idx)]
        total = weights[0]
        for w in weights[1:]:
            total = total + w
        weights = [w / total for w in weights]
    return [(M.clamp(i, n), w) for i, w in zip(idx, weights)], out


def _is_identity(n, m, s, d, attrs):
    """Whether the dim's mapping reads input i for output i with weight 1 (no taps needed)."""
    if n != m:
        return False
    taps, out = _taps(np.arange(m, dtype=np.float64), n, m, s, d, attrs, _NumpyMath)
    if out is not None and out.any():
        return False
    weights = np.zeros((m, n))
    for i, w in taps:
        np.add.at(weights, (np.arange(m), i), 1.0 if w is None else w)
    return bool(np.array_equal(weights, np.eye(n)))


def _infer(types, attrs):
    (x,) = types
    _check(attrs, len(x.shape))
    if attrs.get("mode", "nearest") != "nearest" and not is_floating(x.dtype):
        raise ValueError(f"Resize {attrs['mode']} is defined here for float tensors, got {x.dtype}")
    return [TensorType(tuple(int(s) for s in attrs["sizes"]), x.dtype)]


def _reference(xs, attrs):
    (x,) = xs
    _check(attrs, x.ndim)
    y = x.astype(np.float64)
    mask = np.zeros(tuple(attrs["sizes"]), bool)
    for d, (n, m, s) in enumerate(zip(x.shape, attrs["sizes"], attrs["scales"])):
        taps, out = _taps(np.arange(m, dtype=np.float64), n, m, float(s), d, attrs, _NumpyMath)
        shape = [1] * x.ndim
        shape[d] = m
        acc = 0.0
        for i, w in taps:
            part = np.take(y, i, axis=d)
            acc = part if w is None else acc + part * np.reshape(w, shape)
        y = acc
        if out is not None:
            mask |= np.reshape(out, shape)
    if mask.any():
        y = np.where(mask, float(attrs.get("extrapolation_value", 0.0)), y)
    if not E.is_float(str(x.dtype)):
        y = np.rint(y)
    return [y.astype(x.dtype)]


def _compute(inputs, attrs):
    (x,) = inputs
    sizes, scales = tuple(int(s) for s in attrs["sizes"]), attrs["scales"]
    ident = [_is_identity(n, m, float(s), d, attrs)
             for d, (n, m, s) in enumerate(zip(x.shape, sizes, scales))]

    def body(*i):
        per_dim, outside = [], []
        for d, (n, m, s) in enumerate(zip(x.shape, sizes, scales)):
            if ident[d]:
                per_dim.append([(i[d], None)])
                continue
            taps, out = _taps(E.cast("float64", i[d]), n, m, float(s), d, attrs, _TEMath)
            per_dim.append(taps)
            if out is not None:
                outside.append(out)
        acc = None
        for combo in _product(per_dim):
            read = x[tuple(idx for idx, _ in combo)]
            ws = [w for _, w in combo if w is not None]
            if not ws:
                acc = read if acc is None else acc + read
                continue
            w = ws[0]
            for v in ws[1:]:
                w = w * v
            term = E.cast("float64", read) * w
            acc = term if acc is None else acc + term
        if acc.dtype != x.dtype:
            if not E.is_float(x.dtype):
                acc = E.call("round", acc)
            acc = E.cast(x.dtype, acc)
        if outside:
            acc = E.select(E.logical_or(*outside),
                           E.const(attrs.get("extrapolation_value", 0.0), x.dtype), acc)
        return acc

    return [te.compute(sizes, body, "resize", tag="injective")]


def _product(lists):
    out = [[]]
    for options in lists:
        out = [prefix + [o] for prefix in out for o in options]
    return out


define_op("Resize", _infer, _reference, _compute, OpPattern.INJECTIVE,
          "Resize(X; sizes, scales, mode, coordinate_transformation_mode, nearest_mode, "
          "cubic_coeff_a, exclude_outside, extrapolation_value, roi).")
