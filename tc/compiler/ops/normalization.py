"""Statistics-based normalizations: LayerNormalization, RMSNormalization, GroupNormalization,
InstanceNormalization, MeanVarianceNormalization, LpNormalization.

All of them are built from the same stages (``reduce.reduce_stage``): a "reduce" sum over the
normalized axes, an "elemwise" mean, a "reduce" sum of squared deviations, an "elemwise"
inverse standard deviation 1/sqrt(var + epsilon), and a "broadcast" output stage.

Canonical attributes:
- LayerNormalization(X, Scale, B?; axis, epsilon, stash_dtype, num_outputs): ``axis``
  non-negative, normalizing axes ``axis..rank-1``; Scale and B broadcast to
  ``X.shape[axis:]``; statistics in ``stash_dtype`` (numpy name; ONNX stash_type, float32
  by default). Outputs Y, then (when ``num_outputs`` is 3) Mean and InvStdDev of shape
  ``X.shape[:axis] + (1,) * (rank - axis)`` in ``stash_dtype``.
- RMSNormalization(X, Scale; axis, epsilon, stash_dtype): Y = X / sqrt(mean(X^2) + epsilon)
  * Scale over axes ``axis..rank-1``.
- GroupNormalization(X, scale, bias; num_groups, epsilon, stash_dtype): X is (N, C, ...);
  statistics per (n, group); scale and bias of shape (C,) (opset 21) or (num_groups,)
  (opset 18: one value per group).
- InstanceNormalization(X, scale, B; epsilon): statistics per (n, c) over the spatial axes.
- MeanVarianceNormalization(X; axes): (X - mean) / (sqrt(var) + 1e-9) over ``axes``
  (sorted, non-negative).
- LpNormalization(X; axis, p): X / ||X||_p along ``axis`` (p is 1 or 2), 0 where the norm is 0.
"""
from __future__ import annotations

import numpy as np

from ..graph.dtypes import is_floating
from ..graph.ir import TensorType
from .. import te
from ..te import expr as E
from .common import broadcast_read, define_op, normalize_axis
from .reduce import keep_index, reduce_stage
from .registry import OpPattern


def _float_input(op, t):
    if not is_floating(t.dtype):
        raise ValueError(f"{op} needs a float tensor, got {t.dtype}")


def _np_moments(x, axes, dtype):
    x = x.astype(dtype)
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    return x, mean, var


def _moments(x, axes, dtype, name, centered=True):
    """(mean, var) computes in keepdims form, over ``axes`` of ``x``, in ``dtype``.
    With ``centered`` False, var is mean(x^2) (no mean subtracted; mean is None)."""
    n = int(np.prod([x.shape[a] for a in axes]))
    inv_n = E.const(1.0 / n if n else float("nan"), dtype)

    def xc(idx):
        return E.cast(dtype, x[idx])

    mean = None
    if centered:
        s = reduce_stage(x, axes, True, "sum", lambda idx, i: xc(idx), f"{name}_sum")
        mean = te.compute(s.shape, lambda *i: s[i] * inv_n, f"{name}_mean", tag="elemwise")

    def sq(idx, i):
        d = xc(idx) - mean[keep_index(idx, axes)] if centered else xc(idx)
        return d * d

    ss = reduce_stage(x, axes, True, "sum", sq, f"{name}_sqsum")
    var = te.compute(ss.shape, lambda *i: ss[i] * inv_n, f"{name}_var", tag="elemwise")
    return mean, var


def _inv_std(var, eps, dtype, name):
    return te.compute(var.shape, lambda *i: E.const(1, dtype) / E.call("sqrt", var[i]
                                                                      + E.const(eps, dtype)),
                      name, tag="elemwise")


# --- LayerNormalization / RMSNormalization ----------------------------------------------

def _ln_common(op, types, attrs):
    x = types[0]
    _float_input(op, x)
    rank = len(x.shape)
    axis = normalize_axis(attrs.get("axis", -1), rank)
    tail = x.shape[axis:]
    for t in types[1:]:
        if t is None:
            continue
        if len(t.shape) > len(tail) or any(a not in (1, b) for a, b in
                                           zip(t.shape[::-1], tail[::-1])):
            raise ValueError(f"{op}: scale/bias shape {t.shape} does not broadcast to {tail}")
    return x, axis, tuple(range(axis, rank)), attrs.get("stash_dtype", "float32")


def _ln_infer(types, attrs):
    x, axis, axes, stash = _ln_common("LayerNormalization", types, attrs)
    out = [x]
    if attrs.get("num_outputs", 1) == 3:
        stat = TensorType(x.shape[:axis] + (1,) * len(axes), stash)
        out += [stat, stat]
    return out


def _ln_reference(xs, attrs):
    x, scale = xs[0], xs[1]
    bias = xs[2] if len(xs) > 2 else None
    axis = normalize_axis(attrs.get("axis", -1), x.ndim)
    axes = tuple(range(axis, x.ndim))
    stash = attrs.get("stash_dtype", "float32")
    xs_, mean, var = _np_moments(x, axes, stash)
    inv = 1 / np.sqrt(var + np.asarray(attrs.get("epsilon", 1e-5), stash))
    y = ((xs_ - mean) * inv).astype(x.dtype) * scale
    if bias is not None:
        y = y + bias
    return [y, mean, inv][:attrs.get("num_outputs", 1)]


