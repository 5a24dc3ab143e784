"""Transposed windows: ConvTranspose and Col2Im, which scatter each input tap over an
output window; computed here as gathers (each output point sums the taps that land on it).

ConvTranspose(X, W[, B]) canonical attributes (the frontend fills every one):
- ``strides``, ``dilations``: one int per spatial dim;
- ``pads``: (begin..., end...) per spatial dim, cropped from the full transposed output
  of ``(in - 1) * stride + (k - 1) * dilation + 1``; auto_pad, output_padding and
  output_shape are folded in, so an end pad may be negative (output grows);
- ``group``: int. W is (C, M / group, k...); the output has M channels.

Col2Im(X) canonical attributes: ``image_shape`` and ``block_shape`` (the ONNX inputs,
compile-time constants), ``strides``, ``dilations``, ``pads`` as above. X is
(N, C * prod(block_shape), L); the output (N, C, *image_shape).

TE stages: "conv_transpose" / "col2im", a sum over (ic, k0, k1, ...) / (k0, ...) of taps
guarded by a Select (a tap lands only where the stride divides), then a bias "broadcast".
Generic schedule.
"""
from __future__ import annotations

import math

import numpy as np

from ..graph.ir import TensorType
from .. import te
from ..te import expr as E
from .common import clamp_index, define_op, same_dtype
from .registry import OpPattern
from .window import check_window_attrs, effective_kernel


def transpose_attrs(attrs: dict, n: int):
    """(strides, pads, dilations, group) with defaults for ``n`` spatial dims."""
    check_window_attrs("ConvTranspose", n, attrs)
    return (tuple(attrs.get("strides", (1,) * n)), tuple(attrs.get("pads", (0,) * 2 * n)),
            tuple(attrs.get("dilations", (1,) * n)), int(attrs.get("group", 1)))


def transposed_sizes(spatial, kernel, strides, pads, dilations) -> tuple[int, ...]:
    """Output sizes of a transposed window: the full scatter extent minus the pads."""
    n = len(spatial)
    out = tuple((spatial[d] - 1) * strides[d] + effective_kernel(kernel[d], dilations[d])
                - pads[d] - pads[n + d] for d in range(n))
    if min(out, default=1) < 1:
        raise ValueError(f"transposed window output {out} is empty (input {tuple(spatial)}, "
                         f"kernel {tuple(kernel)}, pads {tuple(pads)})")
    return out


def scatter_reference(contrib, in_spatial, kernel, strides, pads, dilations):
    """Sum ``contrib[kpos]`` (arrays (..., *in_spatial)) into the transposed output."""
    n = len(in_spatial)
    out = transposed_sizes(in_spatial, kernel, strides, pads, dilations)
    full = [(in_spatial[d] - 1) * strides[d] + effective_kernel(kernel[d], dilations[d])
            for d in range(n)]
    lo = [min(0, pads[d]) for d in range(n)]          # buffer origin in full coordinates
    hi = [max(full[d], pads[d] + out[d]) for d in range(n)]
    lead = next(iter(contrib.values())).shape[:-n]
    buf = np.zeros(lead + tuple(h - l for h, l in zip(hi, lo)),
                   dtype=next(iter(contrib.values())).dtype)
    for kpos, c in contrib.items():
        idx = tuple(slice(k * dl - l, k * dl - l + (i - 1) * s + 1, s)
                    for k, dl, l, i, s in zip(kpos, dilations, lo, in_spatial, strides))
        buf[(Ellipsis,) + idx] += c
    return buf[(Ellipsis,) + tuple(slice(p - l, p - l + o) for p, l, o in zip(pads, lo, out))]


def landing(o: E.Expr, k: E.Expr, pad: int, stride: int, dilation: int, size: int):
    """(clamped input index, validity) of the input tap that kernel offset ``k`` carries to
    output index ``o``: ``q * stride + k * dilation - pad == o`` with ``0 <= q < size``."""
    num = o + E.const(pad) - k * E.const(dilation)
    q = num // E.const(stride) if stride > 1 else num
    conds = [E.ge(num, E.const(0)), E.lt(q, E.const(size))]
    if stride > 1:
        conds.append(E.eq(num % E.const(stride), E.const(0)))
    return clamp_index(q, size), E.logical_and(*conds)


# --- ConvTranspose -------------------------------------------------------------------

def _infer(types, attrs):
    if len(types) not in (2, 3):
        raise ValueError(f"ConvTranspose takes X, W and an optional B, got {len(types)} inputs")
    x, w = types[:2]
    n = len(x.shape) - 2
    if n < 1 or len(w.shape) != n + 2:
        raise ValueError(f"ConvTranspose needs X of rank >= 3 and W of the same rank, got "
                         f"{x.shape} and {w.shape}")
    strides, pads, dilations, group = transpose_attrs(attrs, n)
    if w.shape[0] != x.shape[1] or x.shape[1] % group:
        raise ValueError(f"ConvTranspose: W {w.shape} should have X's {x.shape[1]} channels "
                         f"first, divisible by group={group}")
    oc = w.shape[1] * group
    if len(types) == 3 and types[2].shape != (oc,):
        raise ValueError(f"ConvTranspose bias should have shape ({oc},), got {types[2].shape}")
    out = transposed_sizes(x.shape[2:], w.shape[2:], strides, pads, dilations)
    return [TensorType((x.shape[0], oc) + out, same_dtype(types, "ConvTranspose"))]


