"""Normalization-style ops: BatchNormalization (inference), Softmax, LogSoftmax, Hardmax, LRN.

Canonical attributes:
- BatchNormalization(X, scale, B, mean, var; epsilon): inference form, channel axis 1,
  one output. TE: one "broadcast" stage.
- Softmax / LogSoftmax(X; axis): opset-13 semantics (normalize along ``axis`` only),
  ``axis`` non-negative; the frontend rewrites older opsets' coerce-to-2-D semantics.
  TE: "softmax" max stage, "elemwise" exp(x - max) stage, "softmax" sum stage, "softmax"
  output stage (attrs {"axis": axis}).
- Hardmax(X; axis): 1 at the first maximum along ``axis`` (non-negative; opset-13
  semantics, as Softmax), 0 elsewhere. TE: ArgMax's stages ("reduce" max, "reduce" first
  index), then a "broadcast" output stage.
- LRN(X; size, alpha, beta, bias): across channels (axis 1), window
  [c - (size-1)//2, c + size//2]. TE: "reduce" sum-of-squares stage over r, "elemwise"
  output stage.
"""
from __future__ import annotations

import numpy as np

from ..graph.dtypes import is_floating
from ..graph.ir import TensorType
from .. import te
from ..te import expr as E
from .common import clamp_index, define_op, in_range, normalize_axis, same_dtype
from .registry import OpPattern


# --- BatchNormalization ----------------------------------------------------------------

def _bn_infer(types, attrs):
    if len(types) != 5:
        raise ValueError(f"BatchNormalization takes X, scale, B, mean, var; got {len(types)}")
    x = types[0]
    c = x.shape[1] if len(x.shape) > 1 else None
    for t in types[1:]:
        if t.shape != (c,):
            raise ValueError(f"BatchNormalization parameters need shape ({c},), got {t.shape}")
    return [TensorType(x.shape, same_dtype(types, "BatchNormalization"))]


def _bn_reference(xs, attrs):
    x, scale, bias, mean, var = xs
    shape = (-1,) + (1,) * (x.ndim - 2)
    eps = np.asarray(attrs.get("epsilon", 1e-5), x.dtype)
    factor = (scale / np.sqrt(var + eps)).reshape(shape)
    return [(x - mean.reshape(shape)) * factor + bias.reshape(shape)]


def _bn_compute(inputs, attrs):
    x, scale, bias, mean, var = inputs
    eps = E.const(attrs.get("epsilon", 1e-5), x.dtype)

    def body(*i):
        c = i[1]
        return ((x[i] - mean[c]) * (scale[c] / E.call("sqrt", var[c] + eps)) + bias[c])

    return [te.compute(x.shape, body, "batch_norm", tag="broadcast")]


define_op("BatchNormalization", _bn_infer, _bn_reference, _bn_compute, OpPattern.BROADCAST,
          __doc__)


# --- Softmax / LogSoftmax --------------------------------------------------------------

def _softmax_infer(types, attrs):
    (x,) = types
    normalize_axis(attrs.get("axis", -1), len(x.shape))
    if not is_floating(x.dtype):
        raise ValueError(f"softmax needs a float tensor, got {x.dtype}")
    return [x]


def _softmax_reference(log: bool):
    def reference(xs, attrs):
        (x,) = xs
        axis = normalize_axis(attrs.get("axis", -1), x.ndim)
        shifted = x - x.max(axis=axis, keepdims=True)
        e = np.exp(shifted)
        s = e.sum(axis=axis, keepdims=True)
        return [shifted - np.log(s) if log else e / s]
    return reference


def _softmax_compute(log: bool):
    def compute(inputs, attrs):
        (x,) = inputs
        axis = normalize_axis(attrs.get("axis", -1), x.ndim)
        reduced = tuple(1 if d == axis else s for d, s in enumerate(x.shape))
        k1, k2 = te.reduce_axis(x.shape[axis], "k"), te.reduce_axis(x.shape[axis], "k")

        def along(i, k):
            return i[:axis] + (k,) + i[axis + 1:]

        mx = te.compute(reduced, lambda *i: te.max(x[along(i, k1.var)], axis=k1),
                        "softmax_max", tag="softmax", attrs={"axis": axis})
        ex = te.compute(x.shape, lambda *i: E.call("exp", x[i] - mx[along(i, E.const(0))]),
                        "softmax_exp", tag="elemwise")
        sm = te.compute(reduced, lambda *i: te.sum(ex[along(i, k2.var)], axis=k2),
                        "softmax_sum", tag="softmax", attrs={"axis": axis})
        if log:
            out = te.compute(x.shape, lambda *i: x[i] - mx[along(i, E.const(0))]
                             - E.call("log", sm[along(i, E.const(0))]),
                             "log_softmax", tag="softmax", attrs={"axis": axis})
        else:
            out = te.compute(x.shape, lambda *i: ex[i] / sm[along(i, E.const(0))],
                             "softmax", tag="softmax", attrs={"axis": axis})
        return [out]
    return compute


