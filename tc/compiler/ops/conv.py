"""Convolution (NCHW data, OIHW weights; any number of spatial dims): Conv, ConvInteger.

Conv(X, W[, B]) canonical attributes (the frontend fills every one):
- ``strides``: one int per spatial dim;
- ``pads``: (begin..., end...) per spatial dim (auto_pad already resolved);
- ``dilations``: one int per spatial dim;
- ``group``: int; C and OC must both divide by it.
The kernel shape is W's spatial shape.

ConvInteger(X, W[, x_zero_point[, w_zero_point]]): the same attributes; X and W int8 or
uint8, zero points scalars (or per-output-channel for W); an int32 result.
QLinearConv(X, x_scale, x_zero_point, W, w_scale, w_zero_point, y_scale, y_zero_point[, B]):
the same attributes; ConvInteger's int32 sum (plus B) times x_scale * w_scale / y_scale
(w_scale may be per output channel), rounded half to even, plus y_zero_point, saturated
to Y's dtype (that of y_zero_point).

TE stages: optional "pad" (only for non-zero pads), then "conv2d" with axes exactly
(n, oc, oy, ox) and reduce axes (ic, ky, kx), then with a bias a "broadcast" stage.
1-D convolutions are 2-D ones over a height of 1. Other ranks (3-D) and ConvInteger use
"conv_nd": axes (n, oc, o0, o1, ...), reduce (ic, k0, k1, ...), the generic schedule.
"""
from __future__ import annotations

import numpy as np

from .. import te
from ..graph.ir import TensorType
from ..te import expr as E
from .common import clamp_index, define_op, same_dtype
from .pad import pad_stage
from .registry import OpPattern
from .window import check_window_attrs, output_sizes


def conv_attrs(attrs: dict, n: int) -> tuple[tuple, tuple, tuple, int]:
    """(strides, pads, dilations, group) with defaults for ``n`` spatial dims."""
    check_window_attrs("Conv", n, attrs)
    return (tuple(attrs.get("strides", (1,) * n)), tuple(attrs.get("pads", (0,) * 2 * n)),
            tuple(attrs.get("dilations", (1,) * n)), int(attrs.get("group", 1)))


def _infer(types, attrs):
    if len(types) not in (2, 3):
        raise ValueError(f"Conv takes X, W and an optional B, got {len(types)} inputs")
    x, w = types[:2]
    n = len(x.shape) - 2
    if n < 1 or len(w.shape) != n + 2:
        raise ValueError(f"Conv needs X of rank >= 3 and W of the same rank, got "
                         f"{x.shape} and {w.shape}")
    strides, pads, dilations, group = conv_attrs(attrs, n)
    oc, icg = w.shape[:2]
    if x.shape[1] != icg * group or oc % group:
        raise ValueError(f"Conv with group={group}: X has {x.shape[1]} channels and W "
                         f"{w.shape} needs {icg * group}, with {oc} output channels "
                         f"divisible by the group")
    if len(types) == 3 and types[2].shape != (oc,):
        raise ValueError(f"Conv bias should have shape ({oc},), got {types[2].shape}")
    spatial = output_sizes(x.shape[2:], w.shape[2:], strides, pads, dilations)
    return [TensorType((x.shape[0], oc) + spatial, same_dtype(types, "Conv"))]


