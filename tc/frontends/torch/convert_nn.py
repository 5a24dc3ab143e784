"""Layers: linear and matmul, convolution, batch and layer norm, pooling, softmax."""
from __future__ import annotations

import numpy as np

from ...compiler.ops.common import normalize_axis
from .lowering import Lowering, UnsupportedTorchOpsError, arg, converter, op_name


@converter("aten.linear.default")
def _linear(cv: Lowering, node):
    x, w = cv.value(node.args[0]), cv.value(node.args[1])
    bias = cv.value(arg(node, 2, "bias"))
    wt = cv.emit("Transpose", [w], {"perm": (1, 0)}, node)  # folded for constant weights
    y = cv.emit("MatMul", [x, wt], None, node)
    return y if bias is None else cv.emit("Add", [y, bias], None, node)


@converter("aten.addmm.default")
def _addmm(cv: Lowering, node):
    bias, a, b = (cv.value(a) for a in node.args[:3])
    return cv.emit("Add", [cv.emit("MatMul", [a, b], None, node), bias], None, node)


@converter("aten.mm.default", "aten.bmm.default", "aten.matmul.default")
def _matmul(cv: Lowering, node):
    return cv.emit("MatMul", [cv.value(node.args[0]), cv.value(node.args[1])], None, node)


@converter("aten.conv2d.default", "aten.convolution.default")
def _conv(cv: Lowering, node):
    x, w = cv.value(node.args[0]), cv.value(node.args[1])
    bias = cv.value(arg(node, 2, "bias"))
    stride = tuple(arg(node, 3, "stride", (1, 1)))
    padding = arg(node, 4, "padding", (0, 0))
    dilation = tuple(arg(node, 5, "dilation", (1, 1)))
    if op_name(node.target) == "aten.convolution.default":
        if arg(node, 6, "transposed", False):
            raise UnsupportedTorchOpsError(f"{node.name}: transposed convolution is not "
                                           "supported by the PyTorch frontend yet")
        groups = int(arg(node, 8, "groups", 1))
    else:
        groups = int(arg(node, 6, "groups", 1))
    if isinstance(padding, str):
        raise UnsupportedTorchOpsError(f"{node.name}: padding={padding!r} is not supported yet; "
                                       "give the padding as numbers")
    padding = tuple(padding)
    attrs = {"strides": stride, "pads": padding + padding, "dilations": dilation,
             "group": groups}
    return cv.emit("Conv", [x, w] + ([bias] if bias is not None else []), attrs, node)


@converter("aten._native_batch_norm_legit_no_training.default")
def _batch_norm(cv: Lowering, node):
    x, w, b, mean, var = (cv.value(a) for a in node.args[:5])
    eps = float(node.args[6])
    y = cv.emit("BatchNormalization", [x, w, b, mean, var], {"epsilon": eps}, node)
    return (y, None, None)


def _pool_attrs(kernel, stride, padding, dilation, ceil_mode) -> dict:
    kernel = tuple(kernel)
    stride = tuple(stride) or kernel
    padding = tuple(padding)
    return {"kernel_shape": kernel, "strides": stride, "pads": padding + padding,
            "dilations": tuple(dilation), "ceil_mode": int(bool(ceil_mode))}


@converter("aten.max_pool2d_with_indices.default", "aten.max_pool2d.default")
def _max_pool(cv: Lowering, node):
    x = cv.value(node.args[0])
    attrs = _pool_attrs(arg(node, 1, "kernel_size"), arg(node, 2, "stride", ()),
                        arg(node, 3, "padding", (0, 0)), arg(node, 4, "dilation", (1, 1)),
                        arg(node, 5, "ceil_mode", False))
    y = cv.emit("MaxPool", [x], attrs, node)
    return (y, None) if "with_indices" in op_name(node.target) else y


@converter("aten.avg_pool2d.default")
def _avg_pool(cv: Lowering, node):
    x = cv.value(node.args[0])
    if arg(node, 6, "divisor_override") is not None:
        raise UnsupportedTorchOpsError(f"{node.name}: avg_pool2d with divisor_override is "
                                       "not supported yet")
    attrs = _pool_attrs(arg(node, 1, "kernel_size"), arg(node, 2, "stride", ()),
                        arg(node, 3, "padding", (0, 0)), (1, 1), arg(node, 4, "ceil_mode", False))
    attrs["count_include_pad"] = int(bool(arg(node, 5, "count_include_pad", True)))
    return cv.emit("AveragePool", [x], attrs, node)


@converter("aten._softmax.default", "aten.softmax.int")
def _softmax(cv: Lowering, node):
    x = cv.value(node.args[0])
    return cv.emit("Softmax", [x], {"axis": normalize_axis(node.args[1], len(x.type.shape))},
                   node)


@converter("aten.layer_norm.default")
def _layer_norm(cv: Lowering, node):
    x = cv.value(node.args[0])
    shape = tuple(node.args[1])
    weight, bias = cv.value(arg(node, 2, "weight")), cv.value(arg(node, 3, "bias"))
    eps = float(arg(node, 4, "eps", 1e-5))
    rank = len(x.type.shape)
    if weight is None:
        weight = cv.b.constant(np.ones(shape, x.type.dtype), "layer_norm_scale")
    ins = [x, weight] + ([bias] if bias is not None else [])
    return cv.emit("LayerNormalization", ins,
                   {"axis": rank - len(shape), "epsilon": eps, "stash_dtype": "float32",
                    "num_outputs": 1}, node)
