"""Convolutions of any spatial rank, transposed too, with numeric or "same"/"valid" padding
(conv1d, conv_transpose2d and the other composite forms of programs exported without
decomposition included)."""
from __future__ import annotations

from ...compiler.ops.window import resolve_auto_pad
from .lowering import Lowering, UnsupportedTorchOpsError, arg, converter


def per_dim(v, n: int) -> tuple[int, ...]:
    """An int, or a list of one or ``n`` ints, as ``n`` ints (torch repeats a single one)."""
    v = [v] if isinstance(v, int) else [int(i) for i in v]
    return tuple(v * n if len(v) == 1 else v)


def with_batch(cv: Lowering, node, x, n: int, build):
    """``build(x)`` on an ``x`` with a batch dim: torch's windowed ops also take inputs
    without one (C, spatial...), which tc's Conv and pools do not; a batch of 1 is added
    before and removed after.  ``build`` returns a Value or a tuple of them (or None)."""
    if len(x.type.shape) != n + 1:
        return build(x)
    out = build(cv.emit("Reshape", [x], {"shape": (1,) + tuple(x.type.shape)}, node))

    def drop(v):
        return v if v is None else cv.emit("Reshape", [v], {"shape": v.type.shape[1:]}, node)
    return tuple(drop(v) for v in out) if isinstance(out, tuple) else drop(out)


def _conv_pads(node, padding, spatial, kernel, dilation) -> tuple[int, ...]:
    """Conv's (begin..., end...) pads from torch's padding: numbers, "valid" or "same"
    (the odd extra at the end, as torch puts it)."""
    n = len(kernel)
    if padding == "valid":
        return (0,) * 2 * n
    if padding == "same":  # torch allows "same" with stride 1 only
        return resolve_auto_pad("SAME_UPPER", spatial, kernel, (1,) * n, dilation)
    if isinstance(padding, str):
        raise UnsupportedTorchOpsError(f"{node.name}: unknown padding {padding!r}")
    return per_dim(padding, n) * 2


def _convolution(cv: Lowering, node, stride, padding, dilation, groups, transposed=False,
                 output_padding=0):
    """Conv or (``transposed``) ConvTranspose of any spatial rank; torch's transposed
    weight (in, out / groups, k...) is ONNX's."""
    x, w = cv.value(node.args[0]), cv.value(node.args[1])
    bias = cv.value(arg(node, 2, "bias"))
    ins = [w] + ([bias] if bias is not None else [])
    n = len(w.type.shape) - 2
    stride, dilation = per_dim(stride, n), per_dim(dilation, n)
    if transposed:
        pads = per_dim(padding, n)
        # output_padding grows the output at the end: a negative end crop
        extra = per_dim(output_padding, n)
        pads += tuple(p - e for p, e in zip(pads, extra))
        op = "ConvTranspose"
    else:
        pads = _conv_pads(node, padding, x.type.shape[-n:], w.type.shape[2:], dilation)
        op = "Conv"
    attrs = {"strides": stride, "pads": pads, "dilations": dilation, "group": int(groups)}
    return with_batch(cv, node, x, n, lambda x: cv.emit(op, [x] + ins, attrs, node))


@converter("aten.convolution.default")
def _conv(cv: Lowering, node):
    return _convolution(cv, node, arg(node, 3, "stride", 1), arg(node, 4, "padding", 0),
                        arg(node, 5, "dilation", 1), arg(node, 8, "groups", 1),
                        arg(node, 6, "transposed", False), arg(node, 7, "output_padding", 0))


@converter("aten.conv1d.default", "aten.conv2d.default", "aten.conv3d.default",
           "aten.conv1d.padding", "aten.conv2d.padding", "aten.conv3d.padding")
def _conv_nd(cv: Lowering, node):
    return _convolution(cv, node, arg(node, 3, "stride", 1), arg(node, 4, "padding", 0),
                        arg(node, 5, "dilation", 1), arg(node, 6, "groups", 1))


@converter("aten.conv_transpose1d.default", "aten.conv_transpose2d.input",
           "aten.conv_transpose3d.input")
def _conv_transpose_nd(cv: Lowering, node):
    return _convolution(cv, node, arg(node, 3, "stride", 1), arg(node, 4, "padding", 0),
                        arg(node, 7, "dilation", 1), arg(node, 6, "groups", 1), True,
                        arg(node, 5, "output_padding", 0))