def _reference(xs, attrs):
    x, w = xs[:2]
    n = x.ndim - 2
    strides, pads, dilations, group = transpose_attrs(attrs, n)
    batch, c = x.shape[:2]
    cg, mg = c // group, w.shape[1]
    xg = x.reshape((batch, group, cg) + x.shape[2:])
    wg = w.reshape((group, cg, mg) + w.shape[2:])
    contrib = {kpos: np.einsum("ngc...,gcm->ngm...", xg, wg[(Ellipsis,) + kpos]).reshape(
        (batch, group * mg) + x.shape[2:]) for kpos in np.ndindex(*w.shape[2:])}
    out = scatter_reference(contrib, x.shape[2:], w.shape[2:], strides, pads, dilations)
    if len(xs) == 3:
        out = out + xs[2].reshape((-1,) + (1,) * n)
    return [out]


def _compute(inputs, attrs):
    x, w = inputs[:2]
    n = x.ndim - 2
    strides, pads, dilations, group = transpose_attrs(attrs, n)
    cg, mg = x.shape[1] // group, w.shape[1]
    out_shape = (x.shape[0], mg * group) + transposed_sizes(x.shape[2:], w.shape[2:], strides,
                                                            pads, dilations)
    ic = te.reduce_axis(cg, "ic")
    ks = [te.reduce_axis(k, f"k{d}") for d, k in enumerate(w.shape[2:])]

    def body(b, oc, *o):
        channel = ic.var if group == 1 else (oc // E.const(mg)) * E.const(cg) + ic.var
        taps = [landing(o[d], ks[d].var, pads[d], strides[d], dilations[d], x.shape[2 + d])
                for d in range(n)]
        read = x[(b, channel) + tuple(q for q, _ in taps)] * w[
            (channel, oc % E.const(mg) if group > 1 else oc) + tuple(k.var for k in ks)]
        valid = E.logical_and(*[v for _, v in taps]) if n > 1 else taps[0][1]
        return te.sum(E.select(valid, read, E.const(0, x.dtype)), axis=[ic] + ks)

    conv = te.compute(out_shape, body, "conv_transpose", tag="conv_transpose",
                      attrs={"strides": strides, "pads": pads, "dilations": dilations,
                             "group": group})
    if len(inputs) == 2:
        return [conv]
    bias = inputs[2]
    return [te.compute(out_shape, lambda b, c, *o: conv[(b, c) + o] + bias[c],
                       "conv_transpose_bias", tag="broadcast")]


define_op("ConvTranspose", _infer, _reference, _compute, OpPattern.OUT_FUSABLE, __doc__)


# --- Col2Im --------------------------------------------------------------------------

def _col2im_geometry(x_shape, attrs):
    image, block = tuple(attrs["image_shape"]), tuple(attrs["block_shape"])
    n = len(image)
    if len(block) != n:
        raise ValueError(f"Col2Im: image_shape {image} and block_shape {block} differ in rank")
    check_window_attrs("Col2Im", n, attrs)
    strides = tuple(attrs.get("strides", (1,) * n))
    pads = tuple(attrs.get("pads", (0,) * 2 * n))
    dilations = tuple(attrs.get("dilations", (1,) * n))
    blocks = tuple((image[d] + pads[d] + pads[n + d] - effective_kernel(block[d], dilations[d]))
                   // strides[d] + 1 for d in range(n))
    kernel = math.prod(block)
    if len(x_shape) != 3 or x_shape[1] % kernel or x_shape[2] != math.prod(blocks):
        raise ValueError(f"Col2Im input {tuple(x_shape)} should be (N, C * {kernel}, "
                         f"{math.prod(blocks)}) for image {image}, block {block}")
    return image, block, blocks, strides, pads, dilations


def _col2im_infer(types, attrs):
    (x,) = types
    image = _col2im_geometry(x.shape, attrs)[0]
    kernel = math.prod(attrs["block_shape"])
    return [TensorType((x.shape[0], x.shape[1] // kernel) + image, x.dtype)]


def _col2im_reference(xs, attrs):
    (x,) = xs
    image, block, blocks, strides, pads, dilations = _col2im_geometry(x.shape, attrs)
    cols = x.reshape((x.shape[0], -1) + block + blocks)
    # the blocks cover the padded image; end pads that crop exactly back to image_shape
    n = len(image)
    crop = pads[:n] + tuple((blocks[d] - 1) * strides[d] + effective_kernel(block[d], dilations[d])
                            - pads[d] - image[d] for d in range(n))
    contrib = {kpos: cols[(slice(None), slice(None)) + kpos] for kpos in np.ndindex(*block)}
    return [scatter_reference(contrib, blocks, block, strides, crop, dilations)]


def _col2im_compute(inputs, attrs):
    (x,) = inputs
    image, block, blocks, strides, pads, dilations = _col2im_geometry(x.shape, attrs)
    n = len(image)
    ks = [te.reduce_axis(k, f"k{d}") for d, k in enumerate(block)]
    kernel = math.prod(block)

    def row_major(idx, dims):
        flat = idx[0]
        for i, d in zip(idx[1:], dims[1:]):
            flat = flat * E.const(d) + i
        return flat

    def body(b, c, *o):
        taps = [landing(o[d], ks[d].var, pads[d], strides[d], dilations[d], blocks[d])
                for d in range(n)]
        row = c * E.const(kernel) + row_major([k.var for k in ks], block)
        read = x[b, row, row_major([q for q, _ in taps], blocks)]
        valid = E.logical_and(*[v for _, v in taps]) if n > 1 else taps[0][1]
        return te.sum(E.select(valid, read, E.const(0, x.dtype)), axis=ks)

    return [te.compute((x.shape[0], x.shape[1] // kernel) + image, body, "col2im",
                       tag="col2im")]


define_op("Col2Im", _col2im_infer, _col2im_reference, _col2im_compute, OpPattern.REDUCTION,
          __doc__)
