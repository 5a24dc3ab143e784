"""PackedConv: a 2-D float32 convolution whose constant weights were packed at compile
time into blocks of output channels, computed by an output-channel-vectorized kernel.

PackedConv(X, W_blocks[, B]); attributes as Conv's (``strides``, ``pads``,
``dilations``, ``group``) plus ``out_channels`` (OC) and ``block``: W (OC, ICg, KH, KW)
is stored as ``W_blocks[group * bpg, ICg, KH, KW, block]`` (``pack_conv_weights``), each
group's OCg channels in ``bpg = ceil(OCg / block)`` blocks, the last one zero-padded
when ``block`` does not divide OCg (shufflenet's 34 channels per group: 9 blocks of 4).
One tap of ``block`` consecutive output channels is contiguous.

TE stages: a "pad" stage (for non-zero pads), then the blocked conv, tag
"conv2d_blocked"::

    blocked[n, ob, oy, ox, b] = sum(ic, ky, kx) padded[n, ch, oy*sh + ky*dh, ox*sw + kx*dw]
                                               * W_blocks[ob, ic, ky, kx, b]

(``ch`` = (ob // bpg) * ICg + ic), then the NCHW result (with the bias) reading
channel oc at ``blocked[n, (oc // OCg) * bpg + oc % OCg // block, oy, ox, oc % OCg %
block]`` (``oc // block, oc % block`` when nothing is padded), tag "broadcast".
Vectorized over ``b``, a tile of several output positions x ``block`` channels keeps its
accumulators in registers whatever the plane's size; every input element is one
scalar broadcast, so strides need no gathers (see ``schedule/defaults.py``).
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


def blocks_per_group(out_channels: int, group: int, block: int) -> int:
    """Blocks of ``block`` channels holding one group's output channels."""
    return -(-(out_channels // group) // block)


def pack_conv_weights(w: np.ndarray, block: int, group: int = 1) -> np.ndarray:
    """W (OC, ICg, KH, KW) as blocks (group * bpg, ICg, KH, KW, block), each group's
    channels zero-padded up to bpg * block."""
    oc = w.shape[0]
    ocg, bpg = oc // group, blocks_per_group(oc, group, block)
    grouped = np.zeros((group, bpg * block) + w.shape[1:], w.dtype)
    grouped[:, :ocg] = w.reshape((group, ocg) + w.shape[1:])
    return np.ascontiguousarray(
        grouped.reshape((group * bpg, block) + w.shape[1:]).transpose(0, 2, 3, 4, 1))


def unpack_conv_weights(wb: np.ndarray, out_channels: int, group: int) -> np.ndarray:
    """The inverse of ``pack_conv_weights``."""
    nblocks, icg, kh, kw, block = wb.shape
    grouped = wb.transpose(0, 4, 1, 2, 3).reshape(group, -1, icg, kh, kw)
    return grouped[:, :out_channels // group].reshape(out_channels, icg, kh, kw)


def _conv_only(attrs: dict) -> dict:
    return {k: v for k, v in attrs.items() if k not in ("block", "out_channels")}


def _infer(types, attrs):
    if len(types) not in (2, 3) or len(types[1].shape) != 5 or len(types[0].shape) != 4:
        raise ValueError("PackedConv takes X (N, C, H, W), W_blocks (blocks, ICg, KH, KW, "
                         f"block) and an optional bias, got {[str(t) for t in types]}")
    block, oc = int(attrs["block"]), int(attrs["out_channels"])
    group = int(attrs.get("group", 1))
    wb = types[1]
    if oc % group or wb.shape[4] != block \
            or wb.shape[0] != group * blocks_per_group(oc, group, block):
        raise ValueError(f"PackedConv: W_blocks {wb.shape} does not hold {oc} output "
                         f"channels in {group} group(s) of blocks of {block}")
    w = TensorType((oc,) + wb.shape[1:4], wb.dtype)
    return conv_infer([types[0], w] + list(types[2:]), _conv_only(attrs))


def _reference(xs, attrs):
    w = unpack_conv_weights(xs[1], int(attrs["out_channels"]), int(attrs.get("group", 1)))
    return conv_reference([xs[0], w] + list(xs[2:]), _conv_only(attrs))


def _compute(inputs, attrs):
    x, wb = inputs[:2]
    (sh, sw), pads, (dh, dw), group = conv_attrs(attrs, 2)
    nblocks, icg, kh, kw, block = wb.shape
    oc = int(attrs["out_channels"])
    ocg, bpg = oc // group, blocks_per_group(oc, group, block)
    oh, ow = output_sizes(x.shape[2:], (kh, kw), (sh, sw), pads, (dh, dw))
    padded = pad_stage(x, (0, 0) + pads[:2], (0, 0) + pads[2:], 0, "conv_pad")
    ic, ky, kx = te.reduce_axis(icg, "ic"), te.reduce_axis(kh, "ky"), te.reduce_axis(kw, "kx")

    def body(n, ob, oy, ox, b):
        channel = ic.var if group == 1 else (ob // E.const(bpg)) * E.const(icg) + ic.var
        read = padded[n, channel, oy * sh + ky.var * dh, ox * sw + kx.var * dw]
        return te.sum(read * wb[ob, ic, ky, kx, b], axis=[ic, ky, kx])

    blocked = te.compute((x.shape[0], nblocks, oh, ow, block), body, "conv2d_blocked",
                         tag="conv2d_blocked", attrs={"block": block, "group_channels": ocg})
    bias = inputs[2] if len(inputs) == 3 else None

    def unblock(n, c, y, x_):
        if ocg % block == 0:
            ob, lane = c // E.const(block), c % E.const(block)
        else:
            j = c % E.const(ocg)
            ob, lane = (c // E.const(ocg)) * E.const(bpg) + j // E.const(block), j % E.const(block)
        v = blocked[n, ob, y, x_, lane]
        return v + bias[c] if bias is not None else v

    return [te.compute((x.shape[0], oc, oh, ow), unblock, "conv2d_unblocked",
                       tag="broadcast")]


define_op("PackedConv", _infer, _reference, _compute, OpPattern.OUT_FUSABLE, __doc__)