def _reference(xs, attrs):
    x, w = (v.astype(_wide(v.dtype) or v.dtype) for v in xs[:2])
    n = x.ndim - 2
    strides, pads, dilations, group = conv_attrs(attrs, n)
    xp = np.pad(x, [(0, 0), (0, 0)] + [(pads[d], pads[n + d]) for d in range(n)])
    out_sp = output_sizes(x.shape[2:], w.shape[2:], strides, pads, dilations)
    batch, oc, icg = x.shape[0], w.shape[0], w.shape[1]
    xg = xp.reshape((batch, group, icg) + xp.shape[2:])
    wg = w.reshape((group, oc // group, icg) + w.shape[2:])
    out = np.zeros((batch, group, oc // group, int(np.prod(out_sp))), dtype=x.dtype)
    for kpos in np.ndindex(*w.shape[2:]):
        window = tuple(slice(k * dl, k * dl + (o - 1) * s + 1, s)
                       for k, dl, o, s in zip(kpos, dilations, out_sp, strides))
        patch = xg[(slice(None),) * 3 + window].reshape(batch, group, icg, -1)
        out += np.matmul(wg[(Ellipsis,) + kpos], patch)  # (G, OCg, ICg) @ (N, G, ICg, P)
    out = out.reshape((batch, oc) + out_sp)
    if len(xs) == 3:
        out = out + xs[2].reshape((oc,) + (1,) * n)
    return [out]


def _lift_1d(t):
    """View a rank-3 (N, C, W) tensor as rank 4 (N, C, 1, W)."""
    return te.compute(t.shape[:2] + (1, t.shape[2]), lambda a, b, h, x_: t[a, b, x_],
                      f"{t.name}_2d", tag="injective")


def _compute(inputs, attrs):
    x, w = inputs[:2]
    if x.ndim == 3:  # a 1-D convolution is a 2-D one over a height of 1
        (s,), (pb, pe), (d,), group = conv_attrs(attrs, 1)
        attrs2d = dict(attrs, strides=(1, s), pads=(0, pb, 0, pe), dilations=(1, d))
        out4, = _compute([_lift_1d(x), _lift_1d(w)] + list(inputs[2:]), attrs2d)
        return [te.compute((out4.shape[0], out4.shape[1], out4.shape[3]),
                           lambda n, c, x_: out4[n, c, 0, x_], "conv1d", tag="injective")]
    if x.ndim != 4:
        return conv_nd(inputs, attrs)
    (sh, sw), pads, (dh, dw), group = conv_attrs(attrs, 2)
    oc, icg, kh, kw = w.shape
    ocg = oc // group
    out_shape = (x.shape[0], oc) + output_sizes(x.shape[2:], w.shape[2:], (sh, sw), pads,
                                                (dh, dw))
    padded = pad_stage(x, (0, 0) + pads[:2], (0, 0) + pads[2:], 0, "conv_pad")
    ic, ky, kx = te.reduce_axis(icg, "ic"), te.reduce_axis(kh, "ky"), te.reduce_axis(kw, "kx")
    # the phase split is one pass over the input, which pays when several output
    # channels read each input channel; a depthwise conv reads its strided input
    # directly (wide loads and a shuffle: 112 ch @56 3x3/s2 0.68 -> 0.22 ms)
    strided = (sh, sw) != (1, 1) and (dh, dw) == (1, 1) and ocg > 1
    if strided:
        phases, pw = _phase_split(padded, (sh, sw), (kh, kw), out_shape[2:])

    acc = _wide(x.dtype)

    def body(n, oc, oy, ox):
        channel = ic.var if group == 1 else (oc // E.const(ocg)) * E.const(icg) + ic.var
        if strided:
            phase = (ky.var % E.const(sh)) * E.const(pw) + kx.var % E.const(sw)
            read = phases[phase, n, channel, oy + ky.var // E.const(sh), ox + kx.var // E.const(sw)]
        else:
            read = padded[n, channel, oy * sh + ky.var * dh, ox * sw + kx.var * dw]
        return te.sum(_as(acc, read) * _as(acc, w[oc, ic, ky, kx]), axis=[ic, ky, kx])

    conv = te.compute(out_shape, body, "conv2d", tag="conv2d",
                      attrs={"layout": "NCHW", "strides": (sh, sw), "pads": pads,
                             "dilations": (dh, dw), "group": group})
    return _epilogue(conv, inputs[2] if len(inputs) == 3 else None, x.dtype, "conv2d")


def _phase_split(padded, strides, kernel, out_hw):
    """The padded input of a strided conv split into its stride phases:
    ``phases[a * pw + b, n, c, i, j] = padded[n, c, i * sh + a, j * sw + b]``, so that the
    conv reads ``phases[(ky % sh) * pw + kx % sw, n, c, oy + ky // sh, ox + kx // sw]``:
    consecutive output columns read consecutive elements (vector loads instead of
    stride-2 gathers).  Only the phases a kernel tap reaches are kept.  Tagged "pad", so
    the default schedule materializes it for the conv (see ``schedule/defaults.py``).
    Returns (phases, pw)."""
    (sh, sw), (kh, kw) = strides, kernel
    ph, pw = min(sh, kh), min(sw, kw)
    hq, wq = out_hw[0] + (kh - 1) // sh, out_hw[1] + (kw - 1) // sw
    n, c, hp, wp = padded.shape

    def body(f, b, ch, i, j):
        row = clamp_index(i * E.const(sh) + f // E.const(pw), hp)
        col = clamp_index(j * E.const(sw) + f % E.const(pw), wp)
        return padded[b, ch, row, col]

    return te.compute((ph * pw, n, c, hq, wq), body, "conv_phases", tag="pad"), pw


def _wide(dtype: str):
    """The accumulator dtype when it must differ from the data's: float32 for float16
    (as onnxruntime and the ONNX reference accumulate); None otherwise."""
    return "float32" if dtype == "float16" else None


def _as(dtype, v):
    return v if dtype is None else E.cast(dtype, v)


def _epilogue(conv, bias, dtype: str, name: str):
    """Add the bias (a "broadcast" stage) and narrow a wide accumulator back to ``dtype``."""
    if bias is None and conv.dtype == dtype:
        return [conv]
    shape = conv.shape

    def body(n, c, *sp):
        v = conv[(n, c) + sp]
        if bias is not None:
            v = v + _as(None if conv.dtype == dtype else conv.dtype, bias[c])
        return _as(None if conv.dtype == dtype else dtype, v)
    fn = (lambda n, c, y, x_: body(n, c, y, x_)) if len(shape) == 4 else body
    return [te.compute(shape, fn, f"{name}_bias" if bias is not None else f"{name}_narrow",
                       tag="broadcast" if bias is not None else "elemwise")]


def conv_nd(inputs, attrs, acc_dtype=None, tag="conv_nd"):
    """Convolution over any number of spatial dims (no "conv2d" fast path): a "pad" stage,
    a "conv_nd" reduction (operands cast to ``acc_dtype`` when given), a bias stage."""
    x, w = inputs[:2]
    n_sp = x.ndim - 2
    strides, pads, dilations, group = conv_attrs(attrs, n_sp)
    oc, icg = w.shape[:2]
    ocg = oc // group
    out_shape = (x.shape[0], oc) + output_sizes(x.shape[2:], w.shape[2:], strides, pads,
                                                dilations)
    padded = pad_stage(x, (0, 0) + pads[:n_sp], (0, 0) + pads[n_sp:], 0, "conv_pad")
    ic = te.reduce_axis(icg, "ic")
    ks = [te.reduce_axis(k, f"k{d}") for d, k in enumerate(w.shape[2:])]

    acc_dtype = acc_dtype or _wide(x.dtype)

    def cast(v):
        return v if acc_dtype is None or v.dtype == acc_dtype else E.cast(acc_dtype, v)

    def body(n, o, *sp):
        channel = ic.var if group == 1 else (o // E.const(ocg)) * E.const(icg) + ic.var
        taps = tuple(sp[d] * strides[d] + ks[d].var * dilations[d] for d in range(n_sp))
        return te.sum(cast(padded[(n, channel) + taps]) * cast(w[(o, ic.var) + tuple(
            k.var for k in ks)]), axis=[ic] + ks)

    conv = te.compute(out_shape, body, "conv_nd", tag=tag,
                      attrs={"strides": strides, "pads": pads, "dilations": dilations,
                             "group": group})
    return _epilogue(conv, inputs[2] if len(inputs) == 3 else None, x.dtype, "conv_nd")


define_op("Conv", _infer, _reference, _compute, OpPattern.OUT_FUSABLE, __doc__)


# --- ConvInteger ---------------------------------------------------------------------

def _int_infer(types, attrs):
    if not 2 <= len(types) <= 4:
        raise ValueError(f"ConvInteger takes X, W and optional zero points, got {len(types)} "
                         "inputs")
    for t, what in zip(types, ("X", "W", "x_zero_point", "w_zero_point")):
        if t.dtype not in ("int8", "uint8"):
            raise ValueError(f"ConvInteger's {what} must be int8 or uint8, got {t.dtype}")
    out, = _infer([TensorType(t.shape, "float32") for t in types[:2]], attrs)
    return [TensorType(out.shape, "int32")]


def _shifted(xs):
    """X and W as int32 minus their zero points (W's may be per output channel)."""
    x, w = (np.asarray(v, np.int32) for v in xs[:2])
    if len(xs) > 2:
        x = x - np.asarray(xs[2], np.int32).reshape(())
    if len(xs) > 3:
        zp = np.asarray(xs[3], np.int32)
        w = w - zp.reshape((-1,) + (1,) * (w.ndim - 1) if zp.size > 1 else ())
    return x, w


def _int_reference(xs, attrs):
    return _reference(list(_shifted(xs)), attrs)


def _int_compute(inputs, attrs):
    x, w = inputs[:2]
    zx = inputs[2] if len(inputs) > 2 else None
    zw = inputs[3] if len(inputs) > 3 else None

    def zero(z, i):
        if z is None:
            return E.const(0, "int32")
        return E.cast("int32", z[(i[0],) if z.ndim == 1 and z.shape[0] > 1 else
                                 (E.const(0),) * z.ndim])

    xs = te.compute(x.shape, lambda *i: E.cast("int32", x[i]) - zero(zx, (0,)),
                    "conv_int_x", tag="elemwise")
    ws = te.compute(w.shape, lambda *i: E.cast("int32", w[i]) - zero(zw, i),
                    "conv_int_w", tag="elemwise")
    return conv_nd([xs, ws], attrs)


define_op("ConvInteger", _int_infer, _int_reference, _int_compute, OpPattern.OUT_FUSABLE,
          __doc__)


# --- QLinearConv ---------------------------------------------------------------------

def _q_infer(types, attrs):
    if len(types) not in (8, 9):
        raise ValueError(f"QLinearConv takes 8 or 9 inputs, got {len(types)}")
    acc, = _int_infer([types[0], types[3], types[2], types[5]], attrs)
    return [TensorType(acc.shape, types[7].dtype)]


def _q_reference(xs, attrs):
    x, xs_, xz, w, ws, wz, ys, yz = xs[:8]
    acc, = _int_reference([x, w, xz, wz], attrs)
    if len(xs) == 9:
        acc = acc + xs[8].reshape((-1,) + (1,) * (acc.ndim - 2))
    scale = (np.float32(xs_.reshape(())) * ws.astype(np.float32).reshape(
        (-1,) + (1,) * (acc.ndim - 2)) / np.float32(ys.reshape(())))
    info = np.iinfo(yz.dtype)
    y = np.rint(acc.astype(np.float32) * scale) + yz.astype(np.float32).reshape(())
    return [np.clip(y, info.min, info.max).astype(yz.dtype)]


def _q_compute(inputs, attrs):
    x, xs_, xz, w, ws, wz, ys, yz = inputs[:8]
    acc, = _int_compute([x, w, xz, wz], attrs)
    bias = inputs[8] if len(inputs) == 9 else None
    info = np.iinfo(yz.dtype)
    zero = (E.const(0),)

    def scalar(t):
        return E.cast("float32", t[zero * t.ndim])

    def body(n, c, *sp):
        a = acc[(n, c) + sp]
        if bias is not None:
            a = a + bias[c]
        w_scale = E.cast("float32", ws[(c,) if ws.ndim == 1 and ws.shape[0] > 1 else
                                       zero * ws.ndim])
        v = E.call("round", E.cast("float32", a) * (scalar(xs_) * w_scale / scalar(ys)))
        v = v + scalar(yz)
        v = E.minimum(E.maximum(v, E.const(float(info.min), "float32")),
                      E.const(float(info.max), "float32"))
        return E.cast(yz.dtype, v)

    return [te.compute(acc.shape, body, "qlinear_conv_requant", tag="elemwise")]


define_op("QLinearConv", _q_infer, _q_reference, _q_compute, OpPattern.OUT_FUSABLE, __doc__)