def _affine(x, normalized, scale, bias, name):
    """Output stage: normalized(i) cast to X's dtype, times scale, plus bias (broadcast)."""
    def body(*i):
        y = E.cast(x.dtype, normalized(i)) * broadcast_read(scale, i)
        return y + broadcast_read(bias, i) if bias is not None else y
    return te.compute(x.shape, body, name, tag="broadcast")


def _ln_compute(inputs, attrs):
    x, scale = inputs[0], inputs[1]
    bias = inputs[2] if len(inputs) > 2 else None
    axis = normalize_axis(attrs.get("axis", -1), x.ndim)
    axes = tuple(range(axis, x.ndim))
    stash = attrs.get("stash_dtype", "float32")
    mean, var = _moments(x, axes, stash, "layer_norm")
    inv = _inv_std(var, attrs.get("epsilon", 1e-5), stash, "layer_norm_inv_std")

    def normalized(i):
        k = keep_index(i, axes)
        return (E.cast(stash, x[i]) - mean[k]) * inv[k]

    y = _affine(x, normalized, scale, bias, "layer_norm")
    return [y, mean, inv][:attrs.get("num_outputs", 1)]


define_op("LayerNormalization", _ln_infer, _ln_reference, _ln_compute, OpPattern.REDUCTION,
          __doc__)


def _rms_infer(types, attrs):
    x, _, _, _ = _ln_common("RMSNormalization", types, attrs)
    return [x]


def _rms_reference(xs, attrs):
    x, scale = xs
    axis = normalize_axis(attrs.get("axis", -1), x.ndim)
    stash = attrs.get("stash_dtype", "float32")
    xs_ = x.astype(stash)
    ms = (xs_ * xs_).mean(axis=tuple(range(axis, x.ndim)), keepdims=True)
    inv = 1 / np.sqrt(ms + np.asarray(attrs.get("epsilon", 1e-5), stash))
    return [(xs_ * inv).astype(x.dtype) * scale]


def _rms_compute(inputs, attrs):
    x, scale = inputs
    axis = normalize_axis(attrs.get("axis", -1), x.ndim)
    axes = tuple(range(axis, x.ndim))
    stash = attrs.get("stash_dtype", "float32")
    _, ms = _moments(x, axes, stash, "rms_norm", centered=False)
    inv = _inv_std(ms, attrs.get("epsilon", 1e-5), stash, "rms_norm_inv_rms")
    return [_affine(x, lambda i: E.cast(stash, x[i]) * inv[keep_index(i, axes)], scale, None,
                    "rms_norm")]


define_op("RMSNormalization", _rms_infer, _rms_reference, _rms_compute, OpPattern.REDUCTION,
          __doc__)


# --- GroupNormalization / InstanceNormalization -----------------------------------------

def _channel_params(op, types, allowed):
    x = types[0]
    _float_input(op, x)
    if len(x.shape) < 2:
        raise ValueError(f"{op} needs X of rank >= 2 (N, C, ...), got {x.shape}")
    for t in types[1:]:
        if t.shape not in allowed:
            raise ValueError(f"{op}: scale and bias need shape {' or '.join(map(str, allowed))}, "
                             f"got {t.shape}")
    return [x]


def _groups(x_shape, attrs):
    g = int(attrs["num_groups"])
    if g <= 0 or x_shape[1] % g:
        raise ValueError(f"GroupNormalization: {x_shape[1]} channels do not split into {g} groups")
    return g, x_shape[1] // g


def _gn_infer(types, attrs):
    x = types[0]
    g, _ = _groups(x.shape, attrs)
    return _channel_params("GroupNormalization", types, [(x.shape[1],), (g,)])


def _per_channel(p, c, per_group):
    return p if p.shape[0] == c else np.repeat(p, per_group)


def _gn_reference(xs, attrs):
    x, scale, bias = xs
    g, per = _groups(x.shape, attrs)
    stash = attrs.get("stash_dtype", "float32")
    xg = x.reshape((x.shape[0], g, -1))
    xg, mean, var = _np_moments(xg, (2,), stash)
    y = ((xg - mean) / np.sqrt(var + np.asarray(attrs.get("epsilon", 1e-5), stash)))
    y = y.astype(x.dtype).reshape(x.shape)
    shape = (-1,) + (1,) * (x.ndim - 2)
    c = x.shape[1]
    return [y * _per_channel(scale, c, per).reshape(shape) + _per_channel(bias, c, per).reshape(shape)]


