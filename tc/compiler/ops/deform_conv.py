"""DeformConv: 2-D convolution whose taps sample X at learned fractional offsets.

DeformConv(X (N, C, H, W), W (OC, C / group, kh, kw), offset (N, offset_group * kh * kw
* 2, oh, ow)[, B (OC,)][, mask (N, offset_group * kh * kw, oh, ow)]).
Canonical attributes (the frontend fills every one):
- ``strides``, ``dilations``: two ints; ``pads``: (top, left, bottom, right);
- ``group``, ``offset_group``: ints;
- ``has_bias``, ``has_mask``: 0 | 1, saying which optional inputs follow offset
  (absent ones are omitted).
Tap (ky, kx) of output (oy, ox) reads X at (oy * sh - top + ky * dh + dy, ox * sw - left +
kx * dw + dx), (dy, dx) its offset pair, by bilinear interpolation with zeros outside X
(GridSample, align_corners=1), times its mask value.

TE stage: "deform_conv", a sum over (ic, ky, kx) of the four weighted corner reads;
then a bias "broadcast" stage. Generic schedule.
"""
from __future__ import annotations

import numpy as np

from ..graph.ir import TensorType
from .. import te
from ..te import expr as E
from .common import clamp_index, define_op, in_range
from .registry import OpPattern
from .window import check_window_attrs, output_sizes


def _split(items, attrs):
    x, w, offset = items[:3]
    rest = list(items[3:])
    bias = rest.pop(0) if attrs.get("has_bias", 0) else None
    mask = rest.pop(0) if attrs.get("has_mask", 0) else None
    return x, w, offset, bias, mask


def _geometry(attrs):
    check_window_attrs("DeformConv", 2, attrs)
    return (tuple(attrs.get("strides", (1, 1))), tuple(attrs.get("pads", (0,) * 4)),
            tuple(attrs.get("dilations", (1, 1))), int(attrs.get("group", 1)),
            int(attrs.get("offset_group", 1)))


def _infer(types, attrs):
    x, w, offset, bias, mask = _split(types, attrs)
    if len(x.shape) != 4 or len(w.shape) != 4:
        raise ValueError(f"tc's DeformConv is 2-D: X and W of rank 4, got {x.shape} and "
                         f"{w.shape}")
    strides, pads, dilations, group, og = _geometry(attrs)
    n, c = x.shape[:2]
    oc, icg, kh, kw = w.shape
    if c != icg * group or oc % group or c % og:
        raise ValueError(f"DeformConv: X {x.shape}, W {w.shape}, group={group}, "
                         f"offset_group={og} do not fit")
    out = output_sizes(x.shape[2:], w.shape[2:], strides, pads, dilations)
    if offset.shape != (n, og * kh * kw * 2) + out:
        raise ValueError(f"DeformConv offset should be {(n, og * kh * kw * 2) + out}, got "
                         f"{offset.shape}")
    if mask is not None and mask.shape != (n, og * kh * kw) + out:
        raise ValueError(f"DeformConv mask should be {(n, og * kh * kw) + out}, got {mask.shape}")
    if bias is not None and bias.shape != (oc,):
        raise ValueError(f"DeformConv bias should be ({oc},), got {bias.shape}")
    return [TensorType((n, oc) + out, x.dtype)]


def _bilinear(xg, hy, wx):
    """Sample xg (N, G, Cg, H, W) at (hy, wx) (N, G, oh, ow) -> (N, G, Cg, oh, ow)."""
    n, g, _, height, width = xg.shape
    h0, w0 = np.floor(hy), np.floor(wx)
    out = 0
    ni, gi = np.arange(n)[:, None, None, None], np.arange(g)[None, :, None, None]
    for yy in (h0, h0 + 1):
        for xx in (w0, w0 + 1):
            weight = (1 - np.abs(hy - yy)) * (1 - np.abs(wx - xx))
            ok = (yy >= 0) & (yy < height) & (xx >= 0) & (xx < width)
            yi = np.clip(yy, 0, height - 1).astype(np.int64)
            xi = np.clip(xx, 0, width - 1).astype(np.int64)
            vals = np.moveaxis(xg[ni, gi, :, yi, xi], -1, 2)
            out = out + vals * np.where(ok, weight, 0)[:, :, None]
    return out


