"""PackedConv: a 2-D float32 convolution whose constant weights were packed at compile
time into blocks of output channels, computed by an output-channel-vectorized kernel.

PackedConv(X, W_blocks[, B]); attributes as Conv's (``strides``, ``pads``,
``dilations``, ``group``) plus ``block``: W (OC, ICg, KH, KW) is stored as
``W_blocks[OC / block, ICg, KH, KW, block]`` (``pack_conv_weights``), so that one tap
of ``block`` consecutive output channels is contiguous.  ``block`` divides OC / group:
a block never straddles two groups.

TE stages: a "pad" stage (for non-zero pads), then the blocked conv, tag
"conv2d_blocked"::

    blocked[n, ob, oy, ox, b] = sum(ic, ky, kx) padded[n, ch, oy*sh + ky*dh, ox*sw + kx*dw]
                                               * W_blocks[ob, ic, ky, kx, b]

(``ch`` the group's channel ``ic``), then the NCHW result (with the bias) reading
``blocked[n, oc // block, oy, ox, oc % block]``, tag "broadcast".  Vectorized over
``b``, a tile of several ``ox`` x ``block`` channels keeps its accumulators in
registers whatever the plane's size; every input element is one scalar broadcast,
so strides need no gathers (see ``schedule/defaults.py``, rule 2).
"""
from __future__ import annotations

import numpy as np

from .. import te
from ..graph.ir import TensorType
from ..te import expr as E
from .common import define_op
from .conv import _infer as conv_infer
from .conv import _reference as conv_reference
from .conv import conv_attrs
from .pad import pad_stage
from .registry import OpPattern
from .window import output_sizes


def pack_conv_weights(w: np.ndarray, block: int) -> np.ndarray:
    """W (OC, ICg, KH, KW) as blocks (OC / block, ICg, KH, KW, block)."""
    oc = w.shape[0]
    if oc % block:
        raise ValueError(f"cannot pack {oc} output channels into blocks of {block}")
    return np.ascontiguousarray(
        w.reshape((oc // block, block) + w.shape[1:]).transpose(0, 2, 3, 4, 1))


def unpack_conv_weights(wb: np.ndarray) -> np.ndarray:
    """The inverse of ``pack_conv_weights``."""
    ob, icg, kh, kw, block = wb.shape
    return wb.transpose(0, 4, 1, 2, 3).reshape(ob * block, icg, kh, kw)


def _weight_type(wb: TensorType) -> TensorType:
    ob, icg, kh, kw, block = wb.shape
    return TensorType((ob * block, icg, kh, kw), wb.dtype)


def _infer(types, attrs):
    if len(types) not in (2, 3) or len(types[1].shape) != 5 or len(types[0].shape) != 4:
        raise ValueError("PackedConv takes X (N, C, H, W), W_blocks (OC / block, ICg, KH, KW, "
                         f"block) and an optional bias, got {[str(t) for t in types]}")
    block = int(attrs["block"])
    if types[1].shape[4] != block or (types[1].shape[0] * block // int(attrs.get("group", 1))) % block:
        raise ValueError(f"PackedConv: W_blocks {types[1].shape} does not match block={block} "
                         f"with group={attrs.get('group', 1)}")
    conv_attrs_only = {k: v for k, v in attrs.items() if k != "block"}
    return conv_infer([types[0], _weight_type(types[1])] + list(types[2:]), conv_attrs_only)


def _reference(xs, attrs):
    conv_attrs_only = {k: v for k, v in attrs.items() if k != "block"}
    return conv_reference([xs[0], unpack_conv_weights(xs[1])] + list(xs[2:]), conv_attrs_only)


def _compute(inputs, attrs):
    x, wb = inputs[:2]
    (sh, sw), pads, (dh, dw), group = conv_attrs(attrs, 2)
    nblocks, icg, kh, kw, block = wb.shape
    oc = nblocks * block
    ocg = oc // group
    oh, ow = output_sizes(x.shape[2:], (kh, kw), (sh, sw), pads, (dh, dw))
    padded = pad_stage(x, (0, 0) + pads[:2], (0, 0) + pads[2:], 0, "conv_pad")
    ic, ky, kx = te.reduce_axis(icg, "ic"), te.reduce_axis(kh, "ky"), te.reduce_axis(kw, "kx")

    def body(n, ob, oy, ox, b):
        if group == 1:
            channel = ic.var
        else:
            channel = ((ob * E.const(block)) // E.const(ocg)) * E.const(icg) + ic.var
        read = padded[n, channel, oy * sh + ky.var * dh, ox * sw + kx.var * dw]
        return te.sum(read * wb[ob, ic, ky, kx, b], axis=[ic, ky, kx])

    blocked = te.compute((x.shape[0], nblocks, oh, ow, block), body, "conv2d_blocked",
                         tag="conv2d_blocked", attrs={"block": block})
    bias = inputs[2] if len(inputs) == 3 else None

    def unblock(n, c, y, x_):
        v = blocked[n, c // E.const(block), y, x_, c % E.const(block)]
        return v + bias[c] if bias is not None else v

    return [te.compute((x.shape[0], oc, oh, ow), unblock, "conv2d_unblocked",
                       tag="broadcast")]


define_op("PackedConv", _infer, _reference, _compute, OpPattern.OUT_FUSABLE, __doc__)