def _gn_compute(inputs, attrs):
    x, scale, bias = inputs
    g, per = _groups(x.shape, attrs)
    stash = attrs.get("stash_dtype", "float32")
    n, c = x.shape[:2]
    grouped = te.compute((n, g, per) + x.shape[2:],
                         lambda *i: x[(i[0], i[1] * E.const(per) + i[2]) + tuple(i[3:])],
                         "group_norm_view", tag="injective")
    axes = tuple(range(2, grouped.ndim))
    mean, var = _moments(grouped, axes, stash, "group_norm")
    inv = _inv_std(var, attrs.get("epsilon", 1e-5), stash, "group_norm_inv_std")

    def param(p, ch):
        return p[ch] if p.shape[0] == c else p[ch // E.const(per)]

    def body(*i):
        stat = (i[0], i[1] // E.const(per)) + (E.const(0),) * len(axes)
        y = E.cast(x.dtype, (E.cast(stash, x[i]) - mean[stat]) * inv[stat])
        return y * param(scale, i[1]) + param(bias, i[1])

    return [te.compute(x.shape, body, "group_norm", tag="broadcast")]


define_op("GroupNormalization", _gn_infer, _gn_reference, _gn_compute, OpPattern.REDUCTION,
          __doc__)


def _in_infer(types, attrs):
    return _channel_params("InstanceNormalization", types, [(types[0].shape[1],)])


def _in_reference(xs, attrs):
    x, scale, bias = xs
    axes = tuple(range(2, x.ndim))
    _, mean, var = _np_moments(x, axes, x.dtype)
    shape = (-1,) + (1,) * (x.ndim - 2)
    y = (x - mean) / np.sqrt(var + np.asarray(attrs.get("epsilon", 1e-5), x.dtype))
    return [y * scale.reshape(shape) + bias.reshape(shape)]


def _in_compute(inputs, attrs):
    x, scale, bias = inputs
    axes = tuple(range(2, x.ndim))
    mean, var = _moments(x, axes, x.dtype, "instance_norm")
    inv = _inv_std(var, attrs.get("epsilon", 1e-5), x.dtype, "instance_norm_inv_std")

    def body(*i):
        k = keep_index(i, axes)
        return (x[i] - mean[k]) * inv[k] * scale[i[1]] + bias[i[1]]

    return [te.compute(x.shape, body, "instance_norm", tag="broadcast")]


define_op("InstanceNormalization", _in_infer, _in_reference, _in_compute, OpPattern.REDUCTION,
          __doc__)


# --- MeanVarianceNormalization / LpNormalization ------------------------------------------

_MVN_EPS = 1e-9


def _mvn_infer(types, attrs):
    (x,) = types
    _float_input("MeanVarianceNormalization", x)
    for a in attrs["axes"]:
        normalize_axis(a, len(x.shape))
    return [x]


def _mvn_reference(xs, attrs):
    (x,) = xs
    _, mean, var = _np_moments(x, tuple(attrs["axes"]), x.dtype)
    return [(x - mean) / (np.sqrt(var) + np.asarray(_MVN_EPS, x.dtype))]


def _mvn_compute(inputs, attrs):
    (x,) = inputs
    axes = tuple(attrs["axes"])
    mean, var = _moments(x, axes, x.dtype, "mvn")

    def body(*i):
        k = keep_index(i, axes)
        return (x[i] - mean[k]) / (E.call("sqrt", var[k]) + E.const(_MVN_EPS, x.dtype))

    return [te.compute(x.shape, body, "mvn", tag="broadcast")]


define_op("MeanVarianceNormalization", _mvn_infer, _mvn_reference, _mvn_compute,
          OpPattern.REDUCTION, __doc__)


def _lp_params(rank, attrs):
    p = int(attrs.get("p", 2))
    if p not in (1, 2):
        raise ValueError(f"LpNormalization takes p = 1 or 2, got {p}")
    return normalize_axis(attrs.get("axis", -1), rank), p


def _lp_infer(types, attrs):
    (x,) = types
    _float_input("LpNormalization", x)
    _lp_params(len(x.shape), attrs)
    return [x]


def _lp_reference(xs, attrs):
    (x,) = xs
    axis, p = _lp_params(x.ndim, attrs)
    norm = np.sum(np.abs(x) if p == 1 else x * x, axis=axis, keepdims=True)
    norm = norm if p == 1 else np.sqrt(norm)
    with np.errstate(divide="ignore", invalid="ignore"):
        return [np.where(norm == 0, 0, x / norm)]


def _lp_compute(inputs, attrs):
    (x,) = inputs
    axis, p = _lp_params(x.ndim, attrs)
    axes = (axis,)
    s = reduce_stage(x, axes, True, "sum",
                     lambda idx, i: E.call("fabs", x[idx]) if p == 1 else x[idx] * x[idx],
                     "lp_norm_sum")
    zero = E.const(0, x.dtype)

    def body(*i):
        total = s[keep_index(i, axes)]
        norm = total if p == 1 else E.call("sqrt", total)
        return E.select(E.eq(total, zero), zero, x[i] / norm)

    return [te.compute(x.shape, body, "lp_norm", tag="broadcast")]


define_op("LpNormalization", _lp_infer, _lp_reference, _lp_compute, OpPattern.REDUCTION, __doc__)
