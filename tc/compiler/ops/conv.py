"""Convolution (NCHW data, OIHW weights; any number of spatial dims in inference and the
numpy reference, 2-D in the TE compute).

Conv(X, W[, B]) canonical attributes (the frontend fills every one):
- ``strides``: one int per spatial dim;
- ``pads``: (begin..., end...) per spatial dim (auto_pad already resolved);
- ``dilations``: one int per spatial dim;
- ``group``: int; C and OC must both divide by it.
The kernel shape is W's spatial shape.

TE stages: optional "pad" (only for non-zero pads), then "conv2d" with axes exactly
(n, oc, oy, ox) and reduce axes (ic, ky, kx), then with a bias a "broadcast" stage.
"""
from __future__ import annotations

import numpy as np

from ..graph.ir import TensorType
from .. import te
from ..te import expr as E
from .common import define_op, same_dtype
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
    x, w = xs[:2]
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
        raise NotImplementedError(f"Conv's TE compute handles 1-D and 2-D; got input rank {x.ndim}")
    (sh, sw), pads, (dh, dw), group = conv_attrs(attrs, 2)
    oc, icg, kh, kw = w.shape
    ocg = oc // group
    out_shape = (x.shape[0], oc) + output_sizes(x.shape[2:], w.shape[2:], (sh, sw), pads,
                                                (dh, dw))
    padded = pad_stage(x, (0, 0) + pads[:2], (0, 0) + pads[2:], 0, "conv_pad")
    ic, ky, kx = te.reduce_axis(icg, "ic"), te.reduce_axis(kh, "ky"), te.reduce_axis(kw, "kx")

    def body(n, oc, oy, ox):
        channel = ic.var if group == 1 else (oc // E.const(ocg)) * E.const(icg) + ic.var
        return te.sum(padded[n, channel, oy * sh + ky.var * dh, ox * sw + kx.var * dw]
                      * w[oc, ic, ky, kx], axis=[ic, ky, kx])

    conv = te.compute(out_shape, body, "conv2d", tag="conv2d",
                      attrs={"layout": "NCHW", "strides": (sh, sw), "pads": pads,
                             "dilations": (dh, dw), "group": group})
    if len(inputs) == 2:
        return [conv]
    bias = inputs[2]
    return [te.compute(out_shape, lambda n, c, y, x_: conv[n, c, y, x_] + bias[c],
                       "conv2d_bias", tag="broadcast")]


define_op("Conv", _infer, _reference, _compute, OpPattern.OUT_FUSABLE, __doc__)