def _reference(xs, attrs):
    x, w, offset, bias, mask = _split(xs, attrs)
    (sh, sw), pads, (dh, dw), group, og = _geometry(attrs)
    n, c, height, width = x.shape
    oc, icg, kh, kw = w.shape
    oh, ow = offset.shape[2:]
    off = offset.reshape(n, og, kh, kw, 2, oh, ow)
    msk = (np.ones((n, og, kh, kw, oh, ow), x.dtype) if mask is None
           else mask.reshape(n, og, kh, kw, oh, ow))
    xg = x.reshape(n, og, c // og, height, width)
    base_y = (np.arange(oh) * sh - pads[0])[:, None]
    base_x = (np.arange(ow) * sw - pads[1])[None, :]
    out = np.zeros((n, group, oc // group, oh * ow), x.dtype)
    wg = w.reshape(group, oc // group, icg, kh, kw)
    for ky in range(kh):
        for kx in range(kw):
            hy = base_y + ky * dh + off[:, :, ky, kx, 0]
            wx = base_x + kx * dw + off[:, :, ky, kx, 1]
            sampled = _bilinear(xg, hy, wx) * msk[:, :, None, ky, kx]
            cols = sampled.reshape(n, group, icg, oh * ow)
            out += np.matmul(wg[:, :, :, ky, kx], cols)
    out = out.reshape(n, oc, oh, ow)
    if bias is not None:
        out = out + bias.reshape(1, oc, 1, 1)
    return [out]


def _compute(inputs, attrs):
    x, w, offset, bias, mask = _split(inputs, attrs)
    (sh, sw), pads, (dh, dw), group, og = _geometry(attrs)
    _, c, height, width = x.shape
    oc, icg, kh, kw = w.shape
    ocg, cpog = oc // group, c // og
    out_shape = (x.shape[0], oc) + tuple(offset.shape[2:])
    ic, ky, kx = te.reduce_axis(icg, "ic"), te.reduce_axis(kh, "ky"), te.reduce_axis(kw, "kx")
    dt = x.dtype

    def body(n, o, oy, ox):
        channel = ic.var if group == 1 else (o // E.const(ocg)) * E.const(icg) + ic.var
        tap = ky.var * E.const(kw) + kx.var
        g = channel // E.const(cpog) if og > 1 else E.const(0)
        off_row = (g * E.const(kh * kw) + tap) * E.const(2)
        hy = E.cast(dt, oy * sh - E.const(pads[0]) + ky.var * dh) + offset[n, off_row, oy, ox]
        wx = E.cast(dt, ox * sw - E.const(pads[1]) + kx.var * dw) + offset[
            n, off_row + E.const(1), oy, ox]
        hf, wf = E.call("floor", hy), E.call("floor", wx)
        h0, w0 = E.cast("int64", hf), E.cast("int64", wf)
        ly, lx = hy - hf, wx - wf
        one = E.const(1.0, dt)
        value = None
        for yy, wy in ((h0, one - ly), (h0 + E.const(1), ly)):
            for xx, wxw in ((w0, one - lx), (w0 + E.const(1), lx)):
                read = x[n, channel, clamp_index(yy, height), clamp_index(xx, width)]
                ok = E.logical_and(in_range(yy, 0, height), in_range(xx, 0, width))
                term = E.select(ok, read, E.const(0, dt)) * (wy * wxw)
                value = term if value is None else value + term
        if mask is not None:
            value = value * mask[n, g * E.const(kh * kw) + tap, oy, ox]
        return te.sum(value * w[o, ic, ky, kx], axis=[ic, ky, kx])

    conv = te.compute(out_shape, body, "deform_conv", tag="deform_conv")
    if bias is None:
        return [conv]
    return [te.compute(out_shape, lambda n, o, y, x_: conv[n, o, y, x_] + bias[o],
                       "deform_conv_bias", tag="broadcast")]


define_op("DeformConv", _infer, _reference, _compute, OpPattern.OUT_FUSABLE, __doc__)