define_op("Softmax", _softmax_infer, _softmax_reference(False), _softmax_compute(False),
          OpPattern.REDUCTION, __doc__)
define_op("LogSoftmax", _softmax_infer, _softmax_reference(True), _softmax_compute(True),
          OpPattern.REDUCTION, __doc__)


def _hardmax_reference(xs, attrs):
    (x,) = xs
    axis = normalize_axis(attrs.get("axis", -1), x.ndim)
    first = np.expand_dims(np.argmax(x, axis=axis), axis)
    pos = np.arange(x.shape[axis]).reshape((-1,) + (1,) * (x.ndim - 1 - axis))
    return [(pos == first).astype(x.dtype)]


def _hardmax_compute(inputs, attrs):
    from .reduce import keep_index, reduce_stage

    (x,) = inputs
    axis = normalize_axis(attrs.get("axis", -1), x.ndim)
    axes, n = (axis,), x.shape[axis]
    best = reduce_stage(x, axes, True, "max", lambda idx, i: x[idx], "hardmax_max")
    first = reduce_stage(
        x, axes, True, "min",
        lambda idx, i: E.select(E.eq(x[idx], best[keep_index(idx, axes)]), idx[axis], E.const(n)),
        "hardmax_index")
    return [te.compute(x.shape, lambda *i: E.select(E.eq(first[keep_index(i, axes)], i[axis]),
                                                    E.const(1, x.dtype), E.const(0, x.dtype)),
                       "hardmax", tag="broadcast")]


define_op("Hardmax", _softmax_infer, _hardmax_reference, _hardmax_compute, OpPattern.REDUCTION,
          __doc__)


# --- LRN -------------------------------------------------------------------------------

def _lrn_params(attrs):
    return (int(attrs["size"]), float(attrs.get("alpha", 1e-4)), float(attrs.get("beta", 0.75)),
            float(attrs.get("bias", 1.0)))


def _lrn_infer(types, attrs):
    (x,) = types
    if len(x.shape) < 3 or not is_floating(x.dtype):
        raise ValueError(f"LRN needs a float tensor of rank >= 3, got {x}")
    _lrn_params(attrs)
    return [x]


def _lrn_reference(xs, attrs):
    (x,) = xs
    size, alpha, beta, bias = _lrn_params(attrs)
    before, after = (size - 1) // 2, size // 2
    sq = np.pad(x * x, [(0, 0), (before, after)] + [(0, 0)] * (x.ndim - 2))
    c = x.shape[1]
    window = sum(sq[:, r:r + c] for r in range(size))
    return [x / (bias + (alpha / size) * window) ** beta]


def _lrn_compute(inputs, attrs):
    (x,) = inputs
    size, alpha, beta, bias = _lrn_params(attrs)
    before, channels = (size - 1) // 2, x.shape[1]
    r = te.reduce_axis(size, "r")

    def square_sum(*i):
        c = i[1] - E.const(before) + r.var
        v = x[(i[0], clamp_index(c, channels)) + i[2:]]
        return te.sum(E.select(in_range(c, 0, channels), v * v, E.const(0, x.dtype)), axis=r)

    sq = te.compute(x.shape, square_sum, "lrn_square_sum", tag="reduce",
                    attrs={"axis": 1, "size": size})
    return [te.compute(
        x.shape,
        lambda *i: x[i] / E.call("pow", E.const(bias, x.dtype) + E.const(alpha / size, x.dtype)
                                 * sq[i], E.const(beta, x.dtype)),
        "lrn", tag="elemwise")]


define_op("LRN", _lrn_infer, _lrn_reference, _lrn_compute, OpPattern.REDUCTION, __doc__)
