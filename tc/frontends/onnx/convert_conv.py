"""ONNX converters for the transposed and integer convolutions, Col2Im, MaxUnpool and
GlobalLpPool (Conv and the windowed pools are in convert_nn)."""
from __future__ import annotations

import numpy as np

from ...compiler.ops.window import effective_kernel, resolve_auto_pad
from .importer import FrontendError, converter


@converter("ConvTranspose")
def _conv_transpose(cv, node, attrs):
    ins = [v for v in cv.inputs(node) if v is not None]
    x, w = ins[:2]
    spatial = x.type.shape[2:]
    n = len(spatial)
    kernel = tuple(attrs.get("kernel_shape", w.type.shape[2:]))
    strides = tuple(attrs.get("strides", (1,) * n))
    dilations = tuple(attrs.get("dilations", (1,) * n))
    out_pad = tuple(attrs.get("output_padding", (0,) * n))
    full = [(spatial[d] - 1) * strides[d] + out_pad[d] + effective_kernel(kernel[d], dilations[d])
            for d in range(n)]
    auto_pad = attrs.get("auto_pad", "NOTSET") or "NOTSET"
    out_shape = attrs.get("output_shape")
    if out_shape is not None:
        out_shape = tuple(out_shape)[-n:]
    if "pads" in attrs and auto_pad == "NOTSET":
        begin, end = tuple(attrs["pads"][:n]), tuple(attrs["pads"][n:])
        if out_shape is not None:
            end = tuple(full[d] - begin[d] - out_shape[d] for d in range(n))
    elif auto_pad == "VALID" or (auto_pad == "NOTSET" and out_shape is None):
        begin, end = (0,) * n, (0,) * n
    else:
        if auto_pad not in ("NOTSET", "SAME_UPPER", "SAME_LOWER"):
            raise FrontendError(f"ConvTranspose {node.name!r}: unknown auto_pad {auto_pad!r}")
        if out_shape is None:   # SAME aims at in * stride, never padding negatively
            total = [max(full[d] - spatial[d] * strides[d], 0) for d in range(n)]
        else:
            total = [full[d] - out_shape[d] for d in range(n)]
        small = [t // 2 for t in total]
        big = [t - t // 2 for t in total]
        begin, end = (small, big) if auto_pad == "SAME_UPPER" else (big, small)
    # output_padding adds to the end: fold it into the end pads
    end = tuple(e - out_pad[d] for d, e in enumerate(end))
    cv.emit("ConvTranspose", ins, {"strides": strides, "pads": tuple(begin) + end,
                                   "dilations": dilations,
                                   "group": int(attrs.get("group", 1))}, node)


def _int_window(x, kernel, attrs) -> dict:
    """Conv's canonical window attributes (auto_pad resolved) for the integer convs."""
    n = len(kernel)
    strides = tuple(attrs.get("strides", (1,) * n))
    dilations = tuple(attrs.get("dilations", (1,) * n))
    auto_pad = attrs.get("auto_pad", "NOTSET") or "NOTSET"
    pads = (tuple(attrs.get("pads", (0,) * 2 * n)) if auto_pad == "NOTSET" else
            resolve_auto_pad(auto_pad, x.type.shape[2:], kernel, strides, dilations))
    return {"strides": strides, "pads": pads, "dilations": dilations,
            "group": int(attrs.get("group", 1))}


@converter("ConvInteger")
def _conv_integer(cv, node, attrs):
    ins = cv.inputs(node) + [None, None]
    x, w, zx, zw = ins[:4]
    canon = _int_window(x, tuple(attrs.get("kernel_shape", w.type.shape[2:])), attrs)
    if zw is not None and zx is None:   # W's zero point alone: X's is 0
        zx = cv.constant(np.zeros((), x.type.dtype), node.output[0] + "_x_zero_point")
    cv.emit("ConvInteger", [v for v in (x, w, zx, zw) if v is not None], canon, node)


@converter("Col2Im")
def _col2im(cv, node, attrs):
    x = cv.inputs(node)[0]
    image = tuple(int(v) for v in cv.const_array(node.input[1], "Col2Im image_shape"))
    block = tuple(int(v) for v in cv.const_array(node.input[2], "Col2Im block_shape"))
    n = len(image)
    cv.emit("Col2Im", [x], {"image_shape": image, "block_shape": block,
                            "strides": tuple(attrs.get("strides", (1,) * n)),
                            "pads": tuple(attrs.get("pads", (0,) * 2 * n)),
                            "dilations": tuple(attrs.get("dilations", (1,) * n))}, node)


@converter("MaxUnpool")
def _max_unpool(cv, node, attrs):
    x, idx = cv.inputs(node)[:2]
    kernel = tuple(attrs["kernel_shape"])
    n = len(kernel)
    canon = {"kernel_shape": kernel, "strides": tuple(attrs.get("strides", (1,) * n)),
             "pads": tuple(attrs.get("pads", (0,) * 2 * n))}
    shape = cv.optional_const(node, 2, "MaxUnpool output_shape")
    if shape is not None:
        canon["output_shape"] = tuple(int(s) for s in shape)
    cv.emit("MaxUnpool", [x, idx], canon, node)


@converter("GlobalLpPool")
def _global_lp_pool(cv, node, attrs):
    cv.emit("GlobalLpPool", cv.inputs(node)[:1], {"p": int(attrs.get("p", 2))}, node)


@converter("CausalConvWithState")
def _causal_conv(cv, node, attrs):
    ins = cv.inputs(node) + [None, None]
    activation = attrs.get("activation", "none")
    if activation not in ("none", "silu", "swish"):
        raise FrontendError(f"CausalConvWithState {node.name!r}: unknown activation "
                            f"{activation!r}; the ONNX spec has none, silu and swish")
    canon = {"activation": "none" if activation == "none" else "silu",
             "has_bias": int(ins[2] is not None), "has_past_state": int(ins[3] is not None)}
    cv.emit("CausalConvWithState", [v for v in ins[:4] if v is not None], canon, node)


@converter("DeformConv")
def _deform_conv(cv, node, attrs):
    ins = cv.inputs(node) + [None, None]
    x, w, offset, bias, mask = ins[:5]
    n = len(x.type.shape) - 2
    canon = {"strides": tuple(attrs.get("strides", (1,) * n)),
             "pads": tuple(attrs.get("pads", (0,) * 2 * n)),
             "dilations": tuple(attrs.get("dilations", (1,) * n)),
             "group": int(attrs.get("group", 1)),
             "offset_group": int(attrs.get("offset_group", 1)),
             "has_bias": int(bias is not None), "has_mask": int(mask is not None)}
    cv.emit("DeformConv", [v for v in (x, w, offset, bias, mask) if v is not None], canon, node)


@converter("QLinearConv")
def _qlinear_conv(cv, node, attrs):
    ins = cv.inputs(node)
    x, w = ins[0], ins[3]
    kernel = tuple(attrs.get("kernel_shape", w.type.shape[2:]))
    canon = _int_window(x, kernel, attrs)
    if any(v is None for v in ins[:8]):
        raise FrontendError(f"QLinearConv {node.name!r}: inputs 0-7 are required")
    cv.emit("QLinearConv", [v for v in ins[:9] if v is not None], canon, node)
